"""Standardization (`normalize: standard`): per-feature mean and population std, accumulated
in float64 over the training split only; zero-variance features get std 1, and a spread past
float32's range is stored as float32's largest value. Applied in float32 as
`(x - mean) / std`; where a float32 step overflows (`x - mean` past float32's range, with a
quotient that is not), that row is computed again in float64. A value whose standardized
value is not a finite float32 even so raises `StandardizeError`: it is refused, not clipped."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


class Reduce(Protocol):
    """The other processes of a data-parallel run, for statistics fitted on rows that are
    spread over them (each holds a contiguous run of the training rows, in order, cut at
    whole chunks of `STAT_CHUNK_ROWS`): what a fit needs to give the numbers one process
    would, bit for bit."""

    def rows(self, n: int) -> int:
        """The rows of all processes together."""
        ...

    def offset(self, n: int) -> int:
        """The rows of the processes before this one (this one holding `n`)."""
        ...

    def chunks(self, local: list[Any]) -> list[Any]:
        """Every process's list, joined in row order."""
        ...

    def sum(self, local: Any) -> Any:
        """An integer (or boolean: any) array summed over the processes."""
        ...

    def concat(self, local: Any) -> Any:
        """Every process's rows of `local` (n_local, ...), stacked in row order."""
        ...


#: rows per chunk for the float64 statistics passes (keeps temporaries in cache)
STAT_CHUNK_ROWS = _STAT_CHUNK_ROWS = 16384
#: values per chunk of the transform (a float32 scratch block that stays in cache)
_TRANSFORM_CHUNK_VALUES = 1 << 16
_F32_MAX = float(np.finfo(np.float32).max)


class StandardizeError(ValueError):
    """A value that does not standardize to a finite float32: x[row, column] (0-based)."""

    def __init__(self, row: int, column: int, value: float, mean: float, std: float) -> None:
        self.row, self.column, self.value, self.mean, self.std = row, column, value, mean, std
        super().__init__(
            f"row {row}, column {column}: {value!r} does not standardize to a finite float32 "
            f"(mean {mean:.7g}, std {std:.7g})"
        )


def fit_standardization(x: F32, reduce: Reduce | None = None) -> tuple[F32, F32]:
    """Per-feature mean and population std of `x` (N, F), accumulated in float64.

    Chunked two-pass computation (bounded temporaries); features with zero (or non-finite)
    variance get std 1 so that dividing by it leaves them unchanged. The mean of finite
    float32 values is a finite float32; a std past float32's range (values spread over more
    than float32's largest value) is stored as that value, so every training row still
    standardizes to a finite float32.

    With `reduce` (the rows spread over the processes of a data-parallel run), every
    process's chunk sums are added in row order: the same additions, hence the same bits,
    as one process holding every row.
    """
    n, f = x.shape
    chunks = [
        x[start : start + _STAT_CHUNK_ROWS].sum(axis=0, dtype=np.float64)
        for start in range(0, n, _STAT_CHUNK_ROWS)
    ]
    if reduce is not None:
        chunks, n = reduce.chunks(chunks), reduce.rows(n)
    total = np.zeros(f, dtype=np.float64)
    for c in chunks:
        total += c
    mean = total / max(n, 1)
    squares = []
    for start in range(0, x.shape[0], _STAT_CHUNK_ROWS):
        d = x[start : start + _STAT_CHUNK_ROWS].astype(np.float64)
        d -= mean
        squares.append(np.einsum("ij,ij->j", d, d))
    if reduce is not None:
        squares = reduce.chunks(squares)
    sq = np.zeros(f, dtype=np.float64)
    for c in squares:
        sq += c
    std = np.sqrt(sq / max(n, 1))
    mean32 = mean.astype(np.float32)
    std32 = np.minimum(std, _F32_MAX).astype(np.float32)  # NaN stays NaN: set to 1 below
    std32[~(np.isfinite(std32) & (std32 > 0))] = 1.0
    return mean32, std32


def standardize_(x: F32, mean: F32, std: F32) -> None:
    """In place: x = (x - mean) / std, in float32 (the same at training and inference).

    Computed block by block in a scratch buffer; a row with a non-finite result is computed
    again in float64 and rounded once to float32. Raises `StandardizeError` at the first
    value (lowest row, then leftmost column) whose result is still not finite: `x` is then
    partly transformed, and must be thrown away.
    """
    n, f = x.shape
    if n == 0 or f == 0:
        return
    step = max(1, _TRANSFORM_CHUNK_VALUES // f)
    scratch = np.empty((min(step, n), f), dtype=np.float32)
    for start in range(0, n, step):
        block = x[start : start + step]
        t = scratch[: len(block)]
        with np.errstate(over="ignore", invalid="ignore"):
            np.subtract(block, mean, out=t)
            np.divide(t, std, out=t)
        finite = np.isfinite(t)
        if not finite.all():
            _redo_in_float64(block, t, finite, mean, std, start)
        block[...] = t


def _redo_in_float64(
    block: F32, t: F32, finite: npt.NDArray[np.bool_], mean: F32, std: F32, start: int
) -> None:
    rows = np.flatnonzero(~finite.all(axis=1))
    with np.errstate(over="ignore", invalid="ignore"):
        again = (block[rows].astype(np.float64) - mean.astype(np.float64)) / std.astype(np.float64)
        again32 = again.astype(np.float32)
    ok = np.isfinite(again32)
    if not ok.all():
        k, j = (int(v) for v in np.argwhere(~ok)[0])
        i = int(rows[k])
        raise StandardizeError(start + i, j, float(block[i, j]), float(mean[j]), float(std[j]))
    t[rows] = again32
