"""CSV through pyarrow: every CSV file that the C fast path (`csv_fast`) does not take, and
the wording of every CSV error. A header row, comma-separated, UTF-8; only empty cells are
missing ("NA", "null", ... are text, reported as not a number; "nan"/"inf" parse as floats,
reported as not finite). Columns are read as float32, bool or text by the type pyarrow infers
on the first block; a column whose later blocks do not fit is re-read as text, so every
value gets its exact row in the messages."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from sigmoidnet.data.messages import check_file, check_unique, one_line
from sigmoidnet.errors import DataError

#: bytes per CSV block in the full read (fewer, larger record batches: less Python per row)
_CSV_BLOCK_BYTES = 4 << 20


class CsvReader:
    """A CSV file's header and column types (from the first block), its batches and cells."""

    def __init__(self, path: str) -> None:
        self.path = self.where = path
        self.columns, self.types = csv_peek(path, path)

    def num_rows(self) -> int | None:
        return None  # known only after a full read

    def batches(
        self, columns: Sequence[str], rows: int = 0, *, text: Sequence[str] = (), skip: int = 0
    ) -> Iterator[Any]:
        """Record batches of `columns` (`text` columns as read, as strings), streamed after
        `skip` data rows; pyarrow's blocks set the batch sizes (`rows` is not used)."""
        types_ = {c: pa.string() if c in text else self.types[c] for c in columns}
        return csv_stream(self.path, self.where, self.columns, columns, types_, skip_rows=skip)

    def table(self, columns: Sequence[str]) -> Any:
        """The whole of `columns` at once (pyarrow's multithreaded reader)."""
        return csv_table(
            self.path, self.where, self.columns, columns, {c: self.types[c] for c in columns}
        )

    def cell_text(self, column: str, row: int) -> str | None:
        return csv_cell_text(self.path, column, row)


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


def csv_error(path: str, where: str, e: BaseException, names: Sequence[str]) -> DataError:
    msg = one_line(e)
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


def csv_cell_text(path: str, column: str, row: int) -> str | None:
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


def csv_peek(path: str, where: str) -> tuple[list[str], dict[str, Any]]:
    """Header names and the read type of each column, from the first block."""
    check_file(path, where)
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
        raise csv_error(path, where, e, []) from None
    names = list(schema.names)
    check_unique(names, where)
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


def csv_table(
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
            raise csv_error(path, where, e, names) from None


def csv_stream(
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
            raise csv_error(path, where, e, names) from None
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
            raise csv_error(path, where, e, names) from None
        return
