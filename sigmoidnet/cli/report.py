"""`sigmoidnet report`: one self-contained HTML page about a run (`sigmoidnet.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS


@boundary
def report(
    run: Annotated[
        Path | None,
        typer.Option("--run", help="Run directory (default: runs/latest).", **PATH_CHECKS),
    ] = None,
) -> None:
    """Write RUN/report.html (figures inline) and RUN/plots/ (PNG + the values as JSON)."""
    import logging

    from sigmoidnet.errors import UsageError
    from sigmoidnet.rundir import find_run

    # matplotlib's warning about a config folder it cannot write (a read-only home) is not
    # the user's business here: errors still show
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            "report", "the report needs matplotlib: pip install 'sigmoidnet[report]'"
        ) from None
    from sigmoidnet.report import build_report

    result = build_report(find_run(run))
    for n in result.notes:
        render.note(n)
    render.hint(
        f"report: {result.path} ({len(result.plots)} figures in {result.path.parent / 'plots'})"
    )


def register(app: typer.Typer) -> None:
    """Add the `report` command to `app`."""
    app.command("report")(report)
