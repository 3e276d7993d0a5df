"""The fast path for all-numeric CSV files: a C parser over a memory map, one thread per core.

`read_numeric` (training) returns the feature and label columns as float32 arrays, and
`iter_numeric` (eval and predict) streams them in batches; `read_numeric` returns None when the
file leaves the plain dialect the C parser accepts (quotes, text, empty cells, booleans,
ragged rows, an empty line between rows, bare-CR line ends, compressed files, values that
overflow float32, missing-value tokens such as NA or nan, spaces or tabs around a number,
...); empty lines at the end of the file are ignored, as pyarrow's reader (`csv.py`)
ignores them. The caller then reads it with pyarrow, which parses the rest and diagnoses
every error, so both paths give the same numbers and the same messages: the fast path
decides nothing, it only skips pyarrow's tokenizer for the files that need no more than
digits and a delimiter. The delimiter is the caller's (`delimiter`: one of `,` `;` tab `|`,
the one `CsvReader` chose); with another, or a file that uses another, the parse defers.
Values are correctly rounded to float32, as pyarrow's are (see `_csvparse.c`).

Why not pyarrow alone: on 2 cores pyarrow's CSV reader takes about 3 s for a 1M × 66 float
table where `pandas.read_csv` takes about 2.4 s; most of it is building string arrays in the
tokenizer before any number is parsed. The C path reads the same table in about 1.6 s (one
core: about 2 s of CPU for 700 MB).
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

try:
    from sigmoidnet import _csvparse
except ImportError:  # pragma: no cover - built without a C compiler: pyarrow reads all CSV
    _csvparse = None  # type: ignore[assignment]

F32 = npt.NDArray[np.float32]

# extensions pyarrow decompresses on the fly (pyarrow.Codec.detect)
_COMPRESSED = (".gz", ".bz2", ".br", ".lz4", ".zst", ".zstd")
_RANGE_BYTES = 1 << 23  # at least 8 MiB of the file per thread
#: the delimiters the C parser takes (those of `csv.DELIMITERS`)
_DELIMITERS = (",", ";", "\t", "|")


def available() -> bool:
    """Whether the C parser was built (it is optional; without it pyarrow reads all CSV)."""
    return _csvparse is not None


def _usable(path: str, delimiter: str) -> bool:
    return (
        _csvparse is not None
        and delimiter in _DELIMITERS
        and not path.lower().endswith(_COMPRESSED)
    )


def _dest(names: list[str], features: list[str], labels: list[str]) -> npt.NDArray[np.int32] | None:
    """Where each file column goes: x column k (k), y column k (-2 - k), or nowhere (-1).
    None if a column is asked for twice (the general reader copes with that)."""
    if len(set(features) | set(labels)) != len(features) + len(labels):
        return None
    index = {name: c for c, name in enumerate(names)}
    dest = np.full(len(names), -1, dtype=np.int32)
    for k, name in enumerate(features):
        dest[index[name]] = k
    for k, name in enumerate(labels):
        dest[index[name]] = -2 - k
    return dest


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[tuple[mmap.mmap, int] | None]:
    """The file, memory-mapped, and the offset of its body; None if there is no body."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            yield None
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if hasattr(mmap, "MADV_SEQUENTIAL"):
                mm.madvise(mmap.MADV_SEQUENTIAL)
            yield _body(mm)


def _body(mm: mmap.mmap) -> tuple[mmap.mmap, int] | None:
    """Where the rows start, if the header is one plain line: pyarrow skips empty lines
    before the header and also ends lines at a bare CR; those files are left to it."""
    nl = mm.find(b"\n")
    if nl < 0 or mm[:1] in (b"\n", b"\r"):
        return None
    cr = mm.find(b"\r", 0, nl)
    if cr >= 0 and cr != nl - 1:
        return None
    return mm, nl + 1


def read_numeric(
    path: str,
    names: list[str],
    features: list[str],
    labels: list[str],
    workers: int,
    delimiter: str = ",",
) -> tuple[F32, F32] | None:
    """(x (N, F), y (N, L)) float32 for the named columns of `path`, or None (use pyarrow).

    `names` are the header's column names, as pyarrow read them with `delimiter`; the body
    starts after the first newline.
    """
    dest = _dest(names, features, labels)
    if dest is None or not _usable(path, delimiter):
        return None
    try:
        with _mapped(path) as m, _pool(workers) as pool:
            if m is None:
                return None
            mm, body = m
            out = _parse_span(
                pool, workers, mm, body, len(mm), dest, len(features), len(labels), delimiter
            )
    except (OSError, ValueError):  # not mappable (a pipe, a special file): the general reader
        return None
    if out is None or len(out[0]) == 0:
        return None  # no data rows: the general reader says so
    return out


def iter_numeric(
    path: str,
    names: list[str],
    features: list[str],
    labels: list[str],
    batch_rows: int,
    workers: int,
    delimiter: str = ",",
) -> Generator[tuple[F32, F32], None, bool]:
    """(x, y) batches of at most `batch_rows` rows, in file order, in constant memory.

    Returns True once the whole file was read (and had data rows), False as soon as the
    rest of it needs the general reader: the batches yielded so far are exact, and the
    caller reads the rows after them with pyarrow. `delimiter` as for `read_numeric`.
    """
    dest = _dest(names, features, labels)
    if dest is None or not _usable(path, delimiter):
        return False
    rows = 0
    try:
        with _mapped(path) as m, _pool(workers) as pool:
            if m is None:
                return False
            mm, pos = m
            blank = False  # the rows so far end with an empty line
            while pos < len(mm):
                stop = _csvparse.skip_lines(mm, pos, len(mm), batch_rows)
                out = _parse_span(
                    pool, workers, mm, pos, stop, dest, len(features), len(labels), delimiter
                )
                if out is None or (blank and len(out[0])):
                    return False  # (an empty line between rows: pyarrow's reader refuses it)
                blank = _ends_blank(mm, pos, stop)
                pos = stop
                if len(out[0]):
                    rows += len(out[0])
                    yield out
    except (OSError, ValueError):  # the general reader takes over (and words the error)
        return False
    return rows > 0


def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sigmoidnet-csv")


def _ranges(mm: mmap.mmap, start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """Up to `parts` byte ranges of whole lines covering mm[start:end]."""
    cuts = [start]
    for k in range(1, parts):
        nl = mm.find(b"\n", max(cuts[-1], start + (end - start) * k // parts), end)
        if nl < 0:
            break
        cuts.append(nl + 1)
    cuts.append(end)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _parse_span(
    pool: ThreadPoolExecutor,
    workers: int,
    mm: mmap.mmap,
    start: int,
    end: int,
    dest: npt.NDArray[np.int32],
    nx: int,
    ny: int,
    delimiter: str,
) -> tuple[F32, F32] | None:
    """The rows of mm[start:end] (whole lines), split over the pool's threads; None: defer."""
    assert _csvparse is not None
    parser = _csvparse
    # (the stub, `_csvparse.pyi`, does not list parse's trailing delimiter argument yet)
    c_parse: Callable[..., tuple[int, int]] = parser.parse
    parts = max(1, min(workers, (end - start) // _RANGE_BYTES))
    ranges = _ranges(mm, start, end, parts)

    def count(r: tuple[int, int]) -> int:
        a, b = r
        return parser.count_lines(mm, a, b, True) + (mm[b - 1] != ord("\n"))

    limits = list(pool.map(count, ranges))  # rows in each range, empty lines included
    starts = np.concatenate([[0], np.cumsum(limits, dtype=np.int64)]).tolist()
    total = int(starts[-1])
    x = np.empty((total, nx), dtype=np.float32)
    y = np.empty((total, ny), dtype=np.float32)

    def parse(k: int) -> tuple[int, int]:
        (a, b), r0, m = ranges[k], starts[k], limits[k]
        xs, ys = x[r0 : r0 + m], y[r0 : r0 + m]
        return c_parse(mm, a, b, len(dest), dest, xs, nx, ys, ny, m, True, delimiter)

    done = list(pool.map(parse, range(len(ranges))))
    if any(stop >= 0 for _, stop in done):
        return None
    # a range may end with empty lines (the parser skips those), but only if no rows follow
    last = max((k for k, (rows, _) in enumerate(done) if rows), default=-1)
    if any(_ends_blank(mm, a, b) for a, b in ranges[:last]):
        return None
    n = _compact(x, y, starts, [rows for rows, _ in done])
    if n < total:
        x, y = x[:n], y[:n]
    return x, y


def _ends_blank(mm: mmap.mmap, start: int, end: int) -> bool:
    """Whether the last line of mm[start:end] (whole lines) is an empty line."""
    if end <= start or mm[end - 1] != 0x0A:
        return False  # no line end at the end: the last line has something on it
    end -= 1
    if end > start and mm[end - 1] == 0x0D:
        end -= 1
    return end == start or mm[end - 1] == 0x0A


def _compact(x: F32, y: F32, starts: list[int], rows: list[int]) -> int:
    """Close the gaps that empty lines at the end of the file left; the number of rows."""
    dst = 0
    for r0, k in zip(starts, rows, strict=False):
        if r0 != dst and k:
            x[dst : dst + k] = x[r0 : r0 + k]  # numpy copies overlapping moves safely
            y[dst : dst + k] = y[r0 : r0 + k]
        dst += k
    return dst


def read_rows(
    path: str,
    names: list[str],
    features: list[str],
    labels: list[str],
    first: int,
    stop: int,
    workers: int,
    delimiter: str = ",",
) -> tuple[F32, F32] | None:
    """`read_numeric` of the data rows [first, stop) only (0-based): the lines before them
    are skipped by counting line ends, not parsed. None: use pyarrow (as `read_numeric`)."""
    dest = _dest(names, features, labels)
    if dest is None or not _usable(path, delimiter):
        return None
    try:
        with _mapped(path) as m, _pool(workers) as pool:
            if m is None:
                return None
            mm, body = m
            assert _csvparse is not None
            start = _csvparse.skip_lines(mm, body, len(mm), first) if first else body
            end = _csvparse.skip_lines(mm, start, len(mm), stop - first)
            out = _parse_span(
                pool, workers, mm, start, end, dest, len(features), len(labels), delimiter
            )
    except (OSError, ValueError):
        return None
    if out is None or len(out[0]) != stop - first:
        return None
    return out
