"""SIGINT and SIGTERM, sent to the real CLI while it works: exit 130, one line that says
what was kept, no temporary file, no new folder, no torn output; `kill -9` during training
leaves every run directory complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from sigmoidnet import artifact
from sigmoidnet.config import load_config
from tests.cli.util import env

SIGNALS = [signal.SIGTERM, signal.SIGINT]
IDS = ["SIGTERM", "SIGINT"]
# the boundary treats both alike (tests/cli/test_boundary.py): past predict, SIGINT's runs
# are among the slow tests
SIGNALS_SIGINT_SLOW = [
    pytest.param(signal.SIGTERM, id="SIGTERM"),
    pytest.param(signal.SIGINT, id="SIGINT", marks=pytest.mark.slow),
]
ATTEMPTS = 3  # a run that ends before the signal lands is started again


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300,000 rows of the learnable problem's columns (19 MB; ~1.5 s of predict here)."""
    n = 300_000
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, 6)) * np.arange(1, 7) + 3.0).astype(np.float32)
    cols: dict[str, np.ndarray] = {f"f{i}": x[:, i] for i in range(6)}
    cols["a"] = (x[:, 0] > 3).astype(np.int8)
    cols["b"] = (x[:, 1] > 3).astype(np.int8)
    path = tmp_path_factory.mktemp("big") / "big.csv"
    pacsv.write_csv(pa.table(cols), path)
    return path


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sigmoidnet", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
    )


def wait_for(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 60) -> bool:
    """Poll `ready` until it holds (True) or `proc` has ended (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    proc.kill()
    pytest.fail("the command never got to the point of the test")


def stop(proc: subprocess.Popen[bytes], sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - the signal was not heeded
            proc.kill()
    assert proc.stderr is not None
    return code, proc.stderr.read().decode()


def interrupted(args: list[str], ready: Callable[[], bool], sig: int) -> tuple[int, str] | None:
    """Start the CLI, send `sig` once `ready()`; (exit code, stderr), or None when the run
    ended before it was ready."""
    proc = start(*args)
    try:
        if not wait_for(proc, ready):
            proc.wait()
            return None
        return stop(proc, sig)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp")] if folder.exists() else []


@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_predict_interrupted_while_writing(
    trained_run: Path, big_csv: Path, tmp_path: Path, sig: int
) -> None:
    model = str(trained_run / "model.safetensors")
    folder = tmp_path / "out"
    out = folder / "deeper" / "p.parquet"
    args = ["predict", "--checkpoint", model, "--data", str(big_csv), "--out", str(out)]
    for _ in range(ATTEMPTS):
        result = interrupted(args, lambda: bool(temporaries(folder)), sig)
        if result is not None:
            break
        assert out.exists()  # it finished first: try again from scratch
        out.unlink()
        out.parent.rmdir()
        folder.rmdir()
    else:
        pytest.skip("predict always finished before the signal landed")
    assert result == (130, f"error: predict: interrupted; {out} not written\n")
    assert not folder.exists()  # the temporary file and the folders it needed: gone


def test_predict_interrupted_keeps_the_old_output(
    trained_run: Path, big_csv: Path, tmp_path: Path
) -> None:
    model = str(trained_run / "model.safetensors")
    out = tmp_path / "p.csv"
    out.write_text("previous result")
    args = ["predict", "--checkpoint", model, "--data", str(big_csv), "--out", str(out)]
    for _ in range(ATTEMPTS):
        result = interrupted(args, lambda: bool(temporaries(tmp_path)), signal.SIGTERM)
        if result is not None:
            break
        out.write_text("previous result")
    else:
        pytest.skip("predict always finished before the signal landed")
    assert result == (130, f"error: predict: interrupted; {out} left as it was\n")
    assert out.read_text() == "previous result" and temporaries(tmp_path) == []


def _maps(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open or mapped (it is reading it)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in fds):
            return True
        with open(f"/proc/{pid}/maps") as f:
            return str(path) in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("sig", SIGNALS_SIGINT_SLOW)
def test_eval_interrupted_while_reading(trained_run: Path, big_csv: Path, sig: int) -> None:
    args = ["eval", "--run", str(trained_run), "--data", str(big_csv), "--json"]
    for _ in range(ATTEMPTS):
        proc = start(*args)
        try:
            if wait_for(proc, lambda p=proc.pid: _maps(p, big_csv.resolve())):  # type: ignore[misc]
                result = stop(proc, sig)
                break
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    else:
        pytest.skip("eval always finished before the signal landed")
    assert result == (130, "error: eval: interrupted\n")


# ---------------------------------------------------------------------------------------------
# train


def train_config(tmp_path: Path, data: Path, **train: object) -> Path:
    cfg = tmp_path / "long.yaml"
    settings = {"epochs": 100_000, "batch_size": 32, **train}
    cfg.write_text(
        "seed: 0\ndevice: cpu\n"
        f"data:\n  source: csv\n  path: {data}\n  labels: [a, b]\n"
        "  features: [f0, f1, f2, f3, f4, f5]\n"
        "model:\n  hidden_sizes: [16]\n"
        "train:\n" + "".join(f"  {k}: {v}\n" for k, v in settings.items())
        + f"out_dir: {tmp_path / 'new' / 'runs'}\n"
    )  # fmt: skip
    return cfg


@pytest.mark.parametrize("sig", SIGNALS_SIGINT_SLOW)
def test_train_interrupted_after_a_model_keeps_it(
    learnable_csv: Path, tmp_path: Path, sig: int
) -> None:
    cfg = train_config(tmp_path, learnable_csv)
    runs = tmp_path / "new" / "runs"
    model = runs / "latest" / "model.safetensors"
    state = runs / "latest" / "state.safetensors"  # saved right after the model
    result = interrupted(
        ["train", "--config", str(cfg), "-q"], lambda: model.is_file() and state.is_file(), sig
    )
    assert result is not None
    run = (runs / "latest").resolve()
    code, err = result
    epoch = artifact.load(run / "model.safetensors").epoch
    assert (code, err) == (
        130,
        f"error: train: interrupted; the best model so far (epoch {epoch}) is in {run}; "
        f"continue with: sigmoidnet train --resume {run}\n",
    )
    assert temporaries(runs) == []
    names = sorted(p.name for p in run.iterdir())
    assert {"config.yaml", "metrics.jsonl", "model.safetensors", "state.safetensors"} <= set(names)
    assert set(names) <= {
        "config.yaml", "metrics.jsonl", "model.safetensors", "state.safetensors",
        "state.prev.safetensors", "status.json",
    }  # fmt: skip
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize("sig", SIGNALS_SIGINT_SLOW)
def test_train_interrupted_before_a_model_leaves_nothing(
    big_csv: Path, tmp_path: Path, sig: int
) -> None:
    # 300,000 rows in batches of 8: the first epoch lasts seconds
    cfg = train_config(tmp_path, big_csv, batch_size=8)
    runs = tmp_path / "new" / "runs"

    def started() -> bool:  # the run directory is made: config.yaml and metrics.jsonl
        return any(runs.glob("*/metrics.jsonl")) if runs.exists() else False

    result = interrupted(["train", "--config", str(cfg), "-q"], started, sig)
    assert result == (130, "error: train: interrupted before a model was saved; nothing is kept\n")
    assert not (tmp_path / "new").exists()


def new_model(runs: Path, before: set[Path]) -> bool:
    """Whether a run directory not in `before` holds a model."""
    if not runs.exists():
        return False
    return any((p / "model.safetensors").exists() for p in set(runs.iterdir()) - before)


@pytest.mark.slow
def test_kill_9_during_training_leaves_every_run_directory_complete(
    learnable_csv: Path, tmp_path: Path
) -> None:
    cfg = train_config(tmp_path, learnable_csv)
    runs = tmp_path / "new" / "runs"
    rng = np.random.default_rng(0)
    for _ in range(4):
        before = set(runs.iterdir()) if runs.exists() else set()
        proc = start("train", "--config", str(cfg), "-q")
        try:
            wait_for(proc, lambda b=before: new_model(runs, b))  # type: ignore[misc]
            time.sleep(float(rng.uniform(0.0, 0.3)))
            proc.kill()
        finally:
            proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
    run_dirs = [p for p in runs.iterdir() if p.name != "latest" and not p.name.startswith(".")]
    assert len(run_dirs) == 4  # and each second's runs got folders of their own
    for run in run_dirs:
        load_config(run / "config.yaml")  # a whole config, as written
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1)) and rows
        epoch = artifact.load(run / "model.safetensors").epoch
        assert epoch is not None and epoch <= len(rows) + 1
    assert (runs / "latest").resolve() in run_dirs
