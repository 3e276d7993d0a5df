"""The CLI's one error boundary, used by every command (and the `--version` callback).

- `SigmoidnetError` → `error: <where>: <what>` on stderr (one line, via `render.error`) and
  the error's exit code (the README's exit-code table: 2 usage/config, 3 data,
  4 checkpoint/run directory, 5 diverged, 130 interrupted).
- `BrokenPipeError` (the reader of stdout has gone: `sigmoidnet predict ... | head -2`) →
  a quiet exit 0. Stdout is pointed at /dev/null first, so that the interpreter's final
  flush of what is still buffered does not fail again (the technique of Python's
  documentation, "Note on SIGPIPE" in the `signal` module).
- `KeyboardInterrupt` (Ctrl-C, and SIGTERM, which the boundary turns into the same while a
  command runs) → `error: <command>: interrupted`, exit 130. By then every `with` block
  and `finally` on the way has run: temporary files are removed (`fsutil.atomic_path`),
  folders a failed command created are removed, and a command that kept something says
  so in its own `InterruptedError_` (train: the best model so far). A second signal while
  that clean-up runs is ignored, so that it is not cut short.
- Anything else is a bug and keeps its traceback (exit 1).

Standard output that cannot take more (`> /dev/full`: ENOSPC) is `render`'s
`error: <stdout>: cannot write: No space left on device`, exit 3; when it is noticed only at
the final flush, `exit_process` says it.

`boundary` is the decorator form (`handled` inside `interrupts`), `handled` the
context-manager form, `interrupts` the SIGTERM handling alone. `exit_process` is the
console script's last step: it flushes stdout itself, so that a broken pipe noticed only at
that final flush is quiet too. (`--help` text is printed by typer through rich while the
arguments are parsed, before any command runs; rich handles a broken pipe there itself,
and `sigmoidnet.cli.main` turns its exit 1 into 0, and a full stdout there into exit 3.)
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import typer

from sigmoidnet.cli import render
from sigmoidnet.errors import SigmoidnetError

__all__ = [
    "boundary",
    "exit_process",
    "from_command",
    "handled",
    "interrupts",
    "silence_stdout",
    "stdout_is_devnull",
]

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


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop(signum: int, frame: Any) -> None:
    """SIGINT/SIGTERM while a command runs: unwind as Ctrl-C does, once; a second signal
    while the command cleans up is ignored."""
    for sig in _SIGNALS:
        if signal.getsignal(sig) is _stop:
            signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM (like SIGINT) raises `KeyboardInterrupt` in the main
    thread; the handlers before are restored afterwards. A signal the process was started
    with ignored (`nohup`, a background job's SIGINT) stays ignored; outside the main
    thread nothing changes."""
    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in _SIGNALS:
            old = signal.getsignal(sig)
            if old in (signal.SIG_IGN, None, _stop):  # ignored, or an outer block's
                continue
            signal.signal(sig, _stop)
            previous[sig] = old
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _command_name() -> str:
    """`train`, `config show`, ...: the running command's path without the program name."""
    import click

    ctx = click.get_current_context(silent=True)
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:  # the root's name may be `python -m ...`
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names)) or "sigmoidnet"


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn the errors a user can act on into their exit code, as `typer.Exit`."""
    try:
        yield
    except SigmoidnetError as e:
        if not getattr(e, "quiet", False):  # a distributed run's other ranks: rank 0 says it
            render.error(e.message)
        raise typer.Exit(e.exit_code) from None
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(0) from None
    except KeyboardInterrupt:
        render.error(f"{_command_name()}: interrupted")
        raise typer.Exit(130) from None
    except MemoryError:
        render.error(f"{_command_name()}: {_OUT_OF_MEMORY}")
        raise typer.Exit(2) from None
    except RuntimeError as e:
        if "can't allocate memory" not in str(e) and "out of memory" not in str(e).lower():
            raise
        render.error(f"{_command_name()}: {_OUT_OF_MEMORY}")
        raise typer.Exit(2) from None


#: when an allocation fails although the estimate (`sigmoidnet.limits`) let the run start
_OUT_OF_MEMORY = (
    "out of memory (the estimate said it would fit; free memory, raise the limit, or make "
    "the data, model or batch smaller; SIGMOIDNET_MEMORY_LIMIT sets what may be used)"
)


def from_command(e: BaseException) -> bool:
    """Whether `e` came out of a command's body (rather than from parsing: help text)."""
    return bool(getattr(e, "sigmoidnet_command", False))


def boundary(fn: F) -> F:
    """Run the command `fn` inside `handled()` and `interrupts()` (its signature, hence its
    options, is kept)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with interrupts(), handled():
            try:
                return fn(*args, **kwargs)
            except OSError as e:  # a bug (the core words what a user can act on)
                e.sigmoidnet_command = True  # type: ignore[attr-defined]
                raise

    return wrapper  # type: ignore[return-value]


def exit_process(code: int) -> NoReturn:
    """`sys.exit(code)`, after flushing stdout here rather than at interpreter shutdown
    (where a broken pipe would print "Exception ignored ... BrokenPipeError" and exit 120).
    A reader that has gone changes nothing to `code`. Stdout that cannot take the rest
    (ENOSPC) is one error line and exit 3 (2 for other errors) if all was well until then;
    if an error was already reported, `code` stays. Either way stdout is pointed at
    /dev/null, so that the interpreter's own final flush does not fail again."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as e:
        silence_stdout()
        if code == 0:
            from sigmoidnet.fsutil import output_error

            err = output_error("<stdout>", e, "cannot write")
            render.error(err.message)
            code = err.exit_code
    sys.exit(code)
