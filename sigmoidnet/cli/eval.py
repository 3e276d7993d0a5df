"""`sigmoidnet eval`: metrics of a trained model, per label and averaged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS


@boundary
def eval_(
    run: Annotated[
        Path | None,
        typer.Option("--run", help="Run directory (default: runs/latest).", **PATH_CHECKS),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A model.safetensors file.", **PATH_CHECKS),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="CSV/Parquet/NPZ file with features and labels.", **PATH_CHECKS
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="A --data column that is not a feature (an id), repeatable."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Decide every label at this probability instead of its stored threshold.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Metrics of a trained model, per label and averaged (default: the latest run on its own held-out data)."""  # noqa: E501
    from sigmoidnet.errors import UsageError
    from sigmoidnet.inference import evaluate_model

    if run is not None and checkpoint is not None:
        raise UsageError("eval", "give --run or --checkpoint, not both")
    if threshold is not None and not (0.0 <= threshold <= 1.0):
        raise UsageError("--threshold", f"expected a value in [0, 1], got {threshold}")
    result = evaluate_model(
        run=run, checkpoint=checkpoint, data=data, ignore=list(ignore or []), threshold=threshold
    )
    for n in result.notes:
        render.note(n)
    if json_:
        render.json_line(
            {
                "model": result.model_path,
                "data": result.data_desc,
                **result.report.to_dict(),
                "threshold_sources": result.threshold_sources,
                "calibration": result.calibration,
                "notes": result.notes,
            }
        )
    else:
        render.eval_table(
            result.report,
            f"{result.model_path} on {result.data_desc}",
            result.threshold_sources,
            result.calibration,
        )


def register(app: typer.Typer) -> None:
    """Add the `eval` command to `app`."""
    app.command("eval")(eval_)
