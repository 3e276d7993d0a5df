"""Prediction output: `PredictionWriter` writes CSV, Parquet or JSON Lines, atomically."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import sys
import types
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sigmoidnet.errors import UsageError
from sigmoidnet.fsutil import (
    NAME_MAX,
    OutputError,
    atomic_path,
    make_dirs,
    output_error,
    remove_dirs,
)

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


_STDOUT = "<stdout>"
_DOING = "cannot write predictions"


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def output_destination(out: Path) -> Path:
    """The file that `--out out` will replace (what a symlink `out` names, so that the link
    stays a link), after checking, without creating anything, that it can be written: a new
    or regular file (a device, FIFO or socket is refused: the output is renamed into place,
    which would replace the device node itself), whose nearest existing ancestor is a
    writable folder. A problem is a one-line `UsageError` (exit 2)."""
    where = str(out)
    if "\x00" in os.fspath(out):
        raise UsageError(where, "the path contains a NUL byte")
    try:
        os.fspath(out).encode("utf-8")
    except UnicodeEncodeError:  # the writers (pyarrow) take UTF-8 paths only
        raise UsageError(where, "the path is not valid UTF-8 (use a UTF-8 name)") from None
    try:
        mode: int | None = os.stat(out).st_mode  # follows symlinks
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UsageError(where, "the path is a symlink loop") from None
        raise output_error(where, e, _DOING) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(where, "is a directory, expected an output file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise UsageError(
            where,
            f"not a regular file ({_file_kind(mode)}): --out names a file to create or "
            "replace; leave it out to write CSV to stdout",
        )
    dest = Path(os.path.realpath(out)) if out.is_symlink() else out
    if len(os.fsencode(dest.name)) > NAME_MAX:
        raise UsageError(where, f"the file name is too long (more than {NAME_MAX} bytes)")
    folder = dest.parent
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(where, f"cannot create its folder: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(where, f"{_DOING}: cannot create files in {folder} (permission denied)")
    return dest


class PredictionWriter:
    """Write tables of predictions as CSV, Parquet or JSON Lines — atomically.

        with PredictionWriter("preds.parquet") as w:
            for table in ...:
                w.write(table)

    The format comes from the extension (.csv, .parquet/.pq, .jsonl/.ndjson; anything
    else is a `UsageError`, raised by the constructor so that nothing is computed in vain).
    `out=None` streams CSV to `stream` (default: standard output). Entering the block
    checks that `out` can be written (`output_destination`) but creates nothing; the
    first table written creates the missing folders and a temporary file next to `out`,
    which is renamed into place when the block ends without an exception. On an exception
    (an interruption included) the temporary file and the folders created are removed and
    an existing output is left untouched. Writing that fails is an `OutputError` naming
    `out` (or `<stdout>`): exit 3 for a full disk, a quota or a file-size limit, 2 for a
    path that cannot be used. All written tables must share one schema.
    """

    def __init__(self, out: str | Path | None, *, stream: IO[bytes] | None = None) -> None:
        self.out = None if out is None else Path(out)
        self.format = output_format(out)
        self.rows = 0
        self._where = _STDOUT if out is None else str(out)
        self._stream = stream
        self._dest: Path | None = None
        self._created: list[Path] = []
        self._stack: contextlib.ExitStack | None = None
        self._target: Path | None = None
        self._writer: Any = None
        self._file: IO[bytes] | None = None
        self._schema: Any = None

    def __enter__(self) -> PredictionWriter:
        if self.out is not None:
            self._dest = output_destination(self.out)
        return self

    def _begin(self) -> None:
        """Create the missing folders and the temporary file (at the first write)."""
        assert self._dest is not None
        stack = contextlib.ExitStack()
        created: list[Path] = []
        try:
            created = make_dirs(self._dest.parent)
            self._target = stack.enter_context(atomic_path(self._dest))
        except BaseException as e:  # an OSError, or an interrupt between the two steps
            self._target = None
            with contextlib.suppress(BaseException):  # as a failure: removes the temporary file
                stack.__exit__(type(e), e, e.__traceback__)
            remove_dirs(created)
            if isinstance(e, OSError):
                raise output_error(self._where, e, _DOING) from None
            raise
        self._created, self._stack = created, stack

    def _stdout(self) -> IO[bytes]:
        if self._stream is not None:
            return self._stream
        if sys.stdout is None:  # started with file descriptor 1 closed
            raise OutputError(_STDOUT, f"{_DOING}: standard output is closed", 2)
        return sys.stdout.buffer

    def _sink(self) -> Any:
        if self._target is not None:
            return str(self._target)
        return pa.PythonFile(self._stdout(), mode="w")

    def write(self, table: Any) -> None:
        """Append a `pyarrow.Table` (or RecordBatch)."""
        try:
            self._write(table)
        except BrokenPipeError:
            raise  # the reader of stdout has gone: the CLI's quiet exit 0
        except OSError as e:
            raise output_error(self._where, e, _DOING) from None

    def _write(self, table: Any) -> None:
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
        if self._dest is not None and self._stack is None:
            self._begin()
        self._schema = schema
        if self.format == "csv":
            options = pacsv.WriteOptions(quoting_style="needed")
            self._writer = pacsv.CSVWriter(self._sink(), schema, write_options=options)
        elif self.format == "parquet":
            self._writer = pq.ParquetWriter(self._sink(), schema)
        elif self._target is not None:
            self._file = open(self._target, "wb")  # noqa: SIM115 - closed in _close
        else:
            self._file = self._stdout()

    def _close(self, ok: bool) -> None:
        if ok and self._schema is None:  # nothing was written: the output still exists
            if self.format == "parquet":
                self._open(pa.schema([]))  # an empty table is still a valid Parquet file
            elif self._dest is not None and self._stack is None:
                self._begin()  # an empty file
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
        if self._file is not None:
            f, self._file = self._file, None
            if self._target is not None:
                f.close()
            else:
                f.flush()
        if self._dest is None:
            self._stdout().flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        error = exc
        try:
            if exc is None:
                try:
                    self._close(ok=True)
                except BrokenPipeError:
                    raise
                except OSError as e:
                    raise output_error(self._where, e, _DOING) from None
            else:
                with contextlib.suppress(Exception):
                    self._close(ok=False)
        except BaseException as e:
            error = e
        stack, self._stack = self._stack, None
        if stack is not None:
            try:
                if error is None:
                    stack.close()  # fsync + rename into place
                else:  # removes the temporary file
                    stack.__exit__(type(error), error, error.__traceback__)
            except OSError as e:  # the fsync or the rename failed (the temporary is gone)
                error = output_error(self._where, e, _DOING)
            except BaseException as e:
                error = e
        if error is not None:
            created, self._created = self._created, []
            remove_dirs(created)
        if error is not None and error is not exc:
            raise error
