"""The command-line interface: one Typer `app`, one module per command, one error boundary.

Each command module (`train`, `eval`, `predict`, `config`, `activate`) defines its command,
parse → one core call → render, and a `register(app)` that adds it here. Every command runs
inside `_boundary.boundary`: a `SigmoidnetError` becomes `error: <where>: <what>` on stderr
and its exit code (the README's exit-code table), Ctrl-C or SIGTERM `error: <command>:
interrupted` and exit 130, a closed stdout (`... | head`) a quiet exit 0, a full one
(`> /dev/full`) exit 3; anything else is a bug and keeps its traceback. All output goes
through `render`.

The core (config, engine, inference, artifact, rundir, ...: pydantic, numpy, torch) is
imported inside command bodies, so `sigmoidnet --help` and `sigmoidnet activate` start
without it (tests/cli/test_app.py checks).
"""

from __future__ import annotations

from typing import Annotated

import typer

from sigmoidnet import __version__
from sigmoidnet.cli import activate as _activate
from sigmoidnet.cli import config as _config
from sigmoidnet.cli import eval as _eval
from sigmoidnet.cli import export as _export
from sigmoidnet.cli import init as _init
from sigmoidnet.cli import predict as _predict
from sigmoidnet.cli import render
from sigmoidnet.cli import report as _report
from sigmoidnet.cli import train as _train
from sigmoidnet.cli._boundary import (
    boundary,
    exit_process,
    from_command,
    handled,
    interrupts,
    silence_stdout,
    stdout_is_devnull,
)

__all__ = ["app", "config_app", "main"]

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


@boundary
def _version(value: bool) -> None:
    if value:
        render.text(f"sigmoidnet {__version__}\n")
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


_train.register(app)
_eval.register(app)
_predict.register(app)
_export.register(app)
_report.register(app)
_init.register(app)
_config.register(config_app)
_activate.register(app)


def main() -> None:
    """The console script: like `app()`, but click's usage errors become one line,
    `error: <command>: <what>`, exit 2 (the README's exit-code table), instead of a boxed
    usage text; and stdout is flushed before exiting (`_boundary.exit_process`)."""
    try:
        with interrupts(), handled():
            code = _run()
    except typer.Exit as e:  # a broken pipe in what main or click printed
        code = e.exit_code
    exit_process(code)


def _run() -> int:
    import click

    devnull_before = stdout_is_devnull()
    try:
        rv = app(standalone_mode=False)
    except click.exceptions.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `sigmoidnet` / `sigmoidnet config`
            render.text(e.format_message() + "\n")
            return 0
        where = e.ctx.command_path if e.ctx is not None else "sigmoidnet"
        message = " ".join(e.format_message().split())
        render.error(f"{where}: {message} (see {where} --help)")
        return 2
    except click.exceptions.ClickException as e:
        render.error(" ".join(e.format_message().split()))
        return e.exit_code
    except click.exceptions.Abort:
        render.error("interrupted")
        return 130
    except OSError as e:
        # `--help` text into a stdout that cannot take it (`> /dev/full`): printed by rich
        # while the arguments are parsed, before any command (inside the boundary, which
        # words its own output errors)
        # runs); an OSError from a command's body is a bug and keeps its traceback
        if isinstance(e, BrokenPipeError) or from_command(e):
            raise
        from sigmoidnet.fsutil import output_error

        err = output_error("<stdout>", e, "cannot write")
        render.error(err.message)
        silence_stdout()
        return err.exit_code
    except SystemExit as e:
        # Rich meets a broken pipe in `--help` text (printed while parsing, before any
        # command runs) itself: it points stdout at /dev/null and exits 1.
        if e.code == 1 and not devnull_before and stdout_is_devnull():
            return 0
        raise
    return rv if isinstance(rv, int) else 0
