"""sigmoidnet.inference: eval and predict rebuild everything from the artifact — the stored
preprocessing is used, nothing is fitted again — and the held-out rows are checked against
the run's record; a format-1 model gives the numbers it gave when it was written."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sigmoidnet import artifact, inference
from sigmoidnet.cli import app
from sigmoidnet.errors import DataError, UsageError
from sigmoidnet.preprocess import Preprocessor

FIXTURES = Path(__file__).parent / "fixtures" / "v1"
runner = CliRunner()


def run_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def train(config: Path, *sets: str) -> Path:
    overrides = [a for s in sets for a in ("--set", s)]
    code, out, err = run_cli("train", "--config", str(config), "--quiet", *overrides)
    assert code == 0, out + err
    return config.parent / "runs" / "latest"


def rewrite_row(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (1-based data row) of a CSV file."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows[row][rows[0].index(column)] = value
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def heldout_rows(run: Path) -> set[int]:
    """1-based data rows the run held out, recomputed from its record as eval does."""
    from sigmoidnet.data.split import val_mask

    art = artifact.load(run / "model.safetensors")
    cfg = art.config
    labels = np.loadtxt(cfg.data.path or "", delimiter=",", skiprows=1, usecols=(7, 8))
    mask = val_mask(labels.astype(np.float32), cfg.data.holdout, cfg.seed, "x")
    assert mask is not None
    return {int(i) + 1 for i in np.flatnonzero(mask)}


def test_eval_of_the_heldout_rows_uses_the_stored_preprocessing(
    learnable_config: Path, learnable_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = train(learnable_config, "train.epochs=3")
    code, before, _ = run_cli("eval", "--run", str(run), "--json")
    assert code == 0
    # nothing is fitted at eval time
    monkeypatch.setattr(Preprocessor, "fit", lambda *a: pytest.fail("eval re-fitted"))
    code, again, _ = run_cli("eval", "--run", str(run), "--json")
    assert code == 0 and again == before
    # a training row changes a lot: re-fitted statistics would move every held-out score,
    # the stored ones give the same metrics
    train_row = min(set(range(1, 401)) - heldout_rows(run))
    rewrite_row(learnable_csv, train_row, "f3", "1e6")
    code, after, err = run_cli("eval", "--run", str(run), "--json")
    assert code == 0, err
    assert json.loads(after)["labels"] == json.loads(before)["labels"]


def test_eval_refuses_heldout_rows_that_changed(
    learnable_config: Path, learnable_csv: Path
) -> None:
    run = train(learnable_config, "train.epochs=2")
    rewrite_row(learnable_csv, min(heldout_rows(run)), "f0", "123.5")
    code, _, err = run_cli("eval", "--run", str(run))
    assert code == 3
    assert err.startswith(f"error: {learnable_csv}: the file changed since training")
    assert "pass --data FILE" in err and len(err.strip().splitlines()) == 1


def test_eval_notices_added_rows_and_changed_labels(
    learnable_config: Path, learnable_csv: Path
) -> None:
    run = train(learnable_config, "train.epochs=2")
    original = learnable_csv.read_text()
    lines = original.splitlines()
    learnable_csv.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(DataError, match="has 401 rows, 400 when the model was trained"):
        inference.evaluate_model(run=run)
    learnable_csv.write_text(original)
    rewrite_row(learnable_csv, 5, "a", "1" if lines[5].split(",")[-2] == "0" else "0")
    with pytest.raises(DataError, match="the file changed since training"):
        inference.evaluate_model(run=run)


def test_eval_of_a_val_path_run(tmp_path: Path, learnable_csv: Path) -> None:
    lines = learnable_csv.read_text().splitlines()
    (tmp_path / "tr.csv").write_text("\n".join(lines[:301]) + "\n")
    (tmp_path / "va.csv").write_text("\n".join([lines[0], *lines[301:]]) + "\n")
    cfg = tmp_path / "vp.yaml"
    cfg.write_text(
        "data:\n  source: csv\n  path: tr.csv\n  val_path: va.csv\n  labels: [a, b]\n"
        "  features: [f0, f1, f2, f3, f4, f5]\nmodel:\n  hidden_sizes: [8]\n"
        f"train:\n  epochs: 2\nout_dir: {tmp_path / 'runs'}\n"
    )
    run = train(cfg)
    result = inference.evaluate_model(run=run)
    assert result.report.n_rows == 100 and "va.csv" in result.data_desc
    direct = inference.evaluate_model(run=run, data=tmp_path / "va.csv", ignore=["id"])
    assert direct.report.to_dict() == result.report.to_dict()
    rewrite_row(tmp_path / "va.csv", 3, "f1", "-7")
    with pytest.raises(DataError, match=r"va\.csv: the file changed since training"):
        inference.evaluate_model(run=run)


def test_eval_without_heldout_rows_says_so(learnable_config: Path) -> None:
    run = train(learnable_config, "data.val_fraction=0.0", "train.epochs=1")
    with pytest.raises(UsageError, match="no held-out data"):
        inference.evaluate_model(run=run)


def test_a_format_1_model_predicts_and_evaluates_as_it_did(tmp_path: Path) -> None:
    data = tmp_path / "v1_data.csv"
    shutil.copy(FIXTURES / "v1_data.csv", data)
    out = tmp_path / "p.csv"
    code, _, err = run_cli(
        "predict", "--checkpoint", str(FIXTURES / "model.safetensors"), "--data", str(data),
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    # The same numbers as when the fixture was written, to float32 rounding: the matrix
    # products of another CPU (AVX-512 or not, another BLAS kernel) may differ in the last
    # bit of a logit, so the printed probabilities are compared to 1e-6, decisions exactly.
    got_rows = list(csv.reader(out.open()))
    want_rows = list(csv.reader((FIXTURES / "v1_predictions.csv").open()))
    assert got_rows[0] == want_rows[0] and len(got_rows) == len(want_rows)
    got_p = np.array([float(r[0]) for r in got_rows[1:]])
    want_p = np.array([float(r[0]) for r in want_rows[1:]])
    np.testing.assert_allclose(got_p, want_p, rtol=1e-6, atol=0)
    assert [r[1] for r in got_rows[1:]] == [r[1] for r in want_rows[1:]]
    code, got, _ = run_cli(
        "eval", "--checkpoint", str(FIXTURES / "model.safetensors"), "--data", str(data), "--json"
    )
    assert code == 0
    then = json.loads((FIXTURES / "v1_eval_data.json").read_text())
    now = json.loads(got)
    assert now["n_rows"] == then["n_rows"]
    assert len(now["labels"]) == len(then["labels"])
    for a, b in zip(now["labels"], then["labels"], strict=True):
        assert a.keys() == b.keys()
        for key, value in b.items():
            assert a[key] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-5))


def test_a_format_2_model_predicts_as_it_did(tmp_path: Path) -> None:
    # tests/fixtures/v2 was written by sigmoidnet at 565d8e5 (artifact format 2):
    # `sigmoidnet train --config v2.yaml`, then `predict --data v2_data.csv`
    v2 = FIXTURES.parent / "v2"
    data = tmp_path / "v2_data.csv"
    shutil.copy(v2 / "v2_data.csv", data)
    out = tmp_path / "p.csv"
    model = str(v2 / "model.safetensors")
    code, _, err = run_cli("predict", "--checkpoint", model, "--data", str(data), "--out", str(out))
    assert code == 0, err
    got = list(csv.reader(out.open()))
    want = list(csv.reader((v2 / "v2_predictions.csv").open()))
    assert got[0] == want[0] and len(got) == len(want) == 41
    np.testing.assert_allclose(
        [float(r[0]) for r in got[1:]], [float(r[0]) for r in want[1:]], rtol=1e-6, atol=0
    )
    code, report, err = run_cli("eval", "--checkpoint", model, "--data", str(data), "--json")
    assert code == 0, err
    assert json.loads(report)["n_rows"] == 40


def test_a_format_3_model_predicts_as_it_did(tmp_path: Path) -> None:
    # tests/fixtures/v3 was written by sigmoidnet at 1c60b51 (artifact format 3, before
    # `pooled`): `sigmoidnet train --config v3.yaml`, then `predict --data v3_new.csv`
    # (rows with a missing age, a pooled category 'trial' and a new one 'unheard')
    v3 = FIXTURES.parent / "v3"
    data = tmp_path / "v3_new.csv"
    shutil.copy(v3 / "v3_new.csv", data)
    out = tmp_path / "p.csv"
    model = str(v3 / "model.safetensors")
    code, _, err = run_cli("predict", "--checkpoint", model, "--data", str(data), "--out", str(out))
    assert code == 0, err
    assert "never seen" not in err  # format 3 cannot tell 'unheard' from a pooled value
    got = list(csv.reader(out.open()))
    want = list(csv.reader((v3 / "v3_predictions.csv").open()))
    assert got[0] == want[0] and len(got) == len(want) == 5
    np.testing.assert_allclose(
        [float(r[0]) for r in got[1:]], [float(r[0]) for r in want[1:]], rtol=1e-6, atol=0
    )
    assert [r[1] for r in got] == [r[1] for r in want]
    assert artifact.load(v3 / "model.safetensors").format_version == 3
    # retrained now (format 4), the same data counts the new category
    cfg = tmp_path / "v3.yaml"
    shutil.copy(v3 / "v3.yaml", cfg)
    shutil.copy(v3 / "v3_data.csv", tmp_path / "v3_data.csv")
    code, _, err = run_cli("train", "--config", str(cfg), "-q", "--out", str(tmp_path / "r"))
    assert code == 0, err
    new = str(tmp_path / "r" / "latest" / "model.safetensors")
    code, _, err = run_cli("predict", "--checkpoint", new, "--data", str(data), "--out", str(out))
    assert code == 0, err
    assert "column 'plan': 1 value never seen in training (encoded as <other>)" in err, err


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_predict_refuses_an_out_that_is_the_data_file_by_another_name(
    learnable_config: Path, learnable_csv: Path, link: str
) -> None:
    run = train(learnable_config, "train.epochs=1")
    other = learnable_csv.with_name("same.csv")
    if link == "symlink":
        other.symlink_to(learnable_csv)
    else:
        os.link(learnable_csv, other)
    before = learnable_csv.read_bytes()
    with pytest.raises(UsageError, match="is the --data file"):
        inference.predict_file(run / "model.safetensors", learnable_csv, other, keep=["id"])
    assert learnable_csv.read_bytes() == before


def test_predict_file_creates_nothing_when_it_fails(
    learnable_config: Path, learnable_csv: Path, tmp_path: Path
) -> None:
    run = train(learnable_config, "train.epochs=1")
    out = tmp_path / "new" / "deeper" / "p.parquet"
    with pytest.raises(DataError, match="extra column 'id'"):
        inference.predict_file(run / "model.safetensors", learnable_csv, out)  # no --keep id
    with pytest.raises(DataError):
        inference.predict_file(run / "model.safetensors", tmp_path / "missing.csv", out)
    assert not (tmp_path / "new").exists()
    stats = inference.predict_file(run / "model.safetensors", learnable_csv, out, keep=["id"])
    assert stats.rows == 400 and sorted(p.name for p in out.parent.iterdir()) == ["p.parquet"]


def test_a_value_that_cannot_be_standardized_is_refused_with_its_row(
    learnable_config: Path, learnable_csv: Path, tmp_path: Path
) -> None:
    # f0 with a small spread: 3.4e38 / std overflows float32 once standardized
    with learnable_csv.open(newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("f0")
    for r in rows[1:]:
        r[col] = repr(float(r[col]) * 0.01)
    with learnable_csv.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    run = train(learnable_config, "train.epochs=1")
    model = str(run / "model.safetensors")
    data = tmp_path / "far.csv"
    shutil.copy(learnable_csv, data)
    rewrite_row(data, 7, "f0", "3.4028235e38")
    for args in (
        ["predict", "--checkpoint", model, "--data", str(data), "--keep", "id"],
        ["eval", "--checkpoint", model, "--data", str(data), "--ignore", "id"],
    ):
        code, out, err = run_cli(*args)
        assert code == 3, out + err
        assert err.startswith(f"error: {data}: column 'f0', row 7: 3.4028235e+38 does not")
        assert len(err.strip().splitlines()) == 1 and out == ""
    # far outside the training range but finite all the way: a prediction like any other
    rewrite_row(data, 7, "f0", "1e30")
    code, out, _ = run_cli("predict", "--checkpoint", model, "--data", str(data), "--keep", "id")
    assert code == 0 and "nan" not in out


def test_eval_notices_a_column_added_or_renamed_since_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    data = tmp_path / "t.csv"
    rows = [["p", "q", "r", "y"], *([*(f"{v:.4f}" for v in x[i]), str(y[i])] for i in range(60))]
    with data.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        "data: {source: csv, path: t.csv, labels: [y]}\n"
        f"train: {{epochs: 1}}\nout_dir: {tmp_path / 'runs'}\n"
    )
    run = train(cfg)
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([[*r[:3], "7" if i else "s", r[3]] for i, r in enumerate(rows)])
    code, _, err = run_cli("eval", "--run", str(run))
    assert code == 3 and "the file changed since training (it has a new column 's')" in err
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([["p", "q", "rr", "y"], *rows[1:]])
    code, _, err = run_cli("eval", "--run", str(run))
    assert code == 3 and "column 'r' is gone" in err and len(err.splitlines()) == 1
