"""`sigmoidnet eval` (and a corrupt checkpoint for eval and predict)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.util import invoke
from tests.test_evaluation import np_auc


def test_eval_latest_run_without_options(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # runs/latest is relative to the working directory
    code, out, stderr = invoke("eval", "--json")
    assert code == 0, stderr
    report = json.loads(out)
    assert [lab["name"] for lab in report["labels"]] == ["a", "b"]
    assert report["n_rows"] == 80  # 20% of 400, held out
    code, out, _ = invoke("eval")
    assert code == 0 and "ROC-AUC" in out


def test_eval_on_a_file_and_column_mismatch(trained_run: Path, learnable_csv: Path) -> None:
    code, out, _ = invoke(
        "eval", "--run", str(trained_run), "--data", str(learnable_csv), "--ignore", "id", "--json"
    )
    assert code == 0
    assert json.loads(out)["n_rows"] == 400
    bad = learnable_csv.with_name("bad.csv")
    rows = list(csv.reader(learnable_csv.open()))
    with bad.open("w", newline="") as f:
        csv.writer(f).writerows([[c for i, c in enumerate(r) if i != 3] for r in rows])
    code, _, stderr = invoke("eval", "--run", str(trained_run), "--data", str(bad))
    assert code == 3 and "f2" in stderr


def test_eval_missing_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = invoke("eval")
    assert code == 4 and "no run found" in stderr


def test_corrupt_checkpoint_exit_4(tmp_path: Path, learnable_csv: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 5)
    for cmd in (
        ["eval", "--checkpoint", str(bad)],
        ["predict", "--checkpoint", str(bad), "--data", str(learnable_csv)],
    ):
        code, _, stderr = invoke(*cmd)
        assert code == 4 and stderr.startswith("error: ") and len(stderr.splitlines()) == 1


def test_eval_roc_auc_matches_an_independent_computation(
    trained_run: Path, learnable_csv: Path, tmp_path: Path
) -> None:
    ckpt = str(trained_run / "model.safetensors")
    code, out, _ = invoke(
        "eval", "--checkpoint", ckpt, "--data", str(learnable_csv), "--ignore", "id", "--json"
    )
    assert code == 0
    report = json.loads(out)
    pred = tmp_path / "p.csv"
    code, _, _ = invoke(
        "predict",
        "--checkpoint",
        ckpt,
        "--data",
        str(learnable_csv),
        "--keep",
        "id",
        "--out",
        str(pred),
    )
    assert code == 0
    p = np.loadtxt(pred, delimiter=",", skiprows=1, usecols=(1, 2))
    y = np.loadtxt(learnable_csv, delimiter=",", skiprows=1, usecols=(7, 8))
    for j, label in enumerate(report["labels"]):
        expected = np_auc(p[:, j], y[:, j])  # Mann-Whitney with mid-ranks, numpy only
        assert abs(label["roc_auc"] - expected) < 1e-6, (label["name"], label["roc_auc"], expected)
