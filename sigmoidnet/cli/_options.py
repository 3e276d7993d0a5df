"""Options that several commands share (the signature is the interface).

`PATH_CHECKS` goes into every `Path` option: typer's `Path` options check by default that
the file is readable (click's `readable=True`), which is exit 2 from click; the core
checks paths itself and gives each problem its own exit (3 for a data file, 4 for a
checkpoint or run directory, 2 for a config) and one line. tests/cli/test_app.py checks
that no option of any command checks a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

#: click's file checks, all off: the core decides (typer's default is `readable=True`)
PATH_CHECKS: dict[str, Any] = {
    "exists": False,
    "readable": False,
    "writable": False,
    "file_okay": True,
    "dir_okay": True,
    "resolve_path": False,
}

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.", **PATH_CHECKS)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: KEY=VALUE (YAML value), repeatable."),
]
