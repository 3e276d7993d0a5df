"""The benchmark problem: a synthetic, learnable multi-label table and its files.

Features are standard normal float32. Labels come from a fixed random teacher, a 2-layer tanh
network (F → 32 → L) plus Gaussian noise on its outputs, thresholded at 0: about half the
rows are positive for each label, and a student MLP can learn most but not all of it (the
noise keeps the best achievable loss well above 0).

Files: `.npz` (arrays `X` (N, F) float32 and `y` (N, L) float32), Parquet and CSV (columns
`f0..f{F-1}` float32, then the labels `y0..y{L-1}` int8).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_FEATURES = 64
N_LABELS = 2
TEACHER_HIDDEN = 32
NOISE = 0.5  # std of the noise added to the teacher's (unit-scale) outputs
CHUNK = 1 << 18  # rows per generation step: bounded float64 temporaries


@dataclass
class Problem:
    x: np.ndarray  # (N, F) float32, C-contiguous
    y: np.ndarray  # (N, L) float32 in {0, 1}

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def feature_names(self) -> list[str]:
        return [f"f{j}" for j in range(self.x.shape[1])]

    @property
    def label_names(self) -> list[str]:
        return [f"y{j}" for j in range(self.y.shape[1])]


def make_problem(
    n: int, n_features: int = N_FEATURES, n_labels: int = N_LABELS, seed: int = 0
) -> Problem:
    """`n` rows; the teacher depends on `seed` only, so every size shares one teacher."""
    teacher = np.random.default_rng(seed)
    w1 = teacher.standard_normal((n_features, TEACHER_HIDDEN)) / np.sqrt(n_features)
    w2 = teacher.standard_normal((TEACHER_HIDDEN, n_labels)) / np.sqrt(TEACHER_HIDDEN)
    probe = teacher.standard_normal((4096, n_features))
    w2 /= (np.tanh(probe @ w1) @ w2).std(axis=0, keepdims=True)  # unit-scale outputs
    x_rng, noise_rng = np.random.default_rng(seed + 1), np.random.default_rng(seed + 2)
    x = np.empty((n, n_features), dtype=np.float32)
    y = np.empty((n, n_labels), dtype=np.float32)
    for i in range(0, n, CHUNK):
        xc = x_rng.standard_normal((min(CHUNK, n - i), n_features), dtype=np.float32)
        out = np.tanh(xc @ w1) @ w2  # (B, L)
        out += NOISE * noise_rng.standard_normal(out.shape)
        x[i : i + len(xc)] = xc
        y[i : i + len(xc)] = out > 0
    return Problem(x, y)


def write_npz(p: Problem, path: Path) -> Path:
    np.savez(path, X=p.x, y=p.y)  # uncompressed: loading is a plain read
    return path


def _arrow_table(p: Problem, labels: bool = True):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    cols = {name: pa.array(p.x[:, j]) for j, name in enumerate(p.feature_names)}
    if labels:
        for j, name in enumerate(p.label_names):
            cols[name] = pa.array(p.y[:, j].astype(np.int8))
    return pa.table(cols)


def write_parquet(
    p: Problem, path: Path, labels: bool = True, row_group_rows: int | None = None
) -> Path:
    """`labels=False`: the feature columns only (what `predict` is given in practice);
    `row_group_rows`: rows per row group (default pyarrow's: snappy, 1M-row groups)."""
    import pyarrow.parquet as pq

    pq.write_table(_arrow_table(p, labels), path, row_group_size=row_group_rows)
    return path


def write_csv(p: Problem, path: Path) -> Path:
    import pyarrow.csv as pacsv

    pacsv.write_csv(_arrow_table(p), path)  # float32 in shortest round-trip form
    return path
