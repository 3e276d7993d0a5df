"""Limits: the bounds sigmoidnet puts on what it reads, and the memory a run needs.

Config limits (enforced by `sigmoidnet.config`; each is exit 2 with one line naming it):
the file size, the nesting depth, the number of values, the digits of an integer, the length
of `name`, the number of hidden layers. YAML anchors and aliases are refused outright, so
nothing expands.

Memory: `train` estimates what its data, model and batches need from the sizes alone, before
anything is allocated, and refuses (exit 2, naming the key to change, the estimate and the
memory available) when that is more than the memory available:

- the data: rows × (features + labels) × 4 bytes, twice (the table and the shuffled copy
  each epoch goes through);
- the model: parameters × 4 bytes × (weights, gradients and the optimizer's state: 2 more
  copies for Adam/AdamW, 1 for SGD with momentum);
- a batch: batch rows × (the sum of the layer widths, input and output included) × 4 bytes ×
  3 (pre-activations, activations and their gradients), or a forward pass over 65,536
  validation rows (rows × twice the widest layer × 4 bytes) if that is more.

The memory available is the smallest of /proc/meminfo's MemAvailable and the room left under
the cgroup's memory limit (Linux), else the system's available pages; the environment variable
`SIGMOIDNET_MEMORY_LIMIT` (bytes, or with a unit: 512M, 2G, 1.5GiB) replaces it, and `0` or
`none` turns the check off. Where nothing is known, nothing is refused.

`model_memory_problem` is the model half of it, for a model to be built from a checkpoint's
header (`eval`, `predict`). This module imports only the standard library (and
`sigmoidnet.errors`) at import time.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sigmoidnet.errors import UsageError

__all__ = [
    "EVAL_ROWS",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_VALUES",
    "MAX_HIDDEN_LAYERS",
    "MAX_INT_DIGITS",
    "MAX_NAME_LENGTH",
    "MEMORY_ENV",
    "Need",
    "available_memory",
    "count_text",
    "data_need",
    "file_rows",
    "format_bytes",
    "format_count",
    "memory_problem",
    "model_memory_problem",
    "model_needs",
    "model_parameters",
    "parse_size",
]

#: a config file (or one `--set` value) is at most this many bytes
MAX_CONFIG_BYTES = 1 << 20
#: mappings and lists nest at most this deep (the top-level mapping is depth 1)
MAX_CONFIG_DEPTH = 32
#: a config holds at most this many YAML nodes (keys, scalars, lists and mappings): this
#: bounds the time of the pure-Python YAML parser (about 3 s here at the limit)
MAX_CONFIG_VALUES = 100_000
#: an integer in a config has at most this many digits (Python refuses past 4,300)
MAX_INT_DIGITS = 100
#: `name` names the run directory: at most this many characters
MAX_NAME_LENGTH = 100
#: `model.hidden_sizes` has at most this many layers
MAX_HIDDEN_LAYERS = 1000
#: the most categories `data.max_categories` keeps per column (each is one model input)
MAX_CATEGORIES = 10000
#: the environment variable that replaces the memory available (bytes or with a unit)
MEMORY_ENV = "SIGMOIDNET_MEMORY_LIMIT"
#: rows per forward pass when scoring many rows (`sigmoidnet.model.EVAL_CHUNK`)
EVAL_ROWS = 1 << 16

_F32 = 4  # bytes per float32 value

# ---------------------------------------------------------------------------------------------
# Figures


def format_bytes(n: float) -> str:
    """`16.0 GB`: decimal units (1 GB = 10⁹ bytes), one decimal."""
    if n < 1000:
        return f"{int(n)} bytes"
    for unit in ("KB", "MB", "GB", "TB", "PB", "EB"):
        n /= 1000
        if n < 1000 or unit == "EB":
            return f"{n:.1f} {unit}" if n < 1e6 else f"{n:.1e} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_count(n: int) -> str:
    """`8,578`, or `4e9` / `1.3e12` for large counts."""
    if n < 1_000_000:
        return f"{n:,}"
    mantissa, exp = f"{n:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exp)}"


_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmgtp]?)(i?)b?\s*$", re.I)


def parse_size(text: str) -> int | None:
    """Bytes of `text`: `1048576`, `512M`, `2G`, `2GB` (decimal), `1.5GiB` (binary); None for
    `0`, `none`, `off` or an empty string (no limit). A ValueError for anything else."""
    if text.strip().lower() in ("", "0", "none", "off"):
        return None
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"expected a size such as 2G, 512MiB or 1048576 bytes, got {text!r}")
    value, unit, binary = float(m.group(1)), m.group(2).lower(), m.group(3)
    power = "kmgtp".find(unit) + 1 if unit else 0
    n = int(value * (1024 if binary else 1000) ** power)
    return n if n > 0 else None


# ---------------------------------------------------------------------------------------------
# The memory available


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _mem_available_linux() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    parts = line.split()
                    return int(parts[1]) * 1024 if parts[1].isdigit() else None
    except OSError:
        return None
    return None


def _cgroup_room() -> int | None:
    """Room left under this process's cgroup memory limits (v2, else v1), the tightest of its
    own and its ancestors'; None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    room: int | None = None

    def tighter(limit: int | None, used: int | None) -> None:
        nonlocal room
        if limit is None or limit >= 1 << 60:  # v1 writes "no limit" as a huge number
            return
        left = max(0, limit - (used or 0))
        room = left if room is None else min(room, left)

    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":  # v2 unified hierarchy
            root = Path("/sys/fs/cgroup")
            folder = root / rel.lstrip("/")
            while True:
                tighter(_read_int(folder / "memory.max"), _read_int(folder / "memory.current"))
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "memory" in controllers.split(","):  # v1
            for folder in (Path("/sys/fs/cgroup/memory") / rel.lstrip("/"),
                           Path("/sys/fs/cgroup/memory")):  # fmt: skip
                limit = _read_int(folder / "memory.limit_in_bytes")
                if limit is not None:
                    tighter(limit, _read_int(folder / "memory.usage_in_bytes"))
                    break
    return room


def _sysconf_available() -> int | None:
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def _rlimit_room() -> int | None:
    """Address space left under a soft RLIMIT_AS (`ulimit -v`), when one is set (Linux)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError):
        return None
    return None


def available_memory() -> int | None:
    """Bytes of memory this process can still allocate — the least of MemAvailable, the room
    under a cgroup's memory.max and under a soft RLIMIT_AS — or None when unknown (or turned off
    with `SIGMOIDNET_MEMORY_LIMIT=0`). A bad `SIGMOIDNET_MEMORY_LIMIT` is a `UsageError`
    (exit 2) naming it."""
    override = os.environ.get(MEMORY_ENV)
    if override is not None:
        try:
            return parse_size(override)
        except ValueError as e:
            raise UsageError(MEMORY_ENV, str(e)) from None
    found = [n for n in (_mem_available_linux(), _cgroup_room(), _rlimit_room()) if n is not None]
    if not found:
        sc = _sysconf_available()
        return sc
    return min(found)


# ---------------------------------------------------------------------------------------------
# Row counts from file headers (before any value is read)

_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"\xfd7zXZ")


def count_text(path: str, byte: bytes = b"\n", chunk: int = 1 << 24) -> int:
    """How many times `byte` occurs in the file (read in chunks: bounded memory)."""
    n = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            n += block.count(byte)
    return n


def file_rows(source: str, path: str, n_columns: int, enough: int | None = None) -> int | None:
    """An upper bound on the data rows of `path` (exact for Parquet and NPZ, from the header),
    read before any value; None when it cannot be known (a compressed CSV, or a file the
    format's reader will refuse with its own message).

    CSV: every data row takes at least `n_columns` bytes (a separator or line end per cell),
    so `size // n_columns` rows at most; when that is more than `enough`, the line ends are
    counted (an exact bound, still without parsing).
    """
    try:
        if source == "parquet":
            import pyarrow.parquet as pq

            return int(pq.read_metadata(path).num_rows)
        if source == "npz":
            return _npz_rows(path)
        if source == "csv":
            with open(path, "rb") as f:
                head = f.read(6)
                size = os.fstat(f.fileno()).st_size
            if head.startswith(_COMPRESSED_MAGIC) or re.search(
                r"\.(gz|bz2|zst|lz4|xz)$", path, re.I
            ):
                return None
            bound = size // max(1, n_columns)
            if enough is not None and bound > enough:
                bound = count_text(path) + 1  # the last line may lack its line end
            return bound
    except Exception:  # the reader reports its own errors, worded for the file
        return None
    return None


def _npz_rows(path: str) -> int | None:
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path) as z, z.open("X.npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape = np.lib.format.read_array_header_1_0(f)[0]
        elif version == (2, 0):
            shape = np.lib.format.read_array_header_2_0(f)[0]
        else:
            return None
    return int(shape[0]) if len(shape) >= 1 else None


# ---------------------------------------------------------------------------------------------
# Estimates


@dataclass(frozen=True)
class Need:
    """One part of what a run needs: `key` is where to change it (a config key or a file)."""

    key: str
    what: str  # "the data", "the model", "a batch"
    nbytes: int
    detail: str  # "1e12 rows × 66 values"


def model_parameters(n_in: int, hidden: Sequence[int], n_out: int) -> int:
    """Weights and biases of the MLP n_in → hidden… → n_out."""
    widths = [n_in, *hidden, n_out]
    return sum(a * b + b for a, b in itertools.pairwise(widths))


def _optimizer_copies(optimizer: str | None, momentum: float = 0.0) -> int:
    """float32 copies of the parameters that training holds: weights, gradients and state."""
    if optimizer is None:
        return 1  # inference: the weights alone
    if optimizer in ("adam", "adamw"):
        return 4  # + exp_avg, exp_avg_sq
    return 3 if momentum else 2


def _blame(widths: Sequence[int], keys: Sequence[str]) -> str:
    """The key of the larger side of the largest layer."""
    best, key = -1, keys[0]
    for i in range(len(widths) - 1):
        size = widths[i] * widths[i + 1]
        if size > best:
            best = size
            j = i if widths[i] >= widths[i + 1] else i + 1
            key = keys[j]
    return key


def model_needs(
    n_in: int,
    hidden: Sequence[int],
    n_out: int,
    *,
    optimizer: str | None = None,
    momentum: float = 0.0,
    batch: int = EVAL_ROWS,
    eval_rows: int = 0,
    keys: tuple[str, str, str] = ("model.input_size", "model.hidden_sizes", "model.output_size"),
) -> list[Need]:
    """The model's parameters (with gradients and optimizer state when `optimizer` is given:
    training) and one batch's activations. `keys` name the input size, the hidden sizes and
    the output size for messages."""
    widths = [n_in, *hidden, n_out]
    layer_keys = [keys[0], *([keys[1]] * len(hidden)), keys[2]]
    params = model_parameters(n_in, hidden, n_out)
    copies = _optimizer_copies(optimizer, momentum)
    detail = f"{format_count(params)} parameters"
    if copies > 1:
        detail += f", {copies * _F32} bytes each with gradients and optimizer state"
    needs = [Need(_blame(widths, layer_keys), "the model", params * _F32 * copies, detail)]
    # a batch: training keeps every layer's activations, pre-activations and their gradients
    # for the backward pass; inference holds one layer's input and output at a time
    if optimizer is not None:
        rows, units = batch, sum(widths)
        act = rows * units * _F32 * 3
    else:
        rows, units = batch, 2 * max(widths)
        act = rows * units * _F32
    if eval_rows:  # a forward pass over validation rows, one chunk at a time
        ev_rows = min(eval_rows, EVAL_ROWS)
        ev = ev_rows * 2 * max(widths) * _F32
        if ev > act:
            act, rows, units = ev, ev_rows, 2 * max(widths)
    key = "train.batch_size" if optimizer is not None and rows == batch else keys[1]
    needs.append(
        Need(key, "a batch", act, f"{format_count(rows)} rows × {format_count(units)} units")
    )
    return needs


def data_need(
    rows: int,
    n_features: int,
    n_labels: int,
    *,
    keys: tuple[str, str, str] = ("data.n_samples", "data.n_features", "data.n_labels"),
) -> Need:
    """The training table: rows × (features + labels) float32 values, and the shuffled copy
    of it that each epoch goes through. `keys` name the rows, features and labels."""
    values = n_features + n_labels
    if rows >= max(n_features, n_labels):
        key = keys[0]
    else:
        key = keys[1] if n_features >= n_labels else keys[2]
    detail = f"{format_count(rows)} rows × {format_count(values)} values, and a shuffled copy"
    return Need(key, "the data", rows * values * _F32 * 2, detail)


def memory_problem(needs: Sequence[Need], available: int | None) -> tuple[str, str] | None:
    """`(key, message)` when the needs add up to more than `available` bytes, else None.
    The message names the first part that alone is too much, else the total; the key is that
    part's, else the largest part's."""
    if available is None:
        return None
    total = sum(n.nbytes for n in needs)
    if total <= available:
        return None
    have = f"{format_bytes(available)} is available"
    for n in needs:  # the first part that alone is too much (the data, the model, a batch)
        if n.nbytes > available:
            return n.key, f"{n.what} needs about {format_bytes(n.nbytes)} ({n.detail}) but {have}"
    worst = max(needs, key=lambda n: n.nbytes)
    parts = ", ".join(f"{n.what} {format_bytes(n.nbytes)}" for n in needs if n.nbytes)
    return worst.key, f"this run needs about {format_bytes(total)} ({parts}) but {have}"


def model_memory_problem(
    n_in: int, hidden: Sequence[int], n_out: int, *, rows: int = EVAL_ROWS
) -> str | None:
    """For `eval`/`predict`: what is wrong with building the model n_in → hidden → n_out and
    scoring `rows` rows at a time in the memory available, in a sentence
    (`the model needs about 16.0 GB (4e9 parameters) but 11.2 GB is available`), or None.
    Call it with the sizes of a checkpoint's header before any tensor is read; the caller
    raises its own error (`CheckpointError(file, problem)`). A bad SIGMOIDNET_MEMORY_LIMIT
    is a `UsageError` (exit 2)."""
    found = memory_problem(model_needs(n_in, hidden, n_out, batch=rows), available_memory())
    return None if found is None else found[1]
