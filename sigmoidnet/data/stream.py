"""Inference batches: `iter_batches(path, feature_names, ...)` streams a CSV/Parquet/NPZ file
in constant memory for `eval --data` and `predict`, checking its columns against the names a
model was trained on and its values as training does. Plain numeric CSV goes through the C
parser first and hands over to pyarrow at the first batch it cannot take, so row numbers in
messages stay exact. Nothing is transformed here: the model's `Preprocessor` does that."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from sigmoidnet.data.batch import Batch
from sigmoidnet.data.columns import match_columns
from sigmoidnet.data.convert import CellText, bad_labels, fill_block, workers
from sigmoidnet.data.formats import Reader, csv_fast, detect_format
from sigmoidnet.data.formats.csv import CsvReader
from sigmoidnet.data.formats.npz import npz_batches
from sigmoidnet.data.formats.parquet import ParquetReader
from sigmoidnet.data.table import label_error, label_values, raw_block
from sigmoidnet.errors import DataError, UsageError
from sigmoidnet.preprocess import Preprocessor
from sigmoidnet.preprocess.labels import LabelError, LabelMap


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
    missing_ok: bool = False,
) -> Iterator[Batch]:
    """Batches of `stream`, which starts after `rows_before` data rows of the file
    (`missing_ok`: a missing number is NaN, not an error)."""
    done = rows_before
    for group in _rebatch(stream, rows):
        n = sum(b.num_rows for b in group)
        x = np.empty((n, len(features)), dtype=np.float32)
        y = np.empty((n, len(labels)), dtype=np.float32) if labels is not None else None
        off = 0
        for b in group:
            k = b.num_rows
            if labels is not None and y is not None:
                fill_block(b, labels, y[off : off + k], done + off + 1, where, labels=True)
            out = x[off : off + k]
            fill_block(b, features, out, done + off + 1, where, False, cell_text, missing_ok)
            off += k
        kept = pa.Table.from_batches([b.select(list(keep)) for b in group]) if keep else None
        yield Batch(x=x, y=y, keep=kept, first_row=done + 1)
        done += n
    if done == 0:
        raise DataError(where, "no data rows")


def iter_batches(
    path: str,
    feature_names: Sequence[str] | Preprocessor,
    label_names: Sequence[str] | None = None,
    keep: Sequence[str] = (),
    batch_rows: int = 65536,
    *,
    require_labels: bool = True,
) -> Iterator[Batch]:
    """Stream a CSV/Parquet/NPZ file in batches of `batch_rows` rows, in constant memory.

    `feature_names`: a model's `Preprocessor` (its raw columns, their kinds and its label
    mappings), or the names of numeric features (the form of format 1 and 2 models).
    Columns are matched by name, in any order: every raw column the model needs must be
    there (a missing one is a `DataError`); the columns the model left out in training
    (index, identifier, excluded) are passed over; any other column must be a label or a
    `keep` column, or it is a `DataError`. `label_names` with `require_labels=True` (eval):
    the label columns must be present and are returned as `Batch.y`, mapped to 0/1 as in
    training (NaN where a label is missing). With `require_labels=False` (predict): label
    columns are ignored if present and `y` is None. `keep` columns (an id, say) are passed
    through as read (CSV: as text, so `007` stays `007`); a missing one is a `DataError`.
    NPZ: `X`/`y` arrays; with a `feature_names` array the names are checked, without it only
    the count; `keep` names other 1-D arrays with one value per row.

    Values are checked as in training; errors name the column and the 1-based data row
    (header not counted). A file without data rows is a `DataError`. Nothing is encoded or
    normalized here: `Batch.raw` is what the model's `Preprocessor` takes.
    """
    where = str(path)
    if batch_rows < 1:
        raise UsageError("batch_rows", f"expected a positive number, got {batch_rows}")
    keep = list(dict.fromkeys(keep))
    pre = (
        feature_names
        if isinstance(feature_names, Preprocessor)
        else Preprocessor(list(feature_names))
    )
    fmt = detect_format(where)
    if fmt == "npz":
        if pre.table and pre.text_names:
            raise DataError(where, "the model takes text columns; an .npz file holds numbers")
        yield from npz_batches(
            where, pre.raw_names, label_names, require_labels, keep, batch_rows, where
        )
        return
    reader: Reader = ParquetReader(where) if fmt == "parquet" else CsvReader(where)
    names = reader.columns
    feats, labels = match_columns(
        names, pre.raw_names, label_names, require_labels, keep, where, ignored=pre.ignored
    )
    wanted = set(feats) | set(labels or []) | set(keep)
    columns = [c for c in names if c in wanted]
    # `keep` columns that are not features are copied through as read (CSV: as text)
    text = [c for c in keep if c not in set(feats)]
    maps = [pre.label_map(n) for n in labels or []]
    done = 0
    plain_labels = all(m.kind == "binary" for m in maps)
    if fmt == "csv" and not keep and not pre.text_names and plain_labels:
        # plain numbers: the C fast path, while the file stays plain
        complete, done = yield from _fast_csv_batches(
            where, names, pre.numeric_names, labels, batch_rows, reader
        )
        if complete:
            return
    stream = reader.batches(columns, batch_rows, text=[*text, *pre.text_names], skip=done)
    if not pre.table or (labels is None and not pre.text_names):
        # numbers only (predict of a numeric table): converted batch by batch, as before;
        # a real table's missing numbers are kept (NaN) for its preprocessor to fill
        yield from _arrow_batches(
            stream, feats, labels, keep, batch_rows, where, reader.cell_text, done, pre.table
        )
        return
    yield from _table_batches(
        stream, pre, maps, keep, batch_rows, where, reader.cell_text, rows_before=done
    )


def _table_batches(
    stream: Iterable[Any],
    pre: Preprocessor,
    maps: Sequence[LabelMap],
    keep: Sequence[str],
    rows: int,
    where: str,
    cell_text: CellText | None,
    rows_before: int = 0,
) -> Iterator[Batch]:
    """A real table's batches: raw blocks (missing values kept for the preprocessor) and
    labels mapped as in training."""
    done = rows_before
    for group in _rebatch(stream, rows):
        table = pa.Table.from_batches(group)
        n = table.num_rows
        y = None
        if maps:
            y = np.empty((n, len(maps)), dtype=np.float32)
            for j, m in enumerate(maps):
                try:
                    y[:, j] = m.map(label_values(table.column(m.name)))
                except LabelError as e:
                    row = None if e.index is None else done + e.index + 1
                    raise label_error(where, m.name, e.what, row) from None
        block = raw_block(
            table,
            pre.numeric_names,
            pre.text_names,
            done + 1,
            where,
            missing_ok=True,
            cell_text=cell_text,
        )
        kept = table.select(list(keep)) if keep else None
        yield Batch(x=block.numbers, y=y, keep=kept, first_row=done + 1, block=block)
        done += n
    if done == 0:
        raise DataError(where, "no data rows")


def _fast_csv_batches(
    where: str,
    names: list[str],
    features: list[str],
    labels: list[str] | None,
    batch_rows: int,
    reader: Any,
) -> Generator[Batch, None, tuple[bool, int]]:
    """Batches from the C parser while the file stays plain. Returns (whether it read the
    whole file, the rows yielded): pyarrow reads the rest, if any, and words any error."""
    fast = csv_fast.iter_numeric(
        where, names, features, labels or [], batch_rows, workers(), reader.delimiter
    )
    done = 0
    try:
        while True:
            try:
                x, y = next(fast)
            except StopIteration as end:
                return bool(end.value), done  # False: the rest needs pyarrow (or has no rows)
            if labels is not None and bad_labels(y).any():
                return False, done  # pyarrow re-reads from this batch and words the error
            yield Batch(x=x, y=None if labels is None else y, keep=None, first_row=done + 1)
            done += len(x)
    finally:
        fast.close()
