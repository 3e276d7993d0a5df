"""Tables in, tensors out: random/CSV/Parquet/NPZ loading, validation, splits, normalization.

Training: `load_dataset(cfg)` returns a `Dataset` of contiguous float32 CPU tensors.
Inference: `iter_batches(path, feature_names, ...)` streams a file in constant memory and
checks its columns against the names a model was trained on. Output: `PredictionWriter`
writes CSV, Parquet or JSON Lines atomically.

Sources
- `random`: the tutorial's data, bit for bit: `torch.manual_seed(seed)`, then
  `torch.rand(n_samples, n_features)` and `torch.randint(0, 2, (n_samples, n_labels))`
  from the *global* torch generator (the trainer builds the model right after, so the
  draw order is seed → data → layers, as in the tutorial). `normalize` is not applied to
  random data (the tutorial feeds raw `torch.rand` values), so `mean`/`std` are None.
  A held-out share (`val_fraction`, 0 by default) is chosen with a separate numpy generator
  and never touches torch's global generator.
- `csv`: a header row, comma-separated, UTF-8. A file of plain numbers (digits and commas,
  no quotes or text) is parsed by a C fast path (`sigmoidnet.csvfast`), one thread per
  core; any other file, and any file with a problem, is read with pyarrow's multithreaded
  reader, which also words every error. Both parse straight to correctly rounded float32,
  so both give the same arrays.
- `parquet`: any numeric, boolean or decimal column types (strings are parsed).
- `npz`: arrays `X` (N, F) and `y` (N,) or (N, L); optional string arrays `feature_names`
  and `label_names`. Loaded with `allow_pickle=False`: nothing is ever unpickled. Without
  names, features are called `x0..x{F-1}` and labels `y0..y{L-1}`; config `features` /
  `labels` then name the columns positionally (and must have the right count); with names
  they select columns by name, like for CSV.

Values: features must be finite numbers (integers and booleans are fine); labels must be
0 or 1 (`true`/`false` are accepted as 1/0). Anything else is a `DataError` (exit 3) whose
message names the file, the column and the row: `data/x.csv: column 'age', row 17: 'abc'
is not a number`. **Rows are numbered from 1 among the data rows; the header is not
counted** (row 1 is the first line after the header; for NPZ, row 1 is `X[0]`). When a
file has several problems, the first one found is reported: labels are checked before
features, and within each the lowest row wins, then the leftmost column.

Split: `val_fraction` holds out round(f·N) rows chosen with `numpy.random.default_rng(seed)`
— stratified when there is a single label (each class split in proportion, largest
remainders first, at least one validation and one training row per class that has two or
more rows). Both splits keep the file's row order. Alternatively `val_path` names a
second file with the same columns (no split).

Normalization (`normalize: standard`): per-feature mean and population std, accumulated
in float64 over the training split only; zero-variance features get std 1. Applied in
place, in float32, as `(x - mean) / std` — the same operations the artifact applies at
inference.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import math
import os
import re
import sys
import types
import zipfile
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import torch

from sigmoidnet import csvfast
from sigmoidnet.config import Config
from sigmoidnet.errors import DataError, UsageError
from sigmoidnet.fsutil import atomic_path

__all__ = [
    "Batch",
    "Dataset",
    "PredictionWriter",
    "detect_format",
    "fit_standardization",
    "iter_batches",
    "load_dataset",
    "output_format",
]

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

#: rows per Parquet batch while loading for training (bounded extra memory)
_LOAD_BATCH_ROWS = 65536
#: bytes per CSV block in the full read (fewer, larger record batches: less Python per row)
_CSV_BLOCK_BYTES = 4 << 20
#: rows per chunk for the float64 statistics passes (keeps temporaries in cache)
_STAT_CHUNK_ROWS = 16384


# =============================================================================================
# Public data types


@dataclass
class Dataset:
    """The training data: contiguous float32 CPU tensors, normalized when configured."""

    x_train: torch.Tensor  # (N, F) float32
    y_train: torch.Tensor  # (N, L) float32, 0/1
    x_val: torch.Tensor | None  # (M, F) float32
    y_val: torch.Tensor | None  # (M, L) float32
    feature_names: list[str]
    label_names: list[str]
    mean: torch.Tensor | None  # (F,) float32, fitted on the training split; None = raw data
    std: torch.Tensor | None  # (F,) float32, zero-variance features get 1
    description: str  # "data/x.csv: 455 train / 114 val rows, 30 features, 1 label"

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)


@dataclass
class Batch:
    """One slice of a file read by `iter_batches`."""

    x: F32  # (n, F) float32, NOT normalized
    y: F32 | None  # (n, L) float32 0/1, when labels were requested
    keep: pa.Table | None  # the `keep` columns, as read (CSV: as text)
    first_row: int  # 1-based data-row number of x[0]

    def __len__(self) -> int:
        return int(self.x.shape[0])


# =============================================================================================
# Messages


def _nearest(name: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fmt_value(v: object) -> str:
    """A cell value as a user would recognise it in their file."""
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return str(v)  # numpy scalars print their own shortest repr (float32: 0.1, not 0.1000…)
    if isinstance(v, (int, np.integer)):
        return str(v)
    text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(v, (str, bytes)):
        try:
            float(text)
        except ValueError:
            return repr(text)
        return text
    return repr(text)


class _Bad(Exception):
    """A bad cell found while converting one column slice (index within the slice)."""

    def __init__(self, index: int, what: str, value: str | None = None) -> None:
        super().__init__(what)
        self.index = index
        self.what = what
        self.value = value  # the offending cell as the user would write it, when there is one


def _cell_error(where: str, column: str, row: int, what: str) -> DataError:
    return DataError(where, f"column {column!r}, row {row}: {what}")


# =============================================================================================
# Arrow columns → numpy, with checks


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


def _to_numpy(arr: Any) -> npt.NDArray[Any]:
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


def _numbers(arr: Any) -> npt.NDArray[Any]:
    """Numeric numpy values of an Arrow array (float, int or bool dtype), or raise `_Bad`."""
    if arr.null_count:
        i = int(np.argmax(_to_numpy(arr.is_null())))
        raise _Bad(i, "missing value")
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if t in _NUMPY_TYPES or pa.types.is_boolean(t):
        return _to_numpy(arr)
    if pa.types.is_decimal(t):
        return _to_numpy(pc.cast(arr, pa.float64()))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        try:
            return _to_numpy(pc.cast(arr, pa.float64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        try:  # true/false
            return _to_numpy(pc.cast(arr, pa.bool_()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        # report the value where the longer-lived interpretation breaks down
        i = max(_first_cast_failure(arr, pa.float64()), _first_cast_failure(arr, pa.bool_()))
        i = min(i, len(arr) - 1)
        value = arr[i].as_py()
        if value == "":
            raise _Bad(i, "missing value")
        raise _Bad(i, f"{_fmt_value(value)} is not a number", _fmt_value(value))
    # timestamps, binary, lists, ...: not numbers
    value = arr[0].as_py() if len(arr) else None
    raise _Bad(0, f"{_fmt_value(value)} is not a number (column type {t})", _fmt_value(value))


CellText = Callable[[str, int], "str | None"]


def _fill_block(
    batch: Any,
    names: Sequence[str],
    out: F32,
    first_row: int,
    where: str,
    labels: bool,
    cell_text: CellText | None = None,
) -> None:
    """Write `batch`'s columns `names` into `out` (n, len(names)) float32, checking values.

    Features must be finite; labels must be 0 or 1. The first bad cell (lowest row, then
    leftmost column) raises a `DataError` naming its column and global row. `cell_text`
    (column, 1-based row) → the cell's original text, to quote a value that overflowed.
    """
    problems: list[tuple[int, int, str]] = []
    for j, name in enumerate(names):
        arr = batch.column(name)
        try:
            vals = _numbers(arr)
        except _Bad as bad:
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
                problems.append((i, j, f"label must be 0 or 1, got {_fmt_value(vals[i])}"))
                continue
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            out[:, j] = vals
    if not labels:
        finite = np.isfinite(out)
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
                if isinstance(original, float) and math.isfinite(original):
                    what = f"{_fmt_value(original)} does not fit in float32"
                elif text is not None and text.strip().lstrip("+-").lower() not in (
                    "inf",
                    "infinity",
                ):
                    what = f"{text.strip()} does not fit in float32"
                else:
                    what = f"{_fmt_value(value)} is not a finite number"
                problems.append((i, j, what))
    if problems:
        i, j, what = min(problems)
        raise _cell_error(where, names[j], first_row + i, what)


def _check_finite_np(
    x: F32, names: Sequence[str], first_row: int, where: str, original: npt.NDArray[Any]
) -> None:
    """Raise at the first non-finite value of `x` (chunked: bounded temporaries)."""
    for start in range(0, len(x), _STAT_CHUNK_ROWS):
        chunk = x[start : start + _STAT_CHUNK_ROWS]
        finite = np.isfinite(chunk)
        if finite.all():
            continue
        i, j = (int(v) for v in np.argwhere(~finite)[0])
        orig = original[start + i, j]
        if np.issubdtype(original.dtype, np.floating) and np.isfinite(orig):
            what = f"{_fmt_value(orig)} does not fit in float32"
        else:
            what = f"{_fmt_value(chunk[i, j])} is not a finite number"
        raise _cell_error(where, names[j], first_row + start + i, what)


def _check_labels_np(y: npt.NDArray[Any], names: Sequence[str], first_row: int, where: str) -> None:
    bad = _bad_labels(y)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise _cell_error(
            where, names[j], first_row + i, f"label must be 0 or 1, got {_fmt_value(y[i, j])}"
        )


# =============================================================================================
# Files


def _check_file(path: str, where: str) -> None:
    p = Path(path)
    if p.is_dir():
        raise DataError(where, "is a directory, expected a data file")
    if not p.exists():
        raise DataError(where, "file not found")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _check_unique(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(where, f"duplicate column name {name!r} in the header")
        seen.add(name)


# ----- CSV ------------------------------------------------------------------------------------

_CONVERSION_RE = re.compile(r"In CSV column #(\d+): CSV conversion error")
_ROW_RE = re.compile(r"Row #(\d+): ")


def _csv_convert_options(columns: Sequence[str] | None, types_: dict[str, Any]) -> Any:
    # Only empty cells are missing: "NA", "null", ... are text (reported as not a number),
    # "nan"/"inf" parse as floats (reported as not finite).
    return pacsv.ConvertOptions(
        include_columns=list(columns) if columns is not None else None,
        column_types=types_,
        null_values=[""],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _read_type(inferred: Any) -> Any:
    """The type to read a column as, from the type pyarrow infers on the first block."""
    if (
        pa.types.is_integer(inferred)
        or pa.types.is_floating(inferred)
        or pa.types.is_null(inferred)
    ):
        return pa.float32()  # parsed straight to float32: no float64 table, no cast
    if pa.types.is_boolean(inferred):
        return pa.bool_()
    return pa.string()  # text (or dates): converted/diagnosed per batch with exact rows


def _csv_bad_row(path: str, first_column: str | None) -> tuple[int, int, int] | None:
    """(physical row, expected, actual) of the first ragged row, found by a serial re-read."""
    found: list[tuple[int, int, int]] = []

    def handler(row: Any) -> str:
        if row.number is not None:
            found.append((int(row.number), int(row.expected_columns), int(row.actual_columns)))
        return "error"

    with contextlib.suppress(pa.ArrowException, OSError):
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
            convert_options=_csv_convert_options(
                None if first_column is None else [first_column],
                {} if first_column is None else {first_column: pa.string()},
            ),
        )
        for _ in reader:
            pass
    return found[0] if found else None


def _csv_error(path: str, where: str, e: BaseException, names: Sequence[str]) -> DataError:
    msg = _one_line(e)
    if isinstance(e, pa.ArrowInvalid) and "Empty CSV file" in msg:
        return DataError(where, "empty file (no header row)")
    if "columns, got" in msg:
        bad = _csv_bad_row(path, names[0] if names else None)
        if bad is not None:
            number, expected, actual = bad
            return DataError(where, f"row {number - 1}: expected {expected} columns, got {actual}")
        m = _ROW_RE.search(msg)
        if m:
            return DataError(where, f"row {int(m.group(1)) - 1}: {msg[m.end() :]}")
    if isinstance(e, OSError) and not isinstance(e, pa.ArrowException):
        return DataError(where, f"cannot read file: {msg}")
    return DataError(where, f"cannot parse CSV: {msg}")


def _csv_cell_text(path: str, column: str, row: int) -> str | None:
    """The original text of one cell (1-based data row), by re-reading one column as text."""
    with contextlib.suppress(pa.ArrowException, OSError):
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=_csv_convert_options([column], {column: pa.string()}),
        )
        seen = 0
        for batch in reader:
            if row - 1 < seen + batch.num_rows:
                value = batch.column(0)[row - 1 - seen].as_py()
                return None if value is None else str(value)
            seen += batch.num_rows
    return None


def _csv_peek(path: str, where: str) -> tuple[list[str], dict[str, Any]]:
    """Header names and the read type of each column, from the first block."""
    _check_file(path, where)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=_csv_convert_options(None, {}),
        )
        schema = reader.schema
        with contextlib.suppress(Exception):
            reader.close()
    except (pa.ArrowException, OSError) as e:
        raise _csv_error(path, where, e, []) from None
    names = list(schema.names)
    _check_unique(names, where)
    return names, {f.name: _read_type(f.type) for f in schema}


def _retype_on_conversion_error(
    e: BaseException, names: Sequence[str], types_: dict[str, Any]
) -> bool:
    """A column whose later blocks don't fit its first-block type is re-read as text."""
    m = _CONVERSION_RE.search(str(e))
    if not m:
        return False
    k = int(m.group(1))
    if k >= len(names) or types_.get(names[k]) == pa.string():
        return False
    types_[names[k]] = pa.string()
    return True


def _csv_table(
    path: str, where: str, names: Sequence[str], columns: Sequence[str], types_: dict[str, Any]
) -> Any:
    """Read `columns` of a whole CSV file (pyarrow's multithreaded reader)."""
    types_ = dict(types_)
    while True:
        try:
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(use_threads=True, block_size=_CSV_BLOCK_BYTES),
                convert_options=_csv_convert_options(columns, types_),
            )
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise _csv_error(path, where, e, names) from None


def _csv_stream(
    path: str,
    where: str,
    names: Sequence[str],
    columns: Sequence[str],
    types_: dict[str, Any],
    skip_rows: int = 0,
) -> Iterator[Any]:
    """Record batches of `columns` after the first `skip_rows` data rows, streamed; a type
    retry re-opens and skips the rows done."""
    types_ = dict(types_)
    done = skip_rows
    while True:
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(use_threads=True),
                convert_options=_csv_convert_options(columns, types_),
            )
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise _csv_error(path, where, e, names) from None
        skip = done
        try:
            for batch in reader:
                if skip:
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch = batch.slice(skip)
                    skip = 0
                done += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise _csv_error(path, where, e, names) from None
        return


# ----- Parquet --------------------------------------------------------------------------------


def _open_parquet(path: str, where: str) -> Any:
    _check_file(path, where)
    try:
        # buffered column reads instead of pre-buffering whole column chunks: a few hundred
        # MB less at peak for a 1M-row row group, and no slower
        pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        names = list(pf.schema_arrow.names)
    except (pa.ArrowException, OSError) as e:
        raise DataError(where, f"not a readable Parquet file ({_one_line(e)})") from None
    _check_unique(names, where)
    return pf


def _parquet_batches(pf: Any, where: str, columns: Sequence[str], rows: int) -> Iterator[Any]:
    try:
        yield from pf.iter_batches(batch_size=rows, columns=list(columns), use_threads=True)
    except (pa.ArrowException, OSError) as e:
        raise DataError(where, f"cannot read Parquet data ({_one_line(e)})") from None


# ----- NPZ ------------------------------------------------------------------------------------


def _open_npz(path: str, where: str) -> Any:
    _check_file(path, where)
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(where, f"not a readable .npz file ({_one_line(e)})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(where, "expected an .npz archive (arrays X and y), got a single array")
    return z


def _npz_array(z: Any, name: str, where: str) -> npt.NDArray[Any]:
    if name not in z.files:
        raise DataError(where, f"array {name!r} not found (arrays: {', '.join(z.files) or 'none'})")
    try:
        return np.asarray(z[name])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(where, f"array {name!r} cannot be read ({_one_line(e)})") from None


def _npz_names(z: Any, key: str, count: int, where: str) -> list[str] | None:
    if key not in z.files:
        return None
    arr = _npz_array(z, key, where)
    if arr.dtype.kind not in "US" or arr.ndim != 1:
        raise DataError(where, f"array {key!r} must be a 1-D array of strings, got {arr.dtype}")
    names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr]
    if len(names) != count:
        raise DataError(where, f"array {key!r} has {len(names)} names for {count} columns")
    _check_unique(names, where)
    return names


def _check_numeric(arr: npt.NDArray[Any], name: str, where: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise DataError(where, f"array {name!r} has dtype {arr.dtype}, expected numbers")


def _npz_xy(z: Any, where: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    x = _npz_array(z, "X", where)
    if x.ndim != 2:
        raise DataError(where, f"array 'X' must be 2-D (rows, features), got shape {x.shape}")
    _check_numeric(x, "X", where)
    y = _npz_array(z, "y", where)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2:
        raise DataError(where, f"array 'y' must be 1-D or 2-D (rows, labels), got shape {y.shape}")
    _check_numeric(y, "y", where)
    if len(y) != len(x):
        raise DataError(where, f"array 'y' has {len(y)} rows but 'X' has {len(x)}")
    return x, y


def _npz_select(
    file_names: list[str] | None,
    count: int,
    wanted: Sequence[str] | None,
    kind: str,
    prefix: str,
    where: str,
) -> tuple[list[str], list[int]]:
    """(names, column indices) of the selected NPZ columns."""
    if file_names is None:
        if wanted is None:
            return [f"{prefix}{j}" for j in range(count)], list(range(count))
        if len(wanted) != count:
            raise DataError(
                where,
                f"{len(wanted)} {kind} names given but the file has {count} {kind} columns"
                f" and no {kind}_names array",
            )
        return list(wanted), list(range(count))
    if wanted is None:
        return file_names, list(range(count))
    index = {n: j for j, n in enumerate(file_names)}
    for name in wanted:
        if name not in index:
            raise DataError(where, f"{kind} column {name!r} not found{_nearest(name, file_names)}")
    return list(wanted), [index[n] for n in wanted]


# =============================================================================================
# Splits and normalization


def _val_mask(y: F32, fraction: float, seed: int, where: str) -> Mask | None:
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
            f"too few rows to hold out val_fraction {fraction}: {_plural(n, 'row')}"
            + (" (one per class)" if len(groups) > 1 else ""),
        )
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=np.bool_)
    for g, c in zip(groups, counts, strict=True):
        mask[rng.permutation(g)[:c]] = True
    return mask


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


def _standardize_(x: F32, mean: F32, std: F32) -> None:
    """In place, in float32: x = (x - mean) / std (what `Artifact.normalize` does)."""
    np.subtract(x, mean, out=x)
    np.divide(x, std, out=x)


# =============================================================================================
# Training data


@dataclass
class _Part:
    """One file read for training: arrays in file order, split when asked."""

    x_train: F32
    y_train: F32
    x_val: F32 | None
    y_val: F32 | None
    features: list[str]
    labels: list[str]


def _resolve_columns(
    names: Sequence[str],
    features: Sequence[str] | None,
    labels: Sequence[str],
    where: str,
) -> tuple[list[str], list[str]]:
    present = set(names)
    for name in labels:
        if name not in present:
            raise DataError(where, f"label column {name!r} not found{_nearest(name, names)}")
    label_set = set(labels)
    if features is None:
        feats = [c for c in names if c not in label_set]
    else:
        feats = list(features)
        for name in feats:
            if name in label_set:
                raise DataError(where, f"column {name!r} is listed both as a feature and a label")
            if name not in present:
                raise DataError(where, f"feature column {name!r} not found{_nearest(name, names)}")
    if not feats:
        raise DataError(where, "no feature columns: every column is a label")
    return feats, list(labels)


def _fill_labels(batches: Iterable[Any], names: Sequence[str], n: int, where: str) -> F32:
    y = np.empty((n, len(names)), dtype=np.float32)
    off = 0
    for b in batches:
        k = b.num_rows
        _fill_block(b, names, y[off : off + k], off + 1, where, labels=True)
        off += k
    if off != n:
        raise DataError(where, f"the file says it has {n} rows but {off} were read")
    return y


def _workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _run_in_order(tasks: Iterable[Callable[[], None]], workers: int) -> None:
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


def _fill_features(
    batches: Iterable[Any],
    names: Sequence[str],
    n: int,
    mask: Mask | None,
    where: str,
    cell_text: CellText | None = None,
) -> tuple[F32, F32 | None]:
    """Convert batches straight into preallocated (train, val) float32 arrays.

    Batches are converted in parallel (numpy and Arrow release the GIL for the copies);
    each writes its own rows, so the result does not depend on the thread count.
    """
    f = len(names)
    n_val = int(mask.sum()) if mask is not None else 0
    x_train = np.empty((n - n_val, f), dtype=np.float32)
    x_val = np.empty((n_val, f), dtype=np.float32) if mask is not None else None

    def direct(b: Any, off: int) -> Callable[[], None]:
        def run() -> None:
            out = x_train[off : off + b.num_rows]
            _fill_block(b, names, out, off + 1, where, False, cell_text)

        return run

    def routed(b: Any, off: int, m: Mask, t: int, v: int) -> Callable[[], None]:
        def run() -> None:
            assert x_val is not None
            k, kv = b.num_rows, int(m.sum())
            block = np.empty((k, f), dtype=np.float32)
            _fill_block(b, names, block, off + 1, where, False, cell_text)
            np.compress(~m, block, axis=0, out=x_train[t : t + k - kv])
            np.compress(m, block, axis=0, out=x_val[v : v + kv])

        return run

    read = 0

    def tasks() -> Iterator[Callable[[], None]]:
        nonlocal read
        off = t = v = 0
        for b in batches:
            k = b.num_rows
            if off + k > n:
                raise DataError(where, f"the file says it has {n} rows but more were read")
            if mask is None:
                yield direct(b, off)
            else:
                m = mask[off : off + k]
                kv = int(m.sum())
                yield routed(b, off, m, t, v)
                t += k - kv
                v += kv
            off += k
            read = off

    _run_in_order(tasks(), _workers() if n >= 4 * _LOAD_BATCH_ROWS else 1)
    if read != n:
        raise DataError(where, f"the file says it has {n} rows but {read} were read")
    return x_train, x_val


def _split_labels(y: F32, mask: Mask | None) -> tuple[F32, F32 | None]:
    if mask is None:
        return y, None
    return np.ascontiguousarray(y[~mask]), np.ascontiguousarray(y[mask])


def _drain(batches: list[Any]) -> Iterator[Any]:
    """Yield and forget: each batch's memory can go as soon as it is converted."""
    batches.reverse()
    while batches:
        yield batches.pop()


SizeCheck = Callable[[int, int], None]


def _load_csv(
    path: str,
    features: Sequence[str] | None,
    labels: Sequence[str],
    fraction: float,
    seed: int,
    check: SizeCheck,
) -> _Part:
    where = path
    names, types_ = _csv_peek(path, where)
    feats, labs = _resolve_columns(names, features, labels, where)
    check(len(feats), len(labs))
    fast = csvfast.read_numeric(path, names, feats, labs, _workers())
    if fast is not None and not _bad_labels(fast[1]).any():
        return _part_from_arrays(fast[0], fast[1], feats, labs, fraction, seed, where)
    del fast  # not plain numbers, or bad labels: pyarrow reads it and words the error
    columns = [c for c in names if c in set(feats) | set(labs)]
    table = _csv_table(path, where, names, columns, {c: types_[c] for c in columns})
    n = table.num_rows
    if n == 0:
        raise DataError(where, "no data rows (the file has a header only)")
    batches = table.to_batches()
    del table
    cell_text = functools.partial(_csv_cell_text, path)
    return _split_part(
        batches, lambda: _drain(batches), feats, labs, n, fraction, seed, where, cell_text
    )


def _load_parquet(
    path: str,
    features: Sequence[str] | None,
    labels: Sequence[str],
    fraction: float,
    seed: int,
    check: SizeCheck,
) -> _Part:
    where = path
    pf = _open_parquet(path, where)
    names = list(pf.schema_arrow.names)
    feats, labs = _resolve_columns(names, features, labels, where)
    check(len(feats), len(labs))
    n = int(pf.metadata.num_rows)
    if n == 0:
        raise DataError(where, "no data rows")
    return _split_part(
        _parquet_batches(pf, where, labs, _LOAD_BATCH_ROWS),
        lambda: _parquet_batches(pf, where, feats, _LOAD_BATCH_ROWS),
        feats,
        labs,
        n,
        fraction,
        seed,
        where,
    )


def _split_part(
    label_batches: Iterable[Any],
    feature_batches: Callable[[], Iterable[Any]],
    feats: list[str],
    labs: list[str],
    n: int,
    fraction: float,
    seed: int,
    where: str,
    cell_text: CellText | None = None,
) -> _Part:
    """Labels first (the split needs them), then features straight into (train, val)."""
    y = _fill_labels(label_batches, labs, n, where)
    mask = _val_mask(y, fraction, seed, where)
    x_train, x_val = _fill_features(feature_batches(), feats, n, mask, where, cell_text)
    y_train, y_val = _split_labels(y, mask)
    return _Part(x_train, y_train, x_val, y_val, feats, labs)


def _load_npz(
    path: str,
    features: Sequence[str] | None,
    labels: Sequence[str] | None,
    fraction: float,
    seed: int,
    check: SizeCheck,
) -> _Part:
    where = path
    with _open_npz(path, where) as z:
        x_all, y_all = _npz_xy(z, where)
        fnames = _npz_names(z, "feature_names", x_all.shape[1], where)
        lnames = _npz_names(z, "label_names", y_all.shape[1], where)
    feats, fidx = _npz_select(fnames, x_all.shape[1], features, "feature", "x", where)
    labs, lidx = _npz_select(lnames, y_all.shape[1], labels, "label", "y", where)
    overlap = set(feats) & set(labs)
    if overlap and (fnames is not None or features is not None):
        name = sorted(overlap)[0]
        raise DataError(where, f"column {name!r} is listed both as a feature and a label")
    check(len(feats), len(labs))
    n = len(x_all)
    if n == 0:
        raise DataError(where, "no data rows (array 'X' is empty)")
    if not feats:
        raise DataError(where, "no feature columns (array 'X' has 0 columns)")
    if lidx != list(range(y_all.shape[1])):
        y_all = y_all[:, lidx]
    _check_labels_np(y_all, labs, 1, where)
    y = np.ascontiguousarray(y_all, dtype=np.float32)
    if fidx != list(range(x_all.shape[1])):
        x_all = x_all[:, fidx]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        x = np.ascontiguousarray(x_all, dtype=np.float32)
    _check_finite_np(x, feats, 1, where, x_all)
    del x_all
    return _part_from_arrays(x, y, feats, labs, fraction, seed, where)


def _part_from_arrays(
    x: F32,
    y: F32,
    feats: list[str],
    labs: list[str],
    fraction: float,
    seed: int,
    where: str,
) -> _Part:
    """Split checked (N, F) features and (N, L) labels; x's buffer becomes the train rows."""
    mask = _val_mask(y, fraction, seed, where)
    if mask is None:
        return _Part(x, y, None, None, feats, labs)
    x_val = x[mask]
    x_train = _keep_rows_inplace(x, ~mask)
    y_train, y_val = _split_labels(y, mask)
    return _Part(x_train, y_train, x_val, y_val, feats, labs)


def _keep_rows_inplace(x: F32, keep: Mask, step: int = 65536) -> F32:
    """x[keep] without a second full-size array: rows move up in place, in order.

    Safe because the k-th kept row comes from row >= k: every block is gathered (a
    temporary of `step` rows) before it is written over rows that were already read.
    """
    idx = np.flatnonzero(keep)
    for s in range(0, len(idx), step):
        block = idx[s : s + step]
        x[s : s + len(block)] = x[block]
    return x[: len(idx)]


def _bad_labels(y: npt.NDArray[Any]) -> Mask:
    bad: Mask = (y != 0) & (y != 1)  # NaN included
    return bad


def _load_random(cfg: Config) -> Dataset:
    d = cfg.data
    torch.manual_seed(cfg.seed)
    x = torch.rand(d.n_samples, d.n_features)  # (N, F), the tutorial's input_data
    y = torch.randint(0, 2, (d.n_samples, d.n_labels), dtype=torch.float32)  # (N, L)
    features = [f"x{j}" for j in range(d.n_features)]
    labels = [f"y{j}" for j in range(d.n_labels)]
    where = "random data"
    mask = _val_mask(y.numpy(), d.holdout, cfg.seed, where)
    if mask is None:
        x_train, y_train, x_val, y_val = x, y, None, None
        rows = f"{_plural(d.n_samples, 'row')}"
    else:
        val_idx = torch.from_numpy(np.flatnonzero(mask))
        train_idx = torch.from_numpy(np.flatnonzero(~mask))
        x_train, y_train = x[train_idx], y[train_idx]
        x_val, y_val = x[val_idx], y[val_idx]
        rows = f"{len(train_idx)} train / {len(val_idx)} val rows"
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        feature_names=features,
        label_names=labels,
        mean=None,
        std=None,
        description=f"random data (seed {cfg.seed}): {rows}, "
        f"{_plural(d.n_features, 'feature')}, {_plural(d.n_labels, 'label')}",
    )


def _load_part(
    source: str,
    path: str,
    features: Sequence[str] | None,
    labels: Sequence[str] | None,
    fraction: float,
    seed: int,
    check: SizeCheck,
) -> _Part:
    found = detect_format(path) if os.path.isfile(path) else source
    if found != source:  # e.g. a Parquet val_path under source: csv
        raise DataError(path, f"looks like a {found} file, but data.source is '{source}'")
    if source == "csv":
        return _load_csv(path, features, labels or [], fraction, seed, check)
    if source == "parquet":
        return _load_parquet(path, features, labels or [], fraction, seed, check)
    if source == "npz":
        return _load_npz(path, features, labels, fraction, seed, check)
    raise DataError(path, f"unknown data source {source!r}")  # pragma: no cover - config-checked


def load_dataset(cfg: Config) -> Dataset:
    """Load, check, split and normalize the data a config describes.

    Raises `DataError` (exit 3) for anything wrong with the data, including a
    `model.input_size`/`model.output_size` that disagrees with the file.
    """
    d = cfg.data
    if d.source == "random":
        return _load_random(cfg)
    if d.path is None:  # pragma: no cover - the config requires it
        raise DataError("data.path", f"required for source {d.source!r}")
    path = d.path

    def check(n_features: int, n_labels: int, where: str = path) -> None:
        m = cfg.model
        if m.input_size is not None and m.input_size != n_features:
            raise DataError(
                where,
                f"model.input_size is {m.input_size} but the data has "
                f"{_plural(n_features, 'feature')}",
            )
        if m.output_size is not None and m.output_size != n_labels:
            raise DataError(
                where,
                f"model.output_size is {m.output_size} but the data has "
                f"{_plural(n_labels, 'label')}",
            )
        if n_labels == 0:
            raise DataError(where, "no label columns")

    fraction = 0.0 if d.val_path is not None else d.holdout
    part = _load_part(d.source, path, d.features, d.labels, fraction, cfg.seed, check)
    x_train, y_train, x_val, y_val = part.x_train, part.y_train, part.x_val, part.y_val
    if d.val_path is not None:
        vp = d.val_path
        val = _load_part(
            d.source,
            vp,
            part.features,
            part.labels,
            0.0,
            cfg.seed,
            lambda f, lab: check(f, lab, vp),
        )
        x_val, y_val = val.x_train, val.y_train
        rows = f"{len(x_train)} train rows; {vp}: {len(x_val)} val rows"
    elif x_val is not None:
        rows = f"{len(x_train)} train / {len(x_val)} val rows"
    else:
        rows = f"{_plural(len(x_train), 'row')}"
    mean_t: torch.Tensor | None = None
    std_t: torch.Tensor | None = None
    if d.normalize == "standard":
        mean, std = fit_standardization(x_train)
        _standardize_(x_train, mean, std)
        if x_val is not None:
            _standardize_(x_val, mean, std)
        mean_t, std_t = torch.from_numpy(mean), torch.from_numpy(std)
    return Dataset(
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(y_train),
        x_val=None if x_val is None else torch.from_numpy(x_val),
        y_val=None if y_val is None else torch.from_numpy(y_val),
        feature_names=part.features,
        label_names=part.labels,
        mean=mean_t,
        std=std_t,
        description=f"{path}: {rows}, {_plural(len(part.features), 'feature')}, "
        f"{_plural(len(part.labels), 'label')}",
    )


# =============================================================================================
# Inference: streaming batches


def detect_format(path: str) -> str:
    """'csv', 'parquet' or 'npz' from the extension (sniffing the magic bytes otherwise)."""
    name = Path(path).name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".npz"):
        return "npz"
    if re.search(r"\.(csv|txt)(\.(gz|bz2|zst|lz4))?$", name):
        return "csv"
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return "csv"
    if magic == b"PAR1":
        return "parquet"
    if magic[:2] == b"PK":
        return "npz"
    return "csv"


def _match_columns(
    names: Sequence[str],
    feature_names: Sequence[str],
    label_names: Sequence[str] | None,
    require_labels: bool,
    keep: Sequence[str],
    where: str,
) -> tuple[list[str], list[str] | None]:
    """Check a file's columns against the model's; return (features, labels to read)."""
    present = set(names)
    for name in keep:
        if name not in present:
            raise DataError(where, f"keep column {name!r} not found{_nearest(name, names)}")
    labels: list[str] | None = None
    label_set: set[str] = set()
    if label_names is not None:
        label_set = set(label_names)
        if require_labels:
            for name in label_names:
                if name not in present:
                    raise DataError(
                        where, f"label column {name!r} is missing{_nearest(name, names)}"
                    )
            labels = list(label_names)
    feature_set = set(feature_names)
    keep_only = set(keep) - feature_set
    candidates = [c for c in names if c not in label_set and c not in keep_only]
    cand_set = set(candidates)
    for name in feature_names:
        if name not in cand_set:
            raise DataError(where, f"column {name!r} is missing{_nearest(name, candidates)}")
    for name in candidates:
        if name not in feature_set:
            raise DataError(
                where,
                f"extra column {name!r} not seen in training "
                "(predict --keep / eval --ignore pass over a non-feature column)",
            )
    for pos, (want, got) in enumerate(zip(feature_names, candidates, strict=True), start=1):
        if want != got:
            raise DataError(
                where, f"columns out of order: expected {want!r} at position {pos}, got {got!r}"
            )
    return list(feature_names), labels


def _rebatch(batches: Iterable[Any], rows: int) -> Iterator[list[Any]]:
    """Group record batches (slicing, zero-copy) into lists of exactly `rows` rows."""
    group: list[Any] = []
    have = 0
    for b in batches:
        while b.num_rows:
            take = min(rows - have, b.num_rows)
            group.append(b.slice(0, take))
            have += take
            b = b.slice(take)
            if have == rows:
                yield group
                group, have = [], 0
    if group:
        yield group


def _arrow_batches(
    stream: Iterable[Any],
    features: Sequence[str],
    labels: Sequence[str] | None,
    keep: Sequence[str],
    rows: int,
    where: str,
    cell_text: CellText | None = None,
    rows_before: int = 0,
) -> Iterator[Batch]:
    """Batches of `stream`, which starts after `rows_before` data rows of the file."""
    done = rows_before
    for group in _rebatch(stream, rows):
        n = sum(b.num_rows for b in group)
        x = np.empty((n, len(features)), dtype=np.float32)
        y = np.empty((n, len(labels)), dtype=np.float32) if labels is not None else None
        off = 0
        for b in group:
            k = b.num_rows
            if labels is not None and y is not None:
                _fill_block(b, labels, y[off : off + k], done + off + 1, where, labels=True)
            _fill_block(b, features, x[off : off + k], done + off + 1, where, False, cell_text)
            off += k
        kept = pa.Table.from_batches([b.select(list(keep)) for b in group]) if keep else None
        yield Batch(x=x, y=y, keep=kept, first_row=done + 1)
        done += n
    if done == 0:
        raise DataError(where, "no data rows")


class _NpyReader:
    """Rows of one array inside an .npz, read sequentially without loading it whole."""

    def __init__(self, zf: zipfile.ZipFile, member: str, where: str, name: str) -> None:
        self.name = name
        self._full: npt.NDArray[Any] | None = None
        self._fp: IO[bytes] | None = None
        try:
            fp = zf.open(member)
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                shape, fortran, dtype = (), True, np.dtype(np.float64)
            if fortran or dtype.hasobject or version not in ((1, 0), (2, 0)):
                fp.close()
                with zf.open(member) as f2:
                    self._full = np.asarray(np.load(f2, allow_pickle=False))
                shape, dtype = self._full.shape, self._full.dtype
            else:
                self._fp = fp
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(where, f"array {name!r} cannot be read ({_one_line(e)})") from None
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.dtype: np.dtype[Any] = dtype
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize
        self._pos = 0
        self._where = where

    def read(self, k: int) -> npt.NDArray[Any]:
        if self._full is not None:
            out = self._full[self._pos : self._pos + k]
        else:
            assert self._fp is not None
            data = self._fp.read(k * self._row_bytes)
            if len(data) != k * self._row_bytes:
                raise DataError(self._where, f"array {self.name!r} is truncated")
            out = np.frombuffer(data, dtype=self.dtype).reshape((k, *self.shape[1:]))
        self._pos += k
        return out

    def close(self) -> None:
        if self._fp is not None:
            self._fp.close()


def _npz_batches(
    path: str,
    feature_names: Sequence[str],
    label_names: Sequence[str] | None,
    require_labels: bool,
    keep: Sequence[str],
    rows: int,
    where: str,
) -> Iterator[Batch]:
    with _open_npz(path, where) as z:
        files = list(z.files)
        fnames: list[str] | None = None
        if "feature_names" in files:
            arr = _npz_array(z, "feature_names", where)
            fnames = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
        lnames: list[str] | None = None
        if "label_names" in files:
            arr = _npz_array(z, "label_names", where)
            lnames = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
    for name in keep:
        if name not in files:
            raise DataError(where, f"keep column {name!r} not found{_nearest(name, files)}")
    if "X" not in files:
        raise DataError(where, f"array 'X' not found (arrays: {', '.join(files)})")
    want_labels = label_names is not None and require_labels
    if want_labels and "y" not in files:
        raise DataError(where, "array 'y' (the labels) not found")
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:  # pragma: no cover - np.load opened it
        raise DataError(where, f"not a readable .npz file ({_one_line(e)})") from None
    readers: list[_NpyReader] = []
    try:
        xr = _NpyReader(zf, "X.npy", where, "X")
        readers.append(xr)
        if len(xr.shape) != 2:
            raise DataError(where, f"array 'X' must be 2-D (rows, features), got shape {xr.shape}")
        _check_numeric(np.empty(0, xr.dtype), "X", where)
        n, f = xr.shape
        if fnames is not None:
            _check_unique(fnames, where)
            if len(fnames) != f:
                raise DataError(where, f"array 'feature_names' has {len(fnames)} names for {f}")
            _match_columns(fnames, feature_names, None, False, (), where)
        elif f != len(feature_names):
            raise DataError(
                where,
                f"array 'X' has {_plural(f, 'feature')} but the model expects {len(feature_names)}",
            )
        yr: _NpyReader | None = None
        if want_labels and label_names is not None:
            yr = _NpyReader(zf, "y.npy", where, "y")
            readers.append(yr)
            _check_numeric(np.empty(0, yr.dtype), "y", where)
            n_lab = 1 if len(yr.shape) == 1 else (yr.shape[1] if len(yr.shape) == 2 else -1)
            if n_lab < 0 or yr.shape[0] != n:
                raise DataError(where, f"array 'y' has shape {yr.shape}, 'X' has {xr.shape}")
            if lnames is not None and list(lnames) != list(label_names):
                raise DataError(
                    where, f"label names {lnames} differ from the model's {list(label_names)}"
                )
            if n_lab != len(label_names):
                raise DataError(
                    where,
                    f"array 'y' has {_plural(n_lab, 'label')} but the model has {len(label_names)}",
                )
        keeps: list[_NpyReader] = []
        for name in keep:
            kr = _NpyReader(zf, f"{name}.npy", where, name)
            readers.append(kr)
            if len(kr.shape) != 1 or kr.shape[0] != n:
                raise DataError(
                    where, f"keep array {name!r} must be 1-D with {n} rows, got shape {kr.shape}"
                )
            keeps.append(kr)
        if n == 0:
            raise DataError(where, "no data rows (array 'X' is empty)")
        labels = list(label_names) if yr is not None and label_names is not None else []
        for start in range(0, n, rows):
            k = min(rows, n - start)
            y = None
            if yr is not None:  # labels are checked before features, as everywhere
                yraw = yr.read(k).reshape(k, -1)
                _check_labels_np(yraw, labels, start + 1, where)
                y = np.ascontiguousarray(yraw, dtype=np.float32)
            raw = xr.read(k)
            x = np.empty((k, f), dtype=np.float32)
            with np.errstate(over="ignore", invalid="ignore"):
                x[...] = raw
            _check_finite_np(x, feature_names, start + 1, where, raw)
            kept = pa.table({kr.name: kr.read(k) for kr in keeps}) if keeps else None
            yield Batch(x=x, y=y, keep=kept, first_row=start + 1)
    finally:
        for r in readers:
            r.close()
        zf.close()


def iter_batches(
    path: str,
    feature_names: Sequence[str],
    label_names: Sequence[str] | None = None,
    keep: Sequence[str] = (),
    batch_rows: int = 65536,
    *,
    require_labels: bool = True,
) -> Iterator[Batch]:
    """Stream a CSV/Parquet/NPZ file in batches of `batch_rows` rows, in constant memory.

    Columns are checked by name and order against the model's `feature_names`: the file's
    columns, minus the label columns (when present), minus the `keep` columns that are not
    features, must equal `feature_names` exactly — a missing, extra or reordered column is a
    `DataError`. `label_names` with `require_labels=True` (eval): the label columns must be
    present and are returned as `Batch.y`. With `require_labels=False` (predict): label
    columns are ignored if present and `y` is None. `keep` columns (an id, say) are passed
    through as read (CSV: as text, so `007` stays `007`); a missing one is a `DataError`.
    NPZ: `X`/`y` arrays; with a `feature_names` array the names are checked, without it only
    the count; `keep` names other 1-D arrays with one value per row.

    Values are checked as in training (finite features, 0/1 labels); errors name the
    column and the 1-based data row (header not counted). A file without data rows is a
    `DataError`. Nothing is normalized here.
    """
    where = str(path)
    if batch_rows < 1:
        raise UsageError("batch_rows", f"expected a positive number, got {batch_rows}")
    keep = list(dict.fromkeys(keep))
    fmt = detect_format(where)
    if fmt == "npz":
        yield from _npz_batches(
            where, feature_names, label_names, require_labels, keep, batch_rows, where
        )
        return
    if fmt == "parquet":
        pf = _open_parquet(where, where)
        names = list(pf.schema_arrow.names)
        feats, labels = _match_columns(
            names, feature_names, label_names, require_labels, keep, where
        )
        wanted = set(feats) | set(labels or []) | set(keep)
        columns = [c for c in names if c in wanted]
        stream: Iterable[Any] = _parquet_batches(pf, where, columns, batch_rows)
        cell_text: CellText | None = None
    else:
        names, types_ = _csv_peek(where, where)
        feats, labels = _match_columns(
            names, feature_names, label_names, require_labels, keep, where
        )
        feature_set = set(feats)
        wanted = feature_set | set(labels or []) | set(keep)
        columns = [c for c in names if c in wanted]
        read_types = {
            c: types_[c]
            if c in feature_set or (c in set(labels or []) and c not in keep)
            else pa.string()
            for c in columns
        }
        done = 0
        if not keep:  # plain numbers: the C fast path, as long as the file stays plain
            complete, done = yield from _fast_csv_batches(where, names, feats, labels, batch_rows)
            if complete:
                return
        stream = _csv_stream(where, where, names, columns, read_types, skip_rows=done)
        cell_text = functools.partial(_csv_cell_text, where)
        yield from _arrow_batches(
            stream, feats, labels, keep, batch_rows, where, cell_text, rows_before=done
        )
        return
    yield from _arrow_batches(stream, feats, labels, keep, batch_rows, where, cell_text)


def _fast_csv_batches(
    where: str,
    names: list[str],
    features: list[str],
    labels: list[str] | None,
    batch_rows: int,
) -> Generator[Batch, None, tuple[bool, int]]:
    """Batches from the C parser while the file stays plain. Returns (whether it read the
    whole file, the rows yielded): pyarrow reads the rest, if any, and words any error."""
    fast = csvfast.iter_numeric(where, names, features, labels or [], batch_rows, _workers())
    done = 0
    try:
        while True:
            try:
                x, y = next(fast)
            except StopIteration as end:
                return bool(end.value), done  # False: the rest needs pyarrow (or has no rows)
            if labels is not None and _bad_labels(y).any():
                return False, done  # pyarrow re-reads from this batch and words the error
            yield Batch(x=x, y=None if labels is None else y, keep=None, first_row=done + 1)
            done += len(x)
    finally:
        fast.close()


# =============================================================================================
# Writing predictions

_OUTPUT_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def output_format(out: str | Path | None) -> str:
    """'csv', 'parquet' or 'jsonl' from an output file name (None = CSV to stdout)."""
    if out is None:
        return "csv"
    ext = Path(out).suffix.lower()
    fmt = _OUTPUT_FORMATS.get(ext)
    if fmt is None:
        raise UsageError(
            str(out),
            f"unsupported output extension {ext or '(none)'!r}: "
            "use .csv, .parquet, .pq, .jsonl or .ndjson",
        )
    return fmt


_CONTROL_RE = r"[\x00-\x1f]"


def _json_values(arr: Any) -> Any:
    """A string array holding each value of `arr` as a JSON text (null for missing/non-finite)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_floating(t):
        if pa.types.is_float16(t):
            arr = pc.cast(arr, pa.float32())
        text = pc.cast(arr, pa.string())
        if pc.any(pc.invert(pc.is_finite(arr))).as_py():
            text = pc.if_else(pc.is_finite(arr), text, pa.scalar(None, pa.string()))
    elif pa.types.is_integer(t) or pa.types.is_boolean(t):
        text = pc.cast(arr, pa.string())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        arr = pc.cast(arr, pa.string())
        if pc.any(pc.match_substring_regex(arr, _CONTROL_RE)).as_py():
            text = pa.array(
                [None if v is None else json.dumps(v, ensure_ascii=False) for v in arr.to_pylist()],
                pa.string(),
            )
        else:
            escaped = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
            text = pc.binary_join_element_wise(pa.scalar('"'), escaped, pa.scalar('"'), "")
    elif pa.types.is_null(t):
        text = pa.nulls(len(arr), pa.string())
    else:  # dates, decimals, ...: Python's JSON, with anything unusual as its string form

        def enc(v: object) -> str | None:
            if v is None:
                return None
            if isinstance(v, float) and not math.isfinite(v):
                return None
            try:
                return json.dumps(v, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError):
                return json.dumps(str(v), ensure_ascii=False)

        text = pa.array([enc(v) for v in arr.to_pylist()], pa.string())
    return pc.fill_null(text, "null")


def _jsonl_lines(batch: Any) -> Any:
    """One JSON object per row, each ending in a newline, as one string array."""
    if batch.num_columns == 0:
        return pa.array(["{}\n"] * batch.num_rows, pa.string())
    pieces: list[Any] = []
    for i, name in enumerate(batch.schema.names):
        pieces.append(
            pa.scalar(("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":")
        )
        pieces.append(_json_values(batch.column(i)))
    pieces.append(pa.scalar("}\n"))
    return pc.binary_join_element_wise(*pieces, "")


def _string_array_bytes(arr: Any) -> memoryview:
    """The concatenated UTF-8 of a (non-null) string array, without copying."""
    offsets_dtype = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offsets_dtype)
    start, end = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    if data_buf is None:
        return memoryview(b"")
    return memoryview(data_buf)[start:end]


class PredictionWriter:
    """Write tables of predictions as CSV, Parquet or JSON Lines — atomically.

        with PredictionWriter("preds.parquet") as w:
            for table in ...:
                w.write(table)

    The format comes from the extension (.csv, .parquet/.pq, .jsonl/.ndjson; anything
    else is a `UsageError`, raised by the constructor so that nothing is computed in vain).
    `out=None` streams CSV to `stream` (default: standard output). A file is written to a
    temporary name in its folder (created if missing) and renamed into place when the
    block ends without an exception; otherwise the temporary file is removed and an
    existing output is left untouched. All written tables must share one schema.
    """

    def __init__(self, out: str | Path | None, *, stream: IO[bytes] | None = None) -> None:
        self.out = None if out is None else Path(out)
        self.format = output_format(out)
        self.rows = 0
        self._stream = stream
        self._stack: contextlib.ExitStack | None = None
        self._target: Path | None = None
        self._writer: Any = None
        self._file: IO[bytes] | None = None
        self._schema: Any = None

    def __enter__(self) -> PredictionWriter:
        if self.out is not None:
            if self.out.is_dir():
                raise UsageError(str(self.out), "is a directory, expected an output file name")
            try:
                self.out.parent.mkdir(parents=True, exist_ok=True)
                stack = contextlib.ExitStack()
                self._target = stack.enter_context(atomic_path(self.out))
            except OSError as e:
                raise UsageError(str(self.out), f"cannot write ({_one_line(e)})") from None
            self._stack = stack
        return self

    def _sink(self) -> Any:
        if self._target is not None:
            return str(self._target)
        stream = self._stream if self._stream is not None else sys.stdout.buffer
        return pa.PythonFile(stream, mode="w")

    def write(self, table: Any) -> None:
        """Append a `pyarrow.Table` (or RecordBatch)."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if self._schema is None:
            self._open(table.schema)
        elif not table.schema.equals(self._schema):
            table = table.cast(self._schema)
        if self._writer is not None:  # CSV, Parquet
            self._writer.write_table(table)
        else:
            assert self._file is not None
            for batch in table.to_batches():
                self._file.write(_string_array_bytes(_jsonl_lines(batch)))
        self.rows += table.num_rows

    def _open(self, schema: Any) -> None:
        self._schema = schema
        if self.format == "csv":
            options = pacsv.WriteOptions(quoting_style="needed")
            self._writer = pacsv.CSVWriter(self._sink(), schema, write_options=options)
        elif self.format == "parquet":
            self._writer = pq.ParquetWriter(self._sink(), schema)
        elif self._target is not None:
            self._file = open(self._target, "wb")  # noqa: SIM115 - closed in _close
        else:
            self._file = self._stream if self._stream is not None else sys.stdout.buffer

    def _close(self) -> None:
        if self._schema is None and self.format == "parquet":
            self._open(pa.schema([]))  # an empty table is still a valid Parquet file
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
        if self._file is not None:
            f, self._file = self._file, None
            if self._target is not None:
                f.close()
            else:
                f.flush()
        if self._target is None and self.format == "csv":
            stream = self._stream if self._stream is not None else sys.stdout.buffer
            stream.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        error = exc
        try:
            if exc is None:
                self._close()
            else:
                with contextlib.suppress(Exception):
                    self._close()
        except BaseException as e:
            error = e
        stack, self._stack = self._stack, None
        if stack is not None:
            if error is None:
                stack.close()  # fsync + rename into place
            else:
                stack.__exit__(type(error), error, error.__traceback__)  # removes the temp file
        if error is not None and error is not exc:
            raise error
