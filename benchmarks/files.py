"""The bench's generated files: the main table as .npz, Parquet and CSV (written once, read by
the throughput, cuda, load, command and predict sections) and sigmoidnet configs for them; and
the mixed section's real-world-shaped CSV (`write_mixed_csv`: numbers with empty cells, text
columns of 2 to 1,000 skewed categories, a yes/no label).

They live in the run's temporary folder, which is deleted afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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


def parquet_train_config(path: Path, files: Files, epochs: int, device: str, out_dir: Path) -> Path:
    """`train` on the Parquet file: every row trains (no validation), standard normalization."""
    return write_config(
        path,
        {
            "source": "parquet",
            "path": str(files.parquet),
            "labels": [f"y{j}" for j in range(N_LABELS)],
            "val_fraction": 0.0,
            "normalize": "standard",
        },
        epochs=epochs,
        device=device,
        out_dir=out_dir,
    )


def npz_config(path: Path, npz: Path) -> Path:
    return write_config(
        path, {"source": "npz", "path": str(npz), "val_fraction": 0.0, "normalize": "none"}
    )


# =============================================================================================
# the mixed section's table

MIXED_NUMERIC = 20  # float columns n0..n19
MIXED_CARDINALITIES = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)  # text columns c0..c9
MIXED_MISSING = 0.05  # share of numeric cells left empty, at random
MIXED_ZIPF = 1.0  # category k (by rank, from 1) is drawn with weight 1 / k**MIXED_ZIPF
MIXED_MAX_CATEGORIES = 50  # one-hot slots per text column, plus one "other" when there are more
MIXED_LABEL = "y"


@dataclass
class MixedTable:
    path: Path
    rows: int
    numeric: list[str]
    text: list[str]
    label: str
    yes_no: bool  # labels written as "yes"/"no" (else 1/0)
    positive_share: float
    numeric_missing: list[int]  # empty cells per numeric column
    categories_seen: list[int] = field(default_factory=list)  # distinct values per text column
    other_share: list[float] = field(default_factory=list)  # rows outside the top 50, per column

    @property
    def encoded_width(self) -> int:
        """Columns of the encoded matrix: each number, a missing indicator for each numeric
        column that has an empty cell, and per text column one slot per category when it has
        at most 50, else the top 50 and one "other" slot."""
        one_hot = sum(
            s if s <= MIXED_MAX_CATEGORIES else MIXED_MAX_CATEGORIES + 1
            for s in self.categories_seen
        )
        return len(self.numeric) + sum(m > 0 for m in self.numeric_missing) + one_hot


def mixed_columns(
    n_numeric: int = MIXED_NUMERIC, n_text: int = len(MIXED_CARDINALITIES)
) -> list[str]:
    """The file's column order: text columns interleaved among the numbers, the label last."""
    cols: list[str] = []
    per = max(1, -(-n_numeric // max(1, n_text)))  # numbers before each text column
    t = 0
    for j in range(n_numeric):
        cols.append(f"n{j}")
        if (j + 1) % per == 0 and t < n_text:
            cols.append(f"c{t}")
            t += 1
    cols += [f"c{k}" for k in range(t, n_text)]
    return [*cols, MIXED_LABEL]


def _category_names(rng: Any, k: int) -> list[str]:
    """`k` distinct words: 3 to 9 random letters, "_" and an index, so never a number nor a
    value pandas reads as missing ("NA", "null", ...)."""
    import numpy as np

    lengths = rng.integers(3, 10, size=k)
    letters = rng.integers(ord("a"), ord("z") + 1, size=(k, 9), dtype=np.uint8)
    return [f"{bytes(letters[i, : lengths[i]]).decode()}_{i}" for i in range(k)]


def write_mixed_csv(
    path: Path,
    rows: int,
    seed: int = SEED,
    n_numeric: int = MIXED_NUMERIC,
    cardinalities: Sequence[int] = MIXED_CARDINALITIES,
    missing: float = MIXED_MISSING,
    yes_no: bool = True,
) -> MixedTable:
    """A CSV of `rows` rows shaped like a real-world export (see the mixed section):
    `n_numeric` float columns of assorted scales and shapes (normal, log-normal, counts,
    shares; 3 decimals) with a `missing` share of empty cells, one text column per entry of
    `cardinalities` with Zipf-like frequencies (so that the top-50 cap matters: about 40% of
    the 1,000-category column's rows fall outside its top 50), and a label `y` ("yes"/"no", or
    1/0 with `yes_no=False`) that a model can learn from a few numbers, their missingness and
    a few categories. Seeded; written vectorised by pyarrow, unquoted, empty cells as empty
    fields. `missing=0, cardinalities=(), yes_no=False` is a plain numeric CSV."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng([seed, 0x6D6978])  # "mix": its own stream
    n_text = len(cardinalities)
    cols: dict[str, Any] = {}
    logit = np.zeros(rows)
    missing_counts: list[int] = []
    for j in range(n_numeric):
        kind = j % 4
        if kind == 0:  # a measurement: normal, its own centre and scale
            scale = 10.0 ** rng.uniform(-1, 3)
            z = rng.standard_normal(rows)
            v = rng.uniform(-5, 5) * scale + scale * z
        elif kind == 1:  # an amount: log-normal, heavy right tail
            z = rng.standard_normal(rows)
            v = np.exp(3.0 + 1.2 * z)
        elif kind == 2:  # a count
            v = rng.poisson(rng.uniform(0.5, 40), rows).astype(np.float64)
            z = (v - v.mean()) / (v.std() or 1.0)
        else:  # a share in [0, 1)
            v = rng.random(rows)
            z = (v - 0.5) * np.sqrt(12)
        empty = rng.random(rows) < missing
        if j < 4:  # the label depends on the true value of the first four numbers...
            logit += (1.2, -0.9, 0.6, 0.8)[j] * z
        if j == 5:  # ... and on whether the sixth is missing
            logit += 1.5 * empty - 1.5 * missing
        missing_counts.append(int(empty.sum()))
        cols[f"n{j}"] = pa.array(np.round(v, 3), mask=empty)
    seen: list[int] = []
    other: list[float] = []
    for t, k in enumerate(cardinalities):
        weights = 1.0 / np.arange(1, k + 1) ** MIXED_ZIPF
        rank = rng.choice(k, size=rows, p=weights / weights.sum())  # 0 is the most frequent
        names = _category_names(rng, k)
        rng.shuffle(names)  # frequency rank unrelated to spelling
        counts = np.bincount(rank, minlength=k)
        seen.append(int((counts > 0).sum()))
        other.append(float(np.sort(counts)[::-1][MIXED_MAX_CATEGORIES:].sum() / max(rows, 1)))
        if t in (0, 3, n_text - 1):  # ... and on a few categories
            effect = rng.normal(0.0, 1.0, k)
            effect[MIXED_MAX_CATEGORIES:] = 0.0  # (within reach of a top-50 one-hot)
            logit += effect[rank] - float(effect @ (weights / weights.sum()))
        cols[f"c{t}"] = pc.take(pa.array(names), pa.array(rank.astype(np.int32)))
    logit -= np.median(logit) if rows else 0.0
    positive = logit + rng.logistic(size=rows) > 0
    if yes_no:
        cols[MIXED_LABEL] = pc.take(pa.array(["no", "yes"]), pa.array(positive.astype(np.int8)))
    else:
        cols[MIXED_LABEL] = pa.array(positive.astype(np.int8))
    order = mixed_columns(n_numeric, n_text)
    table = pa.table({name: cols[name] for name in order})
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
    pacsv.write_csv(table, path, write_options=options)
    return MixedTable(
        path=path,
        rows=rows,
        numeric=[f"n{j}" for j in range(n_numeric)],
        text=[f"c{t}" for t in range(n_text)],
        label=MIXED_LABEL,
        yes_no=yes_no,
        positive_share=float(positive.mean()) if rows else 0.0,
        numeric_missing=missing_counts,
        categories_seen=seen,
        other_share=other,
    )
