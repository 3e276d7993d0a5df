"""Kill and resume: a real `sigmoidnet train` subprocess is SIGKILLed at random moments —
mid-epoch, at an epoch's end, while a state file is being written — and continued with
`train --resume`, once or several times. The run must end with a `model.safetensors` and a
state whose tensors are bitwise those of an uninterrupted run, and the same `metrics.jsonl`
rows (timing fields aside). Two kill schedules run in the default suite, twenty-four in the
slow suite."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors import safe_open

from sigmoidnet.engine.checkpoint import load_state
from tests.cli.util import env

TIMING = {"seconds", "rows_per_s"}
#: dropout (the torch RNG), a validation split, a schedule, early stopping's counters, mid-
#: epoch states every 7 steps: everything a resume must restore; ~1,600 steps of a
#: 40k-parameter MLP (a few seconds here) and a 0.5 MB state written some 230 times
CONFIG: dict[str, Any] = {
    "name": "kill",
    "seed": 3,
    "device": "cpu",
    "data": {
        "source": "random",
        "n_samples": 12_000,
        "n_features": 40,
        "n_labels": 2,
        "val_fraction": 0.2,
    },
    "model": {"hidden_sizes": [256, 96], "dropout": 0.1},
    "train": {
        "epochs": 6,
        "batch_size": 36,
        "lr": 0.003,
        "lr_schedule": "cosine",
        "warmup_epochs": 1,
        "early_stopping": {"metric": "val_loss", "patience": 20},
        "checkpoint_every": 7,
    },
}


def write_config(folder: Path) -> Path:
    path = folder / "kill.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sigmoidnet", "train", *args, "-q"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
    )


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode()


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("kill-*") if p.is_dir()) if out.exists() else []


def writing_state(out: Path) -> bool:
    """A temporary file of a state being written is in a run directory."""
    return any(".tmp" in p.name and "state" in p.name for d in run_dirs(out) for p in d.iterdir())


def kill_at(
    proc: subprocess.Popen[bytes], out: Path, how: str, rng: random.Random, scale: float = 2.5
) -> bool:
    """SIGKILL `proc` at a moment chosen by `how`: `write` — as soon as a state file is
    being written; `time` — a random time after the first state exists (up to `scale`
    seconds). False when the run ended first."""
    deadline = time.monotonic() + 120
    delay = rng.uniform(0.0, scale)
    started: float | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        dirs = run_dirs(out)
        if how == "write":
            if started is None and dirs and (dirs[-1] / "state.safetensors").exists():
                started = time.monotonic()
            # a random number of writes in: then the next one that is seen
            if started is not None and time.monotonic() - started > delay and writing_state(out):
                proc.kill()
                proc.wait()
                return True
        else:
            if started is None and dirs and (dirs[-1] / "state.safetensors").exists():
                started = time.monotonic()
            if started is not None and time.monotonic() - started > delay:
                proc.kill()
                proc.wait()
                return True
        time.sleep(0.0005 if how == "write" else 0.002)
    proc.kill()
    proc.wait()
    pytest.fail("the run never reached the kill point")


def tensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no items


def model_metadata(path: Path) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    return json.loads(meta["sigmoidnet"]) if "sigmoidnet" in meta else dict(meta)


def rows(run: Path) -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in TIMING} for x in lines]


def flat_state(value: Any, prefix: str = "") -> dict[str, Any]:
    """The state as {path: leaf}, the history's timing fields left out."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            if k in TIMING:
                continue
            out.update(flat_state(v, f"{prefix}/{k}"))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            out.update(flat_state(v, f"{prefix}/{i}"))
    else:
        out[prefix] = value
    return out


def same_leaf(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and torch.equal(a, b)
        )
    if hasattr(a, "shape"):  # numpy arrays
        return bool(hasattr(b, "shape") and a.dtype == b.dtype and (a == b).all())
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # nan
    return bool(type(a) is type(b) and a == b)


def assert_same_run(got: Path, want: Path) -> None:
    g, w = tensors(got / "model.safetensors"), tensors(want / "model.safetensors")
    assert g.keys() == w.keys()
    for k in w:
        assert g[k].dtype == w[k].dtype and torch.equal(g[k], w[k]), k
    assert rows(got) == rows(want)
    gs, ws = (
        flat_state(load_state(got / "state.safetensors")),
        flat_state(load_state(want / "state.safetensors")),
    )
    assert gs.keys() == ws.keys()
    differ = [k for k in ws if not same_leaf(gs[k], ws[k])]
    assert not differ, differ[:10]
    assert (got / "config.yaml").read_text() == (want / "config.yaml").read_text()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run."""
    folder = tmp_path_factory.mktemp("reference")
    code, err = finish(start("--config", str(write_config(folder)), "--out", str(folder / "r")))
    assert code == 0, err
    (run,) = run_dirs(folder / "r")
    return run


def kill_and_resume(tmp_path: Path, seed: int, kills: int) -> tuple[Path, list[str]]:
    """Train, SIGKILL it `kills` times at random moments (each resume may be killed too),
    resume until it completes; (the run directory, what each kill hit)."""
    rng = random.Random(seed)
    out = tmp_path / "runs"
    config = write_config(tmp_path)
    hits: list[str] = []
    proc = start("--config", str(config), "--out", str(out))
    scale = 2.5
    for _attempt in range(3):  # on an idle machine a run can end before its first kill
        how = rng.choice(["time", "write"])
        if kill_at(proc, out, how, rng, scale):
            hits.append(how)
            break
        shutil.rmtree(out)  # it finished first: again, with an earlier kill
        scale /= 3
        proc = start("--config", str(config), "--out", str(out))
    else:
        pytest.fail("the run finished before its first kill, three times")
    (run,) = run_dirs(out)
    proc = start("--resume", str(run))
    for _ in range(kills - 1):
        how = rng.choice(["time", "write"])
        if not kill_at(proc, out, how, rng, scale):
            break  # it finished first
        hits.append(how)
        (run,) = run_dirs(out)
        proc = start("--resume", str(run))
    code, err = finish(proc)
    assert code == 0, err
    (run,) = run_dirs(out)
    # nothing left behind by the kills: no temporary files
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    return run, hits


@pytest.mark.parametrize("seed", [0, 1])
def test_killed_twice_and_resumed_is_bitwise_the_uninterrupted_run(
    reference: Path, tmp_path: Path, seed: int
) -> None:
    run, hits = kill_and_resume(tmp_path, seed, kills=2)
    assert hits, "the run finished before any kill"
    assert_same_run(run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 112))
def test_killed_many_times(reference: Path, tmp_path: Path, seed: int) -> None:
    """Twelve schedules of two kills each (24 or more kills in all, some during a state
    write), each resumed to the end."""
    run, hits = kill_and_resume(tmp_path, seed, kills=2)
    assert hits
    assert_same_run(run, reference)


def test_sigterm_then_resume(reference: Path, tmp_path: Path) -> None:
    """SIGTERM (as Ctrl-C): exit 130 with the resume command in its line; resuming gives
    the uninterrupted run."""
    out = tmp_path / "runs"
    proc = start("--config", str(write_config(tmp_path)), "--out", str(out))
    rng = random.Random(7)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        run_dirs(out) and (run_dirs(out)[-1] / "state.safetensors").exists()
    ):
        time.sleep(0.002)
    time.sleep(rng.uniform(0.2, 1.0))
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc)
    if code == 0:
        pytest.skip("the run finished before the signal landed")
    (run,) = run_dirs(out)
    assert code == 130, err
    assert err.strip().endswith(f"continue with: sigmoidnet train --resume {run}"), err
    code, err = finish(start("--resume", str(run)))
    assert code == 0, err
    assert_same_run(run, reference)
