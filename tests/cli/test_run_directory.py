"""The run directory `train` writes (`sigmoidnet.rundir.RunDir`): names that are safe and
bounded, distinct folders for runs of the same second, and nothing left behind when making
it fails or is interrupted; a failed run without a model is removed, one with a model kept."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from sigmoidnet import fsutil
from sigmoidnet.config import Config, config_from_dict
from sigmoidnet.errors import SigmoidnetError, UsageError
from sigmoidnet.rundir import MAX_NAME_BYTES, RunDir, check_run_name
from tests.cli.util import as_nobody, env, invoke


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def cfg() -> Config:
    return config_from_dict({"train": {"epochs": 1}}, "c.yaml")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("a/b", "expected one folder name, got 'a/b' (a path)"),
        ("../up", "(a path)"),
        ("..", "(a path)"),
        ("a\\b", "(a path)"),
        ("", "expected a run name"),
        ("new\nline", "control characters"),
        ("x" * 300, f"too long for a folder name: 300 bytes, at most {MAX_NAME_BYTES}"),
        ("é" * 101, "too long for a folder name: 202 bytes"),
        ("\udcff", "lone surrogate"),
    ],
)
def test_unsafe_or_unbounded_names_are_refused_before_anything_is_made(
    tmp_path: Path, cfg: Config, name: str, fragment: str
) -> None:
    with pytest.raises(UsageError) as info:
        RunDir.create(tmp_path / "runs", name, cfg)
    assert info.value.exit_code == 2 and info.value.where == "name"
    assert fragment in info.value.what
    assert listing(tmp_path) == []


def test_the_longest_name_makes_a_folder(tmp_path: Path, cfg: Config) -> None:
    name = "n" * MAX_NAME_BYTES
    assert check_run_name(name) == name
    runs = [RunDir.create(tmp_path, name, cfg) for _ in range(3)]  # -2, -3: still fit
    assert len({r.path for r in runs}) == 3 and all(r.path.is_dir() for r in runs)


def test_two_runs_in_the_same_second_get_distinct_folders(
    tmp_path: Path, cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20260101-000000")
    names = [RunDir.create(tmp_path, "r", cfg).path.name for _ in range(3)]
    assert names == ["r-20260101-000000", "r-20260101-000000-2", "r-20260101-000000-3"]


def test_an_out_dir_that_is_too_long_is_exit_2_and_leaves_nothing(
    tmp_path: Path, cfg: Config
) -> None:
    for out in (tmp_path / "new" / ("o" * 300), tmp_path / "new" / "/".join(["d" * 250] * 20)):
        with pytest.raises(SigmoidnetError) as info:
            RunDir.create(out, "r", cfg)
        assert info.value.exit_code == 2, info.value
        assert info.value.what == "cannot create the output folder: File name too long"
        assert listing(tmp_path) == []


def test_an_out_dir_in_a_file_is_exit_2(tmp_path: Path, cfg: Config) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(SigmoidnetError) as info:
        RunDir.create(tmp_path / "f" / "runs", "r", cfg)
    assert info.value.exit_code == 2
    assert (
        info.value.message == f"{tmp_path}/f/runs: cannot create the output folder: Not a directory"
    )
    assert listing(tmp_path) == ["f"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 3),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), 3),
        (OSError(errno.EACCES, "Permission denied"), 2),
        (KeyboardInterrupt(), None),
    ],
    ids=["ENOSPC", "EDQUOT", "EACCES", "interrupted"],
)
@pytest.mark.parametrize("fail_at", [1, 2], ids=["config.yaml", "metrics.jsonl"])
def test_a_failure_while_making_the_run_leaves_nothing(
    tmp_path: Path,
    cfg: Config,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    code: int | None,
    fail_at: int,
) -> None:
    real = fsutil.atomic_write_bytes
    calls = []

    def failing(path: Path, data: bytes, **kwargs: Any) -> None:
        calls.append(path.name)
        if len(calls) == fail_at:
            raise error
        real(path, data, **kwargs)

    monkeypatch.setattr("sigmoidnet.rundir.atomic_write_bytes", failing)
    (tmp_path / "old").mkdir()
    out = tmp_path / "old" / "new" / "runs"
    with pytest.raises(type(error) if code is None else SigmoidnetError) as info:
        RunDir.create(out, "r", cfg)
    if code is not None:
        assert isinstance(info.value, SigmoidnetError) and info.value.exit_code == code
        assert info.value.what.startswith("cannot write the run directory: ")
        assert info.value.what.endswith("; nothing is kept")
        assert info.value.where is not None and info.value.where.startswith(f"{out}/r-")
    assert listing(tmp_path) == ["old"]  # the run folder and the folders made for it: gone


def test_abandon_removes_a_run_without_a_model_and_keeps_one_with_a_model(
    tmp_path: Path, cfg: Config
) -> None:
    out = tmp_path / "new" / "runs"
    run = RunDir.create(out, "r", cfg)
    assert not run.abandon() and not (tmp_path / "new").exists()
    run = RunDir.create(out, "r", cfg)
    (run.path / "model.safetensors").write_bytes(b"a model")
    run.has_model = True
    assert run.abandon() and run.path.is_dir()


# ---------------------------------------------------------------------------------------------
# through `sigmoidnet train`


def test_train_with_a_300_character_name_is_exit_2_and_writes_nothing(
    learnable_config: Path, tmp_path: Path
) -> None:
    code, _, err = invoke("train", "--config", str(learnable_config), "--set", "name=" + "n" * 300)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert "name" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("out", ["o" * 300, "/".join(["d" * 250] * 20)], ids=["name", "path"])
def test_train_into_an_out_dir_too_long_is_exit_2_and_leaves_nothing(
    learnable_config: Path, tmp_path: Path, out: str
) -> None:
    code, _, err = invoke(
        "train", "--config", str(learnable_config), "--out", str(tmp_path / "new" / out)
    )
    assert code == 2 and err.endswith(": cannot create the output folder: File name too long\n")
    assert len(err.splitlines()) == 1 and not (tmp_path / "new").exists()


def nobody(*args: str, cwd: Path) -> tuple[int, str]:
    """`sigmoidnet ARGS` as the user nobody (file permissions apply: root's do not)."""
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "sigmoidnet", *args],
        cwd=cwd, env=env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stderr


@as_nobody
def test_train_into_an_out_dir_without_permission_is_exit_2(learnable_csv: Path) -> None:
    # a folder that the user nobody can read (pytest's own are root's alone)
    base = Path(tempfile.mkdtemp(prefix="sigmoidnet-nobody-"))
    try:
        base.chmod(0o755)
        shutil.copy(learnable_csv, base / "learn.csv")
        cfg = base / "c.yaml"
        cfg.write_text(
            "data:\n  source: csv\n  path: learn.csv\n  labels: [a, b]\n"
            "  features: [f0, f1, f2, f3, f4, f5]\ntrain:\n  epochs: 1\n"
        )
        locked = base / "locked"
        locked.mkdir(mode=0o755)  # owned by root: nobody cannot create in it
        code, err = nobody("train", "--config", str(cfg), "--out", str(locked / "runs"), cwd=base)
        assert (code, err) == (
            2,
            f"error: {locked}/runs: cannot create the output folder: Permission denied\n",
        )
        assert listing(locked) == []
    finally:
        shutil.rmtree(base)


def test_a_file_of_the_users_named_latest_is_never_replaced(
    learnable_config: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "latest").write_text("precious\n")
    code, _, err = invoke("train", "--config", str(learnable_config), "--quiet")
    assert code == 2 and "exists and is not sigmoidnet's pointer" in err
    assert (runs / "latest").read_text() == "precious\n"
    assert sorted(p.name for p in runs.iterdir()) == ["latest"]
