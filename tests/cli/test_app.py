"""The app as a whole: --version, --help, imports at start-up, `python -m`, usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sigmoidnet import __version__
from tests.cli.util import HEAVY, invoke


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
        assert proc.stderr.startswith("error: python -m sigmoidnet")
        assert len(proc.stderr.splitlines()) == 1
