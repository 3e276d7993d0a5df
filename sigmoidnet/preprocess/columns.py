"""The raw feature columns of a table and how each becomes model inputs: the fitted steps
for numbers (imputation with a missing indicator) and categories (a vocabulary with its
`<missing>` and `<other>` slots), applied to a `RawBlock` of rows.

Each `ColumnSpec` is fitted on the training rows only and stored in the artifact as JSON
(`to_dict`), the fill values aside (a float32 tensor, `preprocess.fill`, so that they round
trip to the bit). Model inputs, in the order of the raw columns:

- numeric or boolean column `age`: one input `age` (standardized, see `standardize.py`),
  then `age[missing]` (1 where the value was missing, else 0) when the column had a missing
  value in the training rows; a missing value is filled with the training median (or mean);
- categorical column `plan`: one 0/1 input per category kept, `plan=<value>`, most frequent
  first (ties by value); `plan=<missing>` when a value was missing in the training rows;
  `plan=<other>` when the column had more categories than `max_categories` (the rarer ones
  share it). At inference a category never seen goes to `<other>`, or to all zeros without
  that slot, and is counted (`Encoded.unseen`), as is a missing value in a column that had
  none in training (no `<missing>` slot: `<other>` or all zeros as well).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

F32 = npt.NDArray[np.float32]

KINDS = ("numeric", "boolean", "categorical")
IMPUTE = ("median", "mean", "error")
MISSING_SLOT = "<missing>"
OTHER_SLOT = "<other>"


@dataclass
class RawBlock:
    """Raw feature values of `n` rows, as the data package reads them.

    `numbers` (n, k) float32 holds the numeric and boolean columns `numeric_names` (NaN =
    missing, every other value finite); `text` maps each categorical column to a pyarrow
    string array of n values (null = missing)."""

    n: int
    numbers: F32
    numeric_names: list[str]
    text: dict[str, Any] = field(default_factory=dict)
    complete: bool = False  # known to hold no missing number (no NaN: nothing to look for)

    @classmethod
    def from_matrix(cls, x: F32, names: Sequence[str], complete: bool = False) -> RawBlock:
        return cls(len(x), x, list(names), {}, complete)


@dataclass
class ColumnSpec:
    """One raw feature column: its kind and what was fitted for it."""

    name: str
    kind: str  # "numeric" | "boolean" | "categorical"
    fill: float | None = None  # numeric/boolean: the value a missing cell gets (None: error)
    indicator: bool = False  # numeric/boolean: add `<name>[missing]`
    categories: list[str] = field(default_factory=list)  # categorical: the slots, in order
    missing_slot: bool = False  # categorical: a `<missing>` slot
    other_slot: bool = False  # categorical: an `<other>` slot (rarer categories pooled)
    n_categories: int = 0  # categorical: distinct values seen in the training rows
    #: categorical with an `<other>` slot: the training values pooled into it (format 4;
    #: None for a format-3 model, which cannot tell a pooled value from a new one)
    pooled: list[str] | None = None

    @property
    def numeric(self) -> bool:
        return self.kind != "categorical"

    def input_names(self) -> list[str]:
        if self.numeric:
            return [self.name] + ([f"{self.name}[missing]"] if self.indicator else [])
        names = [f"{self.name}={c}" for c in self.categories]
        if self.missing_slot:
            names.append(f"{self.name}={MISSING_SLOT}")
        if self.other_slot:
            names.append(f"{self.name}={OTHER_SLOT}")
        return names

    @property
    def width(self) -> int:
        if self.numeric:
            return 1 + int(self.indicator)
        return len(self.categories) + int(self.missing_slot) + int(self.other_slot)

    def to_dict(self) -> dict[str, Any]:
        """The JSON description (the fill value is stored as a tensor, not here)."""
        if self.numeric:
            return {"name": self.name, "kind": self.kind, "indicator": self.indicator}
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "categories": list(self.categories),
            "missing_slot": self.missing_slot,
            "other_slot": self.other_slot,
            "n_categories": self.n_categories,
        }
        if self.pooled is not None:
            out["pooled"] = list(self.pooled)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnSpec:
        """From `to_dict`'s form; ValueError when it is not that form."""
        kind = d.get("kind")
        name = d.get("name")
        if not isinstance(name, str) or kind not in KINDS:
            raise ValueError(f"bad column description {dict(d)!r:.200}")
        if kind == "categorical":
            keys = {"name", "kind", "categories", "missing_slot", "other_slot", "n_categories"}
            pooled = d.get("pooled")
            if "pooled" in d:
                keys.add("pooled")
            cats = d.get("categories")
            flags = (d.get("missing_slot"), d.get("other_slot"))
            count = d.get("n_categories")
            if (
                set(d) != keys
                or not isinstance(cats, list)
                or not all(isinstance(c, str) and c for c in cats)
                or len(set(cats)) != len(cats)
                or not all(isinstance(f, bool) for f in flags)
                or not isinstance(count, int)
                or isinstance(count, bool)
                or count < len(cats)
                or not _pooled_ok(pooled, cats, bool(flags[1]), count)
            ):
                raise ValueError(f"bad categorical column {name!r}")
            spec = cls(name, kind, None, False, list(cats), bool(flags[0]), bool(flags[1]), count)
            spec.pooled = None if pooled is None else list(pooled)
            if spec.width == 0:
                raise ValueError(f"categorical column {name!r} has no inputs")
            return spec
        if set(d) != {"name", "kind", "indicator"} or not isinstance(d.get("indicator"), bool):
            raise ValueError(f"bad {kind} column {name!r}")
        return cls(name, str(kind), None, bool(d["indicator"]))


@dataclass
class Encoded:
    """Model inputs of a block (before standardization), and what was seen on the way."""

    x: F32
    unseen: dict[str, int]  # categorical column → values that went to <other> or nowhere


class MissingValueError(ValueError):
    """A missing value in a column that has no fill value (impute: error)."""

    def __init__(self, column: str, index: int) -> None:
        self.column, self.index = column, index
        super().__init__(f"column {column!r}, row index {index}: missing value")


# -- fitting ------------------------------------------------------------------------------------


def fit_fill(values: F32, impute: str) -> tuple[float | None, bool]:
    """(fill value, whether an indicator is needed) for one numeric column (NaN = missing)."""
    missing = np.isnan(values)
    has_missing = bool(missing.any())
    if impute == "error":
        return None, False
    seen = values[~missing] if has_missing else values
    if len(seen) == 0:
        return 0.0, has_missing
    if impute == "mean":
        v = float(np.float32(seen.astype(np.float64).mean()))
    else:
        v = float(np.float32(np.median(seen.astype(np.float64))))
    return v, has_missing


def _pooled_ok(pooled: Any, cats: list[str], other: bool, count: int) -> bool:
    """`pooled` (absent: None) agrees with the categories kept and the count of values."""
    if pooled is None:
        return True
    return (
        isinstance(pooled, list)
        and other
        and all(isinstance(v, str) for v in pooled)
        and len(set(pooled)) == len(pooled) == count - len(cats)
        and not set(pooled) & set(cats)
    )


def fit_categories(arr: Any, max_categories: int) -> tuple[list[str], bool, bool, int]:
    """(categories kept, missing slot, other slot, distinct values) of a text column;
    `pooled_categories` gives the values the `<other>` slot pools."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    counts = pc.value_counts(arr)
    values = counts.field("values")
    freq = np.asarray(counts.field("counts").to_numpy(zero_copy_only=False), dtype=np.int64)
    valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    names = values.to_pylist()
    pairs = sorted(
        ((int(freq[i]), str(names[i])) for i in np.flatnonzero(valid)),
        key=lambda t: (-t[0], t[1]),
    )
    distinct = len(pairs)
    kept = [v for _, v in pairs[:max_categories]]
    return kept, bool(arr.null_count), distinct > max_categories, distinct


def pooled_categories(arr: Any, kept: Sequence[str]) -> list[str]:
    """The distinct values of a text column that are not `kept`, sorted: what its `<other>`
    slot pools (stored, so that a value never seen is told from a rare one at inference)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    values = pc.unique(arr.drop_null())
    rest = pc.filter(values, pc.invert(pc.is_in(values, value_set=pa.array(kept, pa.string()))))
    return sorted(str(v) for v in rest.to_pylist())


def unique_names(names: Sequence[str]) -> list[str]:
    """`names`, with a `#2`, `#3`, ... suffix on repeats (a category named like a slot)."""
    seen: set[str] = set()
    out: list[str] = []
    for n in names:
        m, k = n, 1
        while m in seen:
            k += 1
            m = f"{n}#{k}"
        seen.add(m)
        out.append(m)
    return out


# -- encoding -----------------------------------------------------------------------------------


def category_index(arr: Any, spec: ColumnSpec) -> tuple[npt.NDArray[np.int64], int]:
    """Slot of each value of a text column (-1: no slot, all zeros), and how many values
    went to `<other>` or nowhere although the model never saw them."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    k = len(spec.categories)
    missing_at = k if spec.missing_slot else -1
    other_at = k + int(spec.missing_slot) if spec.other_slot else -1
    if k:
        found = pc.index_in(arr, value_set=pa.array(spec.categories, pa.string()))
        idx = np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        idx = np.full(n, -1, dtype=np.int64)
    if arr.null_count:
        null = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    else:
        null = np.zeros(n, dtype=bool)
    rest = (idx < 0) & ~null  # categories not kept: pooled rare ones, or never seen
    unseen = 0
    if rest.any():
        if spec.other_slot:
            idx[rest] = other_at  # pooled (seen in training, but rare) or new
            if spec.pooled is not None:  # format 4: the new ones are counted
                pooled = pa.array(spec.pooled, pa.string())
                known = np.asarray(
                    pc.is_in(arr, value_set=pooled).fill_null(True).to_numpy(zero_copy_only=False),
                    dtype=bool,
                )
                unseen = int((rest & ~known).sum())
        else:
            unseen = int(rest.sum())  # every category was kept: these were never seen
    if null.any() and not spec.missing_slot:
        idx[null] = other_at  # no missing value in training: like a category never seen
        unseen += int(null.sum())
    elif null.any():
        idx[null] = missing_at
    return idx, unseen
