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

from sigmoidnet.preprocess.standardize import (
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
    """Raw (N, F) float32 features → the model's (N, F) float32 inputs.

    pre = Preprocessor(feature_names, normalize="standard").fit(x_train)
    pre.transform_(x_val)                  # in place, float32
    meta, arrays = pre.state()             # for the artifact
    again = Preprocessor.from_state(meta, arrays)
    """

    def __init__(self, feature_names: Sequence[str], normalize: str = "standard") -> None:
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        self.feature_names = list(feature_names)
        self.normalize = normalize
        self.mean_: F32 | None = None  # (F,) float32, fitted on the training rows
        self.std_: F32 | None = None  # (F,) float32, zero-variance features get 1
        self.fitted = False

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def fit(self, x: F32) -> Preprocessor:
        """Fit on the training rows `x` (N, F) float32, raw."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (N, {self.n_features}) features, got shape {x.shape}")
        if self.normalize == "standard":
            self.mean_, self.std_ = fit_standardization(x)
        self.fitted = True
        return self

    def transform_(self, x: F32) -> F32:
        """Transform a batch (n, F) float32 in place and return it.

        Raises `TransformError` at the first value (lowest row, then leftmost column) whose
        standardized value is not a finite float32 (say 3.4e38 in a feature whose training
        std is below 1): such values are refused, never clipped. `x` is then partly
        transformed and must be thrown away."""
        if not self.fitted:
            raise RuntimeError("Preprocessor.transform_ before fit")
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) features, got shape {x.shape}")
        if self.mean_ is not None and self.std_ is not None:
            try:
                standardize_(x, self.mean_, self.std_)
            except StandardizeError as e:
                what = (
                    f"{_fmt(e.value)} does not standardize to a finite float32 "
                    f"(training mean {_fmt(e.mean)}, std {_fmt(e.std)})"
                )
                raise TransformError(self.feature_names[e.column], e.row, what) from None
        return x

    def transform(self, x: npt.ArrayLike) -> F32:
        """A transformed float32 copy of `x` (n, F)."""
        return self.transform_(np.array(x, dtype=np.float32, copy=True))

    # -- state for the artifact ----------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, F32]]:
        """(JSON-able description, named float32 arrays): what the artifact stores."""
        meta = {"normalize": self.normalize, "feature_names": self.feature_names}
        arrays: dict[str, F32] = {}
        if self.mean_ is not None and self.std_ is not None:
            arrays = {"mean": self.mean_, "std": self.std_}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, F32]) -> Preprocessor:
        """Rebuild a fitted preprocessor; `PreprocessorStateError` when the state is invalid."""
        names = meta.get("feature_names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PreprocessorStateError("feature_names must be a list of strings")
        normalize = meta.get("normalize")
        if normalize not in NORMALIZE:
            raise PreprocessorStateError(f"unknown normalize {normalize!r}")
        pre = cls(names, str(normalize))
        unknown = set(arrays) - {"mean", "std"}
        if unknown:
            raise PreprocessorStateError(f"unexpected tensor(s) {sorted(unknown)}")
        if normalize == "standard":
            mean, std = arrays.get("mean"), arrays.get("std")
            if mean is None or std is None:
                raise PreprocessorStateError("normalization tensors are inconsistent")
            pre.mean_, pre.std_ = cls._checked_stats(mean, std, len(names))
        elif arrays:
            raise PreprocessorStateError("normalization tensors are inconsistent")
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
