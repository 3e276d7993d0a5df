from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sigmoidnet import __version__, artifact
from sigmoidnet.cli import app
from tests.test_evaluation import np_auc

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_version_and_help() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.strip() == f"sigmoidnet {__version__}"
    for cmd in ("train", "eval", "predict", "activate", "config"):
        code, out, _ = invoke(cmd, "--help")
        assert code == 0 and "Usage" in out


def test_cli_import_leaves_torch_unimported() -> None:
    code = "import sys, sigmoidnet.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_python_m_sigmoidnet() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sigmoidnet", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and __version__ in proc.stdout


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


def test_config_show_and_schema(learnable_config: Path) -> None:
    code, out, _ = invoke(
        "config", "show", "--config", str(learnable_config), "--set", "train.lr=1e-4"
    )
    assert code == 0
    assert "lr: 0.0001" in out
    code, out, _ = invoke("config", "schema")
    assert code == 0 and json.loads(out)["title"] == "sigmoidnet config"


@pytest.fixture
def trained_run(learnable_config: Path, tmp_path: Path) -> Path:
    code, _, stderr = invoke("train", "--config", str(learnable_config), "--quiet")
    assert code == 0, stderr
    return tmp_path / "runs" / "latest"


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


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_predict_round_trip(
    trained_run: Path, learnable_csv: Path, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"pred{suffix}"
    ckpt = trained_run / "model.safetensors"
    code, _, stderr = invoke(
        "predict",
        "--checkpoint",
        str(ckpt),
        "--data",
        str(learnable_csv),
        "--out",
        str(out),
        "--keep",
        "id",
    )
    assert code == 0, stderr
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    table = {".csv": pacsv.read_csv, ".parquet": pq.read_table, ".jsonl": pajson.read_json}[suffix](
        str(out)
    )
    assert table.column_names == ["id", "p_a", "p_b", "a_pred", "b_pred"]
    assert table.num_rows == 400
    assert table.column("id").to_pylist()[:3] == ["r0", "r1", "r2"]  # input order kept
    # probabilities equal the model's own forward pass on normalized features
    art = artifact.load(ckpt)
    src = np.loadtxt(
        learnable_csv, delimiter=",", skiprows=1, usecols=range(1, 7), dtype=np.float32
    )
    expected = art.model.predict_proba(art.normalize(torch.from_numpy(src))).double().numpy()
    got = np.column_stack([table.column("p_a").to_numpy(), table.column("p_b").to_numpy()])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(table.column("a_pred").to_numpy(), (got[:, 0] > 0.5).astype(int))


def test_predict_to_stdout_with_threshold(trained_run: Path, learnable_csv: Path) -> None:
    ckpt = str(trained_run / "model.safetensors")
    data = str(learnable_csv)
    code, _, stderr = invoke("predict", "--checkpoint", ckpt, "--data", data)
    assert code == 3 and "extra column 'id'" in stderr  # not a feature: --keep it or drop it
    code, out, _ = invoke(
        "predict", "--checkpoint", ckpt, "--data", data, "--keep", "id", "--threshold", "0"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].replace('"', "") == "id,p_a,p_b,a_pred,b_pred"
    assert len(lines) == 401
    assert all(line.endswith(",1,1") for line in lines[1:])  # p > 0 everywhere
    code, _, stderr = invoke("predict", "--checkpoint", ckpt, "--data", data, "--threshold", "2")
    assert code == 2 and "--threshold" in stderr


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


@pytest.mark.parametrize(
    ("content", "sets", "fragment"),
    [
        (None, [], "not found"),
        ("f0,f1,y\n", [], "no data rows"),
        ("f0,f1,y\n1,2,0\n3,4,2\n", [], "row 2"),
        ("f0,f1,y\n1,abc,0\n3,4,1\n", [], "column 'f1', row 1"),
        ("f0,f1,y\n1,nan,0\n3,4,1\n", [], "column 'f1', row 1"),
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


def test_predict_refuses_to_overwrite_its_input(trained_run: Path, learnable_csv: Path) -> None:
    ckpt = str(trained_run / "model.safetensors")
    before = learnable_csv.read_bytes()
    code, _, stderr = invoke(
        "predict", "--checkpoint", ckpt, "--data", str(learnable_csv), "--keep", "id",
        "--out", str(learnable_csv),
    )  # fmt: skip
    assert code == 2 and "overwrite the input" in stderr
    assert learnable_csv.read_bytes() == before


def test_config_stem_with_spaces_names_the_run(tmp_path: Path) -> None:
    from sigmoidnet.config import load_config

    p = tmp_path / "my config (v2).yaml"
    p.write_text("train:\n  epochs: 1\n")
    assert load_config(p).name == "my-config-v2"


def test_usage_errors_are_one_line() -> None:
    for args in (["predict", "--bogus"], ["train"], ["nope"]):
        proc = subprocess.run(
            [sys.executable, "-m", "sigmoidnet", *args], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: python -m sigmoidnet")
        assert len(proc.stderr.splitlines()) == 1
