"""`train --nproc N` and `torchrun -m sigmoidnet train`: data-parallel runs on gloo processes.

Against one process: the bundled datasets reach its validation ROC-AUC within 0.01, one run
directory is written (by rank 0), the run evaluates like any other. Faults: a rank killed
with SIGKILL mid-epoch ends the job within 60 s with one line naming the rank and no
process left, and the run resumed on as many processes is bitwise the uninterrupted one;
torchrun's `--max-restarts` continues from the last state; a resume on another number of
processes is exit 2; two torchrun launchers on the loopback interface (two "machines") give
bitwise the run of `--nproc 2`."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.test_kill_resume import assert_same_run
from tests.cli.util import env

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]

#: random labels are not learnable (the quality checks use the bundled tables): this config
#: exercises what a resume must restore on every rank (dropout, a schedule, mid-epoch
#: states every 9 steps, a short last batch)
CONFIG: dict[str, Any] = {
    "name": "ddp",
    "seed": 5,
    "device": "cpu",
    "data": {
        "source": "random",
        "n_samples": 9_001,
        "n_features": 24,
        "n_labels": 2,
        "val_fraction": 0.2,
    },
    "model": {"hidden_sizes": [128, 64], "dropout": 0.1},
    "train": {
        "epochs": 5,
        "batch_size": 50,
        "lr": 0.003,
        "lr_schedule": "cosine",
        "checkpoint_every": 9,
    },
}


def write_config(folder: Path, **train: Any) -> Path:
    cfg = json.loads(json.dumps(CONFIG))
    cfg["train"].update(train)
    path = folder / "ddp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def sigmoidnet(*args: str, cwd: Path | None = None, timeout: float = 300) -> tuple[int, str, str]:
    p = subprocess.run(
        [sys.executable, "-m", "sigmoidnet", *args],
        capture_output=True,
        text=True,
        env=env(),
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return p.returncode, p.stdout, p.stderr


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())


def final_auc(stdout: str) -> float:
    line = next(x for x in stdout.splitlines() if x.startswith("best epoch"))
    return float(line.rsplit("val_roc_auc ", 1)[1].split()[0].rstrip(","))


# -- launch, and the same model quality as one process ------------------------------------------


def test_nproc_2_trains_the_bundled_dataset_like_one_process(tmp_path: Path) -> None:
    config = str(ROOT / "configs" / "default.yaml")
    code, one, err = sigmoidnet("train", "--config", config, "--out", str(tmp_path / "one"), "-q")
    assert code == 0, err
    code, two, err = sigmoidnet(
        "train", "--config", config, "--out", str(tmp_path / "two"), "--nproc", "2", "-q"
    )
    assert code == 0, err
    assert abs(final_auc(two) - final_auc(one)) <= 0.01, (one, two)
    (run,) = run_dirs(tmp_path / "two")  # one run directory, rank 0's
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml",
        "metrics.jsonl",
        "model.safetensors",
        "state.prev.safetensors",
        "state.safetensors",
        "status.json",
    ]
    assert json.loads((run / "status.json").read_text())["world_size"] == 2
    code, out, err = sigmoidnet("eval", "--run", str(run), "--json")
    assert code == 0, err
    assert json.loads(out)["macro"]["roc_auc"] == pytest.approx(final_auc(two), abs=1e-4)


def test_nproc_refuses_before_starting_workers(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    code, _, err = sigmoidnet("train", "--config", str(cfg), "--nproc", "2", "--set", "train.lr=x")
    assert code == 2 and err.count("\n") == 1 and "train.lr" in err, err
    code, _, err = sigmoidnet(
        "train", "--config", str(cfg), "--nproc", "4", "--set", "train.batch_size=3"
    )
    assert code == 2 and "train.batch_size: 3 is the global batch" in err, err
    code, _, err = sigmoidnet("train", "--config", str(cfg), "--nproc", "0")
    assert code == 2 and "--nproc" in err, err
    assert not (tmp_path / "runs").exists()


def test_a_data_error_is_one_line_from_rank_0(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n1,2,0\n3,x,1\n5,6,2\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{source: csv, path: {csv}, labels: [y]}}\n")
    code, _, err = sigmoidnet("train", "--config", str(cfg), "--nproc", "2", cwd=tmp_path)
    assert code == 3, err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "d.csv" in lines[0], err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_resume_on_another_number_of_processes_is_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, epochs=1)
    out = tmp_path / "runs"
    code, _, err = sigmoidnet(
        "train", "--config", str(cfg), "--out", str(out), "--nproc", "2", "-q"
    )
    assert code == 0, err
    (ddp,) = run_dirs(out)
    before = {p.name: p.read_bytes() for p in ddp.iterdir()}
    code, _, err = sigmoidnet("train", "--resume", str(ddp), "--set", "train.epochs=2", "-q")
    assert code == 2, err
    assert "trained on 2 processes; resume it on 2 too (--nproc 2)" in err, err
    assert {p.name: p.read_bytes() for p in ddp.iterdir()} == before
    # and a one-process run resumed on two
    out1 = tmp_path / "one"
    code, _, err = sigmoidnet("train", "--config", str(cfg), "--out", str(out1), "-q")
    assert code == 0, err
    (one,) = run_dirs(out1)
    code, _, err = sigmoidnet(
        "train", "--resume", str(one), "--set", "train.epochs=2", "--nproc", "2", "-q"
    )
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "trained on one process; resume it on one too" in err, err


# -- slow: torchrun, faults, two machines -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "penguins"])
def test_torchrun_trains_the_bundled_datasets_like_one_process(tmp_path: Path, name: str) -> None:
    config = str(ROOT / "configs" / f"{name}.yaml")
    code, one, err = sigmoidnet("train", "--config", config, "--out", str(tmp_path / "1"), "-q")
    assert code == 0, err
    p = subprocess.run(
        [*TORCHRUN, "--standalone", "--nproc-per-node", "2", "-m", "sigmoidnet", "train",
         "--config", config, "--out", str(tmp_path / "2"), "-q"],
        capture_output=True, text=True, env=env(), timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert abs(final_auc(p.stdout) - final_auc(one)) <= 0.01, (one, p.stdout)
    assert len(run_dirs(tmp_path / "2")) == 1


def _worker_pids(launcher: int) -> dict[int, int]:
    """{rank: pid} of the workers under the launcher process `launcher`."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        values = dict(e.split(b"=", 1) for e in environ if b"=" in e)
        if values.get(b"SIGMOIDNET_TEST_LAUNCHER") == str(launcher).encode() and b"RANK" in values:
            with_rank = int(values[b"RANK"])
            if entry.name != str(launcher):
                found[with_rank] = int(entry.name)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _tagged(cmd: list[str]) -> subprocess.Popen[str]:
    """`cmd` started with its own pid in SIGMOIDNET_TEST_LAUNCHER (inherited by its
    workers: `_worker_pids` finds them)."""
    return subprocess.Popen(
        ["sh", "-c", 'SIGMOIDNET_TEST_LAUNCHER=$$ exec "$@"', "sh", *cmd],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=env(),
    )  # fmt: skip


def _kill_rank_mid_epoch(proc: subprocess.Popen[str], tag: str, out: Path, rank: int) -> float:
    """SIGKILL rank `rank` once the run has a state and a random moment has passed; the
    time of the kill."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        dirs = run_dirs(out) if out.exists() else []
        if dirs and (dirs[0] / "state.safetensors").exists():
            break
        time.sleep(0.01)
    time.sleep(random.Random(tag).uniform(0.2, 1.5))
    pids = _worker_pids(int(tag))
    assert rank in pids, pids
    os.kill(pids[rank], signal.SIGKILL)
    return time.monotonic()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run on 2 processes."""
    folder = tmp_path_factory.mktemp("ddp-reference")
    out = folder / "runs"
    code, _, err = sigmoidnet(
        "train", "--config", str(write_config(folder)), "--out", str(out), "--nproc", "2", "-q"
    )
    assert code == 0, err
    (run,) = run_dirs(out)
    return run


@pytest.mark.slow
def test_a_rank_killed_mid_epoch_ends_the_job_and_resume_is_bitwise(
    reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "sigmoidnet", "train", "--config", str(write_config(tmp_path)),
           "--out", str(out), "--nproc", "2", "-q"]  # fmt: skip
    proc = _tagged(cmd)
    killed_at = _kill_rank_mid_epoch(proc, str(proc.pid), out, rank=1)
    _, err = proc.communicate(timeout=120)
    took = time.monotonic() - killed_at
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert took < 60, took
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, err
    (run,) = run_dirs(out)
    assert lines[0].startswith("error: train: rank 1 (pid ") and "was killed by SIGKILL" in lines[0]
    assert lines[0].endswith(f"continue with sigmoidnet train --resume {run} --nproc 2"), err
    assert not [p for p in _worker_pids(proc.pid).values() if _alive(p)]
    code, _, err = sigmoidnet("train", "--resume", str(run), "--nproc", "2", "-q")
    assert code == 0, err
    assert_same_run(run, reference)


@pytest.mark.slow
def test_torchrun_max_restarts_continues_from_the_last_state(
    reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    cmd = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", "--max-restarts", "1",
           "-m", "sigmoidnet", "train", "--config", str(write_config(tmp_path)),
           "--out", str(out), "-q"]  # fmt: skip
    proc = _tagged(cmd)
    _kill_rank_mid_epoch(proc, str(proc.pid), out, rank=1)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "resumed at epoch" in err, err
    (run,) = run_dirs(out)
    assert_same_run(run, reference)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_machines_on_the_loopback_give_the_nproc_2_run(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    port = str(_free_port())
    cfg = str(write_config(tmp_path))
    nodes = [
        subprocess.Popen(
            [
                *TORCHRUN,
                "--nnodes",
                "2",
                "--node-rank",
                str(rank),
                "--nproc-per-node",
                "1",
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                port,
                "--rdzv-conf",
                "timeout=60",
                "-m",
                "sigmoidnet",
                "train",
                "--config",
                cfg,
                "--out",
                str(out),
                "-q",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for rank in (0, 1)
    ]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err
    (run,) = run_dirs(out)
    assert_same_run(run, reference)


@pytest.mark.slow
def test_two_machines_through_nnodes_give_the_nproc_2_run(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    port = str(_free_port())
    cfg = str(write_config(tmp_path))
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sigmoidnet",
                "train",
                "--config",
                cfg,
                "--out",
                str(out),
                "-q",
                "--nnodes",
                "2",
                "--node-rank",
                str(rank),
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                port,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for rank in (1, 0)  # node 1 first: it waits for node 0
    ]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err
    (run,) = run_dirs(out)
    assert_same_run(run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["port taken", "nobody at the address", "a node missing"])
def test_a_misconfigured_rendezvous_fails_within_a_minute_in_one_line(
    tmp_path: Path, case: str
) -> None:
    cfg = str(write_config(tmp_path))
    port = _free_port()
    held = socket.socket()
    if case == "port taken":
        held.bind(("0.0.0.0", port))
        held.listen()
    rank = "1" if case == "nobody at the address" else "0"
    started = time.monotonic()
    try:
        code, _, err = sigmoidnet(
            "train", "--config", cfg, "--out", str(tmp_path / "runs"), "-q", "--nnodes", "2",
            "--node-rank", rank, "--master-addr", "127.0.0.1", "--master-port", str(port),
            timeout=120,
        )  # fmt: skip
    finally:
        held.close()
    took = time.monotonic() - started
    assert code == 2, err
    assert took < 60, took
    assert err.count("\n") == 1, err
    flag = {"port taken": "--master-port", "nobody at the address": "--master-addr"}
    assert err.startswith(f"error: {flag.get(case, '--nnodes')}: "), err
    assert not (tmp_path / "runs").exists()


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.cuda
@pytest.mark.skipif(_gpus() < 2, reason="needs 2 GPUs (nccl, one per local rank)")
def test_nproc_2_on_two_gpus_trains_like_one_gpu(tmp_path: Path) -> None:
    config = str(ROOT / "configs" / "default.yaml")
    code, one, err = sigmoidnet(
        "train", "--config", config, "--out", str(tmp_path / "1"), "--device", "cuda", "-q"
    )
    assert code == 0, err
    code, two, err = sigmoidnet(
        "train", "--config", config, "--out", str(tmp_path / "2"), "--device", "cuda",
        "--nproc", "2", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert abs(final_auc(two) - final_auc(one)) <= 0.01, (one, two)


@pytest.mark.slow
def test_a_parquet_table_read_in_shards_trains_and_evaluates_like_one_process(
    tmp_path: Path,
) -> None:
    """A learnable numeric Parquet table in row groups, read in shards on 2 processes: the
    run's held-out rows are those `eval` finds again (the fingerprint matches), and the
    validation ROC-AUC is one process's within 0.01."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30_000, 12)).astype(np.float32)
    x[rng.random(x.shape) < 0.02] = np.nan
    logit = np.nan_to_num(x[:, 0] - 2 * x[:, 1] + x[:, 2] * x[:, 3])
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({**{f"f{j}": x[:, j] for j in range(12)}, "y": y}), path, row_group_size=4096
    )
    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        f"data: {{source: parquet, path: {path}, labels: [y], val_fraction: 0.2}}\n"
        "model: {hidden_sizes: [32]}\ntrain: {epochs: 4, batch_size: 256, lr: 0.003}\n"
    )
    code, one, err = sigmoidnet("train", "--config", str(cfg), "--out", str(tmp_path / "1"), "-q")
    assert code == 0, err
    code, two, err = sigmoidnet(
        "train", "--config", str(cfg), "--out", str(tmp_path / "2"), "--nproc", "2"
    )
    assert code == 0, err
    assert "(read in shards)" in two, two
    assert abs(final_auc(two) - final_auc(one)) <= 0.01, (one, two)
    (run,) = run_dirs(tmp_path / "2")
    code, out, err = sigmoidnet("eval", "--run", str(run), "--json")
    assert code == 0, err
    assert json.loads(out)["n_rows"] == 6_000


def _sharded_config(folder: Path) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "k.parquet"
    if not path.exists():
        rng = np.random.default_rng(1)
        x = rng.normal(size=(40_000, 16)).astype(np.float32)
        x[rng.random(x.shape) < 0.03] = np.nan
        y = (rng.random((len(x), 2)) < 0.4).astype(np.int64)
        table = pa.table({**{f"f{j}": x[:, j] for j in range(16)}, "a": y[:, 0], "b": y[:, 1]})
        pq.write_table(table, path, row_group_size=4096)
    cfg = folder / "k.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "name": "kill",
                "seed": 2,
                "data": {"source": "parquet", "path": str(path), "labels": ["a", "b"]},
                "model": {"hidden_sizes": [96], "dropout": 0.1},
                "train": {"epochs": 4, "batch_size": 64, "checkpoint_every": 25},
            }
        )
    )
    return cfg


@pytest.mark.slow
def test_a_run_read_in_shards_killed_and_resumed_is_bitwise(tmp_path: Path) -> None:
    """The sharded read is done again on resume: the same shards, statistics and digest."""
    ref_out, out = tmp_path / "ref", tmp_path / "runs"
    cfg = str(_sharded_config(tmp_path))
    code, _, err = sigmoidnet("train", "--config", cfg, "--out", str(ref_out), "--nproc", "2", "-q")
    assert code == 0, err
    (reference,) = run_dirs(ref_out)
    cmd = [sys.executable, "-m", "sigmoidnet", "train", "--config", cfg, "--out", str(out),
           "--nproc", "2", "-q"]  # fmt: skip
    proc = _tagged(cmd)
    _kill_rank_mid_epoch(proc, str(proc.pid), out, rank=0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGKILL, err
    (run,) = run_dirs(out)
    code, shown, err = sigmoidnet("train", "--resume", str(run), "--nproc", "2")
    assert code == 0, err
    assert "resumed at epoch" in err and "(read in shards)" in shown, (shown, err)
    assert_same_run(run, reference)
