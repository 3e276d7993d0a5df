"""The app as a whole: --version, --help, imports at start-up, `python -m`, usage errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import pytest

from sigmoidnet import __version__
from tests.cli.util import HEAVY, as_nobody, invoke


def test_version_and_help() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.strip() == f"sigmoidnet {__version__}"
    for cmd in ("train", "eval", "predict", "activate", "config"):
        code, out, _ = invoke(cmd, "--help")
        assert code == 0 and "Usage" in out


def test_cli_import_leaves_torch_unimported() -> None:
    code = "import sys, sigmoidnet.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cli_import_leaves_heavy_modules_unimported() -> None:
    code = f"import sys, sigmoidnet.cli; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "[]\n"


def imported_by(*args: str) -> tuple[int, set[str]]:
    """The exit code of `python -m sigmoidnet ARGS` and the top-level names of every module
    it imported, from `-X importtime`."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sigmoidnet", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    assert "sigmoidnet" in names and "typer" in names, proc.stderr[-2000:]
    return proc.returncode, names


def test_activate_through_the_console_entry_imports_nothing_heavy() -> None:
    code, names = imported_by("activate", "1", "2")
    assert code == 0
    assert sorted(names & set(HEAVY)) == []  # no torch, and not even numpy or rich


@pytest.mark.parametrize("args", [["--help"], ["predict", "--help"], ["--version"]])
def test_help_and_version_start_without_torch(args: list[str]) -> None:
    code, names = imported_by(*args)
    assert code == 0
    assert sorted(names & {"torch", "numpy", "pydantic", "pyarrow", "pandas"}) == []


def test_python_m_sigmoidnet() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sigmoidnet", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_usage_errors_are_one_line() -> None:
    for args in (["predict", "--bogus"], ["train"], ["nope"]):
        proc = subprocess.run(
            [sys.executable, "-m", "sigmoidnet", *args], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2
        # click's own usage errors name the command; `train` without --config is ours
        # (--config or --resume), naming the option
        lead = "error: --config" if args == ["train"] else "error: python -m sigmoidnet"
        assert proc.stderr.startswith(lead), proc.stderr
        assert len(proc.stderr.splitlines()) == 1


# --- paths are the core's to check ------------------------------------------------------------


def _path_params() -> list[tuple[str, click.Parameter]]:
    import typer.main

    from sigmoidnet.cli import app

    found: list[tuple[str, click.Parameter]] = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())
        found.extend((path, p) for p in command.params if isinstance(p.type, click.Path))

    walk(typer.main.get_command(app), "")
    return found


def test_no_option_has_click_check_a_path() -> None:
    # click's checks are exit 2; the core's are 3 for data, 4 for a checkpoint or run
    params = _path_params()
    assert {f"{cmd} --{p.name}" for cmd, p in params} >= {
        "train --config", "train --out", "eval --run", "eval --checkpoint", "eval --data",
        "predict --checkpoint", "predict --data", "predict --out", "config show --config",
    }  # fmt: skip
    for cmd, p in params:
        t = p.type
        assert isinstance(t, click.Path)
        checks = (t.exists, t.readable, t.writable, t.resolve_path, t.file_okay, t.dir_okay)
        assert checks == (False, False, False, False, True, True), f"{cmd} --{p.name}"


@as_nobody
def test_unreadable_files_get_the_exit_of_what_they_are(learnable_csv: Path) -> None:
    """As the user nobody, for whom mode 000 means unreadable: --data is exit 3, --checkpoint
    and --run 4, --config 2 (not click's exit 2 for all)."""
    base = Path(tempfile.mkdtemp(prefix="sigmoidnet-unreadable-"))
    try:
        base.chmod(0o755)
        shutil.copy(learnable_csv, base / "learn.csv")
        cfg = base / "c.yaml"
        cfg.write_text(
            "data:\n  source: csv\n  path: learn.csv\n  labels: [a, b]\n"
            "  features: [f0, f1, f2, f3, f4, f5]\ntrain:\n  epochs: 1\n"
            f"out_dir: {base / 'runs'}\n"
        )
        code, _, err = invoke("train", "--config", str(cfg), "-q")
        assert code == 0, err
        run = base / "runs" / "latest"
        for f in (base / "learn.csv", cfg, *run.resolve().iterdir()):
            f.chmod(0o644)
        locked = [base / "x.csv", base / "x.safetensors", base / "x.yaml"]
        shutil.copy(learnable_csv, locked[0])
        shutil.copy(run / "model.safetensors", locked[1])
        shutil.copy(cfg, locked[2])
        for f in locked:
            f.chmod(0)
        model, data = str(run / "model.safetensors"), str(base / "learn.csv")
        cases = [
            (["predict", "--checkpoint", model, "--data", str(locked[0])], 3),
            (["eval", "--checkpoint", model, "--data", str(locked[0]), "--ignore", "id"], 3),
            (["predict", "--checkpoint", str(locked[1]), "--data", data, "--keep", "id"], 4),
            (["eval", "--checkpoint", str(locked[1])], 4),
            (["train", "--config", str(locked[2])], 2),
            (["config", "show", "--config", str(locked[2])], 2),
        ]
        for args, expected in cases:
            proc = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 sys.executable, "-m", "sigmoidnet", *args],
                cwd=base, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert proc.returncode == expected, (args, proc.stderr)
            assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
            assert "Invalid value" not in proc.stderr  # not click's
    finally:
        shutil.rmtree(base)
