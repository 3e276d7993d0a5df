"""Training data for one rank of a data-parallel run, read in shards: each rank reads only
the Parquet row groups that hold its own rows, and holds only those.

It serves numeric Parquet files (the form of big tables: numeric or boolean features, 0/1
labels, median fills or none) without a `val_path`; `load_sharded` returns None for any other
file, and the rank then reads the whole file as one process does (`load_dataset`) before it
keeps its shard.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import torch

from sigmoidnet.config import DataConfig
from sigmoidnet.data.convert import fill_block, workers
from sigmoidnet.data.dataset import (
    Dataset,
    HeldOut,
    SizeCheck,
    _candidates,
    _fill_labels,
    _Request,
)
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
        data.source == "parquet"
        and data.path is not None
        and data.val_path is None
        and data.impute != "mean"
        and not data.categorical
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
    reader = ParquetReader(path)
    names = reader.columns
    fraction = data.holdout
    req = _Request(data.features, data.labels, fraction, seed, check, data)
    feats, labs = _candidates(names, req, path)
    check(len(feats), len(labs), path, exact=False)
    n = reader.num_rows() or 0
    schema = reader.file.schema_arrow
    if n == 0 or any(is_text(schema.field(c).type) for c in [*feats, *labs]):
        return None
    try:
        y = _fill_labels(reader.batches(labs), labs, n, path)
    except DataError:
        return None  # a missing label, say: the whole-file path drops such rows, or words it
    mask = val_mask(y, fraction, seed, path)
    if mask is None:
        mask = np.zeros(n, dtype=bool)
    kinds, ignored = _kinds(reader, names, feats, data, path, schema)
    kept = [c.name for c in kinds.columns]
    train_rows = np.flatnonzero(~mask)  # file rows (0-based) of the training rows
    val_rows = np.flatnonzero(mask)
    lay: Layout = layout_of(len(train_rows), len(val_rows), len(kept))
    want = [
        train_rows[lay.train[0] : lay.train[1]],
        train_rows[lay.stats[0] : lay.stats[1]],
        val_rows[lay.val[0] : lay.val[1]],
    ]
    x_train, x_stats, x_val = _read_rows(reader, kept, want, path, data.impute != "error")
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
        max_categories=data.max_categories,
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
        heldout = _heldout(reader, kept, mask, y_train_all, y_val, path, fraction, seed)
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
    reader: ParquetReader,
    names: list[str],
    feats: list[str],
    data: DataConfig,
    path: str,
    schema: Any,
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
            n = reader.num_rows() or 0
            col = np.empty((n, 1), dtype=np.float32)
            off = 0
            for b in reader.batches([name]):
                fill_block(b, [name], col[off : off + b.num_rows], off + 1, path, False, None, True)
                off += b.num_rows
            why = left_out(name, pa.array(col[:, 0]), "numeric", first)
            if why is not None:
                ignored[name] = why
    bools = {c for c in feats if pa.types.is_boolean(schema.field(c).type)}
    specs = [
        ColumnSpec(c, "boolean" if c in bools else "numeric") for c in feats if c not in ignored
    ]
    if not specs:
        raise DataError(path, "no feature columns left (see the columns table)")
    return Kinds(specs, ignored), ignored


def _read_rows(
    reader: ParquetReader,
    columns: list[str],
    want: Sequence[I64],
    path: str,
    missing_ok: bool,
) -> list[F32]:
    """The file rows `want` (increasing 0-based file rows, one array per output), read from
    the row groups that hold them only, batch by batch straight into their outputs."""
    outs = [np.empty((len(w), len(columns)), dtype=np.float32) for w in want]
    picked = [w for w in want if len(w)]
    if not picked:
        return outs
    lo = int(min(int(w[0]) for w in picked))
    hi = int(max(int(w[-1]) for w in picked)) + 1
    meta = reader.file.metadata
    groups, off, at = [], -1, 0
    for g in range(meta.num_row_groups):
        k = meta.row_group(g).num_rows
        if at < hi and at + k > lo:
            groups.append(g)
            off = at if off < 0 else off
        at += k
    try:
        batches = reader.file.iter_batches(
            batch_size=65536, row_groups=groups, columns=columns, use_threads=True
        )
        for b in batches:
            k = b.num_rows
            a, z = max(off, lo), min(off + k, hi)
            if a < z:
                block = np.empty((z - a, len(columns)), dtype=np.float32)
                fill_block(
                    b.slice(a - off, z - a), columns, block, a + 1, path, False, None, missing_ok
                )
                for w, out in zip(want, outs, strict=True):
                    i, j = np.searchsorted(w, a), np.searchsorted(w, z)
                    out[i:j] = block[w[i:j] - a]
            off += k
    except (pa.ArrowException, OSError) as e:
        raise DataError(path, f"cannot read Parquet data ({e})") from None
    return outs


def _heldout(
    reader: ParquetReader,
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
    for b in reader.batches(columns):
        k = b.num_rows
        m = mask[off : off + k]
        if m.any():
            x = np.empty((k, len(columns)), dtype=np.float32)
            fill_block(b, columns, x, off + 1, path, False, None, True)
            h.update(np.ascontiguousarray(x[m]).data.cast("B"))
        off += k
    return HeldOut(path, fraction, seed, len(mask), n_val, h.hexdigest())
