"""The bundled mixed-types example: configs/penguins.yaml on data/penguins.csv (as published:
text columns, NA cells, a male/female label with missing values)."""

from __future__ import annotations

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


def test_the_table_loads_as_published() -> None:
    cfg = load_config(CONFIG)
    ds = load_dataset(cfg.data, cfg.seed)
    kinds = {c.name: c.kind for c in ds.columns}
    assert kinds == {
        "species": "categorical", "island": "categorical", "bill_length_mm": "numeric",
        "bill_depth_mm": "numeric", "flipper_length_mm": "numeric", "body_mass_g": "numeric",
        "sex": "label", "year": "left out",
    }  # fmt: skip
    assert ds.x_train.shape == (266, 10) and ds.x_val is not None and ds.x_val.shape[0] == 67
    assert any("11 rows without a label left out" in n for n in ds.notes)
    assert ds.preprocessor.labels[0].describe() == "'female' = 1, 'male' = 0"


def test_the_split_the_baseline_rebuilds_is_sigmoidnets() -> None:
    pytest.importorskip("pandas")
    from benchmarks.penguins_baseline import raw_split

    cfg = load_config(CONFIG)
    ds = load_dataset(cfg.data, cfg.seed)
    split = raw_split(CONFIG)
    assert split.dropped == 11 and len(split.train) == 266 and len(split.val) == 67
    assert ds.y_val is not None
    np.testing.assert_array_equal(ds.y_train[:, 0].numpy(), split.y_train)
    np.testing.assert_array_equal(ds.y_val[:, 0].numpy(), split.y_val)


@pytest.mark.slow
def test_it_trains_and_beats_logistic_regression(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from benchmarks.penguins_baseline import raw_split, sklearn_scores

    code, _, err = invoke("train", "--config", str(CONFIG), "--out", str(tmp_path), "-q")
    assert code == 0, err
    run = tmp_path / "latest"
    code, out, err = invoke("eval", "--run", str(run), "--json")
    assert code == 0, err
    ours = json.loads(out)["labels"][0]
    lr = sklearn_scores(raw_split(CONFIG), "logistic")
    assert ours["accuracy"] >= lr["accuracy"], (ours, lr)
    # predict on the raw file: every row, in order (NA measurements filled)
    pred = tmp_path / "p.csv"
    code, _, err = invoke(
        "predict", "--checkpoint", str(run / "model.safetensors"), "--data", str(DATA),
        "--out", str(pred),
    )  # fmt: skip
    assert code == 0, err
    assert len(pred.read_text().splitlines()) == 1 + 344
