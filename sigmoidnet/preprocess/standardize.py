"""Standardization (`normalize: standard`): per-feature mean and population std, accumulated
in float64 over the training split only; zero-variance features get std 1. Applied in place,
in float32, as `(x - mean) / std`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

#: rows per chunk for the float64 statistics passes (keeps temporaries in cache)
_STAT_CHUNK_ROWS = 16384


def fit_standardization(x: F32) -> tuple[F32, F32]:
    """Per-feature mean and population std of `x` (N, F), accumulated in float64.

    Chunked two-pass computation (bounded temporaries); features with zero (or non-finite)
    variance get std 1 so that dividing by it leaves them unchanged.
    """
    n, f = x.shape
    total = np.zeros(f, dtype=np.float64)
    for start in range(0, n, _STAT_CHUNK_ROWS):
        total += x[start : start + _STAT_CHUNK_ROWS].sum(axis=0, dtype=np.float64)
    mean = total / max(n, 1)
    sq = np.zeros(f, dtype=np.float64)
    for start in range(0, n, _STAT_CHUNK_ROWS):
        d = x[start : start + _STAT_CHUNK_ROWS].astype(np.float64)
        d -= mean
        sq += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(sq / max(n, 1))
    mean32 = mean.astype(np.float32)
    std32 = std.astype(np.float32)
    std32[~(np.isfinite(std32) & (std32 > 0))] = 1.0
    return mean32, std32


def standardize_(x: F32, mean: F32, std: F32) -> None:
    """In place, in float32: x = (x - mean) / std (the same at training and inference)."""
    np.subtract(x, mean, out=x)
    np.divide(x, std, out=x)
