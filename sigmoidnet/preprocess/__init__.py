"""sigmoidnet.preprocess: the `Preprocessor`, owner of every fitted transform between raw
feature columns and the model's inputs (see `preprocessor.py`)."""

from sigmoidnet.preprocess.preprocessor import Preprocessor, PreprocessorStateError
from sigmoidnet.preprocess.standardize import fit_standardization, standardize_

__all__ = ["Preprocessor", "PreprocessorStateError", "fit_standardization", "standardize_"]
