"""Tampered checkpoints and broken run directories through the CLI: `eval --checkpoint`,
`predict --checkpoint` and `eval --run` exit 4 with one `error:` line, no traceback."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sigmoidnet import artifact
from sigmoidnet.errors import CheckpointError
from sigmoidnet.rundir import find_run
from tests.artifact_util import array, tensor
from tests.cli.util import env, invoke
from tests.test_artifact_tampering import Parts, parts


def commands(ckpt: Path, data: Path) -> list[list[str]]:
    return [
        ["eval", "--checkpoint", str(ckpt)],
        ["eval", "--checkpoint", str(ckpt), "--data", str(data)],
        ["predict", "--checkpoint", str(ckpt), "--data", str(data)],
    ]


def assert_exit_4(args: list[str], fragment: str) -> None:
    code, out, err = invoke(*args)
    assert code == 4, (args, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err and out == ""


def _nan_weight(p: Parts) -> None:
    w = array(p.tensors["model.net.0.weight"]).copy()
    w[0, 0] = math.nan
    p.tensors["model.net.0.weight"] = tensor(w)


def _bf16(p: Parts) -> None:
    _, shape, raw = p.tensors["model.net.0.bias"]
    p.tensors["model.net.0.bias"] = ("BF16", shape, raw[: len(raw) // 2])


def _bool_std(p: Parts) -> None:
    p.tensors["preprocess.std"] = tensor(array(p.tensors["preprocess.std"]) > 0, "BOOL")


def _no_architecture(p: Parts) -> None:
    del p.info["architecture"]


def _float_hidden(p: Parts) -> None:
    p.info["architecture"]["hidden_sizes"] = [7.5, 4]


def _nan_threshold(p: Parts) -> None:
    p.info["decision"]["thresholds"] = [math.nan, 0.3, 0.7]


def _transposed(p: Parts) -> None:
    p.tensors["model.net.0.weight"] = tensor(array(p.tensors["model.net.0.weight"]).T)


CASES: list[tuple[str, Callable[[Parts], None], str]] = [
    ("nan-weight", _nan_weight, "non-finite value"),
    ("bf16", _bf16, "has dtype 'BF16', expected F32"),
    ("bool-std", _bool_std, "has dtype 'BOOL'"),
    ("no-architecture", _no_architecture, "architecture: missing"),
    ("float-hidden", _float_hidden, "hidden_sizes.0: expected an integer"),
    ("nan-threshold", _nan_threshold, "expected a finite number"),
    ("transposed", _transposed, "(out, in)"),
]


@pytest.mark.parametrize(("edit", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tampered_checkpoints_exit_4(
    tmp_path: Path, learnable_csv: Path, edit: Callable[[Parts], None], fragment: str
) -> None:
    pts = parts(tmp_path)
    edit(pts)
    ckpt = pts.write(tmp_path / "t.safetensors")
    for args in commands(ckpt, learnable_csv):
        assert_exit_4(args, fragment)


def test_a_deeply_nested_header_exits_4(tmp_path: Path, learnable_csv: Path) -> None:
    pts = parts(tmp_path)
    text = json.dumps(pts.info)[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    ckpt = pts.write(tmp_path / "t.safetensors", text)
    for args in commands(ckpt, learnable_csv):
        assert_exit_4(args, "nested too deeply")


def test_dev_zero_exits_4(learnable_csv: Path) -> None:
    for args in commands(Path("/dev/zero"), learnable_csv):
        assert_exit_4(args, "not a regular file (a character device)")


def test_a_symlink_loop_exits_4(tmp_path: Path, learnable_csv: Path) -> None:
    loop = tmp_path / "loop.safetensors"
    loop.symlink_to(loop.name)
    for args in commands(loop, learnable_csv):
        assert_exit_4(args, "symlink loop")


def test_a_model_too_big_for_memory_exits_4(
    tmp_path: Path, learnable_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = parts(tmp_path).write(tmp_path / "t.safetensors")
    monkeypatch.setenv("SIGMOIDNET_MEMORY_LIMIT", "2K")
    for args in commands(ckpt, learnable_csv):
        assert_exit_4(args, "2.0 KB is available")


def test_a_fifo_checkpoint_does_not_block(tmp_path: Path, learnable_csv: Path) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    # in a child process with a timeout, so that a regression fails instead of hanging
    for args in commands(fifo, learnable_csv)[2:]:
        done = subprocess.run(
            [sys.executable, "-m", "sigmoidnet", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env(),
            timeout=60,
        )
        err = done.stderr.decode()
        assert done.returncode == 4, err
        assert err.strip().splitlines() == [f"error: {fifo}: not a regular file (a FIFO)"]


# ---------------------------------------------------------------------------------------------
# run directories (`eval --run`, `eval` with the latest run)


def _model_in(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    src = parts(folder.parent).write(folder / "model.safetensors")
    return src


def expect_run(run: Path | None, fragment: str, out_dir: Path | None = None) -> None:
    with pytest.raises(CheckpointError) as exc:
        find_run(run, out_dir or Path("runs"))
    assert exc.value.exit_code == 4 and "\n" not in exc.value.message
    assert fragment in exc.value.message, exc.value.message


def test_a_good_run_directory(tmp_path: Path) -> None:
    _model_in(tmp_path / "runs" / "r1")
    (tmp_path / "runs" / "latest").symlink_to("r1")
    assert find_run(tmp_path / "runs" / "r1") == tmp_path / "runs" / "r1"
    assert find_run(None, tmp_path / "runs") == (tmp_path / "runs" / "r1").resolve()
    (tmp_path / "runs" / "latest").unlink()
    (tmp_path / "runs" / "latest").write_text("r1\n")  # where symlinks are not allowed
    assert find_run(None, tmp_path / "runs") == tmp_path / "runs" / "r1"


def test_run_directory_problems(tmp_path: Path) -> None:
    expect_run(tmp_path / "nope", "run directory not found")
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    expect_run(loop, "symlink loop")
    (tmp_path / "file").write_text("x")
    expect_run(tmp_path / "file", "not a run directory (a file")
    os.mkfifo(tmp_path / "fifo")
    expect_run(tmp_path / "fifo", "not a run directory (a FIFO)")
    (tmp_path / "empty").mkdir()
    expect_run(tmp_path / "empty", "no model.safetensors in this run directory")
    (tmp_path / "dirmodel" / "model.safetensors").mkdir(parents=True)
    expect_run(tmp_path / "dirmodel", "model.safetensors: is a directory")
    (tmp_path / "fifomodel").mkdir()
    os.mkfifo(tmp_path / "fifomodel" / "model.safetensors")
    expect_run(tmp_path / "fifomodel", "not a regular file (a FIFO)")
    (tmp_path / "loopmodel").mkdir()
    (tmp_path / "loopmodel" / "model.safetensors").symlink_to("model.safetensors")
    expect_run(tmp_path / "loopmodel", "symlink loop")
    expect_run(Path(str(tmp_path) + "/a\0b"), "NUL byte")


def test_latest_problems(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    expect_run(None, "no run found", runs)
    latest = runs / "latest"
    latest.symlink_to("latest")
    expect_run(None, "is a symlink loop", runs)
    latest.unlink()
    latest.symlink_to("gone")
    expect_run(None, "points to a run directory that is gone", runs)
    latest.unlink()
    for text in (b"", b"../../etc\n", b"a/b", b"\xff\xfe", b"x" * 10_000):
        latest.write_bytes(text)
        expect_run(None, "latest", runs)
    latest.unlink()
    os.mkfifo(latest)
    expect_run(None, "not a link, folder or file naming the latest run", runs)
    latest.unlink()
    latest.write_text("r9\n")
    expect_run(None, "run directory not found", runs)


def test_eval_run_problems_exit_4(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    assert_exit_4(["eval", "--run", str(loop)], "symlink loop")
    (tmp_path / "empty").mkdir()
    assert_exit_4(["eval", "--run", str(tmp_path / "empty")], "no model.safetensors")
    bad = tmp_path / "bad"
    pts = parts(tmp_path)
    _nan_weight(pts)
    bad.mkdir()
    pts.write(bad / "model.safetensors")
    assert_exit_4(["eval", "--run", str(bad)], "non-finite value")


def test_latest_symlink_loop_exits_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "latest").symlink_to("latest")
    assert_exit_4(["eval"], "runs/latest: is a symlink loop")


def test_loaded_values_are_the_saved_ones(tmp_path: Path) -> None:
    pts = parts(tmp_path)
    art = artifact.load(pts.write(tmp_path / "t.safetensors"))
    assert np.array_equal(
        art.model.net[0].weight.detach().numpy(), array(pts.tensors["model.net.0.weight"])
    )
