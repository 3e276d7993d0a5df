"""Helpers shared by the CLI tests: the app driven in-process, and in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from sigmoidnet.cli import app

runner = CliRunner()
# third-party modules that `sigmoidnet --help` / `activate` must start without
HEAVY = ("torch", "numpy", "pandas", "pyarrow", "pydantic", "yaml", "rich", "safetensors")


def invoke(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the app in-process; an exception that is not an exit
    (a bug) is raised, with its traceback."""
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def env(buffered: bool = True) -> dict[str, str]:
    """The environment of a child interpreter; `buffered`: stdout block-buffered in a pipe,
    as users have it (this machine may set PYTHONUNBUFFERED)."""
    e = dict(os.environ)
    if buffered:
        e.pop("PYTHONUNBUFFERED", None)
    else:
        e["PYTHONUNBUFFERED"] = "1"
    return e


def cli_process(*args: str, buffered: bool = True, **kwargs: Any) -> subprocess.Popen[bytes]:
    """`python -m sigmoidnet ARGS` with stdout and stderr on pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "sigmoidnet", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(buffered),
        **kwargs,
    )


def _nobody_can_run_sigmoidnet() -> bool:
    """Root with setpriv, and a checkout the user nobody can import from (a clone in a
    `mktemp -d` folder is root's alone, mode 0700)."""
    import shutil

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c", "import sigmoidnet.cli"],
        env=env(), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return probe.returncode == 0


#: the tests that run the CLI as the user nobody (for whom mode 000 means unreadable)
as_nobody = pytest.mark.skipif(
    not _nobody_can_run_sigmoidnet(),
    reason="needs root, setpriv, and a checkout the user nobody can read",
)
