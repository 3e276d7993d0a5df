"""`sigmoidnet train`: train a model from a YAML config and write a run directory."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import ConfigOpt, SetOpt
from sigmoidnet.errors import InterruptedError_


@boundary
def train(
    config: ConfigOpt,
    set_: SetOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder for runs (overrides out_dir).")
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
    from sigmoidnet.rundir import RunDir

    _sigterm_as_interrupt()
    setup = prepare(cfg)  # everything is checked before anything is written
    run = RunDir.create(out if out is not None else cfg.out_dir, cfg.name, setup.cfg)
    mode = "json" if json_ else ("quiet" if quiet else "rich")
    has_val = setup.x_val is not None and setup.x_val.shape[0] > 0
    rep = render.TrainReporter(mode, cfg.train.epochs, has_val)
    rep.start(setup.data.description, str(setup.device), str(run.path))
    try:
        result = fit(setup, run, on_epoch=rep.epoch, on_progress=rep.progress)
    except KeyboardInterrupt:
        rep.close()
        raise _interrupted(run.path) from None
    finally:
        rep.close()
    rep.summary(result.best_epoch, result.best, str(run.path), result.seconds)


def _interrupted(run_path: Path) -> InterruptedError_:
    """The error (exit 130) of a run stopped by Ctrl-C / SIGTERM: what was kept, and where."""
    if (run_path / "model.safetensors").exists():
        return InterruptedError_("train", f"interrupted; the best model so far is in {run_path}")
    return InterruptedError_(
        "train", f"interrupted before the first epoch ended; no model saved ({run_path})"
    )


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (e.g. some test runners)
        signal.signal(signal.SIGTERM, handler)


def register(app: typer.Typer) -> None:
    """Add the `train` command to `app`."""
    app.command("train")(train)
