"""`sigmoidnet train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sigmoidnet import artifact
from tests.cli.util import invoke

ROOT = Path(__file__).resolve().parents[2]


def test_train_seed_example_writes_a_run(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    code, stdout, _ = invoke(
        "train", "--config", str(ROOT / "configs" / "seed-example.yaml"), "--out", str(out)
    )
    assert code == 0, stdout
    runs = [p for p in out.iterdir() if p.name != "latest"]
    assert len(runs) == 1 and runs[0].name.startswith("seed-example-")
    run = runs[0]
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml",
        "metrics.jsonl",
        "model.safetensors",
        "state.prev.safetensors",
        "state.safetensors",
        "status.json",
    ]
    assert (out / "latest").resolve() == run.resolve()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 11))
    assert "10/10" in stdout
    art = artifact.load(run / "model.safetensors")
    assert art.epoch == 10  # no validation: the last epoch
    assert art.thresholds == [0.5, 0.5]
    # the resolved config reruns as it is
    code, _, _ = invoke("train", "--config", str(run / "config.yaml"), "--out", str(out), "-q")
    assert code == 0


def test_train_json_prints_only_epoch_objects(learnable_config: Path) -> None:
    code, stdout, _ = invoke(
        "train", "--config", str(learnable_config), "--set", "train.epochs=5", "--json"
    )
    assert code == 0
    lines = stdout.splitlines()
    assert len(lines) == 5
    rows = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert {"train_loss", "val_loss", "val_accuracy", "val_f1", "val_roc_auc"} <= set(rows[0])


def test_train_quiet_prints_summary_only(learnable_config: Path) -> None:
    code, stdout, _ = invoke("train", "--config", str(learnable_config), "--quiet")
    assert code == 0
    assert "best epoch" in stdout and "train loss" not in stdout


@pytest.mark.parametrize(
    ("sets", "fragment"),
    [
        (["train.lrr=1"], "train.lrr: unknown key; did you mean 'train.lr'?"),
        (["train.epochs=0"], "train.epochs: expected a value greater than or equal to 1"),
        (["device=tpu"], "device: expected auto, cpu"),
    ],
)
def test_bad_config_exit_2_writes_nothing(
    learnable_config: Path, tmp_path: Path, sets: list[str], fragment: str
) -> None:
    args = ["train", "--config", str(learnable_config)]
    for s in sets:
        args += ["--set", s]
    code, _stdout, stderr = invoke(*args)
    assert code == 2
    assert stderr.startswith("error: ") and fragment in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_unavailable_cuda_is_exit_2(learnable_config: Path, tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, stderr = invoke("train", "--config", str(learnable_config), "--device", "cuda")
    assert code == 2 and "CUDA is not available" in stderr
    assert not (tmp_path / "runs").exists()


def test_bad_data_exit_3_writes_nothing(learnable_config: Path, tmp_path: Path) -> None:
    code, _, stderr = invoke(
        "train", "--config", str(learnable_config), "--set", "data.labels=[a, zz]"
    )
    assert code == 3
    assert "zz" in stderr and "learn.csv" in stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("content", "sets", "fragment"),
    [
        (None, [], "not found"),
        ("f0,f1,y\n", [], "no data rows"),
        ("f0,f1,y\n1,2,0\n3,4,2\n", [], "holds 0 and 2; say which is the positive class"),
        ("f0,f1,y\n1,2,0\n3,4,2\n5,6,1\n", [], "column 'y', row 2"),
        ("f0,f1,y\n1,abc,0\n3,4,1\n", ["data.numeric=[f1]"], "column 'f1', row 1"),
        ("f0,f1,y\n1,nan,0\n3,4,1\n", ["data.impute=error"], "column 'f1', row 1"),
        ("f0,f1,y\n1,2,x\n3,4,z\n", [], "holds 'x' and 'z'"),
        ("f0,f1,y\n1,2,0\n3,1\n", [], "row 2"),
        ("f0,f1,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", ["model.input_size=3"], "input_size"),
        ("f0,f1,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", ["data.features=[f0, f9]"], "'f9'"),
    ],
)
def test_bad_data_cases_exit_3_and_write_nothing(
    tmp_path: Path, content: str | None, sets: list[str], fragment: str
) -> None:
    data = tmp_path / "d.csv"
    if content is not None:
        data.write_text(content)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data:\n  source: csv\n  path: d.csv\n  labels: [y]\n  val_fraction: 0.0\n"
        f"out_dir: {tmp_path / 'runs'}\n"
    )
    args = ["train", "--config", str(cfg)]
    for s in sets:
        args += ["--set", s]
    code, _, stderr = invoke(*args)
    assert code == 3, stderr
    assert stderr.startswith("error: ") and len(stderr.splitlines()) == 1
    assert fragment in stderr
    assert "d.csv" in stderr or "input_size" in stderr
    assert not (tmp_path / "runs").exists()


def test_out_is_a_file_is_exit_2(learnable_config: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, stderr = invoke("train", "--config", str(learnable_config), "--out", str(afile))
    assert code == 2 and "output folder is a file" in stderr
    code, _, stderr = invoke("train", "--config", str(learnable_config), "--out", str(afile / "s"))
    assert code == 2 and "cannot create the output folder" in stderr


def test_config_stem_with_spaces_names_the_run(tmp_path: Path) -> None:
    from sigmoidnet.config import load_config

    p = tmp_path / "my config (v2).yaml"
    p.write_text("train:\n  epochs: 1\n")
    assert load_config(p).name == "my-config-v2"
