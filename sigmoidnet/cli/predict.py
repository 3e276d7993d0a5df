"""`sigmoidnet predict`: probabilities and 0/1 decisions for every row of a table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS


@boundary
def predict(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="A model.safetensors file.", **PATH_CHECKS)
    ],
    data: Annotated[
        Path, typer.Option("--data", help="CSV/Parquet/NPZ file of feature rows.", **PATH_CHECKS)
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output file: .csv, .parquet or .jsonl (default: CSV on stdout).",
            **PATH_CHECKS,
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Decision threshold for every label.")
    ] = None,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Input column to copy through (repeatable).")
    ] = None,
) -> None:
    """Probabilities (p_<label>) and 0/1 decisions (<label>_pred) for every row."""
    from sigmoidnet.errors import InterruptedError_, UsageError
    from sigmoidnet.inference import predict_file

    if threshold is not None and not (0.0 <= threshold <= 1.0):
        raise UsageError("--threshold", f"expected a value in [0, 1], got {threshold}")
    existed = out is not None and os.path.lexists(out)
    # without --out the core writes the CSV to stdout itself (a broken pipe there is the
    # boundary's quiet exit 0)
    try:
        stats = predict_file(checkpoint, data, out, threshold=threshold, keep=list(keep or []))
    except KeyboardInterrupt:  # the writer has removed its temporary file and new folders
        kept = (
            "the CSV on stdout is incomplete"
            if out is None
            else f"{out} left as it was"
            if existed
            else f"{out} not written"
        )
        raise InterruptedError_("predict", f"interrupted; {kept}") from None
    for n in stats.notes:
        render.note(n)
    if out is not None:
        render.predict_summary(stats.rows, str(out), stats.seconds)


def register(app: typer.Typer) -> None:
    """Add the `predict` command to `app`."""
    app.command("predict")(predict)
