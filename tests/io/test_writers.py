"""sigmoidnet.io.writers: prediction files, atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from sigmoidnet.errors import UsageError
from sigmoidnet.io import PredictionWriter, output_format
from tests.data.util import files_in

# ---------------------------------------------------------------------------------------------
# writers


@pytest.fixture
def preds() -> pa.Table:
    return pa.table(
        {
            "id": ["a", 'q"uote\\', "new\nline"],
            "p": pa.array([0.25, 0.5, 0.75], pa.float32()),
            "n": pa.array([1, None, 3], pa.int64()),
            "ok": [True, False, None],
        }
    )


@pytest.mark.parametrize("ext", ["csv", "parquet", "pq", "jsonl", "ndjson"])
def test_writers_round_trip(tmp_path: Path, preds: pa.Table, ext: str) -> None:
    out = tmp_path / "sub" / f"preds.{ext}"
    with PredictionWriter(out) as w:
        w.write(preds.slice(0, 2))
        w.write(preds.slice(2))
    assert w.rows == 3
    assert files_in(out.parent) == [out.name]  # no temporary left behind
    if ext == "csv":
        back = pacsv.read_csv(out)
        assert back.column("id").to_pylist() == preds.column("id").to_pylist()
        assert back.column("p").to_pylist() == [0.25, 0.5, 0.75]
    elif ext in ("parquet", "pq"):
        assert pq.read_table(out).equals(preds)
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert rows == [
            {"id": "a", "p": 0.25, "n": 1, "ok": True},
            {"id": 'q"uote\\', "p": 0.5, "n": None, "ok": False},
            {"id": "new\nline", "p": 0.75, "n": 3, "ok": None},
        ]


def test_jsonl_numbers_and_non_finite(tmp_path: Path) -> None:
    t = pa.table({"p": pa.array([0.1, float("nan"), 1e-7], pa.float32()), "s": ["é", "x", "y"]})
    out = tmp_path / "p.jsonl"
    with PredictionWriter(out) as w:
        w.write(t)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["p"] for r in rows] == [0.1, None, 1e-7] and rows[0]["s"] == "é"


def test_csv_to_a_stream(preds: pa.Table) -> None:
    buf = io.BytesIO()
    with PredictionWriter(None, stream=buf) as w:
        w.write(preds.select(["p", "n"]))
    assert not buf.closed
    assert buf.getvalue().decode().splitlines() == ['"p","n"', "0.25,1", "0.5,", "0.75,3"]


def test_unsupported_output_extension(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        PredictionWriter(tmp_path / "out.xlsx")
    assert info.value.exit_code == 2 and "unsupported output extension '.xlsx'" in str(info.value)
    assert output_format(None) == "csv" and output_format("a.NDJSON") == "jsonl"


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_writer_is_atomic(tmp_path: Path, preds: pa.Table, ext: str) -> None:
    out = tmp_path / f"preds.{ext}"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="boom"), PredictionWriter(out) as w:
        w.write(preds)
        raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"
    assert files_in(tmp_path) == [out.name]
