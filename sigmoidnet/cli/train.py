"""`sigmoidnet train`: train a model from a YAML config and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS, ConfigOpt, SetOpt
from sigmoidnet.errors import InterruptedError_

if TYPE_CHECKING:
    from sigmoidnet.rundir import RunDir


@boundary
def train(
    config: ConfigOpt,
    set_: SetOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder for runs (overrides out_dir).", **PATH_CHECKS),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="auto | cpu | cuda | cuda:N | mps (overrides device)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    json_: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object per epoch on stdout, nothing else."),
    ] = False,
) -> None:
    """Train a model from a YAML config and write a run directory."""
    from sigmoidnet.config import load_config

    overrides = list(set_ or [])
    if device is not None:
        overrides.append(f"device={device}")
    cfg = load_config(config, overrides)
    from sigmoidnet.engine import fit, prepare
    from sigmoidnet.fsutil import OutputError
    from sigmoidnet.rundir import RunDir

    try:
        setup = prepare(cfg)  # everything is checked before anything is written
        run = RunDir.create(out if out is not None else cfg.out_dir, cfg.name, setup.cfg)
    except KeyboardInterrupt:  # RunDir.create removes what it had made
        raise _interrupted(None, kept=False) from None
    try:
        mode = "json" if json_ else ("quiet" if quiet else "rich")
        has_val = setup.x_val is not None and setup.x_val.shape[0] > 0
        rep = render.TrainReporter(mode, cfg.train.epochs, has_val)
        try:
            d = setup.data
            rep.start(d.description, str(setup.device), str(run.path), d.columns, d.notes)
            result = fit(setup, run, on_epoch=rep.epoch, on_progress=rep.progress)
        finally:
            rep.close()
        rep.summary(result.best_epoch, result.best, str(run.path), result.seconds)
    except BaseException as e:
        # a run that holds no model is removed (nothing is left behind); one that holds a
        # model is kept, and the error line says so
        kept = run.abandon()
        if isinstance(e, KeyboardInterrupt):
            raise _interrupted(run, kept) from None
        if isinstance(e, OutputError):
            raise OutputError(e.where, e.what + _kept(run, kept), e.exit_code) from None
        raise


def _kept(run: RunDir, kept: bool) -> str:
    if kept:
        return f"; the best model so far (epoch {run.model_epoch}) is kept in {run.path}"
    return "; no model was saved, nothing is kept"


def _interrupted(run: RunDir | None, kept: bool) -> InterruptedError_:
    """The error (exit 130) of a run stopped by Ctrl-C / SIGTERM: what was kept, and where."""
    if run is not None and kept:
        return InterruptedError_(
            "train",
            f"interrupted; the best model so far (epoch {run.model_epoch}) is in {run.path}",
        )
    return InterruptedError_("train", "interrupted before a model was saved; nothing is kept")


def register(app: typer.Typer) -> None:
    """Add the `train` command to `app`."""
    app.command("train")(train)
