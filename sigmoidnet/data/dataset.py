"""Training data: the one place that goes resolve columns → check sizes → split → fit the
preprocessing.

`load_dataset(data, seed, check)` reads the file (or draws the tutorial's random data), checks
every value, splits off the held-out rows, fits a `Preprocessor` on the training rows only and
applies it to both splits. It returns a `Dataset` of contiguous float32 CPU tensors, the fitted
preprocessor and a `HeldOut` record of which rows were held out, with a fingerprint of them:
`load_heldout` / `read_heldout` read them again for `eval` and refuse if the file has changed
since.

Sources
- `random`: the tutorial's data, bit for bit: `torch.manual_seed(seed)`, then
  `torch.rand(n_samples, n_features)` and `torch.randint(0, 2, (n_samples, n_labels))`
  from the *global* torch generator (the engine builds the model right after, so the draw
  order is seed → data → layers, as in the tutorial). `normalize` does not apply to random
  data (the tutorial feeds raw `torch.rand` values). A held-out share (`val_fraction`, 0 by
  default) is chosen with a separate numpy generator and never touches torch's generator.
- `csv`: plain numeric files through the C parser (`formats.csv_fast`), anything else through
  pyarrow (`formats.csv`), which also words every error; both give the same float32 arrays.
- `parquet` (`formats.parquet`) and `npz` (`formats.npz`).

Values: features must be finite numbers (integers and booleans are fine); labels must be 0 or 1
(`true`/`false` are accepted as 1/0). Anything else is a `DataError` (exit 3) naming the file,
the column and the row: `data/x.csv: column 'age', row 17: 'abc' is not a number`. Rows are
numbered from 1 among the data rows; the header is not counted (for NPZ, row 1 is `X[0]`).
When a file has several problems, the first one found is reported: labels are checked before
features, and within each the lowest row wins, then the leftmost column. What is refused before
any value is read -- anything but a readable regular file, binary or non-UTF-8 CSV, a ragged
row, an empty line between rows -- is worded by the readers (`formats/`), the same for `eval`
and `predict`. After the split, a value that does not standardize to a finite float32 with the
training statistics (a held-out 3.4e38 where the training std is below 1) is refused with its
column and file row (`transform.transform_checked`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from sigmoidnet.config import DataConfig
from sigmoidnet.data.columns import check_named_columns, resolve_columns
from sigmoidnet.data.convert import CellText, bad_labels, fill_block, run_in_order, workers
from sigmoidnet.data.formats import csv_fast, detect_format, npz
from sigmoidnet.data.formats.csv import CsvReader
from sigmoidnet.data.formats.parquet import ParquetReader
from sigmoidnet.data.messages import nearest, plural
from sigmoidnet.data.split import keep_rows_inplace, split_labels, val_mask
from sigmoidnet.data.table import (
    INDEX_NAMES,
    ColumnInfo,
    Kinds,
    check_category_caps,
    column_infos,
    dropped_note,
    infer_kinds,
    is_text,
    label_error,
    label_values,
    left_out,
    raw_block,
    select_rows,
)
from sigmoidnet.data.transform import encode_checked
from sigmoidnet.errors import DataError
from sigmoidnet.preprocess import Preprocessor
from sigmoidnet.preprocess.columns import ColumnSpec, RawBlock
from sigmoidnet.preprocess.labels import LabelError, LabelMap, binary_labels

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

#: rows per Parquet batch while loading for training (bounded extra memory)
_LOAD_BATCH_ROWS = 65536


class SizeCheck(Protocol):
    """(n_features, n_labels, file) → raises when the sizes do not suit the caller (the
    engine checks them against `model.input_size` / `model.output_size` and the memory).
    `exact=False`: the number of model inputs is not known yet (`n_features` counts the raw
    columns of a table, whose categories and indicators add inputs)."""

    def __call__(self, n_features: int, n_labels: int, where: str, exact: bool = True) -> None: ...


@dataclass
class HeldOut:
    """Which rows were held out for validation, and a fingerprint to know them again.

    The rows are the split's own (`fraction` and `seed` of `path`, or all of `val_path`); the
    fingerprint is a SHA-256 of the split mask, every label and the raw held-out features, so
    a file that changed after training (rows, labels or held-out values) is noticed."""

    path: str
    fraction: float  # 0 when the validation rows are the whole of `path` (a val_path)
    seed: int
    rows: int  # data rows of `path`
    n_val: int
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HeldOut:
        return cls(
            path=str(d["path"]),
            fraction=float(d["fraction"]),
            seed=int(d["seed"]),
            rows=int(d["rows"]),
            n_val=int(d["n_val"]),
            fingerprint=str(d["fingerprint"]),
        )


@dataclass
class Dataset:
    """The training data: contiguous float32 CPU tensors, transformed by `preprocessor`."""

    x_train: torch.Tensor  # (N, F) float32
    y_train: torch.Tensor  # (N, L) float32, 0/1
    x_val: torch.Tensor | None  # (M, F) float32
    y_val: torch.Tensor | None  # (M, L) float32
    feature_names: list[str]  # the model's inputs
    label_names: list[str]
    preprocessor: Preprocessor  # fitted on the training rows
    heldout: HeldOut | None  # None when nothing is held out
    description: str  # "data/x.csv: 455 train / 114 val rows, 30 features, 1 label"
    columns: list[ColumnInfo] = field(default_factory=list)  # the columns table
    notes: list[str] = field(default_factory=list)  # columns left out, rows dropped, ...
    #: a rank's data read in shards (`data.sharded`): every training label, for the
    #: statistics taken from labels (pos_weight: auto); None: y_train holds them all
    y_train_all: torch.Tensor | None = None

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)


@dataclass
class _Part:
    """One file read for training: raw rows in file order, split when asked."""

    x_train: RawBlock
    y_train: F32
    x_val: RawBlock | None
    y_val: F32 | None
    features: list[str]  # the raw feature columns
    labels: list[str]
    mask: Mask | None  # True = held out; None = no split
    rows: npt.NDArray[np.int64] | None = None  # file row of each row kept; None: 1..N
    kinds: Kinds | None = None  # None: a numeric table of the tutorial's form (no schema)
    label_maps: list[LabelMap] = field(default_factory=list)
    columns: list[ColumnInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _hash_block(h: Any, block: RawBlock) -> None:
    a = block.numbers
    h.update(repr(a.shape).encode())
    if a.size:  # (a memoryview of a (n, 0) array cannot be cast: all text columns)
        h.update(np.ascontiguousarray(a).data.cast("B"))
    for name in sorted(block.text):
        enc = block.text[name].dictionary_encode()
        h.update(name.encode() + b"\0")
        h.update("\0".join(str(v) for v in enc.dictionary.to_pylist()).encode())
        idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        h.update(idx.data.cast("B"))


def _fingerprint(mask: Mask | None, arrays: Sequence[F32], block: RawBlock) -> str:
    h = hashlib.sha256()
    if mask is not None:
        h.update(len(mask).to_bytes(8, "little"))
        h.update(np.packbits(mask).tobytes())
    for a in arrays:
        h.update(repr(a.shape).encode())
        if a.size:
            h.update(np.ascontiguousarray(a).data.cast("B"))
    _hash_block(h, block)
    return h.hexdigest()


def _heldout_of(part: _Part, path: str, fraction: float, seed: int) -> HeldOut | None:
    """The record of `part`'s held-out rows (raw values: call before transforming)."""
    if part.mask is not None and part.x_val is not None and part.y_val is not None:
        fp = _fingerprint(part.mask, [part.y_train, part.y_val], part.x_val)
        return HeldOut(path, fraction, seed, len(part.mask), part.x_val.n, fp)
    return None


def _whole_file_heldout(part: _Part, path: str, seed: int) -> HeldOut:
    """A val_path file: every row is held out."""
    fp = _fingerprint(None, [part.y_train], part.x_train)
    return HeldOut(path, 0.0, seed, part.x_train.n, part.x_train.n, fp)


def _fill_labels(batches: Iterable[Any], names: Sequence[str], n: int, where: str) -> F32:
    y = np.empty((n, len(names)), dtype=np.float32)
    off = 0
    for b in batches:
        k = b.num_rows
        fill_block(b, names, y[off : off + k], off + 1, where, labels=True)
        off += k
    if off != n:
        raise DataError(where, f"the file says it has {n} rows but {off} were read")
    return y


def _fill_features(
    batches: Iterable[Any],
    names: Sequence[str],
    n: int,
    mask: Mask | None,
    where: str,
    missing_ok: bool = False,
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
            fill_block(b, names, out, off + 1, where, False, cell_text, missing_ok)

        return run

    def routed(b: Any, off: int, m: Mask, t: int, v: int) -> Callable[[], None]:
        def run() -> None:
            assert x_val is not None
            k, kv = b.num_rows, int(m.sum())
            block = np.empty((k, f), dtype=np.float32)
            fill_block(b, names, block, off + 1, where, False, cell_text, missing_ok)
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

    run_in_order(tasks(), workers() if n >= 4 * _LOAD_BATCH_ROWS else 1)
    if read != n:
        raise DataError(where, f"the file says it has {n} rows but {read} were read")
    return x_train, x_val


def _drain(batches: list[Any]) -> Iterator[Any]:
    """Yield and forget: each batch's memory can go as soon as it is converted."""
    batches.reverse()
    while batches:
        yield batches.pop()


def _split_part(
    label_batches: Iterable[Any],
    feature_batches: Callable[[], Iterable[Any]],
    feats: list[str],
    labs: list[str],
    n: int,
    req: _Request,
    where: str,
) -> _Part:
    """Labels first (the split needs them), then features straight into (train, val)."""
    y = _fill_labels(label_batches, labs, n, where)
    mask = val_mask(y, req.fraction, req.seed, where)
    x_train, x_val = _fill_features(feature_batches(), feats, n, mask, where, req.missing_ok)
    y_train, y_val = split_labels(y, mask)
    return _Part(
        RawBlock.from_matrix(x_train, feats),
        y_train,
        None if x_val is None else RawBlock.from_matrix(x_val, feats),
        y_val,
        feats,
        labs,
        mask,
    )


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
    mask = val_mask(y, fraction, seed, where)
    if mask is None:
        return _Part(RawBlock.from_matrix(x, feats), y, None, None, feats, labs, None)
    x_val = x[mask]
    x_train = keep_rows_inplace(x, ~mask)
    y_train, y_val = split_labels(y, mask)
    return _Part(
        RawBlock.from_matrix(x_train, feats),
        y_train,
        RawBlock.from_matrix(x_val, feats),
        y_val,
        feats,
        labs,
        mask,
    )


@dataclass
class _Request:
    """What to read from one file: the columns, the split, the size check, and -- for a
    real table -- the data config's table keys, or the schema of a model (eval: nothing is
    inferred or fitted again)."""

    features: Sequence[str] | None
    labels: Sequence[str] | None
    fraction: float
    seed: int
    check: Callable[..., None]
    data: DataConfig | None = None
    schema: Preprocessor | None = None
    rereading: bool = False  # eval reads a run's held-out rows again

    @property
    def missing_ok(self) -> bool:
        if self.schema is not None:
            return True  # the preprocessor decides (a column without a fill value refuses)
        return self.data is None or self.data.impute != "error"

    @property
    def delimiter(self) -> str | None:
        return None if self.data is None else self.data.delimiter_char


def _candidates(names: list[str], req: _Request, path: str) -> tuple[list[str], list[str]]:
    if req.schema is not None and req.schema.table:
        pre = req.schema
        labs = list(req.labels or [])
        present = set(names)
        for name in labs:
            if name not in present:
                raise DataError(path, f"label column {name!r} is missing{nearest(name, names)}")
        trained = set(pre.raw_names)
        found = [c for c in names if c not in set(labs) and c not in set(pre.ignored)]
        if req.features is not None:  # data.features: the other columns are not read
            found = [c for c in found if c in set(req.features)]
        gone = [c for c in pre.raw_names if c not in present]
        new = [c for c in found if c not in trained]
        if gone or new:
            what = f"column {gone[0]!r} is gone" if gone else f"it has a new column {new[0]!r}"
            if req.rereading:
                raise DataError(
                    path,
                    f"the file changed since training ({what}); "
                    "pass --data FILE to evaluate on it as it is now",
                )
            raise DataError(path, f"its columns differ from the training file's ({what})")
        return list(pre.raw_names), labs
    if req.data is not None:
        d = req.data
        named = {"categorical": d.categorical, "numeric": d.numeric, "exclude": d.exclude}
        check_named_columns(
            {**{k: v for k, v in named.items() if v}, "max_categories": list(d.category_caps)},
            names,
            path,
        )
    return resolve_columns(names, req.features, req.labels or [], path)


def _table_part(
    table: Any,
    names: list[str],
    feats: list[str],
    labs: list[str],
    req: _Request,
    path: str,
    cell_text: CellText | None = None,
) -> _Part:
    """A real table: label mapping, column kinds, raw rows; rows without a label dropped."""
    n = table.num_rows
    if n == 0:
        raise DataError(path, "no data rows (the file has a header only)")
    pre, data = req.schema, req.data
    if pre is not None and pre.table:
        maps = [pre.label_map(name) for name in labs]
    else:
        positive = (data.positive or {}) if data is not None else {}
        maps = []
        for name in labs:
            try:
                maps.append(
                    LabelMap.fit(name, label_values(table.column(name)), positive.get(name))
                )
            except LabelError as e:
                row = None if e.index is None else e.index + 1
                raise label_error(path, name, e.what, row) from None
    y = np.empty((n, len(labs)), dtype=np.float32)
    for j, m in enumerate(maps):
        try:
            y[:, j] = m.map(label_values(table.column(m.name)))
        except LabelError as e:
            row = None if e.index is None else e.index + 1
            raise label_error(path, m.name, e.what, row) from None
    if pre is not None and pre.table:
        kinds = Kinds([ColumnSpec(c.name, c.kind) for c in pre.columns], {})
    else:
        assert data is not None
        kinds = infer_kinds(
            table,
            feats,
            chosen=data.features is not None,
            numeric=data.numeric or (),
            categorical=data.categorical or (),
            exclude=data.exclude or (),
            first_column=names[0] if names else None,
            where=path,
        )
        if not kinds.columns:
            raise DataError(path, "no feature columns left (see the columns table)")
    req.check(len(kinds.columns), len(labs), path, exact=False)
    label_notes = {m.name: f"{m.describe()}" for m in maps if m.kind != "binary"}
    kept = np.asarray(~np.isnan(y).any(axis=1), dtype=bool)
    infos = column_infos(table, kinds, labs, label_notes, names, None if kept.all() else kept)
    block = raw_block(
        table, kinds.numeric, kinds.text, 1, path, missing_ok=req.missing_ok, cell_text=cell_text
    )
    del table
    notes = [f"{path}: column {c!r} left out: {why}" for c, why in kinds.ignored.items()]
    rows: npt.NDArray[np.int64] | None = None
    if not kept.all():
        dropped = int((~kept).sum())
        notes.append(dropped_note(dropped, path))
        if dropped == n:
            raise DataError(path, "no rows with a label")
        rows = np.flatnonzero(kept) + 1
        y = y[kept]
        block = select_rows(block, kept)
    mask = val_mask(y, req.fraction, req.seed, path)
    y_train, y_val = split_labels(y, mask)
    x_train = block if mask is None else select_rows(block, ~mask)
    x_val = None if mask is None else select_rows(block, mask)
    return _Part(
        x_train,
        y_train,
        x_val,
        y_val,
        [c.name for c in kinds.columns],
        labs,
        mask,
        rows,
        kinds,
        maps,
        infos,
        notes,
    )


def _plain_part(
    part: _Part,
    names: list[str],
    req: _Request,
    path: str,
    *,
    may_miss: bool,
    booleans: Sequence[str] = (),
) -> _Part:
    """A numeric file read by a fast path: the table's kinds (all numeric), its index
    columns and `data.exclude` left out (columns of the raw blocks removed). `may_miss`:
    the values may hold NaN (missing); the C parser's never do."""
    data = req.data
    if data is None or (req.schema is not None and not req.schema.table):
        return part
    feats = part.features
    ignored: dict[str, str] = {}
    if req.schema is not None:
        specs = [ColumnSpec(c.name, c.kind) for c in req.schema.columns]
    else:
        exclude = set(data.exclude or [])
        first = names[0] if names else None
        for j, name in enumerate(feats):
            if name in exclude:
                ignored[name] = "data.exclude"
            elif data.features is None and name not in set(data.numeric or []):
                if not (name == first or name.lower() in INDEX_NAMES):
                    continue
                why = left_out(name, pa.array(_file_column(part, j)), "numeric", first)
                if why is not None:
                    ignored[name] = why
        kind = {n: "boolean" if n in booleans else "numeric" for n in feats}
        specs = [ColumnSpec(n, kind[n]) for n in feats if n not in ignored]
        if not specs:
            raise DataError(path, "no feature columns left (see the columns table)")
    kinds = Kinds(specs, ignored)
    keep = [feats.index(c.name) for c in specs]
    if len(keep) != len(feats):
        kept = [c.name for c in specs]
        part.x_train = RawBlock.from_matrix(
            np.ascontiguousarray(part.x_train.numbers[:, keep]), kept, part.x_train.complete
        )
        if part.x_val is not None:
            part.x_val = RawBlock.from_matrix(
                np.ascontiguousarray(part.x_val.numbers[:, keep]), kept, part.x_val.complete
            )
        part.features = kept
    missing = np.zeros(len(specs), dtype=np.int64)
    for b in (part.x_train, part.x_val):
        if b is None:
            continue
        if may_miss and not b.complete and np.isnan(b.numbers).any():
            missing += np.isnan(b.numbers).sum(axis=0, dtype=np.int64)
        else:
            b.complete = True  # one look: later steps need not search it again
    infos = {
        c.name: ColumnInfo(c.name, c.kind, int(m)) for c, m in zip(specs, missing, strict=True)
    }
    infos |= {c: ColumnInfo(c, "left out", 0, note=why) for c, why in ignored.items()}
    infos |= {c: ColumnInfo(c, "label", 0, note="0/1") for c in part.labels}
    part.columns = [infos[n] for n in names if n in infos]
    part.notes = [f"{path}: column {c!r} left out: {why}" for c, why in ignored.items()]
    part.kinds = kinds
    part.label_maps = binary_labels(part.labels)
    return part


def _file_column(part: _Part, j: int) -> F32:
    """Raw column j of a plain part, all its rows in file order."""
    if part.x_val is None or part.mask is None:
        return np.ascontiguousarray(part.x_train.numbers[:, j])
    out = np.empty(len(part.mask), dtype=np.float32)
    out[~part.mask] = part.x_train.numbers[:, j]
    out[part.mask] = part.x_val.numbers[:, j]
    return out


def _load_csv(path: str, req: _Request) -> _Part:
    reader = CsvReader(path, req.delimiter)
    names = reader.columns
    feats, labs = _candidates(names, req, path)
    req.check(len(feats), len(labs), path, exact=False)
    pre = req.schema
    text = [] if pre is None else pre.text_names
    plain_labels = (pre is None or all(m.kind == "binary" for m in pre.labels)) and not (
        req.data is not None and set(req.data.positive or {}) & set(labs)
    )  # data.positive for a label: LabelMap maps it (the C parser takes 0/1 as they are)
    if req.data is not None and req.data.categorical:
        text = [*text, *req.data.categorical]
    fast = None
    if not text and plain_labels:
        fast = csv_fast.read_numeric(path, names, feats, labs, workers(), reader.delimiter)
    if fast is not None and not bad_labels(fast[1]).any():
        part = _part_from_arrays(fast[0], fast[1], feats, labs, req.fraction, req.seed, path)
        for b in (part.x_train, part.x_val):
            if b is not None:
                b.complete = True  # the C parser takes no missing value
        return _plain_part(part, names, req, path, may_miss=False)
    del fast  # not plain numbers, or bad labels: pyarrow reads it and words the error
    for c in text:
        reader.types[c] = pa.string()
    table = reader.table([c for c in names if c in set(feats) | set(labs)])
    if req.data is None:  # the tutorial's form (no table keys): numbers only
        return _numeric_table_part(table, feats, labs, req, path, reader.cell_text)
    return _table_part(table, names, feats, labs, req, path, reader.cell_text)


def _numeric_table_part(
    table: Any,
    feats: list[str],
    labs: list[str],
    req: _Request,
    path: str,
    cell_text: CellText | None,
) -> _Part:
    n = table.num_rows
    if n == 0:
        raise DataError(path, "no data rows (the file has a header only)")
    batches = table.to_batches()
    del table
    y = _fill_labels(batches, labs, n, path)
    mask = val_mask(y, req.fraction, req.seed, path)
    x_train, x_val = _fill_features(_drain(batches), feats, n, mask, path, False, cell_text)
    y_train, y_val = split_labels(y, mask)
    return _Part(
        RawBlock.from_matrix(x_train, feats),
        y_train,
        None if x_val is None else RawBlock.from_matrix(x_val, feats),
        y_val,
        feats,
        labs,
        mask,
    )


def _load_parquet(path: str, req: _Request) -> _Part:
    reader = ParquetReader(path)
    names = reader.columns
    feats, labs = _candidates(names, req, path)
    req.check(len(feats), len(labs), path, exact=False)
    n = reader.num_rows() or 0
    if n == 0:
        raise DataError(path, "no data rows")
    schema = reader.file.schema_arrow
    pre = req.schema
    numeric_types = all(not is_text(schema.field(c).type) for c in feats) and not (
        req.data is not None and req.data.categorical
    )
    plain_labels = (
        all(not is_text(schema.field(c).type) for c in labs)
        and (pre is None or all(m.kind == "binary" for m in pre.labels))
        and not (req.data is not None and req.data.positive)
    )
    if numeric_types and plain_labels and (pre is None or not pre.text_names):
        try:
            part = _split_part(
                reader.batches(labs, _LOAD_BATCH_ROWS),
                lambda: reader.batches(feats, _LOAD_BATCH_ROWS),
                feats,
                labs,
                n,
                req,
                path,
            )
        except DataError:
            if req.data is None:
                raise
            part = None  # a missing label, say: the table path drops such rows, or words it
        if part is not None:
            bools = [c for c in feats if pa.types.is_boolean(schema.field(c).type)]
            return _plain_part(part, names, req, path, may_miss=True, booleans=bools)
    if req.data is None:
        raise DataError(path, "holds text columns; the tutorial's form is numbers only")
    cols = [c for c in names if c in set(feats) | set(labs)]
    table = pa.Table.from_batches(list(reader.batches(cols, _LOAD_BATCH_ROWS)))
    return _table_part(table, names, feats, labs, req, path)


def _load_npz(path: str, req: _Request) -> _Part:
    x, y, feats, labs = npz.read_arrays(path, req.features, req.labels, req.check)
    return _part_from_arrays(x, y, feats, labs, req.fraction, req.seed, path)


_LOADERS: dict[str, Callable[[str, _Request], _Part]] = {
    "csv": _load_csv,
    "parquet": _load_parquet,
    "npz": _load_npz,
}


def _load_part(source: str, path: str, req: _Request) -> _Part:
    found = detect_format(path) if os.path.isfile(path) else source
    if found != source:  # e.g. a Parquet val_path under source: csv
        raise DataError(path, f"looks like a {found} file, but data.source is '{source}'")
    if source not in _LOADERS:  # pragma: no cover - config-checked
        raise DataError(path, f"unknown data source {source!r}")
    return _LOADERS[source](path, req)


def _random_part(data: DataConfig, seed: int) -> _Part:
    torch.manual_seed(seed)
    x = torch.rand(data.n_samples, data.n_features)  # (N, F), the tutorial's input_data
    y = torch.randint(0, 2, (data.n_samples, data.n_labels), dtype=torch.float32)  # (N, L)
    features = [f"x{j}" for j in range(data.n_features)]
    labels = [f"y{j}" for j in range(data.n_labels)]
    xn, yn = x.numpy(), y.numpy()
    mask = val_mask(yn, data.holdout, seed, "random data")
    if mask is None:
        return _Part(RawBlock.from_matrix(xn, features), yn, None, None, features, labels, None)
    return _Part(
        RawBlock.from_matrix(xn[~mask], features),
        yn[~mask],
        RawBlock.from_matrix(xn[mask], features),
        yn[mask],
        features,
        labels,
        mask,
    )


def _no_check(n_features: int, n_labels: int, where: str, exact: bool = True) -> None:
    pass


def _read(
    data: DataConfig,
    seed: int,
    check: SizeCheck,
    schema: Preprocessor | None = None,
    rereading: bool = False,
) -> tuple[_Part, _Part | None]:
    """The training file's part (split when no val_path) and the val_path part, raw.
    `schema`: a model's preprocessor, whose column kinds and label mappings are used as
    they are (nothing is inferred)."""
    if data.source == "random":
        return _random_part(data, seed), None
    if data.path is None:  # pragma: no cover - the config requires it
        raise DataError("data.path", f"required for source {data.source!r}")
    path = data.path

    def checked(n_features: int, n_labels: int, where: str = path, exact: bool = True) -> None:
        check(n_features, n_labels, where, exact)
        if n_labels == 0:
            raise DataError(where, "no label columns")

    fraction = 0.0 if data.val_path is not None else data.holdout
    table_keys = None if data.source == "npz" else data
    part = _load_part(
        data.source,
        path,
        _Request(
            data.features, data.labels, fraction, seed, checked, table_keys, schema, rereading
        ),
    )
    if data.val_path is None:
        return part, None
    vp = data.val_path
    trained = schema
    if trained is None and part.kinds is not None:
        trained = Preprocessor.for_table(part.kinds.columns, part.label_maps)
        trained.ignored = list(part.kinds.ignored)
    val = _load_part(
        data.source,
        vp,
        _Request(
            part.features,
            part.labels,
            0.0,
            seed,
            lambda f, n, where=vp, exact=True: checked(f, n, vp, exact),
            table_keys,
            trained,
            rereading,
        ),
    )
    return part, val


def load_dataset(data: DataConfig, seed: int, check: SizeCheck | None = None) -> Dataset:
    """Load, check, split and preprocess the data `data` describes, split with `seed`.

    Raises `DataError` (exit 3) for anything wrong with the data; `check(n_features,
    n_labels, file, exact)` is called as soon as the sizes are known, before the values are
    read (`exact=False`: raw columns), and again with the number of model inputs.
    """
    check = check or _no_check
    part, val = _read(data, seed, check)
    where = "random data" if data.path is None else data.path
    heldout = _heldout_of(part, where, data.holdout, seed)
    x_train, y_train, x_val, y_val = part.x_train, part.y_train, part.x_val, part.y_val
    val_where = where
    val_rows = _split_rows(part, held=True)
    if val is not None:
        assert data.val_path is not None
        x_val, y_val = val.x_train, val.y_train
        heldout = _whole_file_heldout(val, data.val_path, seed)
        val_where, val_rows = data.val_path, val.rows
        rows = f"{y_train.shape[0]} train rows; {data.val_path}: {x_val.n} val rows"
    elif x_val is not None:
        rows = f"{y_train.shape[0]} train / {x_val.n} val rows"
    else:
        rows = f"{plural(y_train.shape[0], 'row')}"
    # the tutorial feeds raw torch.rand values: random data is never normalized
    normalize = "none" if data.source == "random" else data.normalize
    if data.category_caps:
        check_category_caps(part.kinds, data.category_caps, where)
    if part.kinds is None:
        pre = Preprocessor(part.features, normalize).fit(x_train.numbers)
    else:
        pre = Preprocessor.for_table(
            part.kinds.columns,
            part.label_maps,
            normalize=normalize,
            impute=data.impute,
            max_categories=data.default_category_cap,
            category_caps=data.category_caps,
            ignored=list(part.kinds.ignored),
        )
        pre.fit_block(x_train, workers())
    check(pre.n_features, len(part.labels), where, True)
    notes = list(part.notes) + ([] if val is None else list(val.notes))
    xt = encode_checked(pre, x_train, where, rows=_split_rows(part, held=False), notes=notes)
    xv = None
    if x_val is not None:
        xv = encode_checked(pre, x_val, val_where, rows=val_rows, notes=notes)
    if data.source == "random":
        desc = f"random data (seed {seed}): {rows}, "
    else:
        desc = f"{where}: {rows}, "
    n_raw = len(part.features)
    inputs = plural(pre.n_features, "feature")
    if pre.n_features != n_raw:
        inputs = f"{plural(n_raw, 'column')} → {plural(pre.n_features, 'input')}"
    return Dataset(
        x_train=torch.from_numpy(xt),
        y_train=torch.from_numpy(y_train),
        x_val=None if xv is None else torch.from_numpy(xv),
        y_val=None if y_val is None else torch.from_numpy(y_val),
        feature_names=pre.feature_names,
        label_names=part.labels,
        preprocessor=pre,
        heldout=heldout,
        description=desc + f"{inputs}, {plural(len(part.labels), 'label')}",
        columns=part.columns,
        notes=notes,
    )


def _split_rows(part: _Part, held: bool) -> npt.NDArray[np.int64] | None:
    """The file's data rows (1-based) of the held-out (`held`) or training rows of a part;
    None when they are rows 1..N (nothing split off, nothing dropped)."""
    if part.mask is None:
        return part.rows
    idx = np.flatnonzero(part.mask if held else ~part.mask)
    return idx + 1 if part.rows is None else part.rows[idx]


@dataclass
class HeldOutRows:
    """The held-out rows of a run, read again (`read_heldout`): features (raw, or
    transformed), labels, a description, and where each row is in its file."""

    x: F32  # (M, F) float32
    y: F32  # (M, L) float32
    desc: str  # "114 held-out rows of data/x.csv"
    where: str  # the file they are in
    rows: npt.NDArray[np.int64] | None  # their file rows (1-based); None: rows 1..M
    notes: list[str] = field(default_factory=list)


def load_heldout(
    data: DataConfig, seed: int, heldout: HeldOut | None, pre: Preprocessor | None = None
) -> tuple[F32, F32, str]:
    """The held-out features and labels of a run, and their description (`read_heldout`
    without the file rows)."""
    got = read_heldout(data, seed, heldout, pre)
    return got.x, got.y, got.desc


def read_heldout(
    data: DataConfig, seed: int, heldout: HeldOut | None, pre: Preprocessor | None = None
) -> HeldOutRows:
    """The held-out rows of a run: features raw, or transformed by `pre` when it is given
    (a value it cannot encode is then a `DataError` naming the file's column and row),
    labels, and their file rows (for `check_outputs`).

    Read again from the files the config names, split as in training, with `pre`'s column
    kinds and label mapping (nothing is inferred or fitted). With a `heldout` record, the
    rows must be the ones the run held out: a file that changed since is a `DataError` that
    says so. (Models of format 1 carry no record; their split is rebuilt from the config and
    seed alone.)
    """
    if pre is not None and not pre.table:
        part, val = _read(data, seed, _no_check)
    else:
        part, val = _read(data, seed, _no_check, schema=pre, rereading=True)
    rows: npt.NDArray[np.int64] | None = None
    if val is not None:
        assert data.val_path is not None
        now = _whole_file_heldout(val, data.val_path, seed)
        block, y = val.x_train, val.y_train
        desc = f"held-out data of {data.val_path}"
        where = data.val_path
        rows = val.rows
        notes = val.notes
    else:
        where = data.path if data.path is not None else "random data"
        if part.x_val is None or part.y_val is None:
            raise DataError(where, "no rows are held out under this config")
        now = _heldout_of(part, where, data.holdout, seed)  # type: ignore[assignment]
        block, y = part.x_val, part.y_val
        rows = _split_rows(part, held=True)
        desc = f"{block.n} held-out rows of {data.path or 'random data'}"
        notes = [n for n in part.notes if "without a label" in n]
    read_features = (val or part).features
    trained = None if pre is None else pre.raw_names
    if trained is not None and read_features != trained:
        missing = [c for c in trained if c not in read_features]
        extra = [c for c in read_features if c not in trained]
        what = (
            f"column {missing[0]!r} is gone"
            if missing
            else f"it has a new column {extra[0]!r}"
            if extra
            else "its feature columns are in another order"
        )
        raise DataError(
            where,
            f"the file changed since training ({what}); "
            "pass --data FILE to evaluate on it as it is now",
        )
    if heldout is not None and now is not None and now.fingerprint != heldout.fingerprint:
        what = (
            f"has {now.rows} rows, {heldout.rows} when the model was trained"
            if now.rows != heldout.rows
            else "its rows differ from those the model was trained and validated on"
        )
        raise DataError(
            heldout.path,
            f"the file changed since training ({what}); "
            "pass --data FILE to evaluate on it as it is now",
        )
    if pre is None:
        return HeldOutRows(block.numbers, y, desc, where, rows, notes)
    x = encode_checked(pre, block, where, rows=rows, notes=notes)
    return HeldOutRows(x, y, desc, where, rows, notes)
