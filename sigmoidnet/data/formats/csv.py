"""CSV through pyarrow: every CSV file that the C fast path (`csv_fast`) does not take, and
the wording of every CSV error. A header row, UTF-8, fields separated by one of `,` `;` tab
`|` (`DELIMITERS`). Columns are read as float32, bool or text by the type pyarrow infers on
the first block; a column whose later blocks do not fit is re-read as text, so every value
gets its exact row in the messages.

Missing values: in a numeric (or boolean) column a cell that is empty or one of
`MISSING_VALUES` (`NA`, `N/A`, `NaN`, `nan`, `null`, `NULL`; unquoted, exact case) is
missing (null), reported as such by the strict readers. Quoted, such a cell is text. In a
text column every cell is text, "NA" included: the caller decides what it means. Other
spellings of infinity and NaN ("inf", "-inf", "Infinity", "NAN", "-nan", ...) parse as
floats (reported as not finite); any other text in a numeric column is reported as not a
number.

The delimiter, unless the caller names one (`CsvReader(path, delimiter)`), is sniffed from
the (decompressed) first 64 KiB by `sniff_delimiter`: each candidate splits the sample's
lines with Python's `csv` module (quote-aware: a quoted `;` is no separator), empty lines
and the last, possibly cut, line left out. A candidate qualifies when the header splits into
more than one field and every other line into the header's number of fields; among those,
the one giving the most fields wins, ties going to the first of `,` `;` tab `|` (a `.tsv` or
`.tab` name: tab, if it qualifies). If none qualifies: `,`, and the usual errors word the
problem; a header that is then one column whose name holds another candidate (`a;b;c`)
gets a message naming the delimiter to set.

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
import csv as stdcsv
import io
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sigmoidnet.data.messages import check_file, check_unique, one_line, plural
from sigmoidnet.errors import ConfigError, DataError

#: bytes per CSV block in the full read (fewer, larger record batches: less Python per row)
_CSV_BLOCK_BYTES = 4 << 20
#: bytes of the (decompressed) start of a file that `sniff` checks
_SNIFF_BYTES = 1 << 16
#: the name endings pyarrow decompresses on the fly (`pyarrow.Codec.detect`)
DECOMPRESSED = (".gz", ".bz2", ".lz4", ".zst")
#: the delimiters a CSV file may use, in the order that breaks a tie when sniffing
DELIMITERS = (",", ";", "\t", "|")
#: the cells of a numeric (or boolean) column that are missing (null); unquoted, exact case.
#: Text columns keep them as text.
MISSING_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")
_MISSING_BYTES = frozenset(v.encode() for v in MISSING_VALUES)
#: name endings (before any compression suffix) that prefer a tab delimiter
_TAB_NAMES = (".tsv", ".tab")

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
    return _sniff(path, where)[0]


def sniff_delimiter(path: str, where: str) -> str:
    """The delimiter of `path`, one of `DELIMITERS`, from its (decompressed) first 64 KiB,
    by the rule of the module docstring; `,` when none fits. Refuses what `sniff` refuses."""
    return _choose_delimiter(_sniff(path, where)[1], path)


def _sniff(path: str, where: str) -> tuple[int, bytes]:
    """`sniff`, and the (decompressed) first bytes it looked at."""
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
    return blank, head


def _fields(sample: str, cut: bool, delimiter: str) -> int:
    """The header's number of fields under `delimiter` if every complete line of the sample
    has as many (quote-aware; empty lines left out; the last record, when the sample is
    `cut`, may be a part of a line or of a quoted field), else 0."""
    rows = (r for r in stdcsv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r)
    try:
        header = next(rows, None)
        if header is None or len(header) < 2:
            return 0  # (the usual case for all but one candidate: nothing more to parse)
        k = len(header)
        last = None  # a record not yet known not to be the sample's last
        for row in rows:
            if last is not None and len(last) != k:
                return 0
            last = row
    except stdcsv.Error:
        return 0
    return k if last is None or cut or len(last) == k else 0


def _choose_delimiter(head: bytes, path: str) -> str:
    """The delimiter for a file starting with `head`, by the rule of the module docstring."""
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    sample = text.decode("utf-8", "replace")  # (a character cut by the end of the sample)
    cut = len(head) == _SNIFF_BYTES
    prefer_tab = _strip_compression(path.lower()).endswith(_TAB_NAMES)
    best: tuple[int, int, str] | None = None  # (fields, -rank, delimiter)
    for rank, d in enumerate(DELIMITERS):
        k = _fields(sample, cut, d)
        if not k:
            continue
        if prefer_tab and d == "\t":
            return d
        if best is None or (k, -rank) > best[:2]:
            best = (k, -rank, d)
    return "," if best is None else best[2]


def _strip_compression(name: str) -> str:
    for ext in DECOMPRESSED:
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _shown_delimiter(d: str) -> str:
    return "tabs" if d == "\t" else repr(d)


def _yaml_delimiter(d: str) -> str:
    return '"\\t"' if d == "\t" else f'"{d}"'


def _check_one_column(names: Sequence[str], delimiter: str, where: str) -> None:
    """A header of one column whose name holds another delimiter: the file is most likely
    separated by that one. Say which to set."""
    if len(names) != 1:
        return
    name = names[0]
    others = [d for d in DELIMITERS if d != delimiter and d in name]
    if not others:
        return
    d = max(others, key=lambda c: (name.count(c), -DELIMITERS.index(c)))
    shown = repr(name if len(name) <= 60 else name[:57] + "...")
    raise DataError(
        where,
        f"the header has one column, {shown}: if the file is separated by "
        f"{_shown_delimiter(d)}, set data.delimiter: {_yaml_delimiter(d)}",
    )


def check_delimiter(delimiter: str) -> str:
    """`delimiter`, if it is one of `DELIMITERS`."""
    if delimiter not in DELIMITERS:
        raise ConfigError(
            "data.delimiter",
            f"expected one of {', '.join(map(repr, DELIMITERS))}, got {delimiter!r}",
        )
    return delimiter


# -- options --------------------------------------------------------------------------------


def _read_options(skip: int, threads: bool, block_size: int | None = None) -> Any:
    if block_size is None:
        return pacsv.ReadOptions(use_threads=threads, skip_rows=skip)
    return pacsv.ReadOptions(use_threads=threads, skip_rows=skip, block_size=block_size)


def _parse_options(keep_empty_lines: bool = True, delimiter: str = ",") -> Any:
    # empty lines are rows (of empty cells), so that one between rows is noticed
    return pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=not keep_empty_lines)


def _csv_convert_options(columns: Sequence[str] | None, types_: dict[str, Any]) -> Any:
    # MISSING_VALUES are null in numeric and boolean columns only; text columns keep them
    # as text, and a quoted one is text ("nan" would otherwise parse as a float, and "NA"
    # be reported as not a number). "inf" parses as a float (reported as not finite).
    return pacsv.ConvertOptions(
        include_columns=list(columns) if columns is not None else None,
        column_types=types_,
        null_values=list(MISSING_VALUES),
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
    delimiter: str = ",",
) -> Any:
    return pacsv.open_csv(
        path,
        read_options=_read_options(skip if keep_empty_lines else 0, threads),
        parse_options=_parse_options(keep_empty_lines, delimiter),
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
    """A CSV file's header and column types (from the first block), its batches and cells.

    `delimiter`: one of `DELIMITERS`, or None to sniff it (`sniff_delimiter`); the one used
    is `self.delimiter`."""

    def __init__(self, path: str, delimiter: str | None = None) -> None:
        self.path = self.where = path
        self.columns, self.types, self.skip, self.delimiter = _peek(path, path, delimiter)

    def num_rows(self) -> int | None:
        return None  # known only after a full read

    def batches(
        self, columns: Sequence[str], rows: int = 0, *, text: Sequence[str] = (), skip: int = 0
    ) -> Iterator[Any]:
        """Record batches of `columns` (`text` columns as read, as strings), streamed after
        `skip` data rows; pyarrow's blocks set the batch sizes (`rows` is not used)."""
        types_ = {c: pa.string() if c in text else self.types[c] for c in columns}
        return csv_stream(
            self.path,
            self.where,
            self.columns,
            columns,
            types_,
            skip_rows=skip,
            skip=self.skip,
            delimiter=self.delimiter,
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
            delimiter=self.delimiter,
        )

    def cell_text(self, column: str, row: int) -> str | None:
        return csv_cell_text(self.path, column, row, self.skip, delimiter=self.delimiter)


_CONVERSION_RE = re.compile(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error")
_RAGGED_RE = re.compile(r"(?:Row #(\d+): )?Expected (\d+) columns?, got (\d+)")


def _expected(expected: int, got: object) -> str:
    return f"expected {plural(expected, 'column')}, got {got}"


def _csv_bad_row(
    path: str, first_column: str | None, skip: int, delimiter: str = ","
) -> tuple[int, int, int] | None:
    """(data row, expected, actual) of the first ragged row, from a serial re-read (whose
    messages carry the row number: pyarrow's multithreaded ones do not)."""
    cols = None if first_column is None else [first_column]
    types_ = {} if first_column is None else {first_column: pa.binary()}  # no UTF-8 check
    try:
        with _opened(path, skip, cols, types_, delimiter=delimiter) as reader:
            for _ in reader:
                pass
    except (pa.ArrowException, OSError) as e:
        m = _RAGGED_RE.search(str(e))
        if m and m.group(1):
            return int(m.group(1)) - 1 - skip, int(m.group(2)), int(m.group(3))
    return None


def _bad_utf8_cell(
    path: str, column: str, skip: int, delimiter: str = ","
) -> tuple[int, str] | None:
    """(data row, what) of the first cell of `column` that is not UTF-8, by a serial re-read
    of the column as bytes."""
    try:
        with _opened(path, skip, [column], {column: pa.binary()}, delimiter=delimiter) as reader:
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
    path: str,
    where: str,
    e: BaseException,
    names: Sequence[str],
    skip: int = 0,
    *,
    delimiter: str = ",",
) -> DataError:
    msg = one_line(e)
    if isinstance(e, pa.ArrowInvalid) and "Empty CSV file" in msg:
        return DataError(where, "empty file (no header row)")
    m = _RAGGED_RE.search(msg)
    if m:
        bad = _csv_bad_row(path, names[0] if names else None, skip, delimiter)
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
            found = _bad_utf8_cell(path, name, skip, delimiter)
            if found is not None:
                return DataError(where, f"column {name!r}, row {found[0]}: {found[1]}")
            return DataError(where, f"column {name!r}: not UTF-8 text")
        return DataError(where, "not UTF-8 text")
    if isinstance(e, OSError) and not isinstance(e, pa.ArrowException):
        return DataError(where, f"cannot read file: {_printable(msg)}")
    # pyarrow quotes the offending row: never more than a short, printable piece of it
    return DataError(where, f"cannot parse CSV: {_printable(msg)}")


def csv_cell_text(
    path: str, column: str, row: int, skip: int = 0, *, delimiter: str = ","
) -> str | None:
    """The original text of one cell (1-based data row), by re-reading one column as text."""
    try:
        with _opened(path, skip, [column], {column: pa.string()}, delimiter=delimiter) as reader:
            seen = 0
            for batch in reader:
                if row - 1 < seen + batch.num_rows:
                    value = batch.column(0)[row - 1 - seen].as_py()
                    return None if value is None else str(value)
                seen += batch.num_rows
    except (pa.ArrowException, OSError):
        return None
    return None


def csv_peek(
    path: str, where: str, *, delimiter: str = ","
) -> tuple[list[str], dict[str, Any], int]:
    """Header names, the read type of each column (from the first block), and the number of
    empty lines before the header."""
    names, types_, skip, _ = _peek(path, where, delimiter)
    return names, types_, skip


def _peek(
    path: str, where: str, delimiter: str | None
) -> tuple[list[str], dict[str, Any], int, str]:
    """`csv_peek`, and the delimiter: `delimiter`, or the sniffed one if it is None."""
    if delimiter is not None:
        check_delimiter(delimiter)
    check_file(path, where)
    skip, head = _sniff(path, where)
    if delimiter is None:
        delimiter = _choose_delimiter(head, path)
    try:
        with _opened(path, skip, None, {}, delimiter=delimiter) as reader:
            schema = reader.schema
            names = list(schema.names)
    except (pa.ArrowException, OSError) as e:
        raise csv_error(path, where, e, [], skip, delimiter=delimiter) from None
    except UnicodeDecodeError as e:  # past the sniffed bytes: a very long header
        raise DataError(where, f"the header is not UTF-8 text ({e.reason})") from None
    for name in names:
        if "\n" in name or "\r" in name:
            raise DataError(
                where,
                f"column name {name!r} in the header holds a line break (a quoted newline); "
                "column names must be on the header line",
            )
    _check_one_column(names, delimiter, where)
    check_unique(names, where)
    return names, {f.name: _read_type(f.type) for f in schema}, skip, delimiter


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


def _empty_row_verdict(
    path: str, columns: Sequence[str], row: int, delimiter: str = ","
) -> str | None:
    """What the first all-empty data row `row` (1-based) of `columns` is: "trailing" (only
    empty lines from there to the end of the file: ignored), "empty line" (an empty line
    between rows: refused), or None (a row of empty cells: the conversion words it).

    Read once more without the empty lines (pyarrow's default): no empty line comes before
    `row`, so the first `row - 1` rows are the same; fewer rows in all means that nothing
    but empty lines follows, and a row `row` that is not empty means an empty line was
    dropped there. (Read as bytes, a missing cell is b"" or one of `MISSING_VALUES`.)"""
    try:
        with _opened(
            path,
            0,
            list(columns),
            dict.fromkeys(columns, pa.binary()),
            keep_empty_lines=False,
            delimiter=delimiter,
        ) as reader:
            seen = 0
            for batch in reader:
                if row - 1 < seen + batch.num_rows:
                    cells = [batch.column(j)[row - 1 - seen].as_py() for j in range(len(columns))]
                    empty = all(v is None or v in _MISSING_BYTES for v in cells)
                    return None if empty else "empty line"
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
    *,
    delimiter: str = ",",
) -> Any:
    """Read `columns` of a whole CSV file (pyarrow's multithreaded reader)."""
    types_ = dict(types_)
    while True:
        try:
            table = pacsv.read_csv(
                path,
                read_options=_read_options(skip, True, _CSV_BLOCK_BYTES),
                parse_options=_parse_options(delimiter=delimiter),
                convert_options=_csv_convert_options(columns, types_),
            )
            break
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise csv_error(path, where, e, names, skip, delimiter=delimiter) from None
    i = _first_empty_row(table)
    if i is not None:
        verdict = _empty_row_verdict(path, columns, i + 1, delimiter)
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
    *,
    delimiter: str = ",",
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
                parse_options=_parse_options(delimiter=delimiter),
                convert_options=_csv_convert_options(columns, types_),
            )
        except (pa.ArrowException, OSError) as e:
            if _retype_on_conversion_error(e, names, types_):
                continue
            raise csv_error(path, where, e, names, skip, delimiter=delimiter) from None
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
                    verdict = _empty_row_verdict(path, columns, done + i + 1, delimiter)
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
            raise csv_error(path, where, e, names, skip, delimiter=delimiter) from None
        finally:
            _close(reader)
        return
