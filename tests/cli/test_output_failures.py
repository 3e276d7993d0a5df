"""Output under failure, with the real CLI in a fresh interpreter: a full disk, a file-size
limit, a full or closed stdout and a device as --out are one line and a documented exit;
the old output is kept, and no temporary file or new folder is left behind."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sigmoidnet import artifact
from tests.cli.util import env, invoke
from tests.conftest import write_learnable_csv

FULL = "No space left on device"
TOO_LARGE = "File too large"


def listing(folder: Path) -> list[str]:
    """Every path below `folder`, relative, hidden temporary files included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def fsize_limit(limit: int) -> Callable[[], None]:
    """A child's set-up: files of at most `limit` bytes (a write past it fails with EFBIG;
    SIGXFSZ, which would kill the process instead, is ignored, as a shell's ulimit -f)."""

    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return setup


def cli(
    *args: str,
    stdout: int | object = subprocess.PIPE,
    preexec: Callable[[], None] | None = None,
    timeout: float = 120,
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m sigmoidnet ARGS`."""
    proc = subprocess.run(
        [sys.executable, "-m", "sigmoidnet", *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        env=env(),
        preexec_fn=preexec,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout.decode() if isinstance(proc.stdout, bytes) else ""
    return proc.returncode, out, proc.stderr.decode()


@pytest.fixture
def many_rows(tmp_path: Path) -> Path:
    """20,000 rows: about 1 MB of predictions."""
    return write_learnable_csv(tmp_path / "many.csv", n=20_000)


@pytest.fixture
def model(trained_run: Path) -> str:
    return str(trained_run / "model.safetensors")


# ---------------------------------------------------------------------------------------------
# predict


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_predict_past_a_file_size_limit_is_exit_3_and_keeps_the_old_output(
    model: str, many_rows: Path, tmp_path: Path, ext: str
) -> None:
    folder = tmp_path / "preds"
    folder.mkdir()
    old = folder / f"p.{ext}"
    old.write_text("previous result")
    # csv: over the old output; parquet: into new folders
    out = old if ext == "csv" else folder / "new" / "deeper" / f"p.{ext}"
    code, _, err = cli(
        "predict", "--checkpoint", model, "--data", str(many_rows), "--keep", "id",
        "--out", str(out), preexec=fsize_limit(64 * 1024),
    )  # fmt: skip
    assert (code, err) == (3, f"error: {out}: cannot write predictions: {TOO_LARGE}\n")
    assert old.read_text() == "previous result"
    assert listing(folder) == [old.name]  # no temporary file, no new folder


def test_predict_into_a_full_stdout_is_exit_3(model: str, many_rows: Path) -> None:
    with open("/dev/full", "wb") as full:
        code, _, err = cli(
            "predict", "--checkpoint", model, "--data", str(many_rows), "--keep", "id",
            stdout=full,
        )  # fmt: skip
    assert (code, err) == (3, f"error: <stdout>: cannot write predictions: {FULL}\n")


def test_predict_to_a_device_is_refused_and_the_device_left_alone(
    model: str, learnable_csv: Path, tmp_path: Path
) -> None:
    data = ["--checkpoint", model, "--data", str(learnable_csv), "--keep", "id"]
    code, _, err = invoke("predict", *data, "--out", "/dev/full")
    assert code == 2 and err.startswith("error: /dev/full: unsupported output extension")
    link = tmp_path / "full.csv"
    link.symlink_to("/dev/full")
    code, _, err = invoke("predict", *data, "--out", str(link))
    assert (code, err) == (
        2,
        f"error: {link}: not a regular file (a character device): --out names a file to "
        "create or replace; leave it out to write CSV to stdout\n",
    )
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and link.is_symlink()


def test_a_failed_predict_creates_no_folder(
    model: str, learnable_csv: Path, tmp_path: Path
) -> None:
    out = str(tmp_path / "new" / "deeper" / "p.csv")
    missing, no_model = str(tmp_path / "missing.csv"), str(tmp_path / "no.safetensors")
    data = str(learnable_csv)
    for args, expected in (
        (["--checkpoint", model, "--data", missing, "--keep", "id"], 3),
        (["--checkpoint", model, "--data", data], 3),  # column 'id' is not a feature
        (["--checkpoint", no_model, "--data", data, "--keep", "id"], 4),
    ):
        code, _, err = invoke("predict", *args, "--out", out)
        assert code == expected and len(err.splitlines()) == 1, err
        assert not (tmp_path / "new").exists()


def test_predict_into_a_closed_stdout_is_exit_2(model: str, learnable_csv: Path) -> None:
    code, _, err = cli(
        "predict", "--checkpoint", model, "--data", str(learnable_csv), "--keep", "id",
        stdout=None, preexec=lambda: os.close(1),
    )  # fmt: skip
    assert (code, err) == (
        2,
        "error: <stdout>: cannot write predictions: standard output is closed\n",
    )


# ---------------------------------------------------------------------------------------------
# every command's stdout


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--run", "{run}"],
        ["eval", "--run", "{run}", "--json"],
        ["config", "show", "--config", "{config}"],
        ["config", "schema"],
        ["activate", "1", "2"],
        ["activate", "--format", "table", "1"],
        ["--version"],
        ["--help"],
        ["predict", "--help"],
        [],
    ],
    ids=lambda a: " ".join(a[:2]) or "bare",
)
def test_every_command_into_a_full_stdout_is_one_line_exit_3(
    trained_run: Path, learnable_config: Path, args: list[str]
) -> None:
    args = [a.format(run=trained_run, config=learnable_config) for a in args]
    with open("/dev/full", "wb") as full:
        code, _, err = cli(*args, stdout=full)
    assert (code, err) == (3, f"error: <stdout>: cannot write: {FULL}\n")


def test_a_full_stdout_noticed_at_the_final_flush_is_exit_3() -> None:
    script = (
        "import sys\nfrom sigmoidnet.cli import app, main\n"
        "@app.command('extra')\ndef extra() -> None:\n    sys.stdout.write('buffered\\n')\n"
        "sys.argv = ['sigmoidnet', 'extra']\nmain()\n"
    )
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-c", script], stdout=full, stderr=subprocess.PIPE, env=env(),
            timeout=120, check=False,
        )  # fmt: skip
    assert (proc.returncode, proc.stderr.decode()) == (
        3,
        f"error: <stdout>: cannot write: {FULL}\n",
    )


def test_a_closed_stdout_is_one_line_exit_2() -> None:
    code, _, err = cli("config", "schema", stdout=None, preexec=lambda: os.close(1))
    assert (code, err) == (2, "error: <stdout>: cannot write: standard output is closed\n")


# ---------------------------------------------------------------------------------------------
# train


def test_train_that_cannot_save_a_model_is_exit_3_and_leaves_nothing(
    learnable_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "runs"
    # config.yaml (~450 bytes) fits, model.safetensors (~2.7 kB) does not
    code, _, err = cli(
        "train", "--config", str(learnable_config), "--out", str(out), "-q",
        preexec=fsize_limit(1500),
    )  # fmt: skip
    assert code == 3 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {out}/learn-") and "/model.safetensors: " in err
    assert err.endswith(
        f"cannot write the run directory: {TOO_LARGE}; no model was saved, nothing is kept\n"
    )
    assert not (tmp_path / "new").exists()


def test_train_whose_disk_fills_after_a_model_keeps_it_and_says_so(
    learnable_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs2"
    # the model fits; the state (which holds the history) or metrics.jsonl (one ~220-byte
    # line per epoch) outgrows the limit
    code, _, err = cli(
        "train", "--config", str(learnable_config), "--out", str(out), "-q",
        "--set", "train.epochs=200", preexec=fsize_limit(30_000),
    )  # fmt: skip
    assert code == 3 and len(err.splitlines()) == 1, err
    run = (out / "latest").resolve()
    epoch = artifact.load(run / "model.safetensors").epoch
    assert err in {
        f"error: {run}/{name}: cannot write {what}: {TOO_LARGE}; "
        f"the best model so far (epoch {epoch}) is kept in {run}\n"
        for name, what in [
            ("metrics.jsonl", "the run directory"),
            ("state.safetensors", "the resumable state"),
        ]
    }, err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert 3 < len(rows) < 200 and [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    files = ["config.yaml", "metrics.jsonl", "model.safetensors", "state.safetensors"]
    assert listing(out) == sorted(
        ["latest", run.name, *(f"{run.name}/{f}" for f in files)]
        + [f"{run.name}/{f}" for f in ("state.prev.safetensors", "status.json")
           if (run / f).exists()]
    )  # fmt: skip


def test_train_into_a_full_stdout_keeps_the_model_it_saved(
    learnable_config: Path, tmp_path: Path
) -> None:
    with open("/dev/full", "wb") as full:
        code, _, err = cli("train", "--config", str(learnable_config), "-q", stdout=full)
    run = (tmp_path / "runs" / "latest").resolve()
    assert code == 3 and err.startswith(f"error: <stdout>: cannot write: {FULL}; the best model")
    assert err.endswith(f"is kept in {run}\n") and (run / "model.safetensors").is_file()
    with open("/dev/full", "wb") as full:  # the first line fails: before any model
        code, _, err = cli("train", "--config", str(learnable_config), stdout=full)
    assert (code, err) == (
        3,
        f"error: <stdout>: cannot write: {FULL}; no model was saved, nothing is kept\n",
    )
    assert [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"] == [run]


# ---------------------------------------------------------------------------------------------
# a real full disk: a 64 kB tmpfs in a private mount namespace (root, Linux)


def _can_mount_tmpfs() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root and unshare --mount")


def on_small_disk(disk: Path, command: list[str], tmp_path: Path) -> tuple[int, str, list[str]]:
    """Run `command` with a 64 kB tmpfs mounted on `disk` (only for it); (exit code, stderr,
    what was left on the disk afterwards)."""
    report = tmp_path / "left.txt"
    script = (
        f'mount -t tmpfs -o size=64k tmpfs "{disk}" && "$@" 2>"{tmp_path}/err.txt"; '
        f'rc=$?; (cd "{disk}" && find . -mindepth 1 | sort) > "{report}"; exit $rc'
    )
    proc = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", *command],
        env=env(), timeout=120, check=False,
    )  # fmt: skip
    left = [line[2:] for line in report.read_text().splitlines()]
    return proc.returncode, (tmp_path / "err.txt").read_text(), left


@needs_tmpfs
def test_predict_onto_a_full_disk_is_exit_3_and_leaves_nothing(
    model: str, many_rows: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "new" / "p.parquet"
    cmd = [sys.executable, "-m", "sigmoidnet", "predict", "--checkpoint", model,
           "--data", str(many_rows), "--keep", "id", "--out", str(out)]  # fmt: skip
    code, err, left = on_small_disk(disk, cmd, tmp_path)
    assert (code, err, left) == (3, f"error: {out}: cannot write predictions: {FULL}\n", [])


@needs_tmpfs
def test_train_onto_a_full_disk_is_exit_3_and_leaves_nothing(
    learnable_config: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    cmd = [sys.executable, "-m", "sigmoidnet", "train", "--config", str(learnable_config),
           "--out", str(disk / "runs"), "-q", "--set", "model.hidden_sizes=[2000]"]  # fmt: skip
    code, err, left = on_small_disk(disk, cmd, tmp_path)
    assert code == 3 and left == [], (err, left)
    assert err.endswith(
        f"cannot write the run directory: {FULL}; no model was saved, nothing is kept\n"
    )
