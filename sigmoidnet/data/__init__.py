"""sigmoidnet.data: tables in.

- `formats/`: the CSV (pyarrow, and the C fast path `csv_fast`), Parquet and NPZ readers;
- `convert.py`: Arrow columns → float32 numpy, with the value checks and their messages;
- `columns.py`: which columns are features and labels (training) or match a model (inference);
- `split.py`: the seeded, stratified held-out split;
- `dataset.py`: `load_dataset` — resolve → check → split → fit the `Preprocessor` — and
  `load_heldout`, the same held-out rows again for `eval`;
- `stream.py`: `iter_batches`, the inference batches of `eval --data` and `predict`.

Prediction output is not here: it lives in `sigmoidnet.io`.
"""

from sigmoidnet.data.batch import Batch
from sigmoidnet.data.dataset import Dataset, HeldOut, load_dataset, load_heldout
from sigmoidnet.data.formats import detect_format
from sigmoidnet.data.stream import iter_batches

__all__ = [
    "Batch",
    "Dataset",
    "HeldOut",
    "detect_format",
    "iter_batches",
    "load_dataset",
    "load_heldout",
]
