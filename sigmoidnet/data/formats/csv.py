"""CSV through pyarrow: every CSV file that the C fast path (`csv_fast`) does not take, and
the wording of every CSV error. A header row, comma-separated, UTF-8; only empty cells are
missing ("NA", "null", ... are text, reported as not a number; "nan"/"inf" parse as floats,
reported as not finite). Columns are read as float32, bool or text by the type pyarrow infers
on the first block; a column whose later blocks do not fit is re-read as text, so every
value gets its exact row in the messages.

Before pyarrow opens a file, `sniff` looks at its first bytes (decompressed, for a name that
pyarrow decompresses: `.gz`, `.bz2`, `.lz4`, `.zst`): a gzip, Parquet, zip or other binary
file, or text that is not UTF-8, is named as such instead of being parsed as garbage.

Rows: every row has the header's number of fields. An empty line between rows is not
skipped (a silently dropped line would shift every later prediction): it is refused as
`row N: expected K columns, got an empty line`; empty lines before the header and at the
very end of the file are ignored. Row numbers count data rows from 1, the header not counted.

No Python callback is ever handed to pyarrow (such as an `invalid_row_handler`): a native
reader thread that still holds one when the interpreter exits must take the GIL to release
it, and during finalization that kills the thread with a forced unwind through C++ code:
`terminate called without an active exception`, exit 134. Every streaming reader is closed
as soon as it is done with, error or not.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sigmoidnet.data.messages import check_file, check_unique, one_line, plural
from sigmoidnet.errors import DataError

#: bytes per CSV block in the full read (fewer, larger record batches: less Python per row)
_CSV_BLOCK_BYTES = 4 << 20
#: bytes of the (decompressed) start of a file that `sniff` checks
_SNIFF_BYTES = 1 << 16
#: the name endings pyarrow decompresses on the fly (`pyarrow.Codec.detect`)
DECOMPRESSED = (".gz", ".bz2", ".lz4", ".zst")

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"\x28\xb5\x2f\xfd", "a zstd file"),
    (b"\x04\x22\x4d\x18", "an lz4 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a zip archive (an .npz?)"),
    (b"PK\x05\x06", "a zip archive (an .npz?)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"ARROW1", "an Arrow IPC file"),
]
_HINTS = {
    "a gzip file": "; name it .csv.gz to have it decompressed",
    "a bzip2 file": "; name it .csv.bz2 to have it decompressed",
    "a zstd file": "; name it .csv.zst to have it decompressed",
    "an lz4 file": "; name it .csv.lz4 to have it decompressed",
    "a Parquet file": "; name it .parquet (data.source: parquet)",
}
#: control bytes that text does not hold (a few in a sample mean binary data)
_BINARY_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\r\f\v") + b"\x7f"


def _is_decompressed(path: str) -> bool:
    return path.lower().endswith(DECOMPRESSED)


def _utf8_problem(data: bytes, truncated: bool, offset0: int = 0) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        if truncated and e.reason == "unexpected end of data":
            return None  # a character cut by the end of the sample
        return f"not UTF-8 text (byte 0x{data[e.start]:02X} at offset {offset0 + e.start})"
    return None


def sniff(path: str, where: str) -> int:
    """Refuse what is not UTF-8 CSV text, from the first bytes of the file; return the
    number of empty lines before the header (rows pyarrow must skip)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_SNIFF_BYTES)
    except OSError as e:
        raise DataError(where, f"cannot read file: {e.strerror or one_line(e)}") from None
    if _is_decompressed(path):
        try:
            with pa.input_stream(path, compression="detect") as s:
                head = s.read(_SNIFF_BYTES)
        except (pa.ArrowException, OSError) as e:
            raise DataError(where, f"cannot decompress: {one_line(e)}") from None
    else:
        for magic, kind in _MAGIC:
            if raw.startswith(magic):
                raise DataError(where, f"looks like {kind}, not CSV{_HINTS.get(kind, '')}")
        head = raw
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(where, "looks like UTF-16 text; CSV files must be UTF-8")
    controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    if b"\x00" in head or controls > len(head) // 100:
        raise DataError(where, "looks like binary data, not CSV")
    problem = _utf8_problem(head, len(head) == _SNIFF_BYTES)
    if problem is not None:
        raise DataError(where, problem)
    pos = 3 if head.startswith(b"\xef\xbb\xbf") else 0  # pyarrow drops a UTF-8 BOM itself
    blank = 0
    while pos < len(head):
        if head.startswith(b"\r\n", pos):
            pos += 2
        elif head[pos] in (0x0A, 0x0D):
            pos += 1
        else:
            break
        blank += 1
    return blank


# -- options --------------------------------------------------------------------------------


def _read_options(skip: int, threads: bool, block_size: int | None = None) -> Any:
    if block_size is None:
        return pacsv.ReadOptions(use_threads=threads, skip_rows=skip)
    return pacsv.ReadOptions(use_threads=threads, skip_rows=skip, block_size=block_size)


def _parse_options(keep_empty_lines: bool = True) -> Any:
    # empty lines are rows (of empty cells), so that one between rows is noticed
    return pacsv.ParseOptions(ignore_empty_lines=not keep_empty_lines)


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


def _open(
    path: str,
    skip: int,
    columns: Sequence[str] | None,
    types_: dict[str, Any],
    *,
    threads: bool = False,
    keep_empty_lines: bool = True,
) -> Any:
    return pacsv.open_csv(
        path,
        read_options=_read_options(skip if keep_empty_lines else 0, threads),
        parse_options=_parse_options(keep_empty_lines),
        convert_options=_csv_convert_options(columns, types_),
    )


def _close(reader: Any) -> None:
    with contextlib.suppress(Exception):  # closing after an error: nothing more to say
        reader.close()


@contextlib.contextmanager
def _opened(
    path: str, skip: int, columns: Sequence[str] | None, types_: dict[str, Any], **kw: Any
) -> Iterator[Any]:
    """`_open`'s streaming reader, closed on the way out whatever happens: a reader left
    open keeps an Arrow I/O thread alive into interpreter shutdown (the exit-134 abort)."""
    reader = _open(path, skip, columns, types_, **kw)
    try:
        yield reader
    finally:
        _close(reader)


class CsvReader:
    """A CSV file's header and column types (from the first block), its batches and cells."""

    def __init__(self, path: str) -> None:
        self.path = self.where = path
        self.columns, self.types, self.skip = csv_peek(path, path)

    def num_rows(self) -> int | None:
        return None  # known only after a full read

    def batches(
        self, columns: Sequence[str], rows: int = 0, *, text: Sequence[str] = (), skip: int = 0
    ) -> Iterator[Any]:
        """Record batches of `columns` (`text` columns as read, as strings), streamed after
        `skip` data rows; pyarrow's blocks set the batch sizes (`rows` is not used)."""
        types_ = {c: pa.string() if c in text else self.types[c] for c in columns}
        return csv_stream(
            self.path, self.where, self.columns, columns, types_, skip_rows=skip, skip=self.skip
        )

    def table(self, columns: Sequence[str]) -> Any:
        """The whole of `columns` at once (pyarrow's multithreaded reader)."""
        return csv_table(
            self.path,
            self.where,
            self.columns,
            columns,
            {c: self.types[c] for c in columns},
            skip=self.skip,
        )

    def cell_text(self, column: str, row: int) -> str | None:
        return csv_cell_text(self.path, column, row, self.skip)


_CONVERSION_RE = re.compile(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error")
_RAGGED_RE = re.compile(r"(?:Row #(\d+): )?Expected (\d+) columns?, got (\d+)")


def _expected(expected: int, got: object) -> str:
    return f"expected {plural(expected, 'column')}, got {got}"


def _csv_bad_row(path: str, first_column: str | None, skip: int) -> tuple[int, int, int] | None:
    """(data row, expected, actual) of the first ragged row, from a serial re-read (whose
    messages carry the row number: pyarrow's multithreaded ones do not)."""
    cols = None if first_column is None else [first_column]
    types_ = {} if first_column is None else {first_column: pa.binary()}  # no UTF-8 check
    try:
        with _opened(path, skip, cols, types_) as reader:
            for _ in reader:
                pass
    except (pa.ArrowException, OSError) as e:
        m = _RAGGED_RE.search(str(e))
        if m and m.group(1):
            return int(m.group(1)) - 1 - skip, int(m.group(2)), int(m.group(3))
    return None


def _bad_utf8_cell(path: str, column: str, skip: int) -> tuple[int, str] | None:
    """(data row, what) of the first cell of `column` that is not UTF-8, by a serial re-read
    of the column as bytes."""
    try:
        with _opened(path, skip, [column], {column: pa.binary()}) as reader:
            seen = 0
            for batch in reader:
                for i, value in enumerate(batch.column(0).to_pylist()):
                    if value is None:
                        continue
                    problem = _utf8_problem(value, False)
                    if problem is not None:
                        byte = re.sub(r" at offset \d+", "", problem)
                        return seen + i + 1, byte
                seen += batch.num_rows
    except (pa.ArrowException, OSError):
        return None
    return None


def _printable(text: str, limit: int = 160) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def csv_error(
    path: str, where: str, e: BaseException, names: Sequence[str], skip: int = 0
) -> DataError:
    msg = one_line(e)
    if isinstance(e, pa.ArrowInvalid) and "Empty CSV file" in msg:
        return DataError(where, "empty file (no header row)")
    m = _RAGGED_RE.search(msg)
    if m:
        bad = _csv_bad_row(path, names[0] if names else None, skip)
        if bad is not None:
            number, expected, actual = bad
            return DataError(where, f"row {number}: {_expected(expected, actual)}")
        if m.group(1):
            row = int(m.group(1)) - 1 - skip
            return DataError(where, f"row {row}: {_expected(int(m.group(2)), m.group(3))}")
        return DataError(where, f"a row has {m.group(3)} fields, expected {m.group(2)}")
    if "invalid UTF8" in msg:
        c = _CONVERSION_RE.search(msg)
        if c and int(c.group(1)) < len(names):
            name = names[int(c.group(1))]
            found = _bad_utf8_cell(path, name, skip)
            if found is not None:
                return DataError(where, f"column {name!r}, row {found[0]}: {found[1]}")
            return DataError(where, f"column {name!r}: not UTF-8 text")
        return DataError(where, "not UTF-8 text")
    if isinstance(e, OSError) and not isinstance(e, pa.ArrowException):
        return DataError(where, f"cannot read file: {_printable(msg)}")
    # pyarrow quotes the offending row: never more than a short, printable piece of it
    return DataError(where, f"cannot parse CSV: {_printable(msg)}")


def csv_cell_text(path: str, column: str, row: int, skip: int = 0) -> str | None:
    """The original text of one cell (1-based data row), by re-reading one column as text."""
    try:
        with _opened(path, skip, [column], {column: pa.string()}) as reader:
            seen = 0
            for batch in reader:
                if row - 1 < seen + batch.num_rows:
                    value = batch.column(0)[row - 1 - seen].as_py()
                    return None if value is None else str(value)
                seen += batch.num_rows
    except (pa.ArrowException, OSError):
        return None
    return None


def csv_peek(path: str, where: str) -> tuple[list[str], dict[str, Any], int]:
    """Header names, the read type of each column (from the first block), and the number of
    empty lines before the header."""
    check_file(path, where)
    skip = sniff(path, where)
    try:
        with _opened(path, skip, None, {}) as reader:
            schema = reader.schema
            names = list(schema.names)
    except (pa.ArrowException, OSError) as e:
        raise csv_error(path, where, e, [], skip) from None
    except UnicodeDecodeError as e:  # past the sniffed bytes: a very long header
        raise DataError(where, f"the header is not UTF-8 text ({e.reason})") from None
    for name in names:
        if "\n" in name or "\r" in name:
            raise DataError(
                where,
                f"column name {name!r} in the header holds a line break (a quoted newline); "
                "column names must be on the header line",
            )
    check_unique(names, where)
    return names, {f.name: _read_type(f.type) for f in schema}, skip


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
    return pa.string()  # text (or dates, or bytes that are not UTF-8): diagnosed per batch


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


# -- empty lines ----------------------------------------------------------------------------


def _first_empty_row(data: Any) -> int | None:
    """Index of the first row of a table or record batch whose cells are all empty (null,
    or "" in a text column) -- what an empty line reads as -- or None. Cheap when some
    non-text column has no nulls, as in nearly every file."""
    text: list[Any] = []
    other: list[Any] = []
    for col in data.columns:
        t = col.type
        (text if pa.types.is_string(t) or pa.types.is_large_string(t) else other).append(col)
    if not text and not other:
        return None
    if any(col.null_count == 0 for col in other):
        return None
    mask = None
    for col in other:
        m = pc.is_null(col)
        mask = m if mask is None else pc.and_(mask, m)
    for col in text:
        m = pc.equal(col, "")
        mask = m if mask is None else pc.and_(mask, m)
    assert mask is not None
    i = pc.index(mask, True).as_py()
    return None if i is None or i < 0 else int(i)


def _empty_row_verdict(path: str, columns: Sequence[str], row: int) -> str | None:
    """What the first all-empty data row `row` (1-based) of `columns` is: "trailing" (only
    empty lines from there to the end of the file: ignored), "empty line" (an empty line
    between rows: refused), or None (a row of empty cells: the conversion words it).

    Read once more without the empty lines (pyarrow's default): no empty line comes before
    `row`, so the first `row - 1` rows are the same; fewer rows in all means that nothing
    but empty lines follows, and a row `row` that is not empty means an empty line was
    dropped there."""
    try:
        with _opened(
            path, 0, list(columns), dict.fromkeys(columns, pa.binary()), keep_empty_lines=False
        ) as reader:
            seen = 0
            for batch in reader:
                if row - 1 < seen + batch.num_rows:
                    cells = [batch.column(j)[row - 1 - seen].as_py() for j in range(len(columns))]
                    return None if all(v in (None, b"") for v in cells) else "empty line"
                seen += batch.num_rows
    except pa.ArrowInvalid:
        return "empty line"  # a bad row after the empty line: so it is not at the end
    except (pa.ArrowException, OSError):
        return None
    return "trailing"


def _empty_line_error(where: str, row: int, names: Sequence[str]) -> DataError:
    return DataError(where, f"row {row}: {_expected(len(names), 'an empty line')}")


def csv_table(
    path: str,
    where: str,
    names: Sequence[str],
    columns: Sequence[str],
    types_: dict[str, Any],
    skip: int = 0,
) -> Any:
    """Read `columns` of a whole CSV file (pyarrow's multithreaded reader)."""
    types_ = dict(types_)
    while True:
        try:
            table = pacsv.read_csv(
                path,
                read_options=_read_options(skip, True, _CSV_BLOCK_BYTES),
                parse_options=_parse_options(),
                convert_options=_csv_convert_options(columns, types_),
            )
            break
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise csv_error(path, where, e, names, skip) from None
    i = _first_empty_row(table)
    if i is not None:
        verdict = _empty_row_verdict(path, columns, i + 1)
        if verdict == "trailing":
            return table.slice(0, i)
        if verdict == "empty line":
            raise _empty_line_error(where, i + 1, names)
    return table


def csv_stream(
    path: str,
    where: str,
    names: Sequence[str],
    columns: Sequence[str],
    types_: dict[str, Any],
    skip_rows: int = 0,
    skip: int = 0,
) -> Iterator[Any]:
    """Record batches of `columns` after the first `skip_rows` data rows, streamed; a type
    retry re-opens and skips the rows done. (`skip`: the empty lines before the header.)"""
    types_ = dict(types_)
    done = skip_rows
    while True:
        try:
            reader = pacsv.open_csv(
                path,
                read_options=_read_options(skip, True),
                parse_options=_parse_options(),
                convert_options=_csv_convert_options(columns, types_),
            )
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise csv_error(path, where, e, names, skip) from None
        seen = 0  # data rows of this pass
        try:
            for batch in reader:
                start, seen = seen, seen + batch.num_rows
                if seen <= done:
                    continue
                if start < done:
                    batch = batch.slice(done - start)
                i = _first_empty_row(batch)
                if i is not None:
                    verdict = _empty_row_verdict(path, columns, done + i + 1)
                    if verdict == "trailing":
                        if i:
                            yield batch.slice(0, i)
                        return
                    if verdict == "empty line":
                        raise _empty_line_error(where, done + i + 1, names)
                done += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise csv_error(path, where, e, names, skip) from None
        finally:
            _close(reader)
        return
