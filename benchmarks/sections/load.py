"""load: sigmoidnet's `load_dataset` (csv and parquet; val_fraction 0, normalize none, so it
returns the float32 arrays and no more) against `pandas.read_csv`, `pyarrow.csv` and
`pyarrow.parquet.read_table`, raw and with conversion to float32 (N, F) + (N, L) arrays; warm
page cache (the files were just written)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.files import Files, write_config
from benchmarks.harness import N_FEATURES, N_LABELS, Plan, Results, Target, median, more, ratio
from benchmarks.internals import dataset_loader


def _float32_columns(table: Any, names: Sequence[str], batch_rows: int = 65536) -> Any:
    """(N, len(names)) float32 from an Arrow table, filled in row slices (cache-friendly)."""
    import numpy as np

    from benchmarks.standalone_train import columns_to_float32

    out = np.empty((table.num_rows, len(names)), dtype=np.float32)
    for start in range(0, table.num_rows, batch_rows):
        columns_to_float32(table.slice(start, batch_rows), names, out, start)
    return out


def run(plan: Plan, files: Files, res: Results) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    features = [f"f{j}" for j in range(N_FEATURES)]
    labels = [f"y{j}" for j in range(N_LABELS)]

    def sigmoidnet_loader(source: str, path: Path) -> Callable[[], dict[str, float]]:
        cfg_path = write_config(
            files.root / f"load-{source}.yaml",
            {
                "source": source,
                "path": str(path),
                "labels": labels,
                "val_fraction": 0.0,
                "normalize": "none",
            },
        )
        load_dataset = dataset_loader(cfg_path)

        def timed() -> dict[str, float]:
            t0 = time.perf_counter()
            ds = load_dataset()
            dt = time.perf_counter() - t0
            assert ds.x_train.shape == (files.rows, N_FEATURES)
            return {"read+float32": dt}

        return timed

    def pandas_csv() -> dict[str, float]:
        t0 = time.perf_counter()
        df = pd.read_csv(files.csv)
        t1 = time.perf_counter()
        x = df[features].to_numpy(dtype=np.float32)
        y = df[labels].to_numpy(dtype=np.float32)
        t2 = time.perf_counter()
        assert x.shape == (files.rows, N_FEATURES) and y.shape[1] == N_LABELS
        return {"read": t1 - t0, "read+float32": t2 - t0}

    def arrow_csv() -> dict[str, float]:
        t0 = time.perf_counter()
        table = pacsv.read_csv(files.csv)
        t1 = time.perf_counter()
        _float32_columns(table, features), _float32_columns(table, labels)
        return {"read": t1 - t0, "read+float32": time.perf_counter() - t0}

    def arrow_parquet() -> dict[str, float]:
        t0 = time.perf_counter()
        table = pq.read_table(files.parquet)
        t1 = time.perf_counter()
        _float32_columns(table, features), _float32_columns(table, labels)
        return {"read": t1 - t0, "read+float32": time.perf_counter() - t0}

    cases: dict[str, dict[str, Callable[[], dict[str, float]]]] = {
        "csv": {
            "sigmoidnet load_dataset": sigmoidnet_loader("csv", files.csv),
            "pandas.read_csv": pandas_csv,
            "pyarrow.csv.read_csv": arrow_csv,
        },
        "parquet": {
            "sigmoidnet load_dataset": sigmoidnet_loader("parquet", files.parquet),
            "pyarrow.parquet.read_table": arrow_parquet,
        },
    }
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        fmt: {name: {} for name in c} for fmt, c in cases.items()
    }
    done = 0
    while done == 0 or more(
        done,
        plan.load_reps,
        plan.load_reps_max,
        samples["csv"]["sigmoidnet load_dataset"]["read+float32"],
        samples["csv"]["pandas.read_csv"]["read"],
    ):
        done += 1
        for fmt, c in cases.items():
            for name, fn in c.items():
                for k, v in fn().items():
                    samples[fmt][name].setdefault(k, []).append(v)
                gc.collect()
    out: dict[str, Any] = {}
    for fmt, c in samples.items():
        out[fmt] = {}
        for name, kinds in c.items():
            out[fmt][name] = {k: {"samples_s": v, "median_s": median(v)} for k, v in kinds.items()}
            for k, v in kinds.items():
                res.row(
                    "load",
                    f"{fmt}: {name} ({k})",
                    f"{median(v):.2f} s",
                    f"{files.rows / median(v) / 1e6:.2f} M rows/s",
                )
    snet_csv = out["csv"]["sigmoidnet load_dataset"]["read+float32"]["median_s"]
    pd_raw = out["csv"]["pandas.read_csv"]["read"]["median_s"]
    pd_full = out["csv"]["pandas.read_csv"]["read+float32"]["median_s"]
    snet_pq = out["parquet"]["sigmoidnet load_dataset"]["read+float32"]["median_s"]
    pq_raw = out["parquet"]["pyarrow.parquet.read_table"]["read"]["median_s"]
    pq_full = out["parquet"]["pyarrow.parquet.read_table"]["read+float32"]["median_s"]
    out["ratios"] = {
        "csv: sigmoidnet / pandas.read_csv": ratio(snet_csv, pd_raw),
        "csv: sigmoidnet / pandas.read_csv+float32": ratio(snet_csv, pd_full),
        "parquet: sigmoidnet / pyarrow read_table": ratio(snet_pq, pq_raw),
        "parquet: sigmoidnet / pyarrow read_table+float32": ratio(snet_pq, pq_full),
    }
    for k, v in out["ratios"].items():
        res.row("load", k, f"{v:.2f}×", "time ratio (lower is faster)")
    res.data["load"] = out
    csv_best = min(out["csv"]["sigmoidnet load_dataset"]["read+float32"]["samples_s"]) / min(
        out["csv"]["pandas.read_csv"]["read"]["samples_s"]
    )
    out["ratios"]["csv: sigmoidnet / pandas.read_csv (best runs)"] = csv_best
    res.targets.append(
        Target(
            "CSV load no slower than pandas.read_csv",
            ratio(snet_csv, pd_raw),
            "<=",
            1.0,
            f"median time ratio, {snet_csv:.2f} s vs {pd_raw:.2f} s for the raw read (no"
            f" float32 conversion); best runs: {csv_best:.3f}×",
        )
    )
