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
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sigmoidnet.config import DataConfig
from sigmoidnet.data.columns import resolve_columns
from sigmoidnet.data.convert import CellText, bad_labels, fill_block, run_in_order, workers
from sigmoidnet.data.formats import csv_fast, detect_format, npz
from sigmoidnet.data.formats.csv import CsvReader
from sigmoidnet.data.formats.parquet import ParquetReader
from sigmoidnet.data.messages import plural
from sigmoidnet.data.split import keep_rows_inplace, split_labels, val_mask
from sigmoidnet.data.transform import transform_checked
from sigmoidnet.errors import DataError
from sigmoidnet.preprocess import Preprocessor

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

#: rows per Parquet batch while loading for training (bounded extra memory)
_LOAD_BATCH_ROWS = 65536

#: (n_features, n_labels, file) → raises when the sizes do not suit the caller (the engine
#: checks them against `model.input_size` / `model.output_size`)
SizeCheck = Callable[[int, int, str], None]


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
    feature_names: list[str]
    label_names: list[str]
    preprocessor: Preprocessor  # fitted on the training rows
    heldout: HeldOut | None  # None when nothing is held out
    description: str  # "data/x.csv: 455 train / 114 val rows, 30 features, 1 label"

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)


@dataclass
class _Part:
    """One file read for training: raw arrays in file order, split when asked."""

    x_train: F32
    y_train: F32
    x_val: F32 | None
    y_val: F32 | None
    features: list[str]
    labels: list[str]
    mask: Mask | None  # True = held out; None = no split


def _fingerprint(mask: Mask | None, arrays: Sequence[F32]) -> str:
    h = hashlib.sha256()
    if mask is not None:
        h.update(len(mask).to_bytes(8, "little"))
        h.update(np.packbits(mask).tobytes())
    for a in arrays:
        h.update(repr(a.shape).encode())
        h.update(np.ascontiguousarray(a).data.cast("B"))
    return h.hexdigest()


def _heldout_of(part: _Part, path: str, fraction: float, seed: int) -> HeldOut | None:
    """The record of `part`'s held-out rows (raw values: call before transforming)."""
    if part.mask is not None and part.x_val is not None and part.y_val is not None:
        fp = _fingerprint(part.mask, [part.y_train, part.y_val, part.x_val])
        return HeldOut(path, fraction, seed, len(part.mask), len(part.x_val), fp)
    return None


def _whole_file_heldout(part: _Part, path: str, seed: int) -> HeldOut:
    """A val_path file: every row is held out."""
    fp = _fingerprint(None, [part.y_train, part.x_train])
    return HeldOut(path, 0.0, seed, len(part.x_train), len(part.x_train), fp)


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
            fill_block(b, names, out, off + 1, where, False, cell_text)

        return run

    def routed(b: Any, off: int, m: Mask, t: int, v: int) -> Callable[[], None]:
        def run() -> None:
            assert x_val is not None
            k, kv = b.num_rows, int(m.sum())
            block = np.empty((k, f), dtype=np.float32)
            fill_block(b, names, block, off + 1, where, False, cell_text)
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
    cell_text: CellText | None = None,
) -> _Part:
    """Labels first (the split needs them), then features straight into (train, val)."""
    y = _fill_labels(label_batches, labs, n, where)
    mask = val_mask(y, req.fraction, req.seed, where)
    x_train, x_val = _fill_features(feature_batches(), feats, n, mask, where, cell_text)
    y_train, y_val = split_labels(y, mask)
    return _Part(x_train, y_train, x_val, y_val, feats, labs, mask)


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
        return _Part(x, y, None, None, feats, labs, None)
    x_val = x[mask]
    x_train = keep_rows_inplace(x, ~mask)
    y_train, y_val = split_labels(y, mask)
    return _Part(x_train, y_train, x_val, y_val, feats, labs, mask)


@dataclass
class _Request:
    """What to read from one file: the columns, the split, and the size check."""

    features: Sequence[str] | None
    labels: Sequence[str] | None
    fraction: float
    seed: int
    check: Callable[[int, int], None]


def _load_csv(path: str, req: _Request) -> _Part:
    reader = CsvReader(path)
    names = reader.columns
    feats, labs = resolve_columns(names, req.features, req.labels or [], path)
    req.check(len(feats), len(labs))
    fast = csv_fast.read_numeric(path, names, feats, labs, workers())
    if fast is not None and not bad_labels(fast[1]).any():
        return _part_from_arrays(fast[0], fast[1], feats, labs, req.fraction, req.seed, path)
    del fast  # not plain numbers, or bad labels: pyarrow reads it and words the error
    table = reader.table([c for c in names if c in set(feats) | set(labs)])
    n = table.num_rows
    if n == 0:
        raise DataError(path, "no data rows (the file has a header only)")
    batches = table.to_batches()
    del table
    return _split_part(
        batches, lambda: _drain(batches), feats, labs, n, req, path, reader.cell_text
    )


def _load_parquet(path: str, req: _Request) -> _Part:
    reader = ParquetReader(path)
    feats, labs = resolve_columns(reader.columns, req.features, req.labels or [], path)
    req.check(len(feats), len(labs))
    n = reader.num_rows() or 0
    if n == 0:
        raise DataError(path, "no data rows")
    return _split_part(
        reader.batches(labs, _LOAD_BATCH_ROWS),
        lambda: reader.batches(feats, _LOAD_BATCH_ROWS),
        feats,
        labs,
        n,
        req,
        path,
    )


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
        return _Part(xn, yn, None, None, features, labels, None)
    x_train, y_train = xn[~mask], yn[~mask]
    return _Part(x_train, y_train, xn[mask], yn[mask], features, labels, mask)


def _no_check(n_features: int, n_labels: int, where: str) -> None:
    pass


def _read(data: DataConfig, seed: int, check: SizeCheck) -> tuple[_Part, _Part | None]:
    """The training file's part (split when no val_path) and the val_path part, raw."""
    if data.source == "random":
        return _random_part(data, seed), None
    if data.path is None:  # pragma: no cover - the config requires it
        raise DataError("data.path", f"required for source {data.source!r}")
    path = data.path

    def checked(n_features: int, n_labels: int, where: str = path) -> None:
        check(n_features, n_labels, where)
        if n_labels == 0:
            raise DataError(where, "no label columns")

    fraction = 0.0 if data.val_path is not None else data.holdout
    part = _load_part(
        data.source, path, _Request(data.features, data.labels, fraction, seed, checked)
    )
    if data.val_path is None:
        return part, None
    vp = data.val_path
    val = _load_part(
        data.source,
        vp,
        _Request(part.features, part.labels, 0.0, seed, lambda f, n: checked(f, n, vp)),
    )
    return part, val


def load_dataset(data: DataConfig, seed: int, check: SizeCheck | None = None) -> Dataset:
    """Load, check, split and preprocess the data `data` describes, split with `seed`.

    Raises `DataError` (exit 3) for anything wrong with the data; `check(n_features,
    n_labels, file)` is called as soon as the sizes are known, before the values are read.
    """
    part, val = _read(data, seed, check or _no_check)
    x_train, y_train, x_val, y_val = part.x_train, part.y_train, part.x_val, part.y_val
    where = "random data" if data.path is None else data.path
    heldout = _heldout_of(part, where, data.holdout, seed)
    if val is not None:
        assert data.val_path is not None
        x_val, y_val = val.x_train, val.y_train
        heldout = _whole_file_heldout(val, data.val_path, seed)
        rows = f"{len(x_train)} train rows; {data.val_path}: {len(x_val)} val rows"
    elif x_val is not None:
        rows = f"{len(x_train)} train / {len(x_val)} val rows"
    else:
        rows = f"{plural(len(x_train), 'row')}"
    # the tutorial feeds raw torch.rand values: random data is never normalized
    normalize = "none" if data.source == "random" else data.normalize
    pre = Preprocessor(part.features, normalize).fit(x_train)
    train_where = "random data" if data.path is None else data.path
    transform_checked(pre, x_train, train_where, rows=_file_rows(part.mask, held=False))
    if x_val is not None:
        if val is not None:
            assert data.val_path is not None
            transform_checked(pre, x_val, data.val_path)
        else:
            transform_checked(pre, x_val, train_where, rows=_file_rows(part.mask, held=True))
    if data.source == "random":
        desc = f"random data (seed {seed}): {rows}, "
    else:
        desc = f"{where}: {rows}, "
    return Dataset(
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(y_train),
        x_val=None if x_val is None else torch.from_numpy(x_val),
        y_val=None if y_val is None else torch.from_numpy(y_val),
        feature_names=part.features,
        label_names=part.labels,
        preprocessor=pre,
        heldout=heldout,
        description=desc
        + f"{plural(len(part.features), 'feature')}, {plural(len(part.labels), 'label')}",
    )


def _file_rows(mask: Mask | None, held: bool) -> npt.NDArray[np.int64] | None:
    """The file's data rows (1-based) of the held-out (`held`) or training rows of a split;
    None when nothing was split off (row i is then the file's row i + 1)."""
    if mask is None:
        return None
    return np.flatnonzero(mask if held else ~mask) + 1


@dataclass
class HeldOutRows:
    """The held-out rows of a run, read again (`read_heldout`): features (raw, or
    transformed), labels, a description, and where each row is in its file."""

    x: F32  # (M, F) float32
    y: F32  # (M, L) float32
    desc: str  # "114 held-out rows of data/x.csv"
    where: str  # the file they are in
    rows: npt.NDArray[np.int64] | None  # their file rows (1-based); None: rows 1..M


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
    (a value that does not standardize to a finite float32 is then a `DataError` naming the
    file's column and row), labels, and their file rows (for `check_outputs`).

    Read again from the files the config names, split as in training. With a `heldout`
    record, the rows must be the ones the run held out: a file that changed since is a
    `DataError` that says so. (Models of format 1 carry no record; their split is rebuilt
    from the config and seed alone.)
    """
    part, val = _read(data, seed, _no_check)
    rows: npt.NDArray[np.int64] | None = None
    if val is not None:
        assert data.val_path is not None
        now = _whole_file_heldout(val, data.val_path, seed)
        x, y = val.x_train, val.y_train
        desc = f"held-out data of {data.val_path}"
        where = data.val_path
    else:
        where = data.path if data.path is not None else "random data"
        if part.x_val is None or part.y_val is None:
            raise DataError(where, "no rows are held out under this config")
        now = _heldout_of(part, where, data.holdout, seed)  # type: ignore[assignment]
        x, y = part.x_val, part.y_val
        rows = _file_rows(part.mask, held=True)
        desc = f"{len(x)} held-out rows of {data.path or 'random data'}"
    read_features = (val or part).features
    if pre is not None and read_features != pre.feature_names:
        missing = [c for c in pre.feature_names if c not in read_features]
        extra = [c for c in read_features if c not in pre.feature_names]
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
    if pre is not None:
        transform_checked(pre, x, where, rows=rows)
    return HeldOutRows(x, y, desc, where, rows)
