"""sigmoidnet.data.dataset: loading, checks, splits and the fitted preprocessing, for every
source. Tiny tables made in fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from sigmoidnet.config import Config
from sigmoidnet.data import Dataset
from sigmoidnet.errors import ConfigError, DataError
from sigmoidnet.preprocess import fit_standardization
from tests.data.util import csv_cfg, data_error, load, make_cfg, write

# ---------------------------------------------------------------------------------------------
# random source: the tutorial's data


def test_random_reproduces_the_tutorial_draws() -> None:
    ds = load(make_cfg({"source": "random"}, seed=3))
    torch.manual_seed(3)
    x = torch.rand(32, 64)
    y = torch.randint(0, 2, (32, 2), dtype=torch.float32)
    after = torch.rand(5)  # the next draw (the model's init) must be unaffected
    assert torch.equal(ds.x_train, x) and torch.equal(ds.y_train, y)
    load(make_cfg({"source": "random"}, seed=3))
    assert torch.equal(torch.rand(5), after)
    assert ds.x_val is None and ds.y_val is None
    assert (
        ds.preprocessor.mean_ is None and ds.preprocessor.std_ is None
    )  # the tutorial feeds raw torch.rand values
    assert ds.feature_names == [f"x{j}" for j in range(64)]
    assert ds.label_names == ["y0", "y1"]
    assert ds.x_train.dtype == torch.float32 and ds.x_train.is_contiguous()
    assert "32 rows, 64 features, 2 labels" in ds.description


def test_random_holdout_uses_its_own_generator() -> None:
    data = {"source": "random", "n_samples": 50, "n_features": 3, "n_labels": 1}
    ds = load(make_cfg({**data, "val_fraction": 0.2}, seed=1))
    after_split = torch.rand(3)
    full = load(make_cfg(data, seed=1))
    after_full = torch.rand(3)
    assert torch.equal(after_split, after_full)  # the split consumed no torch randomness
    assert ds.x_val is not None and ds.y_val is not None
    assert len(ds.x_train) + len(ds.x_val) == 50 and len(ds.x_val) == 10
    rows = {tuple(r) for r in full.x_train.tolist()}
    assert {tuple(r) for r in ds.x_train.tolist() + ds.x_val.tolist()} == rows
    assert ds.preprocessor.mean_ is None


# ---------------------------------------------------------------------------------------------
# file sources


def test_csv_round_trip(csv_file: str, table: pa.Table) -> None:
    ds = load(csv_cfg(csv_file, features=["a", "b", "c"], normalize="none"))
    expect = np.stack(
        [table.column(c).to_numpy().astype(np.float32) for c in ("a", "b", "c")], axis=1
    )
    assert ds.x_train.dtype == torch.float32 and ds.x_train.is_contiguous()
    np.testing.assert_array_equal(ds.x_train.numpy(), expect)
    np.testing.assert_array_equal(ds.y_train.numpy()[:, 0], np.arange(20) % 2)
    assert ds.feature_names == ["a", "b", "c"] and ds.label_names == ["y"]
    assert ds.preprocessor.mean_ is None and ds.preprocessor.std_ is None and ds.x_val is None
    assert ds.description == f"{csv_file}: 20 rows, 3 features, 1 label"


def test_parquet_round_trip_and_feature_order(parquet_file: str, table: pa.Table) -> None:
    cfg = make_cfg(
        {
            "source": "parquet",
            "path": parquet_file,
            "labels": ["y"],
            "features": ["c", "a"],
            "val_fraction": 0.0,
            "normalize": "none",
        }
    )
    ds = load(cfg)
    assert ds.feature_names == ["c", "a"]
    np.testing.assert_array_equal(ds.x_train[:, 0].numpy(), table.column("c").to_numpy())
    np.testing.assert_array_equal(
        ds.x_train[:, 1].numpy(), table.column("a").to_numpy().astype(np.float32)
    )


def test_default_features_are_every_other_column_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "z,y,a,m\n1,0,2,3\n4,1,5,6\n")
    ds = load(csv_cfg(path, normalize="none"))
    assert ds.feature_names == ["z", "a", "m"]
    assert ds.x_train.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_multilabel_and_bool_columns(tmp_path: Path) -> None:
    t = pa.table(
        {
            "f": pa.array([True, False, True]),
            "g": pa.array([1, 2, 3], pa.int32()),
            "l1": pa.array([True, False, False]),
            "l2": pa.array([0.0, 1.0, 1.0]),
        }
    )
    pq.write_table(t, tmp_path / "b.parquet")
    cfg = make_cfg(
        {
            "source": "parquet",
            "path": str(tmp_path / "b.parquet"),
            "labels": ["l1", "l2"],
            "val_fraction": 0.0,
            "normalize": "none",
        }
    )
    ds = load(cfg)
    assert ds.x_train.tolist() == [[1, 1], [0, 2], [1, 3]]
    assert ds.y_train.tolist() == [[1, 0], [0, 1], [0, 1]]
    # CSV true/false text works too
    path = write(tmp_path / "b.csv", "f,y\ntrue,false\nFalse,TRUE\n")
    ds = load(csv_cfg(path, normalize="none"))
    assert ds.x_train.tolist() == [[1], [0]] and ds.y_train.tolist() == [[0], [1]]


def test_npz_with_and_without_names(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 0, 1])
    np.savez(tmp_path / "plain.npz", X=x, y=y)
    base = {"source": "npz", "val_fraction": 0.0, "normalize": "none"}
    ds = load(make_cfg({**base, "path": str(tmp_path / "plain.npz")}))
    assert ds.feature_names == ["x0", "x1"] and ds.label_names == ["y0"]
    np.testing.assert_array_equal(ds.x_train.numpy(), x.astype(np.float32))
    assert ds.y_train.shape == (6, 1)
    # names given in the config name the columns (count must match)
    ds = load(make_cfg({**base, "path": str(tmp_path / "plain.npz"), "features": ["p", "q"]}))
    assert ds.feature_names == ["p", "q"]
    err = data_error(
        lambda: load(make_cfg({**base, "path": str(tmp_path / "plain.npz"), "features": ["p"]}))
    )
    assert "1 feature names given but the file has 2" in err.message
    # with names in the file: the config selects by name
    np.savez(
        tmp_path / "named.npz",
        X=x,
        y=np.stack([y, 1 - y], axis=1),
        feature_names=np.array(["u", "v"]),
        label_names=np.array(["l0", "l1"]),
    )
    named = {**base, "path": str(tmp_path / "named.npz")}
    ds = load(make_cfg({**named, "features": ["v"], "labels": ["l1"]}))
    assert ds.feature_names == ["v"] and ds.label_names == ["l1"]
    np.testing.assert_array_equal(ds.x_train.numpy()[:, 0], x[:, 1])
    np.testing.assert_array_equal(ds.y_train.numpy()[:, 0], 1 - y)
    err = data_error(lambda: load(make_cfg({**named, "features": ["vv"]})))
    assert "feature column 'vv' not found; did you mean 'v'?" in err.message


# ---------------------------------------------------------------------------------------------
# splits


def big_csv(tmp_path: Path, n0: int, n1: int, name: str = "s.csv") -> str:
    y = np.array([0] * n0 + [1] * n1)
    np.random.default_rng(0).shuffle(y)
    lines = ["f,g,y"] + [f"{i},{i % 5},{v}" for i, v in enumerate(y)]
    return write(tmp_path / name, "\n".join(lines) + "\n")


def test_split_sizes_stratification_and_determinism(tmp_path: Path) -> None:
    path = big_csv(tmp_path, 357, 212)
    ds = load(csv_cfg(path, val_fraction=0.2, normalize="none", model={}))
    assert ds.x_val is not None and ds.y_val is not None
    assert (len(ds.x_train), len(ds.x_val)) == (455, 114)
    assert int(ds.y_val.sum()) == 42  # 212 · 0.2 = 42.4; 357 · 0.2 = 71.4 → 72
    assert ds.description.endswith("455 train / 114 val rows, 2 features, 1 label")
    # every row lands in exactly one split, each split in file order
    ids = np.concatenate([ds.x_train[:, 0].numpy(), ds.x_val[:, 0].numpy()])
    assert sorted(ids.tolist()) == list(range(569))
    assert np.all(np.diff(ds.x_train[:, 0].numpy()) > 0)
    again = load(csv_cfg(path, val_fraction=0.2, normalize="none"))
    assert again.x_val is not None and torch.equal(again.x_val, ds.x_val)
    other = make_cfg(
        {"source": "csv", "path": path, "labels": ["y"], "val_fraction": 0.2, "normalize": "none"},
        seed=1,
    )
    ds1 = load(other)
    assert ds1.x_val is not None and not torch.equal(ds1.x_val, ds.x_val)


def test_split_keeps_a_rare_class_on_both_sides(tmp_path: Path) -> None:
    path = big_csv(tmp_path, 40, 2)
    ds = load(csv_cfg(path, val_fraction=0.1, normalize="none"))
    assert ds.y_val is not None
    assert int(ds.y_val.sum()) == 1 and int(ds.y_train.sum()) == 1


def test_split_multilabel_is_plain_random(tmp_path: Path) -> None:
    lines = ["f,y1,y2"] + [f"{i},{i % 2},{(i // 2) % 2}" for i in range(10)]
    path = write(tmp_path / "m.csv", "\n".join(lines) + "\n")
    ds = load(csv_cfg(path, labels=["y1", "y2"], val_fraction=0.3, normalize="none"))
    assert ds.x_val is not None and len(ds.x_val) == 3 and len(ds.x_train) == 7


def test_too_few_rows_for_the_split(tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", "f,y\n1,0\n")
    err = data_error(lambda: load(csv_cfg(path, val_fraction=0.2)))
    assert err.message.startswith(path) and "too few rows" in err.message
    path = write(tmp_path / "two.csv", "f,y\n1,0\n2,1\n")
    err = data_error(lambda: load(csv_cfg(path, val_fraction=0.5)))
    assert "too few rows" in err.message


def test_val_path(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n")
    val = write(tmp_path / "val.csv", "b,a,y,extra\n10,20,1,x\n")
    cfg = make_cfg({"source": "csv", "path": train, "labels": ["y"], "val_path": val})
    ds = load(cfg)
    assert ds.x_val is not None and ds.y_val is not None
    assert len(ds.x_train) == 3 and ds.y_val.tolist() == [[1.0]]
    assert ds.preprocessor.mean_ is not None and ds.preprocessor.std_ is not None
    # val columns are picked by name and normalized with the training statistics
    expect = (np.array([[20, 10]], np.float32) - ds.preprocessor.mean_) / ds.preprocessor.std_
    np.testing.assert_array_equal(ds.x_val.numpy(), expect)
    assert f"{val}: 1 val rows" in ds.description
    bad = write(tmp_path / "bad.csv", "a,y\n1,0\n")
    cfg = make_cfg({"source": "csv", "path": train, "labels": ["y"], "val_path": bad})
    err = data_error(lambda: load(cfg))
    assert err.message.startswith(bad) and "'b'" in err.message


def test_parallel_conversion_matches_and_reports_the_first_bad_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sigmoidnet.data.dataset as data_mod

    monkeypatch.setattr(data_mod, "_LOAD_BATCH_ROWS", 16)  # many batches, several threads
    monkeypatch.setattr(data_mod, "workers", lambda: 3)
    n = 400
    x = np.random.default_rng(0).standard_normal((n, 3))
    y = (np.arange(n) % 3 == 0).astype(np.int8)
    path = tmp_path / "many.parquet"
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}), path)
    base = {"source": "parquet", "path": str(path), "labels": ["y"], "normalize": "none"}
    ds = load(make_cfg({**base, "val_fraction": 0.0}))
    np.testing.assert_array_equal(ds.x_train.numpy(), x.astype(np.float32))
    ds = load(make_cfg({**base, "val_fraction": 0.25}))
    assert ds.x_val is not None and ds.y_val is not None
    monkeypatch.setattr(data_mod, "workers", lambda: 1)
    serial = load(make_cfg({**base, "val_fraction": 0.25}))
    assert serial.x_val is not None
    assert torch.equal(ds.x_train, serial.x_train) and torch.equal(ds.x_val, serial.x_val)
    # 134 positives · 0.25 = 33.5, 266 negatives · 0.25 = 66.5: the tie goes to class 0
    assert len(ds.x_val) == 100 and int(ds.y_val.sum()) == 33
    monkeypatch.setattr(data_mod, "workers", lambda: 3)
    x[300, 2] = np.nan
    x[50, 1] = np.inf
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}), path)
    err = data_error(lambda: load(make_cfg({**base, "val_fraction": 0.25})))
    assert err.message == f"{path}: column 'b', row 51: inf is not a finite number"


# ---------------------------------------------------------------------------------------------
# normalization


def test_standardization_is_fitted_on_the_training_split(tmp_path: Path) -> None:
    lines = ["f,k,y"] + [f"{i * i},7,{i % 2}" for i in range(200)]
    path = write(tmp_path / "n.csv", "\n".join(lines) + "\n")
    ds = load(csv_cfg(path, val_fraction=0.25))
    assert (
        ds.preprocessor.mean_ is not None
        and ds.preprocessor.std_ is not None
        and ds.x_val is not None
    )
    assert ds.preprocessor.mean_.dtype == np.float32 and ds.preprocessor.mean_.shape == (2,)
    x = ds.x_train.numpy().astype(np.float64)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(x[:, 0].std(), 1.0, rtol=1e-5)
    assert ds.preprocessor.std_[1] == 1.0 and np.all(x[:, 1] == 0)  # zero variance: std 1
    # the statistics are the training rows' (population std, float64 accumulation)
    raw = load(csv_cfg(path, val_fraction=0.25, normalize="none"))
    m, s = fit_standardization(raw.x_train.numpy())
    assert np.array_equal(ds.preprocessor.mean_, m) and np.array_equal(ds.preprocessor.std_, s)
    np.testing.assert_allclose(m[0], raw.x_train.numpy()[:, 0].astype(np.float64).mean(), 1e-6)
    # applied to validation in float32 exactly as the artifact will: (x - mean) / std
    assert raw.x_val is not None
    expect = torch.from_numpy((raw.x_val.numpy() - ds.preprocessor.mean_) / ds.preprocessor.std_)
    assert torch.equal(ds.x_val, expect)
    assert abs(float(ds.x_val[:, 0].mean())) > 1e-3  # not re-centred on validation


# ---------------------------------------------------------------------------------------------
# bad data: exit 3, one line naming the file, column and row

BAD_CSV = [
    ("a,y\n1,0\nabc,1\n", "column 'a', row 2: 'abc' is not a number"),
    ("a,y\n1,0\n,1\n", "column 'a', row 2: missing value"),
    ("a,y\n1,0\nnan,1\n", "column 'a', row 2: missing value"),  # a missing-value token
    ("a,y\n1,0\n2,1\n-inf,1\n", "column 'a', row 3: -inf is not a finite number"),
    ("a,y\n1,0\n1e300,1\n", "column 'a', row 2: 1e300 does not fit in float32"),
    ("a,y\n1,0\nNA,1\n", "column 'a', row 2: missing value"),
    (
        "a,y\n1,0\n2,2\n",
        "label column 'y' holds 0 and 2; say which is the positive class "
        "with data.positive: {y: 2}",
    ),
    ("a,y\n1,0.5\n", "column 'y', row 1: label must be 0 or 1, got 0.5"),
    (
        "a,y\n1,yes\n2,no\n3,maybe\n",
        "label column 'y' holds 3 distinct values ('maybe', "
        "'no', 'yes'); a label has two (list one column per class for a multi-label model)",
    ),
    ("a,y\n1,0\n2\n3,1\n", "row 2: expected 2 columns, got 1"),
    ("a,y\n1,0\n2,1,5\n", "row 2: expected 2 columns, got 3"),
    ("a,y\n", "no data rows (the file has a header only)"),
    ("", "empty file (no header row)"),
    ("a,a,y\n1,2,0\n", "duplicate column name 'a' in the header"),
    # the first problem wins: lowest row, then leftmost column
    ("a,b,y\n1,2,0\n3,x,1\nz,5,0\n", "column 'b', row 2: 'x' is not a number"),
    ("a,b,y\n1,2,0\nz,5,0\n3,x,1\n", "column 'a', row 2: 'z' is not a number"),
    # labels are checked before features
    (
        "a,b,y\n1,2,0\n3,x,7\n",
        "label column 'y' holds 0 and 7; say which is the positive "
        "class with data.positive: {y: 7}",
    ),
    (
        "a,b,y\n1,2,0\n3,x,7\n4,5,1\n",
        "column 'y', row 2: label must be 0 or 1, got 7 "
        "(the column holds 3 distinct values: 0, 1, 7)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CSV)
def test_bad_csv(tmp_path: Path, text: str, expected: str) -> None:
    # strict: every feature declared numeric (text in it is an error), nothing imputed
    path = write(tmp_path / "bad.csv", text)
    header = text.split("\n")[0].split(",")
    feats = [c for c in header if c not in ("y", "")]
    numeric = list(dict.fromkeys(feats)) or None
    err = data_error(lambda: load(csv_cfg(path, impute="error", numeric=numeric)))
    assert err.message == f"{path}: {expected}"


def test_bad_value_after_the_first_block_is_found_with_its_row(tmp_path: Path) -> None:
    # pyarrow infers types from the first block (1 MB): a bad value far below must still
    # be reported with its own row, not as a pyarrow conversion error
    rows = [f"{i}.5,{i % 2}" for i in range(120_000)]
    rows[110_000] = "oops,1"
    path = write(tmp_path / "late.csv", "a,y\n" + "\n".join(rows) + "\n")
    err = data_error(lambda: load(csv_cfg(path, val_fraction=0.2)))
    assert err.message.startswith(f"{path}: column 'a', row 110001: 'oops' is not a number, in")
    err = data_error(lambda: load(csv_cfg(path, val_fraction=0.2, numeric=["a"])))
    assert err.message == f"{path}: column 'a', row 110001: 'oops' is not a number"
    rows[110_000] = "1.5"
    write(tmp_path / "late.csv", "a,y\n" + "\n".join(rows) + "\n")
    err = data_error(lambda: load(csv_cfg(path, val_fraction=0.2)))
    assert err.message == f"{path}: row 110001: expected 2 columns, got 1"


def test_missing_columns_name_the_nearest(csv_file: str) -> None:
    err = data_error(lambda: load(csv_cfg(csv_file, labels=["yy"])))
    assert err.message == f"{csv_file}: label column 'yy' not found; did you mean 'y'?"
    err = data_error(lambda: load(csv_cfg(csv_file, features=["a", "bb"])))
    assert "feature column 'bb' not found; did you mean 'b'?" in err.message
    err = data_error(lambda: load(csv_cfg(csv_file, features=["qqqq"])))
    assert err.message.endswith("feature column 'qqqq' not found")
    with pytest.raises(ConfigError, match="column 'y' is a label; it cannot be in 'features'"):
        csv_cfg(csv_file, features=["a", "y"])


def test_text_column_in_the_features(csv_file: str) -> None:
    # 'id' is text, every value different: an identifier, left out with a note
    ds = load(csv_cfg(csv_file))
    assert "id" not in ds.preprocessor.raw_names
    assert f"{csv_file}: column 'id' left out: an identifier (every value is different)" in ds.notes
    # declared numeric, its text is an error naming the row
    err = data_error(lambda: load(csv_cfg(csv_file, numeric=["id"])))
    assert err.message == f"{csv_file}: column 'id', row 1: 'r000' is not a number"
    # declared categorical, it is kept (one input per value)
    ds = load(csv_cfg(csv_file, categorical=["id"]))
    assert "id" in ds.preprocessor.raw_names and "id=r000" in ds.feature_names


def test_a_word_in_a_column_of_numbers_is_refused(tmp_path: Path) -> None:
    rows = [f"{i}.5,{i % 2}" for i in range(100)]
    rows[41] = "?,1"
    path = write(tmp_path / "q.csv", "a,y\n" + "\n".join(rows) + "\n")
    err = data_error(lambda: load(csv_cfg(path)))
    assert err.message == (
        f"{path}: column 'a', row 42: '?' is not a number, in a column of numbers; "
        "fix it, or set data.categorical: [a] to read the column as categories"
    )
    assert "a=<other>" in load(csv_cfg(path, categorical=["a"])).feature_names  # '?' is rare


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    assert data_error(lambda: load(csv_cfg(missing))).message == f"{missing}: file not found"
    err = data_error(lambda: load(csv_cfg(str(tmp_path))))
    assert "is a directory" in err.message
    fake = write(tmp_path / "fake.parquet", "not parquet at all")
    cfg = make_cfg({"source": "parquet", "path": fake, "labels": ["y"]})
    err = data_error(lambda: load(cfg))
    assert err.message.startswith(f"{fake}: not a readable Parquet file (")
    fake_npz = write(tmp_path / "fake.npz", "nope")
    err = data_error(lambda: load(make_cfg({"source": "npz", "path": fake_npz})))
    assert err.message.startswith(f"{fake_npz}: not a readable .npz file")


def test_bad_parquet_values(tmp_path: Path) -> None:
    path = tmp_path / "v.parquet"
    base = {"source": "parquet", "path": str(path), "labels": ["y"], "val_fraction": 0.0}
    pq.write_table(pa.table({"a": [1.0, None, 3.0], "y": [0, 1, 0]}), path)
    assert data_error(lambda: load(make_cfg(base | {"impute": "error"}))).message.endswith(
        "column 'a', row 2: missing value"
    )
    ds = load(make_cfg(base))  # the median of the training rows, and an indicator
    assert ds.feature_names == ["a", "a[missing]"]
    assert ds.preprocessor.columns[0].fill == 2.0
    pq.write_table(pa.table({"a": [1.0, 2.0, 1e300], "y": [0, 1, 0]}), path)
    assert data_error(lambda: load(make_cfg(base))).message.endswith(
        "column 'a', row 3: 1e+300 does not fit in float32"
    )
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "y": [0, None, 0]}), path)
    ds = load(make_cfg(base))  # a row without a label is left out, and said so
    assert ds.x_train.shape[0] == 2 and f"{path}: 1 row without a label left out" in ds.notes
    pq.write_table(pa.table({"a": ["1", "2", "x"], "y": [0, 1, 0]}), path)
    assert data_error(lambda: load(make_cfg(base | {"numeric": ["a"]}))).message.endswith(
        "column 'a', row 3: 'x' is not a number"
    )
    pq.write_table(pa.table({"a": [1.0], "y": [0]}).slice(0, 0), path)
    assert data_error(lambda: load(make_cfg(base))).message.endswith("no data rows")


def test_bad_npz(tmp_path: Path) -> None:
    def cfg(**arrays: Any) -> Config:
        np.savez(tmp_path / "b.npz", **arrays)
        return make_cfg({"source": "npz", "path": str(tmp_path / "b.npz"), "val_fraction": 0.0})

    x = np.ones((3, 2))
    assert "array 'X' not found" in data_error(lambda: load(cfg(y=np.zeros(3)))).message
    assert "array 'y' not found" in data_error(lambda: load(cfg(X=x))).message
    err = data_error(lambda: load(cfg(X=x, y=np.array([0, 1, 3]))))
    assert err.message.endswith("column 'y0', row 3: label must be 0 or 1, got 3")
    bad_x = x.copy()
    bad_x[1, 1] = np.nan
    err = data_error(lambda: load(cfg(X=bad_x, y=np.zeros(3))))
    assert err.message.endswith("column 'x1', row 2: nan is not a finite number")
    err = data_error(lambda: load(cfg(X=x, y=np.zeros(4))))
    assert "'y' has 4 rows but 'X' has 3" in err.message
    err = data_error(lambda: load(cfg(X=np.array([["a", "b"]]), y=np.zeros(1))))
    assert "expected numbers" in err.message
    # object arrays would need unpickling: refused, not loaded
    objs = np.array([{"a": 1}, None, 3], dtype=object)
    np.savez(tmp_path / "o.npz", X=objs, y=np.zeros(3))
    ocfg = make_cfg({"source": "npz", "path": str(tmp_path / "o.npz")})
    assert "cannot be read" in data_error(lambda: load(ocfg)).message


def test_model_sizes_are_checked(csv_file: str) -> None:
    feats = {"features": ["a", "b"]}
    err = data_error(lambda: load(csv_cfg(csv_file, **feats, model={"input_size": 5})))
    assert err.message == f"{csv_file}: model.input_size is 5 but the data has 2 features"
    err = data_error(lambda: load(csv_cfg(csv_file, **feats, model={"output_size": 3})))
    assert err.message == f"{csv_file}: model.output_size is 3 but the data has 1 label"
    ds = load(csv_cfg(csv_file, **feats, model={"input_size": 2, "output_size": 1}))
    assert isinstance(ds, Dataset) and ds.n_features == 2 and ds.n_labels == 1


def test_file_format_must_match_the_source(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sigmoidnet.config import load_config

    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}), tmp_path / "t.parquet")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text("data:\n  source: csv\n  path: t.parquet\n  labels: [y]\n")
    with pytest.raises(DataError, match=r"looks like a parquet file, but data\.source is 'csv'"):
        load(load_config(cfg_path))


def test_a_table_of_text_features_only_has_a_heldout_record(tmp_path: Path) -> None:
    # regression (fuzz): no numeric column at all, so the raw numbers are an (n, 0) array
    path = write(tmp_path / "t.csv", "a,b,y\n" + "x,p,1\nz,q,0\n" * 5)
    ds = load(csv_cfg(path, val_fraction=0.4))
    assert ds.heldout is not None and ds.x_train.shape[1] == 4
