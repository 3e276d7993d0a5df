"""The bundled mixed-types example: configs/penguins.yaml on data/penguins.csv (as published:
text columns, NA cells, a male/female label with missing values).

The slow test holds the example's target: trained through the CLI, its validation accuracy is
at least scikit-learn's LogisticRegression's on the same split (`benchmarks.penguins_baseline`
rebuilds that split from the raw file; the second test checks the rebuild row for row).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sigmoidnet.config import load_config
from sigmoidnet.data import load_dataset
from tests.cli.util import invoke

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "penguins.yaml"
DATA = ROOT / "data" / "penguins.csv"
MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def test_the_table_loads_as_published() -> None:
    cfg = load_config(CONFIG)
    assert cfg.data.path == str(DATA)  # relative to the config's folder
    ds = load_dataset(cfg.data, cfg.seed)
    table = {c.name: (c.kind, c.missing, c.categories) for c in ds.columns}
    assert table == {
        "species": ("categorical", 0, 3),
        "island": ("categorical", 0, 3),
        # the 2 NA measurements are in rows without a label (left out): not counted
        **{m: ("numeric", 0, None) for m in MEASUREMENTS},
        "sex": ("label", 11, None),
        "year": ("left out", 0, None),  # data.exclude, not row numbers
    }
    assert [c.note for c in ds.columns if c.kind == "left out"] == ["data.exclude"]
    # no row-number or identifier column: every input comes from a named column of the file
    assert ds.feature_names == [
        "species=Adelie", "species=Gentoo", "species=Chinstrap",
        "island=Biscoe", "island=Dream", "island=Torgersen", *MEASUREMENTS,
    ]  # fmt: skip
    assert ds.label_names == ["sex"]
    assert ds.x_train.shape == (266, 10) and ds.y_train.shape == (266, 1)
    assert ds.x_val is not None and ds.x_val.shape == (67, 10)
    assert ds.heldout is not None and (ds.heldout.rows, ds.heldout.n_val) == (333, 67)
    assert any(n.endswith("11 rows without a label left out") for n in ds.notes)
    assert ds.preprocessor.labels[0].describe() == "'female' = 1, 'male' = 0"
    # the NA measurements are all in unlabelled rows: no missing indicator is needed
    assert not any(c.indicator for c in ds.preprocessor.columns)


def test_the_split_the_baseline_rebuilds_is_sigmoidnets() -> None:
    pytest.importorskip("pandas")
    from benchmarks.penguins_baseline import raw_split

    cfg = load_config(CONFIG)
    ds = load_dataset(cfg.data, cfg.seed)
    split = raw_split(CONFIG)
    assert split.dropped == 11 and len(split.train) == 266 and len(split.val) == 67
    assert split.categorical == ["species", "island"] and split.numeric == MEASUREMENTS
    assert ds.y_val is not None and ds.x_val is not None
    for x, y, raw, want in (
        (ds.x_train, ds.y_train, split.train, split.y_train),
        (ds.x_val, ds.y_val, split.val, split.y_val),
    ):
        np.testing.assert_array_equal(y[:, 0].numpy(), want)
        # the same rows in the same order: the one-hot inputs are the raw text, and each
        # standardized measurement is an exact affine function of the raw one
        inputs = x.numpy()
        for j, name in enumerate(ds.feature_names[:6]):
            col, value = name.split("=")
            np.testing.assert_array_equal(inputs[:, j], (raw[col] == value).to_numpy(float))
        for j, m in enumerate(MEASUREMENTS, start=6):
            assert np.corrcoef(inputs[:, j], raw[m].to_numpy(float))[0, 1] > 1 - 1e-6


@pytest.mark.slow
def test_it_trains_beats_logistic_regression_and_predicts(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from benchmarks.penguins_baseline import raw_split, sklearn_scores

    code, _, err = invoke("train", "--config", str(CONFIG), "--out", str(tmp_path), "-q")
    assert code == 0, err
    run = tmp_path / "latest"
    code, out, err = invoke("eval", "--run", str(run), "--json")
    assert code == 0, err
    ours = json.loads(out)["labels"][0]
    assert ours["n_rows"] == 67
    lr = sklearn_scores(raw_split(CONFIG), "logistic")
    assert ours["accuracy"] >= lr["accuracy"], (ours, lr)

    # predict on the raw file: every row, in the file's order (NA measurements filled)
    pred = tmp_path / "p.csv"
    code, _, err = invoke(
        "predict", "--checkpoint", str(run / "model.safetensors"), "--data", str(DATA),
        "--keep", "species", "--keep", "sex", "--out", str(pred),
    )  # fmt: skip
    assert code == 0, err
    with DATA.open(newline="") as f:
        raw = list(csv.DictReader(f))
    with pred.open(newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == len(raw) == 344
    assert [r["species"] for r in got] == [r["species"] for r in raw]
    assert [r["sex"] for r in got] == [r["sex"] for r in raw]
    p = np.array([float(r["p_sex"]) for r in got])
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    # aligned rows: the decisions agree with the labels far more often than by chance
    labelled = [(r["sex"] == "female", r["sex_pred"] == "1") for r in got if r["sex"] != "NA"]
    assert len(labelled) == 333
    assert np.mean([a == b for a, b in labelled]) > 0.85
