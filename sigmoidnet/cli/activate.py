"""`sigmoidnet activate`: exact sigmoid values of numbers, for terminals and pipes.

`register(app)` adds the command to a Typer app. Start-up is the point here: this module
imports typer (already loaded by the app), the CLI's boundary and render modules,
`sigmoidnet.errors` and `sigmoidnet.activation` (pure `math`) and nothing else. numpy is
imported only for big inputs (more than `SCALAR_LIMIT` numbers, or a .npy file) and rich
only to draw a table on a terminal; torch never. Errors and a closed stdout go through the
CLI's one boundary (`sigmoidnet.cli._boundary`); the output is drawn by
`render.activate_values`.

Negative numbers are ordinary arguments (`activate -2 -1 0 1 2`, `-inf`, `-.5`): the
command class moves every number-like word that is not an option's value behind `--`
before the parser sees it. The command has no single-letter options, so `-inf` cannot be
read as `-i -n -f`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

import click
import typer
from typer.core import TyperCommand

from sigmoidnet.activation import logit, sigmoid, sigmoid_derivative
from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli.render import ACTIVATE_FORMATS as FORMATS
from sigmoidnet.cli.render import RICH_TABLE_LIMIT
from sigmoidnet.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "FORMATS",
    "RICH_TABLE_LIMIT",
    "SCALAR_LIMIT",
    "ActivateCommand",
    "activate",
    "register",
]

# Up to this many numbers the pure-Python functions are used (≈4-10 µs each), which is
# quicker than importing numpy (≈90 ms); above it, the vectorised numpy functions.
SCALAR_LIMIT = 2000
WHERE = "activate"
NPY_MAGIC = b"\x93NUMPY"
NUMBERS_HELP = (
    "Numbers, in any Python float syntax (1e-3, -inf, nan, .5); negative ones need no '--'. "
    "'-' reads stdin. With no numbers and no --file, stdin is read."
)

Values = Union[list[float], "NDArray[np.float64]"]


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


class ActivateCommand(TyperCommand):
    """A Typer command whose negative numbers need no `--` and whose usage errors are one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name == "numbers" and not param.help:
                # typer 0.25 sets an argument's help before click >= 8.2's Parameter.__init__,
                # which resets it to None
                param.help = NUMBERS_HELP

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: set[str] = set()
        for param in self.get_params(ctx):
            if param.param_type_name == "option" and not getattr(param, "is_flag", False):
                takes_value.update(param.opts)
                takes_value.update(param.secondary_opts)
        options: list[str] = []
        positional: list[str] = []
        i = 0
        while i < len(args):
            word = args[i]
            if word == "--":
                positional.extend(args[i + 1 :])
                break
            if word in takes_value:  # `--digits -3`: -3 is the option's value
                if i + 1 == len(args):
                    render.error(f"{WHERE}: {word} needs a value (see --help)")
                    raise typer.Exit(2)
                options.extend(args[i : i + 2])
                i += 2
                continue
            if word.startswith("-") and word != "-" and not _is_number(word):
                options.append(word)  # an option (or `--opt=value`, or an unknown one)
            else:
                positional.append(word)
            i += 1
        try:
            return super().parse_args(ctx, [*options, "--", *positional])
        except click.ClickException as err:  # click's usage errors, as one line
            if ctx.resilient_parsing:
                raise
            message = " ".join(err.format_message().split())
            render.error(f"{WHERE}: {message} (see --help)")
            raise typer.Exit(err.exit_code) from None


# --- input --------------------------------------------------------------------------------


def _read_stdin() -> str:
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        render.hint("reading numbers from stdin; end with Ctrl-D (see --help)")
    return sys.stdin.read()


def _parse_words(words: Sequence[str], where: str, text: str | None = None) -> list[float]:
    """floats of words, or a UsageError naming the first word that is not a number."""
    try:
        return list(map(float, words))
    except ValueError:
        pass
    for word in words:
        if not _is_number(word):
            what = f"{word!r} is not a number"
            if text is not None:
                line = _line_of(text, word)
                what = f"line {line}: {what}" if line else what
            raise UsageError(where, what) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _line_of(text: str, word: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if word in line.replace(",", " ").split():
            return number
    return None


def _parse_text(text: str, source: str) -> list[float]:
    """Numbers separated by whitespace, commas or newlines."""
    return _parse_words(text.replace(",", " ").split(), f"{WHERE}: {source}", text)


def _read_file(path: Path) -> Values:
    where = f"{WHERE}: {path}"
    try:
        with path.open("rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise DataError(where, "no such file") from None
    except IsADirectoryError:
        raise DataError(where, "is a directory, not a file") from None
    except OSError as err:
        raise DataError(where, f"cannot read: {err.strerror or err}") from None
    if data.startswith(NPY_MAGIC):
        return _read_npy(data, where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(where, "neither text nor a .npy array") from None
    return _parse_text(text, str(path))


def _read_npy(data: bytes, where: str) -> NDArray[np.float64]:
    import io

    import numpy as np

    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(where, f"not a readable .npy file ({err})") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(where, f"expected a numeric array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64).ravel()


def _gather(numbers: Sequence[str], file: Path | None) -> Values:
    """The inputs in order: the arguments (`-` = stdin), then --file; stdin if neither."""
    parts: list[Values] = []
    pending: list[str] = []
    for word in numbers:
        if word == "-":
            parts.append(_parse_words(pending, WHERE))
            pending = []
            parts.append(_parse_text(_read_stdin(), "<stdin>"))
        else:
            pending.append(word)
    parts.append(_parse_words(pending, WHERE))
    if file is not None:
        parts.append(
            _parse_text(_read_stdin(), "<stdin>") if str(file) == "-" else _read_file(file)
        )
    elif not numbers:
        parts.append(_parse_text(_read_stdin(), "<stdin>"))
    if all(isinstance(part, list) for part in parts):
        return [value for part in parts for value in part]
    import numpy as np

    return np.concatenate([np.asarray(part, dtype=np.float64) for part in parts])


# --- computation ---------------------------------------------------------------------------


def _first_bad_probability(xs: Values) -> float | None:
    if isinstance(xs, list):
        return next((p for p in xs if p < 0.0 or p > 1.0), None)
    bad = (xs < 0.0) | (xs > 1.0)
    return float(xs[bad][0]) if bad.any() else None


def _compute(xs: Values, derivative: bool, inverse: bool) -> tuple[list[float], list[float]]:
    """(inputs, values) as lists of floats."""
    if inverse:
        bad = _first_bad_probability(xs)
        if bad is not None:
            raise UsageError(f"{WHERE}: --inverse", f"{bad!r} is not a probability in [0, 1]")
    if isinstance(xs, list) and len(xs) <= SCALAR_LIMIT:
        scalar = logit if inverse else sigmoid_derivative if derivative else sigmoid
        return xs, [scalar(x) for x in xs]
    import numpy as np

    from sigmoidnet.activation import logit_array, sigmoid_array, sigmoid_derivative_array

    arr = np.asarray(xs, dtype=np.float64)
    vector = logit_array if inverse else sigmoid_derivative_array if derivative else sigmoid_array
    values: list[float] = vector(arr).tolist()
    return (xs if isinstance(xs, list) else arr.tolist()), values


# --- the command ---------------------------------------------------------------------------


@boundary
def activate(
    numbers: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="X...",
            help=NUMBERS_HELP,
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="Read numbers from a text file (whitespace/comma/newline separated) or a "
            ".npy array; after any arguments.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="table|plain|json|csv",
            help="Output format. Default: table on a terminal, plain (one value per line) in "
            'a pipe. json: a list of {"x": ..., "value": ...}, nan/inf as the strings '
            '"nan", "inf", "-inf". csv: header x,sigmoid.',
            show_default=False,
        ),
    ] = None,
    digits: Annotated[
        str | None,
        typer.Option(
            "--digits",
            metavar="N",
            help="Significant digits of the values (1-17). Default: the shortest repr that "
            "round-trips exactly.",
            show_default=False,
        ),
    ] = None,
    derivative: Annotated[
        bool,
        typer.Option("--derivative", help="Print σ'(x) = σ(x)(1-σ(x)) instead."),
    ] = False,
    inverse: Annotated[
        bool,
        typer.Option(
            "--inverse", help="Print logit(p) = log(p/(1-p)), the inverse, for p in [0, 1]."
        ),
    ] = False,
) -> None:
    """Print the exact sigmoid 1/(1+e^-x) of numbers (correctly rounded float64 values).

    Subnormals included (sigmoid(-745) = 5e-324), without loading torch.

    Example: sigmoidnet activate -2 -1 0 1 2
    """
    _activate(
        list(numbers or ()),
        None if file is None else Path(file),
        fmt,
        _parse_digits(digits),
        bool(derivative),
        bool(inverse),
    )


def _parse_digits(digits: str | int | None) -> int | None:
    if digits is None:
        return None
    try:
        n = int(digits)
    except ValueError:
        n = 0
    if not 1 <= n <= 17:
        raise UsageError(
            f"{WHERE}: --digits", f"expected 1 to 17 significant digits, got {digits!r}"
        )
    return n


def _activate(
    numbers: Sequence[str],
    file: Path | None,
    fmt: str | None,
    digits: int | None,
    derivative: bool,
    inverse: bool,
) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"{WHERE}: --format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if derivative and inverse:
        raise UsageError(WHERE, "--derivative and --inverse cannot be combined")
    if fmt is None:
        fmt = "table" if render.stdout_is_terminal() else "plain"
    name = "inverse" if inverse else "derivative" if derivative else "sigmoid"
    xs, values = _compute(_gather(numbers, file), derivative, inverse)
    render.activate_values(fmt, name, xs, values, digits)


def register(app: typer.Typer) -> None:
    """Add the `activate` command to `app`."""
    app.command("activate", cls=ActivateCommand)(activate)
