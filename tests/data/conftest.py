"""Fixtures of the data tests: one small table as CSV and Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def table() -> pa.Table:
    """20 rows: features a, b, c (c = row number), label y alternating, id text."""
    n = 20
    return pa.table(
        {
            "id": [f"r{i:03d}" for i in range(n)],
            "a": np.linspace(-1.0, 1.0, n),
            "b": np.arange(n, dtype=np.int64) * 2,
            "c": np.arange(1, n + 1, dtype=np.float32),
            "y": (np.arange(n) % 2).astype(np.int8),
        }
    )


@pytest.fixture
def csv_file(tmp_path: Path, table: pa.Table) -> str:
    path = tmp_path / "t.csv"
    pacsv.write_csv(table, path)
    return str(path)


@pytest.fixture
def parquet_file(tmp_path: Path, table: pa.Table) -> str:
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    return str(path)
