"""The batches `stream.iter_batches` yields (eval and predict)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sigmoidnet.preprocess.columns import RawBlock

F32 = npt.NDArray[np.float32]


@dataclass
class Batch:
    """One slice of a file read by `iter_batches`."""

    x: F32  # (n, F) float32 numeric columns, raw (NaN = missing in a real table's batch)
    y: F32 | None  # (n, L) float32 0/1 (NaN: no label), when labels were requested
    keep: pa.Table | None  # the `keep` columns, as read (CSV: as text)
    first_row: int  # 1-based data-row number of x[0]
    block: RawBlock | None = None  # a real table's raw rows (x is block.numbers)

    def raw(self, names: list[str]) -> RawBlock:
        """The raw rows for `Preprocessor.encode` (`names`: x's columns)."""
        return self.block if self.block is not None else RawBlock.from_matrix(self.x, names)

    def __len__(self) -> int:
        return int(self.x.shape[0])
