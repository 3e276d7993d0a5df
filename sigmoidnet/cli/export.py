"""`sigmoidnet export`: the whole model (preprocessing, MLP, calibration, decisions) as one
ONNX graph (`sigmoidnet.export.onnx`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS


@boundary
def export(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="A model.safetensors file.", **PATH_CHECKS)
    ],
    format_: Annotated[str, typer.Option("--format", help="The export format: onnx.")] = "onnx",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output file (default: the checkpoint's name with .onnx).", **PATH_CHECKS
        ),
    ] = None,
) -> None:
    """Write the whole model as an ONNX graph: raw columns in, probabilities and decisions out."""
    from sigmoidnet.errors import InterruptedError_, UsageError

    if format_ != "onnx":
        raise UsageError("--format", f"expected onnx, got {format_!r}")
    from sigmoidnet.export.onnx import OPSET, export_onnx, require_onnx

    require_onnx()  # before the model is read: the one line says what to install
    target = out if out is not None else checkpoint.with_suffix(".onnx")
    if target.resolve() == checkpoint.resolve():
        raise UsageError("--out", "is the checkpoint itself")
    try:
        path = export_onnx(checkpoint, target)
    except KeyboardInterrupt:
        raise InterruptedError_("export", f"interrupted; {target} not written") from None
    render.note(f"{path}: ONNX opset {OPSET} (+ ai.onnx.ml), inputs: the raw columns")


def register(app: typer.Typer) -> None:
    """Add the `export` command to `app`."""
    app.command("export")(export)
