"""Training data for one rank of a data-parallel run, read in shards: each rank reads only
the Parquet row groups that hold its own rows, or parses only the CSV lines of its own rows,
and holds only those.

It serves numeric tables (the form of big tables: numeric or boolean features, 0/1 labels,
median fills or none) without a `val_path`: Parquet files, and the CSV files the C fast path
reads (plain numbers; their lines before a rank's rows are counted, not parsed — but the
label columns are parsed on every line, by every rank). `load_sharded` returns None for any
other file — or when any rank's parse defers to pyarrow — and every rank then reads the
whole file as one process does (`load_dataset`) before it keeps its shard.

What every rank computes, the same everywhere, from every row: the labels are read whole
(one column each, N·L float32), so the held-out split is the one process's split; index
columns are judged on the whole column, read alone. Everything else comes from the rank's
own rows through `Reduce` (`engine.distributed.RankReduce`): the missing values, the medians
(a shared seeded sample brackets them, the counts below the bracket are summed, the values
inside joined), and the standardization (every rank's chunk sums added in row order: each
rank's run of training rows for the statistics starts at a whole chunk of
`STAT_CHUNK_ROWS`). The result is bit for bit the preprocessing one process fits (tested).

A rank reads the row groups that cover three runs of rows: its training shard (the rows its
steps take, `engine.distributed.Shard`), its run of training rows for the statistics (whole
chunks, about the same rows), and its validation shard (whole scoring chunks). Rank 0 also
reads the validation rows once more, batch by batch, to fingerprint them as `eval` will.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from sigmoidnet.config import DataConfig
from sigmoidnet.data.convert import bad_labels, fill_block, workers
from sigmoidnet.data.dataset import (
    Dataset,
    HeldOut,
    SizeCheck,
    _candidates,
    _fill_labels,
    _Request,
)
from sigmoidnet.data.formats import csv_fast
from sigmoidnet.data.formats.csv import CsvReader
from sigmoidnet.data.formats.parquet import ParquetReader
from sigmoidnet.data.messages import plural
from sigmoidnet.data.split import val_mask
from sigmoidnet.data.table import INDEX_NAMES, ColumnInfo, Kinds, is_text, left_out
from sigmoidnet.data.transform import encode_checked
from sigmoidnet.errors import DataError
from sigmoidnet.preprocess import Preprocessor
from sigmoidnet.preprocess.columns import ColumnSpec, RawBlock
from sigmoidnet.preprocess.labels import binary_labels
from sigmoidnet.preprocess.standardize import STAT_CHUNK_ROWS, Reduce

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Layout:
    """The runs of rows one rank holds, as indices into the training rows (`train`,
    `stats`) and the validation rows (`val`), [start, stop)."""

    train: tuple[int, int]
    stats: tuple[int, int]
    val: tuple[int, int]


def stats_rows(rows: int, rank: int, size: int) -> tuple[int, int]:
    """This rank's run of the training rows for the statistics: whole chunks of
    `STAT_CHUNK_ROWS`, handed out as evenly as they go."""
    chunk = STAT_CHUNK_ROWS
    chunks = -(-rows // chunk)
    per = [chunks // size + (1 if r < chunks % size else 0) for r in range(size)]
    first = sum(per[:rank])
    return min(rows, first * chunk), min(rows, (first + per[rank]) * chunk)


def applies(data: DataConfig) -> bool:
    """The config allows a sharded read (the file decides the rest: `load_sharded`)."""
    return (
        data.source in ("parquet", "csv")
        and data.path is not None
        and data.val_path is None
        and data.impute != "mean"
        and not data.categorical
        and not data.category_caps
        and not data.positive
    )


def load_sharded(
    data: DataConfig,
    seed: int,
    rank: int,
    size: int,
    reduce: Reduce,
    layout_of: Any,
    check: SizeCheck,
) -> Dataset | None:
    """This rank's `Dataset` (x_train, y_train, x_val: its shards; y_val: every validation
    label) read in shards, or None when the file is not a numeric Parquet table (every rank
    decides alike, from the file's schema). `layout_of(n_train, n_val)` gives this rank's
    `Layout`."""
    if not applies(data):
        return None
    assert data.path is not None
    path = data.path
    fraction = data.holdout
    req = _Request(data.features, data.labels, fraction, seed, check, data)
    src = _source(path, req, data)
    if src is None:
        return None
    feats, labs, names = src.feats, src.labels, src.names
    y = src.read_labels()
    if y is None or len(y) == 0:
        return None  # a missing or odd label, say: the whole-file path words it
    n = len(y)
    mask = val_mask(y, fraction, seed, path)
    if mask is None:
        mask = np.zeros(n, dtype=bool)
    kinds, ignored = _kinds(src, names, feats, data, path)
    kept = [c.name for c in kinds.columns]
    train_rows = np.flatnonzero(~mask)  # file rows (0-based) of the training rows
    val_rows = np.flatnonzero(mask)
    lay: Layout = layout_of(len(train_rows), len(val_rows), len(kept))
    want = [
        train_rows[lay.train[0] : lay.train[1]],
        train_rows[lay.stats[0] : lay.stats[1]],
        val_rows[lay.val[0] : lay.val[1]],
    ]
    got = src.read_rows(kept, want, data.impute != "error")
    # a rank whose rows the fast path cannot read (a CSV value it leaves to pyarrow): all
    # ranks read the whole file instead, alike
    if int(reduce.sum(np.array([int(got is None)]))[0]):
        return None
    assert got is not None
    x_train, x_stats, x_val = got
    # missing values: counted over every rank's own rows once (training and validation)
    own = [x for x in (x_train, x_val) if len(x)]
    nan_local = (
        sum(np.isnan(x).sum(axis=0, dtype=np.int64) for x in own)
        if own
        else np.zeros(len(kept), dtype=np.int64)
    )
    nan_counts = reduce.sum(np.asarray(nan_local, dtype=np.int64))
    pre = Preprocessor.for_table(
        kinds.columns,
        binary_labels(labs),
        normalize=data.normalize,
        impute=data.impute,
        max_categories=data.default_category_cap,
        ignored=list(kinds.ignored),
    )
    complete = not bool(reduce.sum(np.array([int(np.isnan(x_stats).any())]))[0])
    pre.fit_block(RawBlock.from_matrix(x_stats, kept, complete), workers(), reduce)
    del x_stats
    check(pre.n_features, len(labs), path, True)
    notes = [f"{path}: column {c!r} left out: {why}" for c, why in ignored.items()]
    xt = encode_checked(
        pre, RawBlock.from_matrix(x_train, kept, complete), path, rows=want[0] + 1, notes=notes
    )
    xv = encode_checked(
        pre, RawBlock.from_matrix(x_val, kept, complete), path, rows=want[2] + 1, notes=notes
    )
    y_train_all = np.ascontiguousarray(y[~mask])
    y_val = np.ascontiguousarray(y[mask]) if mask.any() else None
    heldout = None
    if y_val is not None and rank == 0:
        heldout = _heldout(src, kept, mask, y_train_all, y_val, path, fraction, seed)
    infos = {
        c.name: ColumnInfo(c.name, c.kind, int(m))
        for c, m in zip(kinds.columns, nan_counts, strict=True)
    }
    infos |= {c: ColumnInfo(c, "left out", 0, note=why) for c, why in ignored.items()}
    infos |= {c: ColumnInfo(c, "label", 0, note="0/1") for c in labs}
    rows = (
        f"{len(train_rows)} train / {len(val_rows)} val rows"
        if y_val is not None
        else plural(len(train_rows), "row")
    )
    inputs = plural(pre.n_features, "feature")
    if pre.n_features != len(kept):
        inputs = f"{plural(len(kept), 'column')} → {plural(pre.n_features, 'input')}"
    out = Dataset(
        x_train=torch.from_numpy(xt),
        y_train=torch.from_numpy(np.ascontiguousarray(y_train_all[lay.train[0] : lay.train[1]])),
        x_val=None if y_val is None else torch.from_numpy(xv),
        y_val=None if y_val is None else torch.from_numpy(y_val),
        feature_names=pre.feature_names,
        label_names=labs,
        preprocessor=pre,
        heldout=heldout,
        description=f"{path}: {rows}, {inputs}, {plural(len(labs), 'label')} (read in shards)",
        columns=[infos[c] for c in names if c in infos],
        notes=notes,
        y_train_all=torch.from_numpy(y_train_all),
    )
    return out


def _kinds(
    src: _Source,
    names: list[str],
    feats: list[str],
    data: DataConfig,
    path: str,
) -> tuple[Kinds, dict[str, str]]:
    """The columns kept and left out, as `dataset._plain_part` decides them: data.exclude,
    and index columns judged on the whole column (read alone)."""
    exclude = set(data.exclude or [])
    first = names[0] if names else None
    ignored: dict[str, str] = {}
    for name in feats:
        if name in exclude:
            ignored[name] = "data.exclude"
        elif data.features is None and name not in set(data.numeric or []):
            if not (name == first or name.lower() in INDEX_NAMES):
                continue
            why = left_out(name, pa.array(src.column(name)), "numeric", first)
            if why is not None:
                ignored[name] = why
    bools = src.booleans
    specs = [
        ColumnSpec(c, "boolean" if c in bools else "numeric") for c in feats if c not in ignored
    ]
    if not specs:
        raise DataError(path, "no feature columns left (see the columns table)")
    return Kinds(specs, ignored), ignored


def _heldout(
    src: _Source,
    columns: list[str],
    mask: npt.NDArray[np.bool_],
    y_train: F32,
    y_val: F32,
    path: str,
    fraction: float,
    seed: int,
) -> HeldOut:
    """The held-out record `eval` checks, computed as `dataset._fingerprint` computes it
    (the same bytes in the same order), reading the validation rows batch by batch."""
    h = hashlib.sha256()
    h.update(len(mask).to_bytes(8, "little"))
    h.update(np.packbits(mask).tobytes())
    for a in (y_train, y_val):
        h.update(repr(a.shape).encode())
        if a.size:
            h.update(np.ascontiguousarray(a).data.cast("B"))
    n_val = int(mask.sum())
    h.update(repr((n_val, len(columns))).encode())
    off = 0
    for x in src.batches(columns):
        k = len(x)
        m = mask[off : off + k]
        if m.any():
            h.update(np.ascontiguousarray(x[m]).data.cast("B"))
        off += k
    if off != len(mask):  # pragma: no cover - every rank read its rows: all rows read
        raise DataError(path, f"the file changed while it was read ({off} rows of {len(mask)})")
    return HeldOut(path, fraction, seed, len(mask), n_val, h.hexdigest())


class _Source:
    """A file read in shards: its columns, every label, one whole column, some rows."""

    names: list[str]
    feats: list[str]
    labels: list[str]
    booleans: set[str]

    def read_labels(self) -> F32 | None:
        raise NotImplementedError

    def column(self, name: str) -> F32:
        raise NotImplementedError

    def read_rows(
        self, columns: list[str], want: Sequence[I64], missing_ok: bool
    ) -> list[F32] | None:
        """The file rows `want` (increasing 0-based file rows, one array per output); None:
        this file's fast path cannot read them."""
        raise NotImplementedError

    def batches(self, columns: list[str]) -> Iterator[F32]:
        raise NotImplementedError


def _span(want: Sequence[I64]) -> tuple[int, int] | None:
    picked = [w for w in want if len(w)]
    if not picked:
        return None
    return int(min(int(w[0]) for w in picked)), int(max(int(w[-1]) for w in picked)) + 1


def _scatter(block: F32, a: int, want: Sequence[I64], outs: list[F32]) -> None:
    """Rows [a, a + len(block)) of the file into the outputs that want them."""
    z = a + len(block)
    for w, out in zip(want, outs, strict=True):
        i, j = np.searchsorted(w, a), np.searchsorted(w, z)
        out[i:j] = block[w[i:j] - a]


class _ParquetSource(_Source):
    def __init__(self, path: str, req: _Request) -> None:
        self.path = path
        self.reader = ParquetReader(path)
        self.names = self.reader.columns
        self.feats, self.labels = _candidates(self.names, req, path)
        req.check(len(self.feats), len(self.labels), path, exact=False)
        schema = self.reader.file.schema_arrow
        self.text = any(is_text(schema.field(c).type) for c in [*self.feats, *self.labels])
        self.booleans = {c for c in self.feats if pa.types.is_boolean(schema.field(c).type)}
        self.n = self.reader.num_rows() or 0

    def read_labels(self) -> F32 | None:
        try:
            return _fill_labels(self.reader.batches(self.labels), self.labels, self.n, self.path)
        except DataError:
            return None

    def column(self, name: str) -> F32:
        col = np.empty((self.n, 1), dtype=np.float32)
        off = 0
        for b in self.reader.batches([name]):
            k = b.num_rows
            fill_block(b, [name], col[off : off + k], off + 1, self.path, False, None, True)
            off += k
        return col[:, 0]

    def read_rows(
        self, columns: list[str], want: Sequence[I64], missing_ok: bool
    ) -> list[F32] | None:
        """Only from the row groups that hold the rows, batch by batch into the outputs."""
        outs = [np.empty((len(w), len(columns)), dtype=np.float32) for w in want]
        span = _span(want)
        if span is None:
            return outs
        lo, hi = span
        meta = self.reader.file.metadata
        groups, off, at = [], -1, 0
        for g in range(meta.num_row_groups):
            k = meta.row_group(g).num_rows
            if at < hi and at + k > lo:
                groups.append(g)
                off = at if off < 0 else off
            at += k
        try:
            batches = self.reader.file.iter_batches(
                batch_size=65536, row_groups=groups, columns=columns, use_threads=True
            )
            for b in batches:
                k = b.num_rows
                a, z = max(off, lo), min(off + k, hi)
                if a < z:
                    block = np.empty((z - a, len(columns)), dtype=np.float32)
                    part = b.slice(a - off, z - a)
                    fill_block(part, columns, block, a + 1, self.path, False, None, missing_ok)
                    _scatter(block, a, want, outs)
                off += k
        except (pa.ArrowException, OSError) as e:
            raise DataError(self.path, f"cannot read Parquet data ({e})") from None
        return outs

    def batches(self, columns: list[str]) -> Iterator[F32]:
        off = 0
        for b in self.reader.batches(columns):
            x = np.empty((b.num_rows, len(columns)), dtype=np.float32)
            fill_block(b, columns, x, off + 1, self.path, False, None, True)
            off += b.num_rows
            yield x


class _CsvSource(_Source):
    """A CSV file of plain numbers (the C parser's): the lines before a rank's rows are
    counted, not parsed; the label columns are parsed on every line."""

    def __init__(self, path: str, req: _Request, delimiter: str) -> None:
        self.path, self.delimiter = path, delimiter
        reader = CsvReader(path, delimiter)
        self.names = reader.columns
        self.delimiter = reader.delimiter
        self.feats, self.labels = _candidates(self.names, req, path)
        req.check(len(self.feats), len(self.labels), path, exact=False)
        self.booleans = set()

    def read_labels(self) -> F32 | None:
        got = csv_fast.read_numeric(
            self.path, self.names, [], self.labels, workers(), self.delimiter
        )
        if got is None or bad_labels(got[1]).any():
            return None
        return got[1]

    def column(self, name: str) -> F32:
        got = csv_fast.read_numeric(self.path, self.names, [name], [], workers(), self.delimiter)
        if got is None:  # pragma: no cover - the labels' parse read every line
            raise DataError(self.path, f"column {name!r} cannot be read by the fast path")
        return np.ascontiguousarray(got[0][:, 0])

    def read_rows(
        self, columns: list[str], want: Sequence[I64], missing_ok: bool
    ) -> list[F32] | None:
        outs = [np.empty((len(w), len(columns)), dtype=np.float32) for w in want]
        span = _span(want)
        if span is None:
            return outs
        lo, hi = span
        got = csv_fast.read_rows(
            self.path, self.names, columns, [], lo, hi, workers(), self.delimiter
        )
        if got is None:
            return None
        _scatter(got[0], lo, want, outs)
        return outs

    def batches(self, columns: list[str]) -> Iterator[F32]:
        stream = csv_fast.iter_numeric(
            self.path, self.names, columns, [], 65536, workers(), self.delimiter
        )
        for x, _ in stream:
            yield x


def _source(path: str, req: _Request, data: DataConfig) -> _Source | None:
    """The file's reader in shards, or None: not a numeric table."""
    if data.source == "parquet":
        pq_src = _ParquetSource(path, req)
        return None if pq_src.n == 0 or pq_src.text else pq_src
    if data.source == "csv" and csv_fast.available():
        reader = CsvReader(path, data.delimiter_char)
        if data.categorical or reader.delimiter is None:
            return None
        return _CsvSource(path, req, reader.delimiter)
    return None
