"""NPZ: arrays `X` (N, F) and `y` (N,) or (N, L); optional string arrays `feature_names` and
`label_names`. Loaded with `allow_pickle=False`: nothing is ever unpickled. Without names,
features are called `x0..x{F-1}` and labels `y0..y{L-1}`; config `features` / `labels` then
name the columns positionally (and must have the right count); with names they select
columns by name, like for CSV. The arrays are numeric already, so they are read straight into
numpy (`read_arrays` for training, `npz_batches` streamed for eval/predict), not through Arrow.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sigmoidnet.data.batch import Batch
from sigmoidnet.data.columns import match_columns
from sigmoidnet.data.convert import check_finite_np, check_labels_np
from sigmoidnet.data.messages import check_file, check_unique, nearest, one_line, plural
from sigmoidnet.errors import DataError

F32 = npt.NDArray[np.float32]


def read_arrays(
    path: str,
    features: Sequence[str] | None,
    labels: Sequence[str] | None,
    check: Callable[[int, int], None],
) -> tuple[F32, F32, list[str], list[str]]:
    """The selected, checked (N, F) features and (N, L) labels of a whole file, and names."""
    where = path
    with open_npz(path, where) as z:
        # the sizes from the arrays' headers first: the size and memory checks run before
        # any array is read (a header may declare a shape nobody can allocate)
        x_shape, y_shape = _declared_shape(path, "X", where), _declared_shape(path, "y", where)
        if len(x_shape) != 2:
            raise DataError(where, f"array 'X' must be 2-D (rows, features), got shape {x_shape}")
        if len(y_shape) not in (1, 2):
            raise DataError(
                where, f"array 'y' must be 1-D or 2-D (rows, labels), got shape {y_shape}"
            )
        n_x, n_y = x_shape[1], (1 if len(y_shape) == 1 else y_shape[1])
        # sizes first, before a name is made for every column (a header may declare 1e12)
        check(n_x if features is None else len(features), n_y if labels is None else len(labels))
        fnames = npz_names(z, "feature_names", n_x, where)
        lnames = npz_names(z, "label_names", n_y, where)
        feats, fidx = npz_select(fnames, n_x, features, "feature", "x", where)
        labs, lidx = npz_select(lnames, n_y, labels, "label", "y", where)
        overlap = set(feats) & set(labs)
        if overlap and (fnames is not None or features is not None):
            name = sorted(overlap)[0]
            raise DataError(where, f"column {name!r} is listed both as a feature and a label")
        check(len(feats), len(labs))
        x_all, y_all = npz_xy(z, where)
    n = len(x_all)
    if n == 0:
        raise DataError(where, "no data rows (array 'X' is empty)")
    if not feats:
        raise DataError(where, "no feature columns (array 'X' has 0 columns)")
    if lidx != list(range(y_all.shape[1])):
        y_all = y_all[:, lidx]
    check_labels_np(y_all, labs, 1, where)
    y = np.ascontiguousarray(y_all, dtype=np.float32)
    if fidx != list(range(x_all.shape[1])):
        x_all = x_all[:, fidx]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        x = np.ascontiguousarray(x_all, dtype=np.float32)
    check_finite_np(x, feats, 1, where, x_all)
    del x_all
    return x, y, feats, labs


def _declared_shape(path: str, name: str, where: str) -> tuple[int, ...]:
    """The shape the `.npy` header of array `name` declares, read without its data."""
    try:
        with zipfile.ZipFile(path) as zf:
            if f"{name}.npy" not in zf.namelist():
                raise DataError(where, f"array {name!r} not found")
            with zf.open(f"{name}.npy") as fp:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise DataError(where, f"array {name!r} cannot be read ({one_line(e)})") from None
    if dtype.hasobject:
        raise DataError(
            where, f"array {name!r} cannot be read (it holds Python objects: unpickling refused)"
        )
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise DataError(where, f"array {name!r} declares a negative shape {shape}")
    return shape


def open_npz(path: str, where: str) -> Any:
    check_file(path, where)
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(where, f"not a readable .npz file ({one_line(e)})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(where, "expected an .npz archive (arrays X and y), got a single array")
    return z


def npz_array(z: Any, name: str, where: str) -> npt.NDArray[Any]:
    if name not in z.files:
        raise DataError(where, f"array {name!r} not found (arrays: {', '.join(z.files) or 'none'})")
    try:
        return np.asarray(z[name])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(where, f"array {name!r} cannot be read ({one_line(e)})") from None


def npz_names(z: Any, key: str, count: int, where: str) -> list[str] | None:
    if key not in z.files:
        return None
    arr = npz_array(z, key, where)
    if arr.dtype.kind not in "US" or arr.ndim != 1:
        raise DataError(where, f"array {key!r} must be a 1-D array of strings, got {arr.dtype}")
    names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr]
    if len(names) != count:
        raise DataError(where, f"array {key!r} has {len(names)} names for {count} columns")
    check_unique(names, where)
    return names


def check_numeric(arr: npt.NDArray[Any], name: str, where: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise DataError(where, f"array {name!r} has dtype {arr.dtype}, expected numbers")


def npz_xy(z: Any, where: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    x = npz_array(z, "X", where)
    if x.ndim != 2:
        raise DataError(where, f"array 'X' must be 2-D (rows, features), got shape {x.shape}")
    check_numeric(x, "X", where)
    y = npz_array(z, "y", where)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2:
        raise DataError(where, f"array 'y' must be 1-D or 2-D (rows, labels), got shape {y.shape}")
    check_numeric(y, "y", where)
    if len(y) != len(x):
        raise DataError(where, f"array 'y' has {len(y)} rows but 'X' has {len(x)}")
    return x, y


def npz_select(
    file_names: list[str] | None,
    count: int,
    wanted: Sequence[str] | None,
    kind: str,
    prefix: str,
    where: str,
) -> tuple[list[str], list[int]]:
    """(names, column indices) of the selected NPZ columns."""
    if file_names is None:
        if wanted is None:
            return [f"{prefix}{j}" for j in range(count)], list(range(count))
        if len(wanted) != count:
            raise DataError(
                where,
                f"{len(wanted)} {kind} names given but the file has {count} {kind} columns"
                f" and no {kind}_names array",
            )
        return list(wanted), list(range(count))
    if wanted is None:
        return file_names, list(range(count))
    index = {n: j for j, n in enumerate(file_names)}
    for name in wanted:
        if name not in index:
            raise DataError(where, f"{kind} column {name!r} not found{nearest(name, file_names)}")
    return list(wanted), [index[n] for n in wanted]


class NpyReader:
    """Rows of one array inside an .npz, read sequentially without loading it whole."""

    def __init__(self, zf: zipfile.ZipFile, member: str, where: str, name: str) -> None:
        self.name = name
        self._full: npt.NDArray[Any] | None = None
        self._fp: IO[bytes] | None = None
        try:
            fp = zf.open(member)
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                shape, fortran, dtype = (), True, np.dtype(np.float64)
            if fortran or dtype.hasobject or version not in ((1, 0), (2, 0)):
                fp.close()
                with zf.open(member) as f2:
                    self._full = np.asarray(np.load(f2, allow_pickle=False))
                shape, dtype = self._full.shape, self._full.dtype
            else:
                self._fp = fp
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(where, f"array {name!r} cannot be read ({one_line(e)})") from None
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        if any(s < 0 for s in self.shape):
            self.close()
            raise DataError(where, f"array {name!r} declares a negative shape {self.shape}")
        self.dtype: np.dtype[Any] = dtype
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize
        self._pos = 0
        self._where = where

    def read(self, k: int) -> npt.NDArray[Any]:
        if self._full is not None:
            out = self._full[self._pos : self._pos + k]
        else:
            assert self._fp is not None
            data = self._fp.read(k * self._row_bytes)
            if len(data) != k * self._row_bytes:
                raise DataError(self._where, f"array {self.name!r} is truncated")
            out = np.frombuffer(data, dtype=self.dtype).reshape((k, *self.shape[1:]))
        self._pos += k
        return out

    def close(self) -> None:
        if self._fp is not None:
            self._fp.close()


def npz_batches(
    path: str,
    feature_names: Sequence[str],
    label_names: Sequence[str] | None,
    require_labels: bool,
    keep: Sequence[str],
    rows: int,
    where: str,
) -> Iterator[Batch]:
    with open_npz(path, where) as z:
        files = list(z.files)
        fnames: list[str] | None = None
        if "feature_names" in files:
            arr = npz_array(z, "feature_names", where)
            fnames = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
        lnames: list[str] | None = None
        if "label_names" in files:
            arr = npz_array(z, "label_names", where)
            lnames = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
    for name in keep:
        if name not in files:
            raise DataError(where, f"keep column {name!r} not found{nearest(name, files)}")
    if "X" not in files:
        raise DataError(where, f"array 'X' not found (arrays: {', '.join(files)})")
    want_labels = label_names is not None and require_labels
    if want_labels and "y" not in files:
        raise DataError(where, "array 'y' (the labels) not found")
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:  # pragma: no cover - np.load opened it
        raise DataError(where, f"not a readable .npz file ({one_line(e)})") from None
    readers: list[NpyReader] = []
    try:
        xr = NpyReader(zf, "X.npy", where, "X")
        readers.append(xr)
        if len(xr.shape) != 2:
            raise DataError(where, f"array 'X' must be 2-D (rows, features), got shape {xr.shape}")
        check_numeric(np.empty(0, xr.dtype), "X", where)
        n, f = xr.shape
        if fnames is not None:
            check_unique(fnames, where)
            if len(fnames) != f:
                raise DataError(where, f"array 'feature_names' has {len(fnames)} names for {f}")
            match_columns(fnames, feature_names, None, False, (), where)
            for pos, (want, got) in enumerate(zip(feature_names, fnames, strict=True), 1):
                if want != got:  # X's columns are positional: its names must be in order
                    raise DataError(
                        where,
                        f"columns out of order: expected {want!r} at position {pos}, got {got!r}",
                    )
        elif f != len(feature_names):
            raise DataError(
                where,
                f"array 'X' has {plural(f, 'feature')} but the model expects {len(feature_names)}",
            )
        yr: NpyReader | None = None
        if want_labels and label_names is not None:
            yr = NpyReader(zf, "y.npy", where, "y")
            readers.append(yr)
            check_numeric(np.empty(0, yr.dtype), "y", where)
            n_lab = 1 if len(yr.shape) == 1 else (yr.shape[1] if len(yr.shape) == 2 else -1)
            if n_lab < 0 or yr.shape[0] != n:
                raise DataError(where, f"array 'y' has shape {yr.shape}, 'X' has {xr.shape}")
            if lnames is not None and list(lnames) != list(label_names):
                raise DataError(
                    where, f"label names {lnames} differ from the model's {list(label_names)}"
                )
            if n_lab != len(label_names):
                raise DataError(
                    where,
                    f"array 'y' has {plural(n_lab, 'label')} but the model has {len(label_names)}",
                )
        keeps: list[NpyReader] = []
        for name in keep:
            kr = NpyReader(zf, f"{name}.npy", where, name)
            readers.append(kr)
            if len(kr.shape) != 1 or kr.shape[0] != n:
                raise DataError(
                    where, f"keep array {name!r} must be 1-D with {n} rows, got shape {kr.shape}"
                )
            keeps.append(kr)
        if n == 0:
            raise DataError(where, "no data rows (array 'X' is empty)")
        labels = list(label_names) if yr is not None and label_names is not None else []
        for start in range(0, n, rows):
            k = min(rows, n - start)
            y = None
            if yr is not None:  # labels are checked before features, as everywhere
                yraw = yr.read(k).reshape(k, -1)
                check_labels_np(yraw, labels, start + 1, where)
                y = np.ascontiguousarray(yraw, dtype=np.float32)
            raw = xr.read(k)
            x = np.empty((k, f), dtype=np.float32)
            with np.errstate(over="ignore", invalid="ignore"):
                x[...] = raw
            check_finite_np(x, feature_names, start + 1, where, raw)
            kept = pa.table({kr.name: kr.read(k) for kr in keeps}) if keeps else None
            yield Batch(x=x, y=y, keep=kept, first_row=start + 1)
    finally:
        for r in readers:
            r.close()
        zf.close()
