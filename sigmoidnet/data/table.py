"""Real tables: the type of each column, the columns left out, and raw rows as the
`Preprocessor` takes them (`RawBlock`).

Types (`infer_kinds`), decided once from the training file:
- numeric: integers, floats, decimals (and a CSV column of numbers with missing cells);
- boolean: true/false (Arrow's bool);
- categorical: text (CSV text, Parquet string or dictionary columns).
`data.numeric` and `data.categorical` override the inference: a column declared numeric
that holds text is an error naming its row; a column declared categorical is read as text
(CSV: as written, so `007` stays `007`; Parquet numbers: their decimal form).

Left out, each with a note, unless the column is named in `data.features`,
`data.numeric` or `data.categorical` (or, for `exclude`, always):
- an unnamed first column (R's `write.csv` writes `""`, pandas `Unnamed: 0`): row numbers;
- a column named `id`, `index` or `rownames` (any case) of distinct consecutive integers;
- a text column whose values are all distinct (an identifier, a name), from
  `ID_MIN_ROWS` rows up;
- a column with no values at all;
- the columns of `data.exclude`.

Missing values: in a numeric column, an empty cell and the CSV reader's missing tokens
(`formats.csv.MISSING_VALUES`: NA, N/A, NaN, nan, null, NULL), and NaN; in a text column,
the same tokens and the empty text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from sigmoidnet.data.convert import CellText, fill_block
from sigmoidnet.data.formats.csv import MISSING_VALUES
from sigmoidnet.data.messages import plural
from sigmoidnet.errors import DataError
from sigmoidnet.preprocess.columns import ColumnSpec, RawBlock

F32 = npt.NDArray[np.float32]

#: a text column needs this many rows before "all values distinct" makes it an identifier
ID_MIN_ROWS = 20
INDEX_NAMES = ("id", "index", "rownames")
_UNNAMED_RE = re.compile(r"^(|Unnamed: 0)$")
_MISSING_TEXT = pa.array(list(MISSING_VALUES), pa.string())


def is_text(t: Any) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t))


def text_values(arr: Any) -> Any:
    """A column as a pyarrow string array with null for every missing value."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if not pa.types.is_string(t):
        arr = pc.cast(arr, pa.string())
    # a cell of spaces is as empty as an empty one (the Telco table's blank charges)
    missing = pc.or_(
        pc.is_in(arr, value_set=_MISSING_TEXT), pc.equal(pc.utf8_trim_whitespace(arr), "")
    )
    if pc.any(missing).as_py():
        arr = pc.if_else(missing, pa.scalar(None, pa.string()), arr)
    return arr


def label_values(arr: Any) -> Any:
    """A label column as read, with null for missing text (numbers and booleans as they are)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return text_values(arr) if is_text(arr.type) else arr


@dataclass
class ColumnInfo:
    """One column of the columns table (`train`'s start, `init`)."""

    name: str
    kind: str  # numeric | boolean | categorical | label | left out
    missing: int
    categories: int | None = None  # categorical: distinct values
    examples: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "missing": self.missing,
            "categories": self.categories,
            "examples": self.examples,
            "note": self.note,
        }


@dataclass
class Kinds:
    """The raw feature columns with their kinds, and what was left out and why."""

    columns: list[ColumnSpec]
    ignored: dict[str, str]  # column → why it was left out

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.numeric]

    @property
    def text(self) -> list[str]:
        return [c.name for c in self.columns if not c.numeric]


def _consecutive_integers(arr: Any) -> bool:
    if arr.null_count or len(arr) < 2:
        return False
    t = arr.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        return False
    v = np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False))
    if not np.isfinite(v).all() or not (v == np.round(v)).all():
        return False
    lo, hi = float(v.min()), float(v.max())
    return hi - lo == len(v) - 1 and len(np.unique(v)) == len(v)


def infer_kinds(
    table: Any,
    features: Sequence[str],
    *,
    chosen: bool,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    first_column: str | None = None,
    where: str = "",
) -> Kinds:
    """The kind of each candidate feature column of `table` (all the training file's rows).

    `chosen`: the features were listed in `data.features` (nothing is left out then but
    `exclude`). `first_column`: the file's first column (an unnamed one is row numbers)."""
    declared = set(numeric) | set(categorical)
    ignored: dict[str, str] = {}
    columns: list[ColumnSpec] = []
    for name in features:
        if name in exclude:
            ignored[name] = "data.exclude"
            continue
        arr = table.column(name)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        t = arr.type
        keep = chosen or name in declared
        if name in categorical:
            kind = "categorical"
        elif name in numeric:
            kind = "boolean" if pa.types.is_boolean(t) else "numeric"
        elif is_text(t):
            # numbers but for blank cells (spaces: the reader took the column for text)
            kind = "numeric" if _numbers_but_blanks(arr) else "categorical"
        elif pa.types.is_boolean(t):
            kind = "boolean"
        else:
            kind = "numeric"  # numbers, or all empty (null)
        if kind == "categorical" and name not in categorical:
            _refuse_a_stray_word(name, arr, where)
        if not keep:
            why = left_out(name, arr, kind, first_column)
            if why is not None:
                ignored[name] = why
                continue
        columns.append(ColumnSpec(name, kind))
    return Kinds(columns, ignored)


def check_category_caps(kinds: Kinds | None, caps: Mapping[str, int], where: str) -> None:
    """A column `data.max_categories` names is one read as categories (a cap on anything
    else would be passed over, silently). `kinds` None: every column is a number."""
    kind = {} if kinds is None else {c.name: c.kind for c in kinds.columns}
    for name in caps:
        if kinds is not None and name in kinds.ignored:
            raise DataError(
                where,
                f"data.max_categories names column {name!r}, which is left out "
                f"({kinds.ignored[name]})",
            )
        if kind.get(name, "numeric") != "categorical":
            raise DataError(
                where,
                f"data.max_categories names column {name!r}, a column of "
                f"{'booleans' if kind.get(name) == 'boolean' else 'numbers'}; list it in "
                "data.categorical too to read it as categories",
            )


_NUMBER_RE = r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$"
#: a text column whose cells are numbers but for fewer than this share is refused
MOSTLY_NUMBERS = 0.95


def _numbers_but_blanks(arr: Any) -> bool:
    """A text column whose cells are all numbers, or blank (spaces only, at least one)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    blank = pc.equal(pc.utf8_trim_whitespace(arr), "").fill_null(False)
    spaces = pc.and_(blank, pc.not_equal(arr, "").fill_null(False))
    if not pc.any(spaces).as_py():
        return False  # no cell of spaces: a text column as the file has it
    values = text_values(arr)
    if values.null_count == len(values):
        return False
    return bool(pc.all(pc.match_substring_regex(values, _NUMBER_RE)).as_py())


def _refuse_a_stray_word(name: str, arr: Any, where: str) -> None:
    """A column of numbers with a few words in it (`oops`, `?`, `n.a.`) is most likely a
    data error, not a column of categories: refused, naming the first word's row, unless the
    column is declared (`data.categorical`, or `data.numeric` to be told each bad row)."""
    values = text_values(arr)
    n = len(values) - values.null_count
    if n < ID_MIN_ROWS:
        return
    numeric = pc.match_substring_regex(values, _NUMBER_RE)
    count = int(pc.sum(numeric).as_py() or 0)
    if count < MOSTLY_NUMBERS * n or count == n:
        return
    i = int(pc.index(pc.invert(numeric.fill_null(True)), True).as_py())
    word = values[i].as_py()
    raise DataError(
        where,
        f"column {name!r}, row {i + 1}: {word!r} is not a number, in a column of numbers; "
        f"fix it, or set data.categorical: [{name}] to read the column as categories",
    )


def left_out(name: str, arr: Any, kind: str, first_column: str | None) -> str | None:
    if name == first_column and _UNNAMED_RE.match(name):
        return "an unnamed first column (row numbers)"
    if name.lower() in INDEX_NAMES and _consecutive_integers(arr):
        return "row numbers (distinct consecutive integers)"
    if kind == "categorical":
        values = text_values(arr)
        n = len(values)
        if values.null_count == n:
            return "no values"
        if n >= ID_MIN_ROWS and values.null_count == 0 and pc.count_distinct(values).as_py() == n:
            return "an identifier (every value is different)"
    elif arr.null_count == len(arr) or (
        pa.types.is_floating(arr.type) and pc.all(pc.is_nan(arr.fill_null(np.nan))).as_py()
    ):
        return "no values"
    return None


def raw_block(
    batch: Any,
    numeric: Sequence[str],
    text: Sequence[str],
    first_row: int,
    where: str,
    *,
    missing_ok: bool,
    cell_text: CellText | None = None,
) -> RawBlock:
    """Raw feature values of a record batch or table: numeric columns converted and checked
    (finite, or missing when `missing_ok`; errors name the file row, `first_row` being the
    batch's first), text columns with null for missing."""
    n = batch.num_rows
    nums = np.empty((n, len(numeric)), dtype=np.float32)
    if numeric:
        fill_block(batch, numeric, nums, first_row, where, False, cell_text, missing_ok)
    texts = {name: text_values(batch.column(name)) for name in text}
    return RawBlock(n, nums, list(numeric), texts)


def select_rows(block: RawBlock, keep: npt.NDArray[np.bool_]) -> RawBlock:
    """The rows of `block` where `keep` is True."""
    if keep.all():
        return block
    mask = pa.array(keep)
    texts = {k: v.filter(mask) for k, v in block.text.items()}
    return RawBlock(int(keep.sum()), block.numbers[keep], list(block.numeric_names), texts)


def column_infos(
    table: Any,
    kinds: Kinds,
    labels: Sequence[str],
    label_notes: dict[str, str],
    order: Sequence[str],
    keep: npt.NDArray[np.bool_] | None = None,
) -> list[ColumnInfo]:
    """The columns table: every column of `order` (the file's), with its type and counts.
    `keep`: the rows that have a label (a feature's counts are of those rows alone; a
    label's missing count is of every row)."""
    specs = {c.name: c for c in kinds.columns}
    out: list[ColumnInfo] = []
    for name in order:
        if name not in specs and name not in kinds.ignored and name not in labels:
            continue
        arr = table.column(name) if name in table.column_names else None
        if arr is not None and isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if name in labels:
            missing = arr.null_count if arr is not None else 0
            if arr is not None and is_text(arr.type):
                missing = text_values(arr).null_count
            out.append(ColumnInfo(name, "label", missing, note=label_notes.get(name, "")))
            continue
        if name in kinds.ignored:
            out.append(ColumnInfo(name, "left out", 0, note=kinds.ignored[name]))
            continue
        spec = specs[name]
        assert arr is not None
        if keep is not None:
            arr = arr.filter(pa.array(keep))
        if spec.numeric:
            missing = arr.null_count
            if is_text(arr.type):  # numbers read as text: blanks, NA, ... are missing
                missing = text_values(arr).null_count
            elif pa.types.is_floating(arr.type):
                missing = int(pc.sum(pc.is_nan(arr.fill_null(np.nan))).as_py() or 0)
            out.append(ColumnInfo(name, spec.kind, missing))
            continue
        values = text_values(arr)
        counts = pc.value_counts(values)
        vals = counts.field("values").to_pylist()
        freq = counts.field("counts").to_pylist()
        pairs = sorted(
            ((f, v) for v, f in zip(vals, freq, strict=True) if v is not None),
            key=lambda t: (-t[0], t[1]),
        )
        out.append(
            ColumnInfo(
                name,
                "categorical",
                values.null_count,
                categories=len(pairs),
                examples=[v for _, v in pairs[:3]],
            )
        )
    return out


def dropped_note(n: int, where: str) -> str:
    return f"{where}: {plural(n, 'row')} without a label left out"


def label_error(where: str, column: str, what: str, row: int | None) -> DataError:
    if row is None:
        return DataError(where, f"label column {column!r} {what}")
    return DataError(where, f"column {column!r}, row {row}: {what}")
