"""The command-line interface: parse → one core call → render.

Catches `SigmoidnetError` only (one line on stderr, its exit code); anything else is a bug
and keeps its traceback. Modules that import torch are imported inside command bodies, so
`sigmoidnet --help` and `sigmoidnet activate` start without it.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from sigmoidnet import __version__
from sigmoidnet.cli_activate import register as _register_activate
from sigmoidnet.errors import SigmoidnetError

app = typer.Typer(
    name="sigmoidnet",
    help="Train, evaluate and serve sigmoid-output (binary and multi-label) classifiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Show the resolved config, or the JSON Schema of configs.", no_args_is_help=True
)
app.add_typer(config_app, name="config")

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Turn a SigmoidnetError into `error: ...` on stderr and its documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sigmoidnet import report

        try:
            return fn(*args, **kwargs)
        except SigmoidnetError as e:
            report.error(e.message)
            raise typer.Exit(e.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sigmoidnet {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Train, evaluate and serve sigmoid-output (binary and multi-label) classifiers."""


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: KEY=VALUE (YAML value), repeatable."),
]


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (e.g. some test runners)
        signal.signal(signal.SIGTERM, handler)


@app.command()
@_user_errors
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
    from sigmoidnet.errors import InterruptedError_

    overrides = list(set_ or [])
    if device is not None:
        overrides.append(f"device={device}")
    cfg = load_config(config, overrides)
    from sigmoidnet.report import TrainReporter
    from sigmoidnet.rundir import RunDir
    from sigmoidnet.training import fit, prepare

    _sigterm_as_interrupt()
    setup = prepare(cfg)  # everything is checked before anything is written
    run = RunDir.create(out if out is not None else cfg.out_dir, cfg.name, setup.cfg)
    mode = "json" if json_ else ("quiet" if quiet else "rich")
    has_val = setup.x_val is not None and setup.x_val.shape[0] > 0
    rep = TrainReporter(mode, cfg.train.epochs, has_val)
    rep.start(setup.data.description, str(setup.device), str(run.path))
    try:
        result = fit(setup, run, on_epoch=rep.epoch, on_progress=rep.progress)
    except KeyboardInterrupt:
        rep.close()
        saved = (run.path / "model.safetensors").exists()
        raise InterruptedError_(
            "train",
            f"interrupted; the best model so far is in {run.path}"
            if saved
            else f"interrupted before the first epoch ended; no model saved ({run.path})",
        ) from None
    finally:
        rep.close()
    rep.summary(result.best_epoch, result.best, str(run.path), result.seconds)


@app.command("eval")
@_user_errors
def eval_(
    run: Annotated[
        Path | None, typer.Option("--run", help="Run directory (default: runs/latest).")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A model.safetensors file.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="CSV/Parquet/NPZ file with features and labels.")
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="A --data column that is not a feature (an id), repeatable."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Metrics of a trained model, per label and averaged (default: the latest run on its own held-out data)."""  # noqa: E501
    from sigmoidnet import report
    from sigmoidnet.errors import UsageError
    from sigmoidnet.inference import evaluate_model

    if run is not None and checkpoint is not None:
        raise UsageError("eval", "give --run or --checkpoint, not both")
    result = evaluate_model(run=run, checkpoint=checkpoint, data=data, ignore=list(ignore or []))
    if json_:
        report.json_line(
            {"model": result.model_path, "data": result.data_desc, **result.report.to_dict()}
        )
    else:
        report.eval_table(result.report, f"{result.model_path} on {result.data_desc}")


@app.command()
@_user_errors
def predict(
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="A model.safetensors file.")],
    data: Annotated[Path, typer.Option("--data", help="CSV/Parquet/NPZ file of feature rows.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output file: .csv, .parquet or .jsonl (default: CSV on stdout)."
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
    from sigmoidnet import report
    from sigmoidnet.errors import UsageError
    from sigmoidnet.inference import predict_file

    if threshold is not None and not (0.0 <= threshold <= 1.0):
        raise UsageError("--threshold", f"expected a value in [0, 1], got {threshold}")
    stats = predict_file(checkpoint, data, out, threshold=threshold, keep=list(keep or []))
    if out is not None:
        report.predict_summary(stats.rows, str(out), stats.seconds)


@config_app.command("show")
@_user_errors
def config_show(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the resolved config as YAML (defaults filled in, data paths absolute)."""
    from sigmoidnet.config import load_config

    cfg = load_config(config, list(set_ or []))
    sys.stdout.write(cfg.to_yaml())


@config_app.command("schema")
@_user_errors
def config_schema() -> None:
    """Print the JSON Schema of configs (for editor completion)."""
    import json

    from sigmoidnet.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


_register_activate(app)


def main() -> None:
    """The console script: like `app()`, but click's usage errors become one line,
    `error: <command>: <what>`, exit 2 (DESIGN.md), instead of a boxed usage text."""
    import click

    try:
        rv = app(standalone_mode=False)
    except click.exceptions.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `sigmoidnet` / `sigmoidnet config`
            sys.stdout.write(e.format_message() + "\n")
            sys.exit(0)
        where = e.ctx.command_path if e.ctx is not None else "sigmoidnet"
        message = " ".join(e.format_message().split())
        sys.stderr.write(f"error: {where}: {message} (see {where} --help)\n")
        sys.exit(2)
    except click.exceptions.ClickException as e:
        sys.stderr.write(f"error: {' '.join(e.format_message().split())}\n")
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
