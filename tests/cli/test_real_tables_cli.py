"""Real tables from the command line: R, semicolon and TSV files train with no row number as a
feature; predict and eval take raw rows and encode them as training did, to the bit."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from sigmoidnet import artifact
from sigmoidnet.data import iter_batches, load_dataset
from sigmoidnet.data.transform import encode_checked
from tests.cli.util import invoke


def rows(n: int = 80) -> list[list[str]]:
    out = []
    for i in range(n):
        age = "" if i % 9 == 0 else str(20 + (i * 17) % 45)
        plan = ["basic", "gold", "pro", "basic"][i % 4]
        city = ["Lyon", "Paris", "NA", "Nice", ""][i % 5]
        churn = "Yes" if (i * 7) % 10 < 4 else "No"
        out.append([age, plan, city, "true" if i % 3 else "false", churn])
    return out


HEADER = ["age", "plan", "city", "member", "churn"]


def write(path: Path, delimiter: str = ",", r_style: bool = False) -> Path:
    if r_style:  # R's write.csv: quoted header and text, a "" column of row numbers, NA

        def cell(v: str, numeric: bool) -> str:
            return ("NA" if v == "" else v) if numeric else f'"{v}"'

        lines = ['"",' + ",".join(f'"{h}"' for h in HEADER)]
        for i, r in enumerate(rows(), start=1):
            lines.append(f'"{i}",' + ",".join(cell(v, j == 0) for j, v in enumerate(r)))
        path.write_text("\n".join(lines) + "\n")
        return path
    with path.open("w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(HEADER)
        w.writerows(rows())
    return path


def train(tmp_path: Path, data: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data: {{source: csv, path: {data.name}, labels: [churn]}}\n"
        "train: {epochs: 3, batch_size: 16}\n"
        f"out_dir: {tmp_path / 'runs'}\n"
    )
    code, out, err = invoke("train", "--config", str(cfg))
    assert code == 0, err
    assert "categorical" in out  # the columns table at the start
    return tmp_path / "runs" / "latest" / "model.safetensors"


@pytest.mark.parametrize(
    ("name", "delimiter", "r_style"),
    [("r.csv", ",", True), ("semi.csv", ";", False), ("tab.tsv", "\t", False)],
)
def test_dialects_train_without_row_numbers(
    tmp_path: Path, name: str, delimiter: str, r_style: bool
) -> None:
    model = train(tmp_path, write(tmp_path / name, delimiter, r_style))
    art = artifact.load(model)
    assert art.preprocessor.raw_names == ["age", "plan", "city", "member"]
    assert art.preprocessor.ignored == ([""] if r_style else [])
    assert "age[missing]" in art.feature_names and "city=<missing>" in art.feature_names
    code, out, err = invoke("predict", "--checkpoint", str(model), "--data", str(tmp_path / name))
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 80


def test_predict_encodes_raw_rows_as_training_did(tmp_path: Path) -> None:
    data = write(tmp_path / "t.csv")
    model = train(tmp_path, data)
    art = artifact.load(model)
    # every row of the file, through predict's path (stream → stored preprocessor), equals
    # what training fed the model (the same split of the same file), to the bit
    from sigmoidnet.config import load_config
    from sigmoidnet.data.split import val_mask

    ds = load_dataset(load_config(tmp_path / "c.yaml").data, 0)
    (batch,) = iter_batches(str(data), art.preprocessor, ["churn"], require_labels=True)
    assert batch.y is not None
    mask = val_mask(batch.y, 0.2, 0, str(data))
    assert mask is not None and ds.x_val is not None
    again = encode_checked(art.preprocessor, batch.raw([]), str(data))
    np.testing.assert_array_equal(again[~mask], ds.x_train.numpy())
    np.testing.assert_array_equal(again[mask], ds.x_val.numpy())
    # an unseen category and a missing value: the stored fill, indicator and slots
    new = tmp_path / "new.csv"
    new.write_text("churn,member,city,plan,age\n,true,Berlin,platinum,\n")  # another order
    code, out, err = invoke("predict", "--checkpoint", str(model), "--data", str(new))
    assert code == 0, err
    assert "column 'plan': 1 value never seen in training (encoded as all zeros)" in err
    assert "column 'city': 1 value never seen" in err
    pre = art.preprocessor
    age = pre.columns[0]
    assert pre.mean_ is not None and pre.std_ is not None and age.fill is not None
    x = np.zeros((1, pre.n_features), np.float32)
    names = pre.feature_names
    x[0, names.index("age")] = (np.float32(age.fill) - pre.mean_[0]) / pre.std_[0]
    x[0, names.index("age[missing]")] = 1.0
    x[0, names.index("member")] = (np.float32(1.0) - pre.mean_[1]) / pre.std_[1]
    want = torch.sigmoid(art.model(torch.from_numpy(x))).item()
    got_p = float(out.splitlines()[1].split(",")[0])
    assert got_p == pytest.approx(want, rel=1e-6)


def test_eval_counts_rows_without_a_label(tmp_path: Path) -> None:
    data = write(tmp_path / "t.csv")
    model = train(tmp_path, data)
    test = tmp_path / "test.csv"
    test.write_text("age,plan,city,member,churn\n30,gold,Lyon,true,Yes\n40,pro,Nice,false,\n"
                    "50,basic,Paris,true,No\n")  # fmt: skip
    code, out, err = invoke("eval", "--checkpoint", str(model), "--data", str(test), "--json")
    assert code == 0, err
    assert "1 row without a label left out" in err and '"n_rows": 2' in out
    test.write_text("age,plan,city,member,churn\n30,gold,Lyon,true,Maybe\n")
    code, out, err = invoke("eval", "--checkpoint", str(model), "--data", str(test))
    assert code == 3 and "label 'Maybe' is not one the model knows" in err
    assert len(err.strip().splitlines()) == 1
    test.write_text("age,plan,member,churn\n30,gold,true,Yes\n")
    code, _, err = invoke("eval", "--checkpoint", str(model), "--data", str(test))
    assert code == 3 and "column 'city' is missing" in err
    test.write_text("age,plan,city,member,churn,extra\n30,gold,Lyon,true,Yes,1\n")
    code, _, err = invoke("eval", "--checkpoint", str(model), "--data", str(test))
    assert code == 3 and "extra column 'extra'" in err
