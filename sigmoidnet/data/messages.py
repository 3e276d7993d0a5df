"""Messages about data: how cells, names and counts are worded, and the file checks every
reader starts with. Rows are numbered from 1 among the data rows (the header not counted)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence

import numpy as np

from sigmoidnet.errors import DataError
from sigmoidnet.fsutil import input_file_problem


def nearest(name: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def fmt_value(v: object) -> str:
    """A cell value as a user would recognise it in their file."""
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return str(v)  # numpy scalars print their own shortest repr (float32: 0.1, not 0.1000…)
    if isinstance(v, (int, np.integer)):
        return str(v)
    text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(v, (str, bytes)):
        try:
            float(text)
        except ValueError:
            return repr(text)
        return text
    return repr(text)


class Bad(Exception):
    """A bad cell found while converting one column slice (index within the slice)."""

    def __init__(self, index: int, what: str, value: str | None = None) -> None:
        super().__init__(what)
        self.index = index
        self.what = what
        self.value = value  # the offending cell as the user would write it, when there is one


def cell_error(where: str, column: str, row: int, what: str) -> DataError:
    return DataError(where, f"column {column!r}, row {row}: {what}")


def check_file(path: str, where: str) -> None:
    """Refuse anything but a readable regular file before any reader opens it: a FIFO would
    block, a device (`/dev/zero`) never ends, a symlink loop or a bad name would raise."""
    problem = input_file_problem(path)
    if problem == "is a directory":
        problem = "is a directory, expected a data file"
    if problem is not None:
        raise DataError(where, problem)


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def check_unique(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(where, f"duplicate column name {name!r} in the header")
        seen.add(name)
