"""sigmoidnet.preprocess: the `Preprocessor`, owner of every fitted transform between raw
feature columns and the model's inputs (see `preprocessor.py`)."""

from sigmoidnet.preprocess.preprocessor import (
    Preprocessor,
    PreprocessorStateError,
    TransformError,
)
from sigmoidnet.preprocess.standardize import (
    StandardizeError,
    fit_standardization,
    standardize_,
)

__all__ = [
    "Preprocessor",
    "PreprocessorStateError",
    "StandardizeError",
    "TransformError",
    "fit_standardization",
    "standardize_",
]
