"""Arrow columns → numpy float32, with the checks every reader shares: features finite,
labels 0 or 1, the first bad cell (lowest row, then leftmost column) named with its column
and row. Also the thread pool that converts record batches in parallel."""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from sigmoidnet.data.messages import Bad, cell_error, fmt_value

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

#: rows per chunk for the float64 and finiteness passes (keeps temporaries in cache)
STAT_CHUNK_ROWS = 16384


def _first_cast_failure(arr: Any, to: Any) -> int:
    """Index of the first value of `arr` that does not cast to `to` (len(arr) if none)."""
    n = len(arr)
    lo = 0  # arr[:lo] is known to cast
    step = 1024
    while lo < n:
        hi = min(n, lo + step)
        try:
            pc.cast(arr.slice(lo, hi - lo), to)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # the failure is in [lo, hi): bisect
            while hi - lo > 1:
                mid = (lo + hi) // 2
                try:
                    pc.cast(arr.slice(lo, mid - lo), to)
                    lo = mid
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    hi = mid
            return lo
        lo = hi
        step *= 2
    return n


_NUMPY_TYPES: dict[Any, np.dtype[Any]] = {
    pa.int8(): np.dtype(np.int8),
    pa.int16(): np.dtype(np.int16),
    pa.int32(): np.dtype(np.int32),
    pa.int64(): np.dtype(np.int64),
    pa.uint8(): np.dtype(np.uint8),
    pa.uint16(): np.dtype(np.uint16),
    pa.uint32(): np.dtype(np.uint32),
    pa.uint64(): np.dtype(np.uint64),
    pa.float16(): np.dtype(np.float16),
    pa.float32(): np.dtype(np.float32),
    pa.float64(): np.dtype(np.float64),
}


def to_numpy(arr: Any) -> npt.NDArray[Any]:
    """Values of a null-free primitive Arrow array as numpy, zero-copy where possible.

    Reads the buffers directly: `Array.to_numpy` would import pandas when it is installed
    (a fifth of a second and tens of MB for nothing).
    """
    n = len(arr)
    dtype = _NUMPY_TYPES.get(arr.type)
    if dtype is not None:
        if n == 0:
            return np.empty(0, dtype=dtype)
        return np.frombuffer(
            arr.buffers()[1], dtype=dtype, count=n, offset=arr.offset * dtype.itemsize
        )
    if pa.types.is_boolean(arr.type):
        if n == 0:
            return np.empty(0, dtype=np.bool_)
        bits = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, count=arr.offset + n, bitorder="little")[arr.offset :].view(
            np.bool_
        )
    return np.asarray(arr.to_numpy(zero_copy_only=False))  # pragma: no cover - not reached


def _text_missing_as_null(arr: Any) -> Any:
    """A text array with null for each of the CSV reader's missing-value words."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if not _is_string(t):
        return arr
    from sigmoidnet.data.formats.csv import MISSING_VALUES

    missing = pc.or_(
        pc.is_in(arr, value_set=pa.array(list(MISSING_VALUES), t)),
        pc.equal(pc.utf8_trim_whitespace(arr), ""),  # a cell of spaces
    )
    if pc.any(missing).as_py():
        arr = pc.if_else(missing, pa.scalar(None, t), arr)
    return arr


def numbers(arr: Any, missing_ok: bool = False) -> npt.NDArray[Any]:
    """Numeric numpy values of an Arrow array (float, int or bool dtype), or raise `Bad`.

    A missing value (null) is `Bad`, unless `missing_ok`: the values are then float64 with
    NaN where they are missing -- in a text column (a Parquet string column declared
    numeric, say) an empty string, `NA`, `null`, ... is missing too, as in a CSV file."""
    if missing_ok:
        arr = _text_missing_as_null(arr)
    if arr.null_count:
        if not missing_ok:
            i = int(np.argmax(to_numpy(arr.is_null())))
            raise Bad(i, "missing value")
        t = arr.type
        if pa.types.is_null(t):
            return np.full(len(arr), np.nan)
        if pa.types.is_dictionary(t):
            arr = arr.dictionary_decode()
            t = arr.type
        valid = ~to_numpy(arr.is_null())
        zero: Any = False if pa.types.is_boolean(t) else "0" if _is_string(t) else 0
        filled = numbers(arr.fill_null(zero), False)
        out = filled.astype(np.float64)
        out[~valid] = np.nan
        return out
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if t in _NUMPY_TYPES or pa.types.is_boolean(t):
        return to_numpy(arr)
    if pa.types.is_decimal(t):
        return to_numpy(pc.cast(arr, pa.float64()))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        try:
            return to_numpy(pc.cast(pc.utf8_trim_whitespace(arr), pa.float64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        try:  # true/false
            return to_numpy(pc.cast(arr, pa.bool_()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        # report the value where the longer-lived interpretation breaks down
        i = max(_first_cast_failure(arr, pa.float64()), _first_cast_failure(arr, pa.bool_()))
        i = min(i, len(arr) - 1)
        value = arr[i].as_py()
        if value == "":
            raise Bad(i, "missing value")
        raise Bad(i, f"{fmt_value(value)} is not a number", fmt_value(value))
    # timestamps, binary, lists, ...: not numbers
    value = arr[0].as_py() if len(arr) else None
    raise Bad(0, f"{fmt_value(value)} is not a number (column type {t})", fmt_value(value))


CellText = Callable[[str, int], "str | None"]


def _is_string(t: Any) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def fill_block(
    batch: Any,
    names: Sequence[str],
    out: F32,
    first_row: int,
    where: str,
    labels: bool,
    cell_text: CellText | None = None,
    missing_ok: bool = False,
) -> None:
    """Write `batch`'s columns `names` into `out` (n, len(names)) float32, checking values.

    Features must be finite; labels must be 0 or 1. With `missing_ok` (features only), a
    missing value -- a null, or a NaN -- is written as NaN; without it, it is an error. The
    first bad cell (lowest row, then leftmost column) raises a `DataError` naming its column
    and global row. `cell_text` (column, 1-based row) → the cell's original text, to quote
    a value that overflowed.
    """
    problems: list[tuple[int, int, str]] = []
    for j, name in enumerate(names):
        arr = batch.column(name)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        try:
            vals = numbers(arr, missing_ok and not labels)
        except Bad as bad:
            what = bad.what
            if labels:
                what = (
                    "missing label"
                    if bad.value is None
                    else f"label must be 0 or 1, got {bad.value}"
                )
            problems.append((bad.index, j, what))
            continue
        if labels:
            ok = (vals == 0) | (vals == 1)
            if not ok.all():
                i = int(np.argmin(ok))
                problems.append((i, j, f"label must be 0 or 1, got {fmt_value(vals[i])}"))
                continue
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            out[:, j] = vals
    if not labels:
        finite = np.isfinite(out)
        if missing_ok:
            finite |= np.isnan(out)  # a missing value (null or NaN): filled later
        if not finite.all():
            failed = {j for _, j, _ in problems}
            for j in np.flatnonzero(~finite.all(axis=0)).tolist():
                if j in failed:
                    continue
                i = int(np.argmin(finite[:, j]))
                original = batch.column(names[j])[i].as_py()
                value = out[i, j]
                text = None
                if np.isinf(value) and cell_text is not None:
                    text = cell_text(names[j], first_row + i)
                if original is None or (isinstance(original, float) and math.isnan(original)):
                    what = "missing value"
                elif isinstance(original, float) and math.isfinite(original):
                    what = f"{fmt_value(original)} does not fit in float32"
                elif text is not None and text.strip().lstrip("+-").lower() not in (
                    "inf",
                    "infinity",
                ):
                    what = f"{text.strip()} does not fit in float32"
                else:
                    what = f"{fmt_value(value)} is not a finite number"
                problems.append((i, j, what))
    if problems:
        i, j, what = min(problems)
        raise cell_error(where, names[j], first_row + i, what)


def check_finite_np(
    x: F32, names: Sequence[str], first_row: int, where: str, original: npt.NDArray[Any]
) -> None:
    """Raise at the first non-finite value of `x` (chunked: bounded temporaries)."""
    for start in range(0, len(x), STAT_CHUNK_ROWS):
        chunk = x[start : start + STAT_CHUNK_ROWS]
        finite = np.isfinite(chunk)
        if finite.all():
            continue
        i, j = (int(v) for v in np.argwhere(~finite)[0])
        orig = original[start + i, j]
        if np.issubdtype(original.dtype, np.floating) and np.isfinite(orig):
            what = f"{fmt_value(orig)} does not fit in float32"
        else:
            what = f"{fmt_value(chunk[i, j])} is not a finite number"
        raise cell_error(where, names[j], first_row + start + i, what)


def check_labels_np(y: npt.NDArray[Any], names: Sequence[str], first_row: int, where: str) -> None:
    bad = bad_labels(y)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise cell_error(
            where, names[j], first_row + i, f"label must be 0 or 1, got {fmt_value(y[i, j])}"
        )


def bad_labels(y: npt.NDArray[Any]) -> Mask:
    bad: Mask = (y != 0) & (y != 1)  # NaN included
    return bad


def workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def run_in_order(tasks: Iterable[Callable[[], None]], workers: int) -> None:
    """Run tasks on a thread pool (at most 2×workers queued, so memory stays bounded).

    Failures are re-raised in task order: the first bad row of the file wins.
    """
    if workers <= 1:
        for task in tasks:
            task()
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sigmoidnet-load") as pool:
        pending: deque[Future[None]] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(task))
                if len(pending) >= 2 * workers:
                    pending.popleft().result()
            while pending:
                pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()
