"""The `Preprocessor`: every fitted transform between a table's raw feature columns and the
model's float32 inputs, fitted once on the training rows and stored in the artifact.

Today that is standardization (`normalize: standard`); imputation, category vocabularies and
label mappings join it here. Fitted state lives in this object and nowhere else (the
scikit-learn convention: `mean_`, `std_`), so training, `eval`, `predict` and the export
apply the same numbers. It imports nothing from `sigmoidnet.data` and no torch: its state is
numpy arrays plus a JSON-able description, which the artifact stores as tensors + metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmoidnet.preprocess.columns import (
    IMPUTE,
    ColumnSpec,
    Encoded,
    MissingValueError,
    RawBlock,
    category_index,
    fit_categories,
    fit_fill,
    pooled_categories,
    unique_names,
)
from sigmoidnet.preprocess.labels import LabelMap
from sigmoidnet.preprocess.median import column_medians
from sigmoidnet.preprocess.standardize import (
    Reduce,
    StandardizeError,
    fit_standardization,
    standardize_,
)

F32 = npt.NDArray[np.float32]

NORMALIZE = ("standard", "none")


class PreprocessorStateError(ValueError):
    """Stored preprocessor state that does not describe a valid preprocessor."""


class TransformError(ValueError):
    """A raw value the fitted transform cannot turn into a finite float32 input.

    `feature` names the column and `index` is the row within the array given to
    `transform_` (0-based); `what` says what went wrong, without either, for the caller to
    place (`sigmoidnet.data.transform_checked` names the file, column and file row)."""

    def __init__(self, feature: str, index: int, what: str) -> None:
        self.feature, self.index, self.what = feature, index, what
        super().__init__(f"feature {feature!r}, row index {index}: {what}")


class Preprocessor:
    """Raw feature columns → the model's float32 inputs; also each label column's mapping.

    Numeric tables (the tutorial's form, and format 1 and 2 models):

        pre = Preprocessor(feature_names, normalize="standard").fit(x_train)
        pre.transform_(x_val)                  # in place, float32

    Real tables (`for_table`): each raw column is numeric, boolean or categorical
    (`columns.ColumnSpec`); `fit_block` fits fills, indicators and vocabularies on the
    training rows, then the standardization of the numeric inputs; `encode` turns a
    `RawBlock` of rows into model inputs (one-hot and indicator inputs are 0/1 and are not
    standardized). `state()` / `from_state` are what the artifact stores.
    """

    def __init__(self, feature_names: Sequence[str], normalize: str = "standard") -> None:
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        self.columns: list[ColumnSpec] = [ColumnSpec(n, "numeric") for n in feature_names]
        self.labels: list[LabelMap] = []
        self.ignored: list[str] = []  # raw columns left out (index, identifier, excluded)
        self.impute = "error"
        self.max_categories = 0
        self.category_caps: dict[str, int] = {}  # fit only: a column's own max_categories
        self.normalize = normalize
        self.table = False  # a real table's preprocessor (format 3), not a numeric one
        self.feature_names = list(feature_names)
        self.mean_: F32 | None = None  # (k,) float32 over the numeric inputs
        self.std_: F32 | None = None  # (k,) float32, zero-variance inputs get 1
        self.fitted = False

    @classmethod
    def for_table(
        cls,
        columns: Sequence[ColumnSpec],
        labels: Sequence[LabelMap],
        *,
        normalize: str = "standard",
        impute: str = "median",
        max_categories: int = 50,
        category_caps: Mapping[str, int] | None = None,
        ignored: Sequence[str] = (),
    ) -> Preprocessor:
        """An unfitted preprocessor for raw columns of known kinds (see `sigmoidnet.data`).

        `max_categories`: the most categories a categorical column keeps; `category_caps`:
        that number for the columns it names. Only the vocabularies they give are stored
        (with `max_categories`, for the record): `data.max_categories` is in the stored
        config."""
        if impute not in IMPUTE:
            raise ValueError(f"impute must be one of {IMPUTE}, got {impute!r}")
        pre = cls([c.name for c in columns], normalize)
        pre.columns = [ColumnSpec(c.name, c.kind) for c in columns]
        pre.labels = list(labels)
        pre.ignored = list(ignored)
        pre.impute = impute
        pre.max_categories = max_categories
        pre.category_caps = dict(category_caps or {})
        pre.table = True
        return pre

    @property
    def n_features(self) -> int:
        """The number of model inputs."""
        return len(self.feature_names)

    @property
    def raw_names(self) -> list[str]:
        """The raw columns a file must hold, in training order."""
        return [c.name for c in self.columns]

    @property
    def numeric_names(self) -> list[str]:
        return [c.name for c in self.columns if c.numeric]

    @property
    def text_names(self) -> list[str]:
        return [c.name for c in self.columns if not c.numeric]

    @property
    def plain(self) -> bool:
        """Every raw column is one numeric input (no categories, no indicators)."""
        return all(c.numeric and not c.indicator for c in self.columns)

    def label_map(self, name: str) -> LabelMap:
        for m in self.labels:
            if m.name == name:
                return m
        return LabelMap(name, "binary")

    # -- numeric tables ----------------------------------------------------------------------

    def fit(self, x: F32) -> Preprocessor:
        """Fit on the training rows `x` (N, F) float32, raw (a numeric table)."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (N, {self.n_features}) features, got shape {x.shape}")
        if self.normalize == "standard":
            self.mean_, self.std_ = fit_standardization(x)
        self.fitted = True
        return self

    def transform_(self, x: F32) -> F32:
        """Standardize model inputs (n, F) float32 in place and return them.

        Raises `TransformError` at the first value (lowest row, then leftmost column) whose
        standardized value is not a finite float32 (say 3.4e38 in a feature whose training
        std is below 1): such values are refused, never clipped. `x` is then partly
        transformed and must be thrown away."""
        if not self.fitted:
            raise RuntimeError("Preprocessor.transform_ before fit")
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) features, got shape {x.shape}")
        if self.plain:
            self._standardize(x, self.feature_names)
        else:
            positions = self._numeric_positions()
            block = np.ascontiguousarray(x[:, positions])
            self._standardize(block, [self.feature_names[p] for p in positions])
            x[:, positions] = block
        return x

    def _standardize(self, x: F32, names: Sequence[str]) -> None:
        if self.mean_ is None or self.std_ is None:
            return
        try:
            standardize_(x, self.mean_, self.std_)
        except StandardizeError as e:
            what = (
                f"{_fmt(e.value)} does not standardize to a finite float32 "
                f"(training mean {_fmt(e.mean)}, std {_fmt(e.std)})"
            )
            raise TransformError(names[e.column], e.row, what) from None

    def transform(self, x: npt.ArrayLike) -> F32:
        """A transformed float32 copy of `x` (n, F) (model inputs, before standardization)."""
        return self.transform_(np.array(x, dtype=np.float32, copy=True))

    # -- real tables -------------------------------------------------------------------------

    def fit_block(
        self, block: RawBlock, workers: int = 1, reduce: Reduce | None = None
    ) -> Preprocessor:
        """Fit every step on the training rows `block`: fills and indicators of the numeric
        columns, vocabularies of the categorical ones, then the standardization of the
        numeric inputs (filled). With `reduce`, `block` is this process's run of the
        training rows of a data-parallel run (numeric columns only, median fill): every
        statistic is that of all the rows, the bits one process would get."""
        nums = self._numbers_of(block)
        missing: npt.NDArray[np.bool_] = np.zeros(nums.shape[1], dtype=bool)
        centre: npt.NDArray[np.float64] = np.zeros(nums.shape[1], dtype=np.float64)
        if reduce is not None:
            if self.impute == "mean" or any(not c.numeric for c in self.columns):
                raise ValueError("a sharded fit takes numeric columns and median fills only")
            if self.impute != "error":
                has = np.isnan(nums).any(axis=0) if not block.complete else missing
                missing = np.asarray(reduce.sum(has.astype(np.int64)) > 0, dtype=bool)
                centre = column_medians(nums, workers, block.complete, reduce)
                centre = np.where(np.isnan(centre), 0.0, centre)
        elif self.impute != "error" and len(nums):
            if not block.complete:
                missing = np.asarray(np.isnan(nums).any(axis=0), dtype=bool)
            if self.impute == "median":
                centre = column_medians(nums, workers, block.complete)
            else:
                centre = np.array(
                    [fit_fill(nums[:, j], "mean")[0] for j in range(nums.shape[1])],
                    dtype=np.float64,
                )
            centre = np.where(np.isnan(centre), 0.0, centre)  # a column with no values
        for spec in self.columns:
            if spec.numeric:
                j = self.numeric_names.index(spec.name)
                if self.impute != "error":
                    spec.fill = float(np.float32(centre[j]))
                    spec.indicator = bool(missing[j])
            else:
                cats, has_missing, other, distinct = fit_categories(
                    block.text[spec.name], self.category_caps.get(spec.name, self.max_categories)
                )
                spec.categories, spec.missing_slot = cats, has_missing
                spec.other_slot, spec.n_categories = other, distinct
                spec.pooled = pooled_categories(block.text[spec.name], cats) if other else None
        self.feature_names = unique_names([n for c in self.columns for n in c.input_names()])
        # plain: nothing is missing (or missing is an error), so filling leaves `nums` as is
        filled, _ = self._filled(nums if self.plain else nums.copy(), block.complete)
        if self.normalize == "standard":
            self.mean_, self.std_ = fit_standardization(filled, reduce)
        self.fitted = True
        return self

    def encode(self, block: RawBlock) -> Encoded:
        """Model inputs (n, F) float32 of a block of raw rows, standardized; `unseen` counts
        the values of each categorical column that the model never saw (see `columns`).
        `block.numbers` is overwritten (filled and standardized in place: a plain block's
        numbers become the result); encode a block once.

        Raises `MissingValueError` for a missing value in a column without a fill value, and
        `TransformError` for a value that does not standardize to a finite float32."""
        if not self.fitted:
            raise RuntimeError("Preprocessor.encode before fit")
        nums, nan = self._filled(self._numbers_of(block), block.complete)
        numeric = self.numeric_names
        unseen: dict[str, int] = {}
        if self.plain:
            self._standardize(nums, numeric)
            return Encoded(nums, unseen)
        self._standardize(nums, numeric)
        out = np.zeros((block.n, self.n_features), dtype=np.float32)
        at = 0
        j = 0
        rows = np.arange(block.n)
        for spec in self.columns:
            if spec.numeric:
                out[:, at] = nums[:, j]
                if spec.indicator and nan is not None:
                    out[:, at + 1] = nan[:, j]
                j += 1
            else:
                idx, count = category_index(block.text[spec.name], spec)
                hit = idx >= 0
                out[rows[hit], at + idx[hit]] = 1.0
                if count:
                    unseen[spec.name] = count
            at += spec.width
        return Encoded(out, unseen)

    def _numbers_of(self, block: RawBlock) -> F32:
        """The numeric columns of `block` in this preprocessor's order (no copy when the
        block already has them so)."""
        want = self.numeric_names
        if block.numeric_names == want:
            return block.numbers
        index = {n: i for i, n in enumerate(block.numeric_names)}
        missing = [n for n in want if n not in index]
        if missing:
            raise ValueError(f"the block has no numeric column {missing[0]!r}")
        return np.ascontiguousarray(block.numbers[:, [index[n] for n in want]])

    def _filled(
        self, nums: F32, complete: bool = False
    ) -> tuple[F32, npt.NDArray[np.bool_] | None]:
        """`nums` with missing values (NaN) filled, in place, and where they were (None when
        none was); `MissingValueError` where a column has no fill value."""
        if complete or not nums.size:
            return nums, None
        nan = np.isnan(nums)
        if not nan.any():
            return nums, None
        specs = [c for c in self.columns if c.numeric]
        for j in np.flatnonzero(nan.any(axis=0)).tolist():
            spec = specs[j]
            if spec.fill is None:
                raise MissingValueError(spec.name, int(np.argmax(nan[:, j])))
            nums[nan[:, j], j] = spec.fill
        return nums, nan

    def _numeric_positions(self) -> list[int]:
        out, at = [], 0
        for spec in self.columns:
            if spec.numeric:
                out.append(at)
            at += spec.width
        return out

    # -- state for the artifact ----------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, F32]]:
        """(JSON-able description, named float32 arrays): what the artifact stores.

        Numeric tables: `normalize`, `feature_names`; arrays `mean`, `std` (standard).
        Real tables add `columns` (each `ColumnSpec.to_dict`), `labels` (each
        `LabelMap.to_dict`), `ignored`, `impute`, `max_categories`, and the array `fill`
        (one float32 per numeric column, unless impute is `error`)."""
        meta: dict[str, Any] = {"normalize": self.normalize, "feature_names": self.feature_names}
        arrays: dict[str, F32] = {}
        if self.mean_ is not None and self.std_ is not None:
            arrays = {"mean": self.mean_, "std": self.std_}
        if self.table:
            meta |= {
                "columns": [c.to_dict() for c in self.columns],
                "labels": [m.to_dict() for m in self.labels],
                "ignored": list(self.ignored),
                "impute": self.impute,
                "max_categories": self.max_categories,
            }
            if self.impute != "error":
                fills = [c.fill for c in self.columns if c.numeric]
                arrays["fill"] = np.array(fills, dtype=np.float32)
        return meta, arrays

    @classmethod
    def expected_arrays(cls, meta: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """The arrays (name → shape) that `state()` gives with this description, for the
        artifact's tensor checks before anything is loaded; `PreprocessorStateError` when the
        description is not valid."""
        pre = cls._from_meta(meta)
        k = len(pre.numeric_names)
        shapes: dict[str, tuple[int, ...]] = {}
        if pre.normalize == "standard":
            shapes |= {"mean": (k,), "std": (k,)}
        if pre.table and pre.impute != "error":
            shapes["fill"] = (k,)
        return shapes

    @classmethod
    def _from_meta(cls, meta: Mapping[str, Any]) -> Preprocessor:
        names = meta.get("feature_names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PreprocessorStateError("feature_names must be a list of strings")
        normalize = meta.get("normalize")
        if normalize not in NORMALIZE:
            raise PreprocessorStateError(f"unknown normalize {normalize!r}")
        if "columns" not in meta:
            extra = set(meta) - {"normalize", "feature_names"}
            if extra:
                raise PreprocessorStateError(f"unexpected key(s) {sorted(extra)}")
            return cls(names, str(normalize))
        keys = {"normalize", "feature_names", "columns", "labels", "ignored", "impute"}
        keys.add("max_categories")
        if set(meta) != keys:
            raise PreprocessorStateError(
                f"expected keys {sorted(keys)}, got {sorted(str(k) for k in meta)}"
            )
        try:
            columns = [ColumnSpec.from_dict(c) for c in meta["columns"]]
            labels = [LabelMap.from_dict(m) for m in meta["labels"]]
        except (TypeError, ValueError, AttributeError) as e:
            raise PreprocessorStateError(str(e)) from None
        ignored, impute, cap = meta["ignored"], meta["impute"], meta["max_categories"]
        if not isinstance(ignored, list) or not all(isinstance(n, str) for n in ignored):
            raise PreprocessorStateError("ignored must be a list of strings")
        if impute not in IMPUTE or not isinstance(cap, int) or isinstance(cap, bool):
            raise PreprocessorStateError("bad impute or max_categories")
        raw = [c.name for c in columns]
        if not columns or len(set(raw)) != len(raw) or set(raw) & set(ignored):
            raise PreprocessorStateError("column names are empty, repeated or also ignored")
        pre = cls.for_table(
            columns,
            labels,
            normalize=str(normalize),
            impute=str(impute),
            max_categories=cap,
            ignored=ignored,
        )
        pre.columns = columns
        if impute == "error" and any(c.indicator for c in columns):
            raise PreprocessorStateError("missing indicators without imputation")
        expected = unique_names([n for c in columns for n in c.input_names()])
        if names != expected:
            raise PreprocessorStateError("feature_names disagree with the columns")
        pre.feature_names = list(names)
        return pre

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, F32]) -> Preprocessor:
        """Rebuild a fitted preprocessor; `PreprocessorStateError` when the state is invalid."""
        pre = cls._from_meta(meta)
        expected = cls.expected_arrays(meta)
        if set(arrays) != set(expected):
            unknown = sorted(set(arrays) - {"mean", "std", "fill"})
            if unknown:
                raise PreprocessorStateError(f"unexpected tensor(s) {unknown}")
            if {"mean", "std"} & (set(arrays) ^ set(expected)):
                raise PreprocessorStateError("normalization tensors are inconsistent")
            raise PreprocessorStateError("fill values are inconsistent with impute")
        k = len(pre.numeric_names)
        if pre.normalize == "standard":
            pre.mean_, pre.std_ = cls._checked_stats(arrays["mean"], arrays["std"], k)
        if "fill" in arrays:
            fill = np.ascontiguousarray(arrays["fill"], dtype=np.float32)
            if fill.shape != (k,) or not np.isfinite(fill).all():
                raise PreprocessorStateError("fill values are not finite")
            for spec, v in zip([c for c in pre.columns if c.numeric], fill.tolist(), strict=True):
                spec.fill = float(v)
        pre.fitted = True
        return pre

    @staticmethod
    def _checked_stats(mean: F32, std: F32, n: int) -> tuple[F32, F32]:
        if mean.shape != (n,) or std.shape != (n,):
            raise PreprocessorStateError("normalization tensors are inconsistent")
        mean = np.ascontiguousarray(mean, dtype=np.float32)
        std = np.ascontiguousarray(std, dtype=np.float32)
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise PreprocessorStateError(
                "normalization tensors hold non-finite or non-positive values"
            )
        return mean, std


def _fmt(v: float) -> str:
    """A float32 value as numpy prints it (shortest round trip: 3.4028235e+38, 0.1)."""
    return str(np.float32(v)) if np.isfinite(v) else str(v)
