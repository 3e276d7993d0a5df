"""The CLI's one error boundary, used by every command (and the `--version` callback).

- `SigmoidnetError` → `error: <where>: <what>` on stderr (one line, via `render.error`) and
  the error's exit code (the README's exit-code table: 2 usage/config, 3 data,
  4 checkpoint/run directory, 5 diverged, 130 interrupted).
- `BrokenPipeError` (the reader of stdout has gone: `sigmoidnet predict ... | head -2`) →
  a quiet exit 0. Stdout is pointed at /dev/null first, so that the interpreter's final
  flush of what is still buffered does not fail again (the technique of Python's
  documentation, "Note on SIGPIPE" in the `signal` module).
- Anything else is a bug and keeps its traceback (exit 1).

`boundary` is the decorator form, `handled` the context-manager form. `exit_process` is the
console script's last step: it flushes stdout itself, so that a broken pipe noticed only at
that final flush is quiet too. (`--help` text is printed by typer through rich while the
arguments are parsed, before any command runs; rich handles a broken pipe there itself,
and `sigmoidnet.cli.main` turns its exit 1 into 0.)
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import typer

from sigmoidnet.cli import render
from sigmoidnet.errors import SigmoidnetError

__all__ = ["boundary", "exit_process", "handled", "silence_stdout", "stdout_is_devnull"]

F = TypeVar("F", bound=Callable[..., Any])


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null: later writes and the final flush succeed."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (CliRunner)
        pass


def stdout_is_devnull() -> bool:
    """Whether file descriptor 1 is /dev/null (`silence_stdout`'s doing, or rich's, which
    does the same when it meets a broken pipe itself and then exits 1)."""
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn the errors a user can act on into their exit code, as `typer.Exit`."""
    try:
        yield
    except SigmoidnetError as e:
        render.error(e.message)
        raise typer.Exit(e.exit_code) from None
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(0) from None


def boundary(fn: F) -> F:
    """Run the command `fn` inside `handled()` (its signature, hence its options, is kept)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with handled():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def exit_process(code: int) -> NoReturn:
    """`sys.exit(code)`, after flushing stdout here rather than at interpreter shutdown
    (where a broken pipe would print "Exception ignored ... BrokenPipeError" and exit 120).
    A reader that has gone changes nothing to `code`."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    sys.exit(code)
