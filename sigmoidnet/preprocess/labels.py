"""The label mapping: which value of each label column is the positive class (1).

A label column holds 0/1 (or true/false) -- `binary`, as the tutorial's -- or two distinct
text values -- `text` -- or two numbers other than 0 and 1 -- `number`. Obvious text pairs
map on their own, compared case-insensitively: yes/no, y/n, true/false, t/f, 1/0,
positive/negative (the first of each is positive). Any other pair needs
`data.positive: {COLUMN: VALUE}`; three or more values are refused. A missing label (an
empty cell, a null) leaves its row out: `map` gives NaN there. The mapping is fitted from the
training file (all its rows: which value is positive is not a statistic of the training
split) and stored in the artifact (`to_dict`), so `eval --data` maps labels the same way.

`LabelError` says what is wrong without naming the file: the data package places it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

F32 = npt.NDArray[np.float32]

#: obvious pairs, lower case: (positive, negative)
OBVIOUS_PAIRS: tuple[tuple[str, str], ...] = (
    ("yes", "no"),
    ("y", "n"),
    ("true", "false"),
    ("t", "f"),
    ("1", "0"),
    ("positive", "negative"),
)
LABEL_KINDS = ("binary", "text", "number")


class LabelError(ValueError):
    """A label column that cannot be mapped to 0/1; `index` is the row (0-based) of the
    first bad value when one row is to blame, else None."""

    def __init__(self, column: str, what: str, index: int | None = None) -> None:
        self.column, self.what, self.index = column, what, index
        super().__init__(f"label column {column!r}: {what}")


def _show(v: object) -> str:
    return repr(v) if isinstance(v, str) else repr(v).lower() if isinstance(v, bool) else str(v)


def _num(v: str | float | None) -> float:
    assert isinstance(v, float), v
    return v


def _too_many(shown: list[str]) -> str:
    """The message of a label column with three or more values (`shown`, sorted)."""
    listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    return (
        f"holds {len(shown)} distinct values ({listed}); a label has two "
        "(list one column per class for a multi-label model)"
    )


def _show_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


@dataclass(frozen=True)
class LabelMap:
    """One label column's mapping to 0/1."""

    name: str
    kind: str  # "binary" | "text" | "number"
    positive: str | float | None = None  # text / number: the positive value
    negative: str | float | None = None  # text / number: the other value (None: not seen)
    casefold: bool = False  # text: compare lower-cased (an obvious pair)

    def describe(self) -> str:
        """`'Yes' = 1, 'No' = 0`, for messages and the start-up summary."""
        if self.kind == "binary":
            return "0/1"
        pos = _show(self.positive) if self.kind == "text" else _show_number(_num(self.positive))
        if self.negative is None:
            return f"{pos} = 1"
        neg = _show(self.negative) if self.kind == "text" else _show_number(_num(self.negative))
        return f"{pos} = 1, {neg} = 0"

    # -- fitting ---------------------------------------------------------------------------------

    @classmethod
    def fit(cls, name: str, arr: Any, positive: object = None) -> LabelMap:
        """The mapping of label column `name` from all its values `arr` (a pyarrow array).
        `positive`: the value `data.positive` names for this column, or None."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        t = arr.type
        if pa.types.is_dictionary(t):
            arr = arr.dictionary_decode()
            t = arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return cls._fit_text(name, arr, positive)
        if pa.types.is_boolean(t) or pa.types.is_null(t):
            if positive is not None and positive is not True:
                raise LabelError(
                    name,
                    f"holds true/false; data.positive {_show(positive)} is "
                    "neither (true is the positive value)",
                )
            return cls(name, "binary")
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            return cls._fit_numbers(name, arr, positive)
        raise LabelError(name, f"cannot be a label (column type {t})")

    @classmethod
    def _fit_text(cls, name: str, arr: Any, positive: object) -> LabelMap:
        values = sorted({v for v in pc.unique(arr).to_pylist() if v is not None})
        folded = {v.lower() for v in values}
        pair = next((p for p in OBVIOUS_PAIRS if folded and folded <= set(p)), None)
        if len(values) > 2 and pair is None:  # "Yes", "yes", "No" are one pair; y, yes, n not
            raise LabelError(name, _too_many([_show(v) for v in values]))
        if positive is not None:
            want = str(positive).lower() if isinstance(positive, bool) else str(positive)
            if pair is not None and want.lower() in folded:
                # an obvious pair is compared lower-cased, whichever value is positive:
                # data.positive "Yes" names "yes" and "YES" too
                pos = next((v for v in values if v == want), want)
                neg = next((v for v in values if v.lower() != want.lower()), None)
                return cls(name, "text", pos, neg, casefold=True)
            if want not in values:
                found = " and ".join(_show(v) for v in values) or "no values"
                raise LabelError(
                    name,
                    f"has no value {_show(positive)} (named by data.positive); it holds {found}",
                )
            other = [v for v in values if v != want]
            return cls(name, "text", want, other[0] if other else None)
        if pair is not None:
            return cls._obvious(name, values, pair)
        if not values:
            raise LabelError(name, "has no values")
        shown = " and ".join(_show(v) for v in values)
        raise LabelError(
            name,
            f"holds {shown}; say which is the positive class with "
            f"data.positive: {{{name}: {values[0]}}}",
        )

    @classmethod
    def _obvious(cls, name: str, values: list[str], pair: tuple[str, str]) -> LabelMap:
        """An obvious pair, compared lower-cased; the values as the file spells them."""
        pos = next((v for v in values if v.lower() == pair[0]), pair[0])
        neg = next((v for v in values if v.lower() == pair[1]), pair[1])
        return cls(name, "text", pos, neg, casefold=True)

    @classmethod
    def _fit_numbers(cls, name: str, arr: Any, positive: object) -> LabelMap:
        full = np.asarray(
            pc.cast(arr, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
        vals = full[~np.isnan(full)]
        distinct = np.unique(vals)
        if positive is None or isinstance(positive, bool):
            if positive is not None and positive is not True:
                raise LabelError(name, "data.positive false: the positive value is 1")
            if np.isin(distinct, (0.0, 1.0)).all():
                return cls(name, "binary")
            at = int(np.argmin(np.isin(full, (0.0, 1.0)) | np.isnan(full)))
            bad = float(full[at])
            shown_all = [_show_number(float(v)) for v in distinct]
            if len(distinct) > 2 and np.isin((0.0, 1.0), distinct).all():
                # a 0/1 column with a stray value: its first row, and the values
                listed = ", ".join(shown_all[:5]) + (" ..." if len(shown_all) > 5 else "")
                raise LabelError(
                    name,
                    f"label must be 0 or 1, got {_show_number(bad)} (the column holds "
                    f"{len(distinct)} distinct values: {listed})",
                    at,
                )
            if len(distinct) > 2:
                raise LabelError(name, _too_many(shown_all))
            if len(distinct) == 2:
                shown = " and ".join(_show_number(float(v)) for v in distinct)
                raise LabelError(
                    name,
                    f"holds {shown}; say which is the positive class with "
                    f"data.positive: {{{name}: {_show_number(float(distinct[-1]))}}}",
                )
            raise LabelError(name, f"label must be 0 or 1, got {_show_number(bad)}", at)
        try:
            want = float(positive)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise LabelError(
                name, f"holds numbers; data.positive names {_show(positive)}, not a number"
            ) from None
        if len(distinct) > 2:
            raise LabelError(name, _too_many([_show_number(float(v)) for v in distinct]))
        if want not in distinct:
            shown = " and ".join(_show_number(float(v)) for v in distinct) or "no values"
            raise LabelError(
                name, f"has no value {_show(positive)} (named by data.positive); it holds {shown}"
            )
        other = [float(v) for v in distinct if v != want]
        return cls(name, "number", want, other[0] if other else None)

    # -- applying --------------------------------------------------------------------------------

    def map(self, arr: Any) -> F32:
        """Labels of `arr` as float32 0/1, NaN where the label is missing. A value that is
        not one of the column's two is a `LabelError` naming its row."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        t = arr.type
        if pa.types.is_dictionary(t):
            arr = arr.dictionary_decode()
            t = arr.type
        n = len(arr)
        null = (
            np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if arr.null_count
            else np.zeros(n, dtype=bool)
        )
        if self.kind == "text":
            if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                arr = pc.cast(arr, pa.string())
            cmp = pc.utf8_lower(arr) if self.casefold else arr
            pos = self._equal(cmp, self.positive)
            neg = (
                self._equal(cmp, self.negative)
                if self.negative is not None
                else np.zeros(n, dtype=bool)
            )
            self._check_known(arr, pos | neg | null)
            y = pos.astype(np.float32)
        else:
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                raise LabelError(self.name, f"holds text; the model's labels are {self.describe()}")
            vals = np.asarray(
                pc.cast(arr, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                dtype=np.float64,
            )
            null |= np.isnan(vals)
            if self.kind == "binary":
                pos, neg = vals == 1.0, vals == 0.0
            else:
                pos = vals == _num(self.positive)
                neg = (
                    vals == _num(self.negative)
                    if self.negative is not None
                    else np.zeros(n, dtype=bool)
                )
            ok = pos | neg | null
            if not ok.all():
                i = int(np.argmin(ok))
                raise LabelError(
                    self.name,
                    f"label must be {self._expected()}, got {_show_number(float(vals[i]))}",
                    i,
                )
            y = pos.astype(np.float32)
        y[null] = np.nan
        return y

    def _equal(self, arr: Any, value: object) -> npt.NDArray[np.bool_]:
        v = str(value).lower() if self.casefold else str(value)
        out = pc.equal(arr, v).fill_null(False)
        return np.asarray(out.to_numpy(zero_copy_only=False), dtype=bool)

    def _expected(self) -> str:
        if self.kind == "binary":
            return "0 or 1"
        return " or ".join(
            _show_number(_num(v)) for v in (self.positive, self.negative) if v is not None
        )

    def _check_known(self, arr: Any, ok: npt.NDArray[np.bool_]) -> None:
        if ok.all():
            return
        i = int(np.argmin(ok))
        values = [v for v in (self.positive, self.negative) if v is not None]
        shown = " or ".join(_show(v) for v in values)
        raise LabelError(
            self.name,
            f"label {_show(arr[i].as_py())} is not one the model knows ({shown})",
            i,
        )

    # -- state -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "positive": self.positive,
            "negative": self.negative,
            "casefold": self.casefold,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LabelMap:
        """From `to_dict`'s form; ValueError when it is not that form."""
        if set(d) != {"name", "kind", "positive", "negative", "casefold"}:
            raise ValueError("bad label description")
        name, kind = d["name"], d["kind"]
        pos, neg, fold = d["positive"], d["negative"], d["casefold"]
        if not isinstance(name, str) or kind not in LABEL_KINDS or not isinstance(fold, bool):
            raise ValueError("bad label description")
        if kind == "binary":
            if pos is not None or neg is not None or fold:
                raise ValueError(f"bad label description for {name!r}")
        elif kind == "text":
            if not isinstance(pos, str) or not (neg is None or isinstance(neg, str)) or pos == neg:
                raise ValueError(f"bad label description for {name!r}")
        else:
            ok = all(v is None or (isinstance(v, float) and np.isfinite(v)) for v in (pos, neg))
            if not ok or pos is None or pos == neg or fold:
                raise ValueError(f"bad label description for {name!r}")
        return cls(name, kind, pos, neg, fold)


def binary_labels(names: Sequence[str]) -> list[LabelMap]:
    """The mapping of columns that hold 0/1 (the tutorial's, and format 1 and 2 models')."""
    return [LabelMap(n, "binary") for n in names]
