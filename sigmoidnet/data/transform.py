"""The fitted preprocessing applied to rows read from a file, with its errors placed in the
file: `transform_checked` turns the `Preprocessor`'s `TransformError` (a value that does not
standardize to a finite float32) into the `DataError` (exit 3) that names the file, the
column and the file's data row. `check_outputs` does the same for a model output that is not
finite although its inputs are (values so far from the training range, say 1e38 standard
deviations, that the network overflows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmoidnet.data.messages import cell_error
from sigmoidnet.errors import DataError
from sigmoidnet.preprocess import Preprocessor, TransformError
from sigmoidnet.preprocess.columns import MissingValueError, RawBlock

F32 = npt.NDArray[np.float32]


def transform_checked(
    pre: Preprocessor,
    x: F32,
    where: str,
    *,
    first_row: int = 1,
    rows: Sequence[int] | npt.NDArray[np.integer] | None = None,
) -> F32:
    """`pre.transform_(x)` (in place; returns `x`), where x[i] is the file's data row
    `rows[i]` (1-based), or `first_row + i` without `rows`.

    A value that does not standardize to a finite float32 is a `DataError`:
    `where: column 'f1', row 17: 3.4028235e+38 does not standardize to a finite float32
    (training mean 0.1, std 0.5)`.
    """
    try:
        return pre.transform_(x)
    except TransformError as e:
        row = int(rows[e.index]) if rows is not None else first_row + e.index
        raise cell_error(where, e.feature, row, e.what) from None


def _row(index: int, first_row: int, rows: Any) -> int:
    return int(rows[index]) if rows is not None else first_row + index


def encode_checked(
    pre: Preprocessor,
    block: RawBlock,
    where: str,
    *,
    first_row: int = 1,
    rows: Sequence[int] | npt.NDArray[np.integer] | None = None,
    notes: list[str] | None = None,
    unseen: dict[str, int] | None = None,
) -> F32:
    """`pre.encode(block)`: the model inputs of raw rows, where row i is the file's data row
    `rows[i]` (1-based), or `first_row + i`. A missing value in a column without a fill
    value, or a value that does not standardize to a finite float32, is a `DataError` naming
    the file, column and row. Categories the model never saw are added up in `unseen`
    (column → count), or, without it, noted in `notes`: `where: column 'plan': 3 values never
    seen in training (encoded as <other>)`."""
    try:
        enc = pre.encode(block)
    except MissingValueError as e:
        what = "missing value"
        if pre.table and pre.impute != "error":
            what += " (the training rows had none in this column: the model has no fill value)"
        raise cell_error(where, e.column, _row(e.index, first_row, rows), what) from None
    except TransformError as e:
        raise cell_error(where, e.feature, _row(e.index, first_row, rows), e.what) from None
    if unseen is not None:
        for k, v in enc.unseen.items():
            unseen[k] = unseen.get(k, 0) + v
    elif notes is not None:
        notes.extend(unseen_notes(pre, enc.unseen, where))
    return enc.x


def unseen_notes(pre: Preprocessor, unseen: dict[str, int], where: str) -> list[str]:
    """One line per categorical column with values the model never saw."""
    out = []
    specs = {c.name: c for c in pre.columns}
    for name, count in unseen.items():
        spec = specs[name]
        goes = "encoded as <other>" if spec.other_slot else "encoded as all zeros"
        out.append(
            f"{where}: column {name!r}: {count} "
            f"{'value' if count == 1 else 'values'} never seen in training ({goes})"
        )
    return out


def check_outputs(
    logits: Any,
    x: F32,
    feature_names: Sequence[str],
    where: str,
    *,
    first_row: int = 1,
    rows: Sequence[int] | npt.NDArray[np.integer] | None = None,
) -> None:
    """Refuse the first row whose model output (`logits`, (n, L), numpy or CPU torch) is not
    finite, naming the feature of its transformed inputs `x` (n, F) farthest from zero:
    `where: row 5: the model's output is not finite; column 'f1' is 3.1e+38 once
    standardized, far outside the training range`."""
    out = np.asarray(logits)
    finite = np.isfinite(out).reshape(len(out), -1).all(axis=1)
    if finite.all():
        return
    i = int(np.argmin(finite))
    row = int(rows[i]) if rows is not None else first_row + i
    what = "the model's output is not finite"
    if x.shape[1]:
        j = int(np.argmax(np.abs(x[i])))
        what += (
            f"; column {feature_names[j]!r} is {float(x[i, j]):.3g} once standardized, "
            "far outside the training range"
        )
    raise DataError(where, f"row {row}: {what}")
