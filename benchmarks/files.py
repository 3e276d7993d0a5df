"""The bench's generated files: the main table as .npz, Parquet and CSV (written once, read by
the throughput, cuda, load, command and predict sections) and sigmoidnet configs for them.

They live in the run's temporary folder, which is deleted afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import BATCH, HIDDEN, LR, N_FEATURES, N_LABELS, SEED, Results, fmt_n


@dataclass
class Files:
    root: Path
    rows: int
    npz: Path
    parquet: Path
    csv: Path
    problem: Any  # benchmarks.problem.Problem, kept for the in-process loops


def make_files(root: Path, rows: int, res: Results) -> Files:
    from benchmarks.problem import make_problem, write_csv, write_npz, write_parquet

    t0 = time.perf_counter()
    p = make_problem(rows, N_FEATURES, N_LABELS, seed=SEED)
    gen_s = time.perf_counter() - t0
    out = {}
    timings = {}
    for name, writer in (("npz", write_npz), ("parquet", write_parquet), ("csv", write_csv)):
        t0 = time.perf_counter()
        out[name] = writer(p, root / f"table-{rows}.{name}")
        timings[name] = time.perf_counter() - t0
    sizes = {k: v.stat().st_size for k, v in out.items()}
    res.data["problem"] = {
        "rows": rows,
        "features": N_FEATURES,
        "labels": N_LABELS,
        "positive_share": [round(float(v), 4) for v in p.y.mean(axis=0)],
        "teacher": "x ~ N(0,1); y = [tanh(x@W1)@W2 + 0.5·noise > 0], W1: 64×32, W2: 32×2",
        "generate_s": gen_s,
        "write_s": timings,
        "file_bytes": sizes,
    }
    mb = ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sizes.items())
    res.row("problem", f"{fmt_n(rows)} × {N_FEATURES} → {N_LABELS}", f"{gen_s:.1f} s", mb)
    return Files(root, rows, out["npz"], out["parquet"], out["csv"], p)


def write_config(path: Path, data: dict[str, Any], **extra: Any) -> Path:
    import yaml

    cfg = {
        "name": "bench",
        "seed": SEED,
        "device": extra.pop("device", "cpu"),
        "data": data,
        "model": {"hidden_sizes": [HIDDEN], "activation": "relu"},
        "train": {
            "epochs": extra.pop("epochs", 1),
            "batch_size": BATCH,
            "lr": LR,
            "optimizer": "adam",
        },
        "out_dir": str(extra.pop("out_dir", path.parent / "runs")),
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def npz_config(path: Path, npz: Path) -> Path:
    return write_config(
        path, {"source": "npz", "path": str(npz), "val_fraction": 0.0, "normalize": "none"}
    )
