"""`sigmoidnet train --resume RUN_DIR`: what it continues, what it refuses (each with its
exit code and one line), and that it leaves a run it refuses as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors import safe_open

from tests.cli.util import invoke

TIMING = {"seconds", "rows_per_s"}


def config(folder: Path, **train: Any) -> Path:
    cfg: dict[str, Any] = {
        "name": "r",
        "seed": 5,
        "device": "cpu",
        "data": {"source": "random", "n_samples": 300, "n_features": 6, "val_fraction": 0.25},
        "model": {"hidden_sizes": [8], "dropout": 0.2},
        "train": {"epochs": 3, "batch_size": 16, "checkpoint_every": 5, **train},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "r.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def train(folder: Path, **keys: Any) -> Path:
    out = folder / "runs"
    code, _, err = invoke("train", "--config", str(config(folder, **keys)), "--out", str(out), "-q")
    assert code == 0, err
    return (out / "latest").resolve()


def tensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def rows(run: Path) -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in TIMING} for x in lines]


def same_weights(a: Path, b: Path) -> bool:
    ta, tb = tensors(a / "model.safetensors"), tensors(b / "model.safetensors")
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def test_two_fresh_runs_are_bitwise_identical(tmp_path: Path) -> None:
    a = train(tmp_path / "a")
    b = train(tmp_path / "b")
    assert same_weights(a, b)
    assert rows(a) == rows(b)


def test_a_run_keeps_its_state_and_status(tmp_path: Path) -> None:
    run = train(tmp_path)
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "model.safetensors", "state.safetensors"} <= names
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


def test_extending_a_finished_run_equals_the_longer_run(tmp_path: Path) -> None:
    short = train(tmp_path / "short")
    code, _, err = invoke("train", "--resume", str(short), "--set", "train.epochs=5", "-q")
    assert code == 0, err
    long = train(tmp_path / "long", epochs=5)
    assert same_weights(short, long)
    assert rows(short) == rows(long)
    assert "epochs: 5" in (short / "config.yaml").read_text()


def test_resuming_a_complete_run_changes_nothing(tmp_path: Path) -> None:
    run = train(tmp_path)
    before = snapshot(run)
    code, _, err = invoke("train", "--resume", str(run), "-q")
    assert code == 0, err
    assert "already complete" in err
    assert snapshot(run)["model.safetensors"] == before["model.safetensors"]
    assert rows(run) == [
        {k: v for k, v in json.loads(x).items() if k not in TIMING}
        for x in before["metrics.jsonl"].decode().splitlines()
    ]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--set", "train.lr=0.1"], 2, "train.lr"),
        (["--set", "model.hidden_sizes=[4]", "--set", "seed=1"], 2, "seed, model.hidden_sizes"),
        (["--out", "elsewhere"], 2, "--out"),
    ],
)
def test_config_changes_are_refused(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    run = train(tmp_path)
    before = snapshot(run)
    got, _, err = invoke("train", "--resume", str(run), *args)
    assert got == code, err
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err
    assert snapshot(run) == before


def test_a_different_config_beside_resume_is_refused(tmp_path: Path) -> None:
    run = train(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    path = config(other, lr=0.5)
    code, _, err = invoke("train", "--resume", str(run), "--config", str(path))
    assert code == 2 and "train.lr" in err and str(path) in err, err
    # the run's own config, given again, is accepted
    code, _, err = invoke("train", "--resume", str(run), "--config", str(run / "config.yaml"))
    assert code == 0, err


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda run: (run / "state.safetensors").unlink(), "no state.safetensors"),
        (lambda run: (run / "state.safetensors").write_bytes(b"\x00" * 40), "state.safetensors"),
        (lambda run: (run / "config.yaml").unlink(), "config.yaml"),
    ],
    ids=["no-state", "damaged-state", "no-config"],
)
def test_a_run_that_cannot_resume_is_exit_4(tmp_path: Path, damage: Any, needle: str) -> None:
    run = train(tmp_path)
    damage(run)
    before = snapshot(run)
    code, _, err = invoke("train", "--resume", str(run), "--set", "train.epochs=4")
    assert code == 4, err
    assert err.count("\n") == 1 and needle in err, err
    assert snapshot(run) == before


def test_a_damaged_state_names_the_previous_one(tmp_path: Path) -> None:
    run = train(tmp_path)
    assert (run / "state.prev.safetensors").is_file()
    data = (run / "state.safetensors").read_bytes()
    (run / "state.safetensors").write_bytes(data[: len(data) // 2])
    code, _, err = invoke("train", "--resume", str(run), "--set", "train.epochs=4")
    assert code == 4 and "state.prev.safetensors" in err, err


def test_missing_run_and_missing_config(tmp_path: Path) -> None:
    code, _, err = invoke("train", "--resume", str(tmp_path / "nope"))
    assert code == 4 and "run directory not found" in err, err
    code, _, err = invoke("train")
    assert code == 2 and "--config" in err and "--resume" in err, err


def test_changed_data_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    lines = ["a,b,y"] + [f"{i % 7},{(i * 3) % 11},{i % 2}" for i in range(80)]
    data.write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "d.yaml"
    cfg.write_text(f"data: {{source: csv, path: {data}, labels: [y]}}\ntrain: {{epochs: 2}}\n")
    code, _, err = invoke("train", "--config", str(cfg), "--out", str(tmp_path / "runs"), "-q")
    assert code == 0, err
    run = (tmp_path / "runs" / "latest").resolve()
    data.write_text("\n".join([*lines[:-1], "6,6,1"]) + "\n")  # one training row changed
    before = snapshot(run)
    code, _, err = invoke("train", "--resume", str(run), "--set", "train.epochs=4")
    assert code == 3 and str(data) in err and "not the data this run was trained on" in err, err
    assert snapshot(run) == before


def test_a_diverged_run_resumes_with_a_lower_lr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigmoidnet.engine import Trainer

    real = Trainer.train_epoch
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return torch.tensor(float("nan")) if calls["n"] == 2 else loss

    monkeypatch.setattr(Trainer, "train_epoch", flaky)
    out = tmp_path / "runs"
    code, _, err = invoke("train", "--config", str(config(tmp_path)), "--out", str(out), "-q")
    assert code == 5, err
    run = (out / "latest").resolve()
    assert f"sigmoidnet train --resume {run} --set train.lr=" in err, err
    assert json.loads((run / "status.json").read_text())["status"] == "diverged"
    assert [r["epoch"] for r in rows(run)] == [1]
    monkeypatch.setattr(Trainer, "train_epoch", real)
    before = snapshot(run)
    code, _, err = invoke("train", "--resume", str(run), "--set", "model.dropout=0.1")
    assert code == 2 and "model.dropout" in err and "after a divergence" in err, err
    assert snapshot(run) == before
    code, _, err = invoke("train", "--resume", str(run), "--set", "train.lr=0.0005", "-q")
    assert code == 0, err
    assert [r["epoch"] for r in rows(run)] == [1, 2, 3]
    assert "lr: 0.0005" in (run / "config.yaml").read_text()
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


def test_a_run_being_trained_cannot_be_resumed_beside_it(tmp_path: Path) -> None:
    import fcntl
    import os

    run = train(tmp_path)
    fd = os.open(run, os.O_RDONLY)  # as a `train` still running on it holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = snapshot(run)
        code, _, err = invoke("train", "--resume", str(run), "--set", "train.epochs=4")
        assert code == 4 and "another sigmoidnet process" in err, err
        assert snapshot(run) == before
    finally:
        os.close(fd)
    code, _, err = invoke(
        "train", "--resume", str(tmp_path / "runs" / "latest"), "-q", "--set", "train.epochs=4"
    )
    assert code == 0, err


def test_a_complete_run_resumed_with_new_decisions_fits_them_again(tmp_path: Path) -> None:
    from sigmoidnet import artifact

    run = train(tmp_path)
    before = tensors(run / "model.safetensors")
    code, out, err = invoke(
        "train", "--resume", str(run), "--set", "decision.threshold=f1",
        "--set", "decision.calibration=temperature",
    )  # fmt: skip
    assert code == 0, err
    assert "its decisions were fitted again" in err and "threshold " in out
    art = artifact.load(run / "model.safetensors")
    assert art.calibration is not None and art.calibration["method"] == "temperature"
    assert art.threshold_sources is not None and "f1 on" in art.threshold_sources[0]
    after = tensors(run / "model.safetensors")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in after)
    assert "threshold: f1" in (run / "config.yaml").read_text()
    # and back to a number
    code, _, err = invoke("train", "--resume", str(run), "--set", "decision.threshold=0.4",
                          "--set", "decision.calibration=none")  # fmt: skip
    assert code == 0, err
    art = artifact.load(run / "model.safetensors")
    assert art.calibration is None and art.thresholds == [0.4, 0.4]
