"""The held-out split: `val_fraction` holds out round(f·N) rows chosen with
`numpy.random.default_rng(seed)`, stratified when there is a single label (each class split in
proportion, largest remainders first, at least one validation and one training row per class
that has two or more rows). Both splits keep the file's row order."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from sigmoidnet.data.messages import plural
from sigmoidnet.errors import DataError

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def val_mask(y: F32, fraction: float, seed: int, where: str) -> Mask | None:
    """Seeded hold-out rows (True = validation); stratified on the label when there is one."""
    if fraction <= 0:
        return None
    n = len(y)
    if y.shape[1] == 1:
        groups = [g for g in (np.flatnonzero(y[:, 0] == 0), np.flatnonzero(y[:, 0] == 1)) if len(g)]
    else:
        groups = [np.arange(n)]
    sizes = [len(g) for g in groups]
    # largest remainders: the total is round(f·N), each class gets its share
    target = math.floor(fraction * n + 0.5)
    exact = [fraction * s for s in sizes]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(groups)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: max(0, target - sum(counts))]:
        counts[i] += 1
    # every class with two rows or more keeps at least one row on each side
    counts = [min(max(c, 1), s - 1) if s >= 2 else 0 for c, s in zip(counts, sizes, strict=True)]
    if sum(counts) == 0:
        raise DataError(
            where,
            f"too few rows to hold out val_fraction {fraction}: {plural(n, 'row')}"
            + (" (one per class)" if len(groups) > 1 else ""),
        )
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=np.bool_)
    for g, c in zip(groups, counts, strict=True):
        mask[rng.permutation(g)[:c]] = True
    return mask


def keep_rows_inplace(x: F32, keep: Mask, step: int = 65536) -> F32:
    """x[keep] without a second full-size array: rows move up in place, in order.

    Safe because the k-th kept row comes from row >= k: every block is gathered (a
    temporary of `step` rows) before it is written over rows that were already read.
    """
    idx = np.flatnonzero(keep)
    for s in range(0, len(idx), step):
        block = idx[s : s + step]
        x[s : s + len(block)] = x[block]
    return x[: len(idx)]


def split_labels(y: F32, mask: Mask | None) -> tuple[F32, F32 | None]:
    if mask is None:
        return y, None
    return np.ascontiguousarray(y[~mask]), np.ascontiguousarray(y[mask])
