"""File formats behind one small interface.

CSV (`csv.CsvReader`, pyarrow; `,` `;` tab or `|` separated) and Parquet
(`parquet.ParquetReader`) are `Reader`s: their columns in file order, the row count where
the format knows it, record batches of chosen columns, and the text of one cell for
messages. `csv_fast` is the C parser for plain numeric CSV, tried first by the callers,
which hand over to `CsvReader` for anything it does not take. NPZ (`npz`) holds arrays that
are already numeric: it reads them straight into numpy rather than through Arrow record
batches, which would only copy them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from sigmoidnet.fsutil import input_file_problem


class Reader(Protocol):
    where: str
    columns: list[str]

    def num_rows(self) -> int | None: ...

    def batches(
        self, columns: Sequence[str], rows: int = ..., *, text: Sequence[str] = ..., skip: int = ...
    ) -> Iterator[Any]: ...

    def cell_text(self, column: str, row: int) -> str | None: ...


def detect_format(path: str) -> str:
    """'csv', 'parquet' or 'npz' from the extension (sniffing the magic bytes otherwise).
    `.csv`, `.tsv`, `.tab` and `.txt` (also compressed: `.gz`, `.bz2`, `.zst`, `.lz4`) are
    CSV, whatever their delimiter (`csv.CsvReader` sniffs it)."""
    name = Path(path).name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".npz"):
        return "npz"
    if re.search(r"\.(csv|tsv|tab|txt)(\.(gz|bz2|zst|lz4))?$", name):
        return "csv"
    if input_file_problem(path) is not None:
        return "csv"  # never opened here (a FIFO would block): the reader's check words it
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return "csv"
    if magic == b"PAR1":
        return "parquet"
    if magic[:2] == b"PK":
        return "npz"
    return "csv"
