"""The resumable state: `Trainer.state_dict()` as ONE safetensors file, never a pickle.

A state is a nested structure of torch tensors, numpy arrays and scalars, and plain Python
values (None, bool, int of any size, float including inf/nan/-0.0, str, list, tuple, and
dicts whose keys are any of those scalars or tuples of them — the optimizer's state is keyed
by int parameter ids). It is split in two:

- every tensor and array goes into the safetensors data, named `t0`, `t1`, ... in the order
  met (a fresh contiguous CPU copy each: safetensors refuses shared storage, and a tensor
  that is a view of another is saved as its own values);
- the rest becomes a JSON *skeleton* in the metadata entry `state`, in which a JSON object
  is always a tagged node, so that nothing is ambiguous:

  | Python value            | skeleton                                                    |
  |-------------------------|-------------------------------------------------------------|
  | None, bool, str         | null, true/false, a string                                  |
  | int                     | a number; `{"$int": "-0x1f..."}` past 1024 bits (JSON and   |
  |                         | Python's int-digit limit)                                   |
  | finite float            | a number with its shortest repr (exact for float64, -0.0)   |
  | inf, -inf, nan          | `{"$float": "7ff8000000000000"}`: the IEEE bits, payload kept |
  | list / tuple            | `{"$list": [...]}` / `{"$tuple": [...]}`                      |
  | dict / OrderedDict      | `{"$dict": [[key, value], ...]}` / `{"$odict": ...}`          |
  | torch.Tensor            | `{"$tensor": "t3", "dtype": "float32", "shape": [2, 3]}`      |
  | numpy array / scalar    | `{"$ndarray": "t4", "dtype": "<u4", "shape": [624]}` /      |
  |                         | `{"$npscalar": "t5", "dtype": "<f8"}` (raw bytes, any       |
  |                         | fixed-size dtype, byte order kept)                          |

  (random.setstate and np.random.set_state need their tuples back, and
  Optimizer.load_state_dict its int keys: the tags keep every type as it was saved.)

Metadata (safetensors' string map), exactly these keys: `kind` = "sigmoidnet-state",
`format_version`, `sigmoidnet_version`, `summary` (JSON: `epoch` and `global_step`, read by
`peek_state` without touching the tensors), `state` (the skeleton) and `sha256` (of every
tensor's bytes in the order the skeleton meets them: safetensors checks the header and the
file's length, not the data, and a flipped bit in a weight would otherwise resume silently).

Saving (`save_state`) is atomic and keeps the previous good state: the new file is written to
a temporary name beside the target and fsynced; the current state (when it is one) is
hard-linked to a temporary name that then replaces `*.prev.safetensors`; only then does the
new file replace the current one, and the folder is fsynced. At every instant a complete
state exists under the final name. Temporary files left by a kill are hidden `.tmp` names,
never read as a state, and removed by the next save.

Loading (`load_state`) trusts nothing: a missing, truncated, foreign, tampered or newer file
is a one-line `CheckpointError` (exit 4) naming it — and saying so when the previous state
beside it is intact. Tensors are read with safetensors (no pickle) onto the CPU.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from sigmoidnet import __version__
from sigmoidnet.errors import CheckpointError
from sigmoidnet.fsutil import (
    _fsync_dir,
    _fsync_file,
    atomic_path,
    input_file_problem,
    output_error,
    temp_name,
)

__all__ = [
    "FORMAT_VERSION",
    "KIND",
    "PREV_STATE",
    "STATE",
    "load_state",
    "peek_state",
    "prev_path",
    "save_state",
]

STATE = "state.safetensors"
PREV_STATE = "state.prev.safetensors"
KIND = "sigmoidnet-state"
FORMAT_VERSION = 1

#: nesting depth of a state (ours is about 6 deep); deeper is a bug on save, tampering on load
MAX_DEPTH = 64
#: ints wider than this go as hex text: JSON readers and Python's int-digit limit stop short
_PLAIN_INT_BITS = 1024
#: a hex int on load: at most this many digits (a million bits)
_MAX_HEX_DIGITS = 250_000

_HEX_INT = re.compile(rf"-?0x[0-9a-f]{{1,{_MAX_HEX_DIGITS}}}")

_METADATA_KEYS = frozenset(
    {"kind", "format_version", "sigmoidnet_version", "summary", "state", "sha256"}
)
_WRITE = "cannot write the resumable state"

#: the torch dtypes safetensors stores, by the name the skeleton gives them
_TORCH_DTYPES: dict[str, torch.dtype] = {
    name: dt
    for name in [
        "float64",
        "float32",
        "float16",
        "bfloat16",
        "int64",
        "int32",
        "int16",
        "int8",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "bool",
        "complex64",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
    ]
    if isinstance(dt := getattr(torch, name, None), torch.dtype)
}
_TORCH_DTYPE_NAMES = {dt: name for name, dt in _TORCH_DTYPES.items()}


def prev_path(path: Path) -> Path:
    """Where the previous state of `path` is kept: `state.safetensors` →
    `state.prev.safetensors` (any `X.safetensors` → `X.prev.safetensors`)."""
    stem = path.name.removesuffix(".safetensors")
    return path.with_name(f"{stem}.prev.safetensors")


# ---------------------------------------------------------------------------------------------
# encoding


class _Encoder:
    """Walks a state once: the tensors it holds, by name, and its JSON skeleton. An
    unsupported value is a `TypeError` (a bug of the caller, not a user error)."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.digest = hashlib.sha256()  # of every tensor's bytes, in the order met

    def _add(self, t: torch.Tensor) -> str:
        name = f"t{len(self.tensors)}"
        self.tensors[name] = t
        _hash_tensor(self.digest, t)
        return name

    def encode(self, v: Any, depth: int = 0, where: str = "state") -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if v.bit_length() <= _PLAIN_INT_BITS else {"$int": hex(v)}
        if t is float:
            if math.isfinite(v):
                return v
            return {"$float": struct.pack(">d", v).hex()}
        if t is list or t is tuple:
            tag = "$list" if t is list else "$tuple"
            return {tag: [self.encode(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v)]}
        if t is dict or t is OrderedDict:
            tag = "$dict" if t is dict else "$odict"
            pairs = []
            for k, x in v.items():
                pairs.append([self.key(k, where), self.encode(x, depth + 1, f"{where}[{k!r}]")])
            return {tag: pairs}
        if isinstance(v, torch.Tensor):
            return self.tensor(v, where)
        if isinstance(v, np.ndarray) and t is np.ndarray:
            return self.array(v, "$ndarray", where)
        if isinstance(v, np.generic):
            return self.array(np.asarray(v), "$npscalar", where)
        raise TypeError(f"{where}: a {t.__module__}.{t.__qualname__} cannot be saved in a state")

    def key(self, k: Any, where: str) -> Any:
        t = type(k)
        if k is None or t in (bool, int, float, str):
            return self.encode(k, 0, where)
        if t is tuple:
            return {"$tuple": [self.key(x, where) for x in k]}
        raise TypeError(f"{where}: a dict key of type {t.__qualname__} cannot be saved")

    def tensor(self, v: torch.Tensor, where: str) -> dict[str, Any]:
        name = _TORCH_DTYPE_NAMES.get(v.dtype)
        if name is None or v.layout != torch.strided or v.is_quantized:
            raise TypeError(f"{where}: a {v.dtype} ({v.layout}) tensor cannot be saved in a state")
        src = v.detach()
        if src.device.type == "cpu":  # a fresh copy: no storage shared with the caller
            out = src.clone(memory_format=torch.contiguous_format)
        else:
            out = src.to("cpu").contiguous()
        out = out.resolve_conj().resolve_neg()
        return {"$tensor": self._add(out), "dtype": name, "shape": list(out.shape)}

    def array(self, a: np.ndarray, tag: str, where: str) -> dict[str, Any]:
        if a.dtype.hasobject or a.dtype.itemsize == 0:
            raise TypeError(f"{where}: a numpy array of dtype {a.dtype} cannot be saved")
        raw = np.ascontiguousarray(a).reshape(-1).view(np.uint8)  # its bytes, byte order kept
        name = self._add(torch.from_numpy(raw.copy()))
        node: dict[str, Any] = {tag: name, "dtype": a.dtype.str}
        if tag == "$ndarray":
            node["shape"] = list(a.shape)
        return node


def _hash_tensor(digest: Any, t: torch.Tensor) -> None:
    """Add a contiguous CPU tensor's bytes to `digest` (any dtype: bf16 has no numpy)."""
    digest.update(t.reshape(-1).view(torch.uint8).numpy())


def _summary(state: dict[str, Any]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for key in ("epoch", "global_step"):
        v = state.get(key)
        out[key] = v if type(v) is int else None
    return out


def to_bytes(state: dict[str, Any]) -> bytes:
    """The state file's bytes (safetensors: the tensors, and the skeleton as metadata)."""
    if type(state) is not dict:
        raise TypeError(f"a state is a dict, got {type(state).__qualname__}")
    enc = _Encoder()
    skeleton = enc.encode(state)
    metadata = {
        "kind": KIND,
        "format_version": str(FORMAT_VERSION),
        "sigmoidnet_version": __version__,
        "summary": json.dumps(_summary(state), allow_nan=False),
        "state": json.dumps(skeleton, allow_nan=False, separators=(",", ":")),
        "sha256": enc.digest.hexdigest(),
    }
    data: bytes = st_save(enc.tensors, metadata=metadata)
    return data


# ---------------------------------------------------------------------------------------------
# saving


def _remove_strays(path: Path) -> None:
    """Remove the temporary files a killed save of `path` left behind (hidden `.tmp` names
    that `fsutil.temp_name` gives; one process saves a run's state at a time)."""
    prefix = temp_name(path).name.rsplit(".", 3)[0]  # `.<name>` without `.<pid>.<hex>.tmp`
    pattern = re.compile(re.escape(prefix) + r"\.[0-9]+\.[0-9a-f]{8}\.tmp")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return  # the write itself will name the problem
    for entry in entries:
        if pattern.fullmatch(entry.name):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _is_state_file(path: Path) -> bool:
    """Whether `path` holds a complete state file of a format we know (the header and the
    file size checked, the tensor data not read): only such a file becomes the previous
    state."""
    try:
        handle, _ = _open_state(path, str(path))
    except CheckpointError:
        return False
    with handle:
        return True


def _keep_previous(path: Path, prev: Path) -> None:
    """Make the current state `path` (when it is a good one) the previous state `prev`,
    atomically: a hard link (or a copy, where links are not possible) under a temporary name
    replaces `prev`; `path` itself is left in place."""
    if not _is_state_file(path):
        return
    with contextlib.suppress(OSError):
        if os.path.samefile(path, prev):  # a save interrupted after this step: done already
            return
    tmp = temp_name(prev)
    try:
        try:
            os.link(path, tmp)
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno == errno.EEXIST:
                raise
            shutil.copyfile(path, tmp)  # no hard links on this file system
            _fsync_file(tmp)
        os.replace(tmp, prev)
        # rename() between two links of one file does nothing and leaves `tmp` (POSIX)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` atomically, the current state there becoming `prev_path(path)`.

    A write that fails is a one-line `OutputError` (exit 3 for a full disk or an I/O error,
    2 for a path that cannot be used) and leaves the state files as they were. A value that
    cannot be saved is a `TypeError` (a bug)."""
    path = Path(path)
    data = to_bytes(state)  # before touching any file: a bad value changes nothing
    prev = prev_path(path)
    _remove_strays(path)
    _remove_strays(prev)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
            _keep_previous(path, prev)
    except OSError as e:
        raise output_error(str(path), e, _WRITE) from None


# ---------------------------------------------------------------------------------------------
# loading


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(text: str, what: str, where: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError:
        raise CheckpointError(where, f"tampered state: {what} is nested too deeply") from None
    except ValueError as e:
        detail = _one_line(str(e).splitlines()[0] if str(e) else type(e).__name__, 100)
        raise CheckpointError(
            where, f"tampered state: {what} is not valid JSON ({detail})"
        ) from None


def _open_state(path: Path, where: str) -> tuple[Any, dict[str, str]]:
    """The file opened with safetensors (header and size checked, no tensor read) and its
    metadata, checked to be a sigmoidnet state of a format this version reads."""
    problem = input_file_problem(path, missing="no such file")
    if problem == "is a directory":
        problem = "is a directory, expected a state file"
    if problem is not None:
        raise CheckpointError(where, problem)
    try:
        handle: Any = safe_open(str(path), framework="pt", device="cpu")
        meta = handle.metadata()
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            where, f"not a state file, or truncated ({_one_line(str(e), 120)})"
        ) from None
    try:
        _check_metadata(meta, where)
    except BaseException:
        handle.__exit__(None, None, None)
        raise
    return handle, meta


def _check_metadata(meta: Any, where: str) -> None:
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        if isinstance(meta, dict) and meta.get("format") == "sigmoidnet":
            raise CheckpointError(where, "a sigmoidnet model, not a resumable state")
        raise CheckpointError(where, "a safetensors file, but not a sigmoidnet state")
    text = meta.get("format_version")
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise CheckpointError(where, f"bad format_version {text!r} in the state's metadata")
    if int(text) > FORMAT_VERSION:
        raise CheckpointError(
            where,
            f"state format version {int(text)} is newer than this sigmoidnet ({__version__}) "
            f"reads (up to {FORMAT_VERSION}); upgrade sigmoidnet",
        )
    missing = sorted(_METADATA_KEYS - set(meta))
    if missing:
        raise CheckpointError(where, f"tampered state: metadata entry {missing[0]!r} is missing")
    extra = sorted(set(meta) - _METADATA_KEYS)
    if extra:
        raise CheckpointError(where, f"tampered state: unknown metadata entry {extra[0]!r}")


def _parse_summary(meta: dict[str, str], where: str) -> dict[str, int | None]:
    summary = _parse_json(meta["summary"], "the summary", where)
    if not isinstance(summary, dict) or set(summary) != {"epoch", "global_step"}:
        raise CheckpointError(where, "tampered state: the summary is not {epoch, global_step}")
    for key, v in summary.items():
        if not (v is None or (type(v) is int and v >= 0)):
            raise CheckpointError(where, f"tampered state: summary {key} is {v!r}")
    return summary


class _Decoder:
    """Rebuilds the structure from its skeleton, each tensor read once from the file; every
    departure from what `_Encoder` writes is a `CheckpointError`."""

    def __init__(self, handle: Any, where: str) -> None:
        self.handle = handle
        self.where = where
        self.names = set(handle.keys())
        self.used: set[str] = set()
        self.digest = hashlib.sha256()

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(self.where, f"tampered state: {_one_line(what, 200)}")

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"the skeleton is nested more than {MAX_DEPTH} levels deep")
        t = type(node)
        if node is None or t is bool or t is str or t is int:
            return node
        if t is float:
            if not math.isfinite(node):  # never written as a plain number
                raise self.fail(f"a plain non-finite number {node!r}")
            return node
        if t is list:
            raise self.fail("a bare JSON list in the skeleton")
        tags = [k for k in node if k.startswith("$")]
        if len(tags) != 1:
            raise self.fail(f"a node with keys {sorted(node)[:4]}")
        tag = tags[0]
        if tag in ("$list", "$tuple"):
            items = self._only(node, tag, list)
            out = [self.decode(x, depth + 1) for x in items]
            return out if tag == "$list" else tuple(out)
        if tag in ("$dict", "$odict"):
            pairs = self._only(node, tag, list)
            d: dict[Any, Any] = {} if tag == "$dict" else OrderedDict()
            for pair in pairs:
                if type(pair) is not list or len(pair) != 2:
                    raise self.fail(f"a {tag} entry that is not a [key, value] pair")
                key = self.decode_key(pair[0], depth + 1)
                if key in d:
                    raise self.fail(f"the key {key!r} twice in one dict")
                d[key] = self.decode(pair[1], depth + 1)
            return d
        if tag == "$int":
            text = self._only(node, tag, str)
            if not _HEX_INT.fullmatch(text):
                raise self.fail(f"a bad $int {text[:40]!r}")
            return int(text, 16)
        if tag == "$float":
            text = self._only(node, tag, str)
            if not re.fullmatch(r"[0-9a-f]{16}", text):
                raise self.fail(f"a bad $float {text[:40]!r}")
            value: float = struct.unpack(">d", bytes.fromhex(text))[0]
            return value
        if tag == "$tensor":
            return self.tensor(node)
        if tag in ("$ndarray", "$npscalar"):
            return self.array(node, tag)
        raise self.fail(f"an unknown node {_one_line(json.dumps(node), 60)}")

    def decode_key(self, node: Any, depth: int) -> Any:
        key = self.decode(node, depth)
        if not _is_key(key):
            raise self.fail(f"a dict key of type {type(key).__qualname__}")
        return key

    def _only(self, node: dict[str, Any], tag: str, kind: type, extra: tuple[str, ...] = ()) -> Any:
        if set(node) != {tag, *extra}:
            raise self.fail(f"a {tag} node with keys {sorted(node)}")
        value = node[tag]
        if type(value) is not kind:
            raise self.fail(f"a {tag} node holding {type(value).__qualname__}")
        return value

    def _take(self, name: str) -> torch.Tensor:
        if name not in self.names:
            raise self.fail(f"the skeleton refers to tensor {name!r}, which the file lacks")
        if name in self.used:
            raise self.fail(f"the skeleton refers to tensor {name!r} twice")
        self.used.add(name)
        try:
            t: torch.Tensor = self.handle.get_tensor(name)
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(
                self.where, f"cannot read tensor {name!r} ({_one_line(str(e), 100)})"
            ) from None
        _hash_tensor(self.digest, t)
        return t

    def _shape(self, value: Any, tag: str) -> tuple[int, ...]:
        if type(value) is not list or not all(type(n) is int and n >= 0 for n in value):
            raise self.fail(f"a {tag} node with a bad shape")
        return tuple(value)

    def tensor(self, node: dict[str, Any]) -> torch.Tensor:
        name = self._only(node, "$tensor", str, ("dtype", "shape"))
        dtype = _TORCH_DTYPES.get(node["dtype"]) if type(node["dtype"]) is str else None
        if dtype is None:
            raise self.fail(f"tensor {name!r} of unknown dtype {node['dtype']!r}")
        shape = self._shape(node["shape"], "$tensor")
        t = self._take(name)
        if t.dtype != dtype or tuple(t.shape) != shape:
            raise self.fail(
                f"tensor {name!r} is {str(t.dtype).removeprefix('torch.')} {list(t.shape)} in "
                f"the file, {node['dtype']} {list(shape)} in the skeleton"
            )
        return t

    def array(self, node: dict[str, Any], tag: str) -> Any:
        scalar = tag == "$npscalar"
        name = self._only(node, tag, str, ("dtype",) if scalar else ("dtype", "shape"))
        try:
            dtype = np.dtype(node["dtype"]) if type(node["dtype"]) is str else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.hasobject or dtype.itemsize == 0:
            raise self.fail(f"array {name!r} of unusable dtype {node['dtype']!r}")
        shape = () if scalar else self._shape(node["shape"], tag)
        raw = self._take(name)
        if raw.dtype != torch.uint8 or raw.dim() != 1:
            raise self.fail(f"array {name!r} is not stored as raw bytes")
        if raw.numel() != math.prod(shape) * dtype.itemsize:
            raise self.fail(
                f"array {name!r} holds {raw.numel()} bytes, not {dtype.str} {list(shape)}"
            )
        arr = raw.numpy().view(dtype).reshape(shape).copy()
        return arr[()] if scalar else arr


def _is_key(k: Any) -> bool:
    if k is None or type(k) in (bool, int, float, str):
        return True
    return type(k) is tuple and all(_is_key(x) for x in k)


def _load(path: Path) -> tuple[dict[str, Any], dict[str, int | None]]:
    """The state and its summary."""
    where = str(path)
    handle, meta = _open_state(path, where)
    with handle:
        summary = _parse_summary(meta, where)
        skeleton = _parse_json(meta["state"], "the state's skeleton", where)
        dec = _Decoder(handle, where)
        state = dec.decode(skeleton)
        if type(state) is not dict:
            raise dec.fail("the skeleton is not a dict")
        unused = sorted(dec.names - dec.used)
        if unused:
            raise dec.fail(f"tensor {unused[0]!r} is in the file but not in the skeleton")
        if _summary(state) != summary:
            raise dec.fail(f"the summary {summary} disagrees with the state")
        if dec.digest.hexdigest() != meta["sha256"]:
            raise CheckpointError(
                where, "the tensor data is damaged (its SHA-256 does not match the one saved)"
            )
    return state, summary


def _prev_hint(path: Path) -> str:
    """What the previous state beside a damaged one offers, for the error message."""
    prev = prev_path(path)
    if prev == path or not os.path.lexists(prev):
        return ""
    try:
        _, summary = _load(prev)
    except CheckpointError:
        return f"; the previous state beside it ({prev.name}) is damaged too"
    at = ", ".join(
        f"{label} {summary[key]}"
        for key, label in (("epoch", "epoch"), ("global_step", "step"))
        if summary[key] is not None
    )
    return (
        f"; the previous state beside it ({prev.name}{', ' + at if at else ''}) is intact: "
        f"rename it to {path.name} to resume from it"
    )


def load_state(path: Path) -> dict[str, Any]:
    """The state saved at `path`, equal to the one saved (types kept, tensors bitwise equal,
    on the CPU). Every problem is a one-line `CheckpointError` (exit 4) naming the file."""
    path = Path(path)
    try:
        return _load(path)[0]
    except CheckpointError as e:
        raise CheckpointError(e.where, e.what + _prev_hint(path)) from None


def peek_state(path: Path) -> dict[str, int | None]:
    """The state's summary, `{"epoch": ..., "global_step": ...}`, without reading its
    tensors (for messages); a file that is not a state is a `CheckpointError`."""
    path = Path(path)
    handle, meta = _open_state(path, str(path))
    with handle:
        return _parse_summary(meta, str(path))
