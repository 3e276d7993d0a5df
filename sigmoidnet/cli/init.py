"""`sigmoidnet init`: a commented starter config for a CSV or Parquet table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS


@boundary
def init(
    data: Annotated[Path, typer.Argument(help="The CSV or Parquet table.", **PATH_CHECKS)],
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="A label column (repeat for several labels)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the config here (default: stdout).", **PATH_CHECKS),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
) -> None:
    """Print the table's columns and write a commented starter config that trains as it is."""
    from sigmoidnet.errors import UsageError
    from sigmoidnet.starter import starter

    if out is not None and os.path.lexists(out) and not force:
        raise UsageError("--out", f"{out} exists; pass --force to replace it")
    result = starter(str(data), list(label or []), None if out is None else str(out))
    # the config alone on stdout (`init x.csv --label y > x.yaml`): the table on stderr then
    render.columns_table(result.columns, render.stderr_console() if out is None else None)
    for n in result.notes:
        render.note(n)
    if out is None:
        render.text(result.text)
        return
    from sigmoidnet.fsutil import atomic_write_text, output_error

    try:
        atomic_write_text(out, result.text)
    except OSError as e:
        raise output_error(str(out), e, "cannot write the config") from None
    render.hint(f"wrote {out}; train it with: sigmoidnet train --config {out}")


def register(app: typer.Typer) -> None:
    """Add the `init` command to `app`."""
    app.command("init")(init)
