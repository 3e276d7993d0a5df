"""sigmoidnet.data: tables in.

- `formats/`: the CSV (pyarrow, and the C fast path `csv_fast`), Parquet and NPZ readers;
- `convert.py`: Arrow columns → float32 numpy, with the value checks and their messages;
- `columns.py`: which columns are features and labels (training) or match a model (inference);
- `split.py`: the seeded, stratified held-out split;
- `dataset.py`: `load_dataset` — resolve → check → split → fit the `Preprocessor` — and
  `load_heldout` / `read_heldout`, the same held-out rows again for `eval`;
- `stream.py`: `iter_batches`, the inference batches of `eval --data` and `predict`;
- `transform.py`: `transform_checked`, the fitted preprocessing on rows of a file, its
  errors named by file, column and row; `check_outputs`, the same for a model output that
  is not finite.

Prediction output is not here: it lives in `sigmoidnet.io`.
"""

from sigmoidnet.data.batch import Batch
from sigmoidnet.data.dataset import (
    Dataset,
    HeldOut,
    HeldOutRows,
    load_dataset,
    load_heldout,
    read_heldout,
)
from sigmoidnet.data.formats import detect_format
from sigmoidnet.data.stream import iter_batches
from sigmoidnet.data.transform import check_outputs, transform_checked

__all__ = [
    "Batch",
    "Dataset",
    "HeldOut",
    "HeldOutRows",
    "check_outputs",
    "detect_format",
    "iter_batches",
    "load_dataset",
    "load_heldout",
    "read_heldout",
    "transform_checked",
]
