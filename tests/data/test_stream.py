"""sigmoidnet.data.stream: inference batches for eval and predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sigmoidnet.data import Batch, detect_format, iter_batches
from tests.data.util import data_error, load, make_cfg, write

# ---------------------------------------------------------------------------------------------
# iter_batches: streaming for eval/predict


def collect(batches: Any) -> list[Batch]:
    return list(batches)


def test_iter_batches_csv_batches_and_rows(csv_file: str, table: pa.Table) -> None:
    out = collect(iter_batches(csv_file, ["a", "b", "c"], ["y"], keep=["id"], batch_rows=7))
    assert [len(b) for b in out] == [7, 7, 6]
    assert [b.first_row for b in out] == [1, 8, 15]
    x = np.concatenate([b.x for b in out])
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 2], table.column("c").to_numpy())
    y = np.concatenate([b.y for b in out if b.y is not None])
    np.testing.assert_array_equal(y[:, 0], np.arange(20) % 2)
    keep = pa.concat_tables([b.keep for b in out if b.keep is not None])
    assert keep.column("id").to_pylist() == table.column("id").to_pylist()


def test_iter_batches_keep_is_text_as_read(tmp_path: Path) -> None:
    path = write(tmp_path / "k.csv", "id,a\n007,1\n010,2\n")
    (b,) = collect(iter_batches(path, ["a"], keep=["id"]))
    assert b.keep is not None and b.keep.column("id").to_pylist() == ["007", "010"]
    assert b.y is None


def test_iter_batches_row_numbers_across_batches(tmp_path: Path) -> None:
    lines = ["a,b,y"] + [f"{i},{i},{i % 2}" for i in range(30)]
    lines[17] = "16,oops,0"  # data row 17
    path = write(tmp_path / "r.csv", "\n".join(lines) + "\n")
    it = iter_batches(path, ["a", "b"], ["y"], batch_rows=5)
    got = [next(it) for _ in range(3)]
    assert [b.first_row for b in got] == [1, 6, 11]
    err = data_error(lambda: collect(it))
    assert err.message == f"{path}: column 'b', row 17: 'oops' is not a number"
    lines[17] = "16,16,5"
    write(tmp_path / "r.csv", "\n".join(lines) + "\n")
    err = data_error(lambda: collect(iter_batches(path, ["a", "b"], ["y"], batch_rows=4)))
    assert err.message == f"{path}: column 'y', row 17: label must be 0 or 1, got 5"


def test_iter_batches_text_after_the_first_block(tmp_path: Path) -> None:
    rows = [f"{i}.25" for i in range(120_000)]
    rows[100_000] = "bad"
    path = write(tmp_path / "s.csv", "a\n" + "\n".join(rows) + "\n")
    it = iter_batches(path, ["a"], batch_rows=50_000)
    assert len(next(it)) == 50_000 and len(next(it)) == 50_000
    err = data_error(lambda: collect(it))
    assert err.message == f"{path}: column 'a', row 100001: 'bad' is not a number"


def test_iter_batches_column_checks(csv_file: str) -> None:
    feats = ["a", "b", "c"]
    # predict: labels present in the file are ignored, other columns must be kept or match
    out = collect(iter_batches(csv_file, feats, ["y"], keep=["id"], require_labels=False))
    assert all(b.y is None for b in out)
    msg = data_error(lambda: collect(iter_batches(csv_file, feats, ["y"], require_labels=False)))
    assert msg.message.startswith(f"{csv_file}: extra column 'id' not seen in training")
    err = data_error(lambda: collect(iter_batches(csv_file, ["a", "b", "c", "d"], keep=["id"])))
    assert "column 'd' is missing" in err.message
    err = data_error(lambda: collect(iter_batches(csv_file, ["a", "bb", "c"], ["y"], ["id"])))
    assert "column 'bb' is missing; did you mean 'b'?" in err.message
    # columns are matched by name, in any order: x comes in the model's order
    swapped = collect(iter_batches(csv_file, ["a", "c", "b"], ["y"], ["id"]))
    straight = collect(iter_batches(csv_file, feats, ["y"], ["id"]))
    np.testing.assert_array_equal(swapped[0].x, straight[0].x[:, [0, 2, 1]])
    err = data_error(lambda: collect(iter_batches(csv_file, feats, ["label"], ["id"])))
    assert "label column 'label' is missing" in err.message
    err = data_error(lambda: collect(iter_batches(csv_file, feats, ["y"], ["idd"])))
    assert "keep column 'idd' not found; did you mean 'id'?" in err.message
    # a kept feature stays a feature
    out = collect(iter_batches(csv_file, feats, ["y"], keep=["id", "a"]))
    assert out[0].keep is not None and out[0].keep.column_names == ["id", "a"]


def test_iter_batches_parquet(parquet_file: str) -> None:
    out = collect(iter_batches(parquet_file, ["a", "b", "c"], ["y"], ["id"], batch_rows=8))
    assert [len(b) for b in out] == [8, 8, 4] and [b.first_row for b in out] == [1, 9, 17]
    assert out[2].x[-1].tolist() == [1.0, 38.0, 20.0]
    assert out[0].keep is not None and out[0].keep.column("id")[0].as_py() == "r000"
    swapped = collect(iter_batches(parquet_file, ["b", "a", "c"], ["y"], ["id"], batch_rows=8))
    assert swapped[2].x[-1].tolist() == [38.0, 1.0, 20.0]


def test_iter_batches_npz(tmp_path: Path) -> None:
    x = np.arange(30, dtype=np.float64).reshape(10, 3)
    y = (np.arange(10) % 2).astype(np.int64)
    ids = np.array([f"s{i}" for i in range(10)])
    plain = tmp_path / "p.npz"
    np.savez(plain, X=x, y=y, id=ids)
    out = collect(iter_batches(str(plain), ["f", "g", "h"], ["t"], keep=["id"], batch_rows=4))
    assert [len(b) for b in out] == [4, 4, 2] and [b.first_row for b in out] == [1, 5, 9]
    np.testing.assert_array_equal(np.concatenate([b.x for b in out]), x.astype(np.float32))
    assert out[1].y is not None and out[1].y[:, 0].tolist() == [0, 1, 0, 1]
    assert out[2].keep is not None and out[2].keep.column("id").to_pylist() == ["s8", "s9"]
    err = data_error(lambda: collect(iter_batches(str(plain), ["f", "g"])))
    assert "array 'X' has 3 features but the model expects 2" in err.message
    named = tmp_path / "n.npz"
    np.savez_compressed(named, X=x, y=y, feature_names=np.array(["f", "g", "h"]))
    assert len(collect(iter_batches(str(named), ["f", "g", "h"]))) == 1
    err = data_error(lambda: collect(iter_batches(str(named), ["f", "h", "g"])))
    assert "columns out of order" in err.message
    bad = x.copy()
    bad[6, 0] = np.inf
    np.savez(plain, X=bad, y=y)
    err = data_error(lambda: collect(iter_batches(str(plain), ["f", "g", "h"], batch_rows=4)))
    assert err.message == f"{plain}: column 'f', row 7: inf is not a finite number"
    err = data_error(lambda: collect(iter_batches(str(plain), ["f", "g", "h"], keep=["nope"])))
    assert "keep column 'nope' not found" in err.message


def test_iter_batches_empty_and_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "a\n")
    assert data_error(lambda: collect(iter_batches(path, ["a"]))).message.endswith("no data rows")
    missing = str(tmp_path / "missing.parquet")
    err = data_error(lambda: collect(iter_batches(missing, ["a"])))
    assert err.message == f"{missing}: file not found"


def test_detect_format(tmp_path: Path, parquet_file: str) -> None:
    assert detect_format("x.CSV") == "csv" and detect_format("x.csv.gz") == "csv"
    assert detect_format("x.pq") == "parquet" and detect_format("x.npz") == "npz"
    odd = tmp_path / "data.bin"
    odd.write_bytes(Path(parquet_file).read_bytes())
    assert detect_format(str(odd)) == "parquet"


def test_npz_with_a_negative_declared_shape_is_refused_everywhere(tmp_path: Path) -> None:
    import io as _io
    import zipfile

    buf = _io.BytesIO()
    np.save(buf, np.zeros((40, 3), np.float32))
    raw = buf.getvalue().replace(b"(40, 3)", b"(-40, 3)")
    path = tmp_path / "neg.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", raw)
        z.writestr("y.npy", _npy(np.zeros(40)))
    for get in (
        lambda: list(iter_batches(str(path), ["x0", "x1", "x2"], require_labels=False)),
        lambda: load(make_cfg({"source": "npz", "path": str(path)})),
    ):
        err = data_error(get)
        assert "declares a negative shape (-40, 3)" in err.message


def _npy(a: np.ndarray) -> bytes:
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()
