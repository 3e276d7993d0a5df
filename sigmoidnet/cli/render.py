"""Rendering: the only place in the CLI that prints (Rich tables, progress bars, JSON lines,
plain text, errors).

Everything writes to `sys.stdout` / `sys.stderr` as they are at call time (so that
`typer.testing.CliRunner` captures it) and flushes stdout, so that a reader that has gone
(`... | head`) raises `BrokenPipeError` inside the command, where the CLI's error boundary
(`sigmoidnet.cli._boundary`) turns it into a quiet exit 0. Rich is imported lazily so that
importing this module costs nothing at start-up; so is `json`.

Standard output that cannot take more (`> /dev/full`: ENOSPC, a file-size limit) is an
`OutputError` here, `error: <stdout>: cannot write: No space left on device` (exit 3; 2
for an unusable stream such as a closed file descriptor 1), raised by every function that
writes stdout (`_stdout_writes`).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from sigmoidnet.evaluation import EvalReport


F = TypeVar("F", bound=Callable[..., Any])

STDOUT = "<stdout>"


def _stdout_writes(fn: F) -> F:
    """`fn` writes stdout: an `OSError` there (not a broken pipe, which is the boundary's
    quiet exit 0) becomes the one-line `OutputError` of `fsutil.output_error`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:
            raise
        except OSError as e:
            from sigmoidnet.fsutil import output_error

            raise output_error(STDOUT, e, "cannot write") from None

    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# plain text


@_stdout_writes
def text(s: str) -> None:
    """`s` on stdout, as it is (the caller ends its lines), flushed."""
    if sys.stdout is None:  # started with file descriptor 1 closed
        from sigmoidnet.fsutil import OutputError

        raise OutputError(STDOUT, "cannot write: standard output is closed", 2)
    sys.stdout.write(s)
    sys.stdout.flush()


def one_line(message: str) -> str:
    """`message` on one line: line breaks and other control characters (a file name may hold
    them) are written as escapes, and text that cannot be encoded as backslash escapes."""
    if message.isprintable():
        return message
    out = []
    for ch in message:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def error(message: str) -> None:
    """One line on stderr: `error: <where>: <what>` (a stderr that cannot take it changes
    nothing to the exit code)."""
    try:
        sys.stderr.write(f"error: {one_line(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def note(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")


def hint(message: str) -> None:
    """A line on stderr for the person at the terminal (not an error)."""
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def json_line(obj: dict[str, Any]) -> None:
    import json

    text(json.dumps(obj) + "\n")


def json_document(obj: Any) -> None:
    """`obj` as indented JSON, then a newline."""
    import json

    text(json.dumps(obj, indent=2) + "\n")


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@functools.cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich's own handling exits 1; hand the error to the CLI's boundary (exit 0)
            self.quiet = True
            raise BrokenPipeError(32, "Broken pipe")

    return _Console


def stderr_console() -> Console:
    """A console on stderr (a table beside machine-readable stdout)."""
    return _console(stderr=True)


def _console(stderr: bool = False, soft_wrap: bool = True) -> Console:
    return _console_class()(stderr=stderr, highlight=False, soft_wrap=soft_wrap)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}f}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# train


_EPOCH_COLUMNS = [
    ("epoch", "epoch", 7),
    ("train_loss", "train loss", 10),
    ("val_loss", "val loss", 9),
    ("val_accuracy", "val acc", 8),
    ("val_f1", "val F1", 7),
    ("val_roc_auc", "val AUC", 8),
    ("lr", "lr", 8),
    ("seconds", "seconds", 8),
    ("rows_per_s", "rows/s", 10),
]


#: columns-table rows shown one by one: past this, plain numeric columns share one row
_PLAIN_ROWS = 8


def columns_table(columns: Sequence[Any], console: Console | None = None) -> None:
    """The columns of a table (`sigmoidnet.data.table.ColumnInfo`): name, type, missing
    count and categories. Compact: numeric columns with nothing missing share one row when
    there are many of them."""
    from rich.table import Table

    con = console or _console()
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for title, justify in (
        ("column", "left"),
        ("type", "left"),
        ("missing", "right"),
        ("categories", "left"),
    ):
        table.add_column(title, justify=justify)  # type: ignore[arg-type]
    plain = [c for c in columns if c.kind in ("numeric", "boolean") and c.missing == 0]
    fold = len(plain) > _PLAIN_ROWS
    for c in columns:
        if fold and c in plain:
            continue
        cats = ""
        if c.categories is not None:
            shown = ", ".join(_escape(e, 20) for e in c.examples)
            more = ", ..." if c.categories > len(c.examples) else ""
            cats = f"{c.categories}: {shown}{more}"
        elif c.note:
            cats = _escape(c.note, 60)
        table.add_row(_escape(c.name, 30), c.kind, f"{c.missing:,}" if c.missing else "", cats)
    if fold:
        names = ", ".join(_escape(c.name, 20) for c in plain[:4])
        table.add_row(f"{len(plain)} more", "numeric", "", f"no missing values: {names}, ...")
    con.print(table)


def _escape(text: str, limit: int) -> str:
    from rich.markup import escape

    t = one_line(text)
    return escape(t if len(t) <= limit else t[: limit - 1] + "…")


class TrainReporter:
    """Per-epoch output of `train`: a Rich row per epoch (with a transient progress bar for
    epochs that last more than a moment), JSON lines with `--json`, nothing with `--quiet`.
    The `lr` column is shown with `lr_column` (a schedule or a warmup: the lr changes); the
    JSON rows always hold `lr`."""

    PROGRESS_AFTER_S = 0.5

    def __init__(self, mode: str, epochs: int, has_val: bool, lr_column: bool = False) -> None:
        self.mode = mode  # "rich" | "json" | "quiet"
        self.epochs = epochs
        self.columns = [
            c
            for c in _EPOCH_COLUMNS
            if (has_val or not c[0].startswith("val_")) and (lr_column or c[0] != "lr")
        ]
        self.console = _console() if mode == "rich" else None
        self._header_done = False
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._epoch_start = time.perf_counter()
        self._epoch = 1

    @_stdout_writes
    def start(
        self,
        description: str,
        device: str,
        run_dir: str,
        columns: Sequence[Any] = (),
        notes: Sequence[str] = (),
    ) -> None:
        """The data, device and run lines; the columns table of a real table (rich mode);
        notes on stderr (every mode: stdout stays machine-readable with --json)."""
        if self.console is not None:
            self.console.print(f"[bold]data[/]   {description}")
            if columns:
                columns_table(columns, self.console)
            self.console.print(f"[bold]device[/] {device}    [bold]run[/] {run_dir}")
        for n in notes:
            note(n)

    @_stdout_writes
    def _header(self) -> None:
        if self.console is not None and not self._header_done:
            cells = [f"{title:>{w}}" for _, title, w in self.columns]
            self.console.print("[bold]" + " ".join(cells) + "[/]")
            self._header_done = True

    @_stdout_writes
    def progress(self, done: int, total: int) -> None:
        if self.console is None or not self.console.is_terminal:
            return  # a bar only makes sense on a terminal
        if self._progress is None:
            if time.perf_counter() - self._epoch_start < self.PROGRESS_AFTER_S:
                return
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

            self._header()
            self._progress = Progress(
                f"epoch {self._epoch}/{self.epochs}",
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=total)
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    @_stdout_writes
    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    @_stdout_writes
    def epoch(self, row: dict[str, Any]) -> None:
        self._stop_progress()
        if self.mode == "json":
            json_line(row)
        elif self.console is not None:
            self._header()
            cells = []
            for key, _, w in self.columns:
                v = row.get(key)
                if key == "epoch":
                    cell = f"{v}/{self.epochs}"
                elif key == "rows_per_s":
                    cell = "n/a" if v is None else f"{v:,.0f}"
                elif key == "seconds":
                    cell = fmt(v, 3)
                elif key == "lr":
                    cell = "n/a" if v is None else f"{v:.3g}"
                else:
                    cell = fmt(v, 6 if key.endswith("loss") else 4)
                cells.append(f"{cell:>{w}}")
            self.console.print(" ".join(cells))
        self._epoch = row["epoch"] + 1
        self._epoch_start = time.perf_counter()

    def close(self) -> None:
        self._stop_progress()

    @_stdout_writes
    def summary(
        self,
        best_epoch: int | None,
        best: dict[str, Any],
        run_dir: str,
        seconds: float,
        stop_reason: str = "",
    ) -> None:
        """The best epoch, the time and the model's path; why training stopped (with
        `--json` on stderr alone: stdout holds the epoch objects only)."""
        if self.mode == "json":
            if stop_reason:
                hint(f"stopped: {one_line(stop_reason)}")
            return
        con = self.console or _console()
        if stop_reason:
            con.print(f"stopped: {_escape(stop_reason, 200)}")
        if best_epoch is None:
            con.print(f"no model saved; run directory: {run_dir}")
            return
        parts = []
        for key in ("val_loss", "val_accuracy", "val_f1", "val_roc_auc"):
            if key in best:
                parts.append(f"{key} {fmt(best[key])}")
        if "val_loss" not in best:
            parts.append(f"train_loss {fmt(best.get('train_loss'), 6)}")
        con.print(f"best epoch {best_epoch}: " + ", ".join(parts))
        con.print(f"trained in {seconds:.2f} s; model: {run_dir}/model.safetensors")


# ---------------------------------------------------------------------------------------------
# eval


_EVAL_TABLES = (
    (
        "at the decision threshold",
        [
            ("label", "name"),
            ("rows", "n_rows"),
            ("prevalence", "prevalence"),
            ("accuracy", "accuracy"),
            ("precision", "precision"),
            ("recall", "recall"),
            ("F1", "f1"),
        ],
    ),
    (
        "ranking and calibration",
        [
            ("label", "name"),
            ("threshold", "threshold"),
            ("ROC-AUC", "roc_auc"),
            ("PR-AUC", "pr_auc"),
            ("Brier", "brier"),
            ("ECE (15 bins)", "ece"),
            ("log-loss", "log_loss"),
        ],
    ),
)


@_stdout_writes
def decisions_summary(
    mode: str,
    names: Sequence[str],
    calibration: str,
    calibration_notes: Sequence[str | None],
    tuned: Sequence[Any] | None,
) -> None:
    """After training with `decision` fitted on the validation rows: the calibration, and
    each label's threshold and where it came from (stdout; stderr with `--json`, whose
    stdout holds the epoch objects only); a note for each label not calibrated, target not
    met or label not tuned."""
    lines = []
    if calibration != "none":
        lines.append(f"calibration: {calibration}, fitted per label on the validation rows")
    for name, t in zip(names, tuned or [], strict=False):
        lines.append(f"threshold {name}: {t.threshold:.6g} ({t.source})")
    for line in lines:
        if mode == "json":
            hint(line)
        else:
            _console().print(_escape(line, 400))
    for name, n in zip(names, calibration_notes, strict=False):
        if n:
            note(f"label {name!r}: {n}")
    for name, t in zip(names, tuned or [], strict=False):
        if t.note:
            note(f"label {name!r}: {t.note}")


@_stdout_writes
def eval_table(
    report: EvalReport,
    title: str,
    sources: Sequence[str] = (),
    calibration: dict[str, Any] | None = None,
) -> None:
    """Two tables (they fit an 80-column terminal): one row per label, then the macro and
    micro averages when there are several labels; where each label's threshold came from;
    n/a notes on stderr."""
    from rich import box
    from rich.table import Table

    con = _console()
    con.print(title)
    rows = [*report.labels]
    if len(report.labels) > 1:
        rows += [report.macro, report.micro]
    for caption, cols in _EVAL_TABLES:
        table = Table(title=caption, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for head, _ in cols:
            table.add_column(head, justify="left" if head == "label" else "right")
        for i, lm in enumerate(rows):
            cells = []
            for _, attr in cols:
                v = getattr(lm, attr)
                if attr == "name":
                    cells.append(str(v))
                elif attr == "n_rows":
                    cells.append(f"{v:,}")
                elif attr == "threshold" and v is None:
                    cells.append("")
                else:
                    cells.append(fmt(v))
            last_label = i == len(report.labels) - 1 and len(rows) > len(report.labels)
            table.add_row(*cells, end_section=last_label)
        con.print(table)
    for lm, source in zip(report.labels, sources, strict=False):
        con.print(_escape(f"threshold {lm.name}: {fmt(lm.threshold)} ({source})", 400))
    if calibration is not None:
        for c in calibration["labels"]:
            con.print(
                _escape(
                    f"calibration {c['name']} ({calibration['method']}): ECE "
                    f"{fmt(c['ece_before'])} → {fmt(c['ece_after'])}, Brier "
                    f"{fmt(c['brier_before'])} → {fmt(c['brier_after'])} (without → with)",
                    400,
                )
            )
    for n in report.notes:
        note(n)


# ---------------------------------------------------------------------------------------------
# predict


def predict_summary(n_rows: int, out: str, seconds: float) -> None:
    rate = n_rows / seconds if seconds > 0 else float("inf")
    _console(stderr=True).print(f"{n_rows:,} rows → {out} ({seconds:.2f} s, {rate:,.0f} rows/s)")


# ---------------------------------------------------------------------------------------------
# activate


ACTIVATE_FORMATS = ("table", "plain", "json", "csv")
# Up to this many rows a terminal table is drawn with rich; beyond, with plain text.
RICH_TABLE_LIMIT = 1000
# (input, value) column names per function
_CSV_HEADERS = {
    "sigmoid": ("x", "sigmoid"),
    "derivative": ("x", "sigmoid_derivative"),
    "inverse": ("p", "logit"),
}
_TABLE_HEADERS = {
    "sigmoid": ("x", "sigmoid(x)"),
    "derivative": ("x", "sigmoid'(x)"),
    "inverse": ("p", "logit(p)"),
}


def activate_values(
    form: str, function: str, xs: Sequence[float], values: Sequence[float], digits: int | None
) -> None:
    """`activate`'s output: the inputs and values of `function` (sigmoid | derivative |
    inverse) as `form` (one of `ACTIVATE_FORMATS`), values with `digits` significant digits
    (None: the shortest repr that round-trips)."""
    headers = (_TABLE_HEADERS if form == "table" else _CSV_HEADERS)[function]
    out = _activate_text(form, headers, xs, values, _formatter(digits))
    if out is not None:
        text(out)


def _formatter(digits: int | None) -> Callable[[float], str]:
    if digits is None:
        return repr  # shortest string that round-trips
    spec = f".{digits}g"
    return lambda v: format(v, spec)


def _json_number(s: str) -> str:
    """JSON has no nan/inf: they are written as the strings "nan", "inf" and "-inf"."""
    return f'"{s}"' if s in ("nan", "inf", "-inf") else s


def _activate_text(
    form: str,
    headers: tuple[str, str],
    xs: Sequence[float],
    values: Sequence[float],
    fv: Callable[[float], str],
) -> str | None:
    """The whole output as one string (None for a rich table, which is printed directly)."""
    if form == "plain":
        return "\n".join(map(fv, values)) + "\n" if values else ""
    if form == "csv":
        rows = "".join(f"{x},{v}\n" for x, v in zip(map(repr, xs), map(fv, values), strict=True))
        return f"{headers[0]},{headers[1]}\n{rows}"
    if form == "json":
        if not xs:
            return "[]\n"
        rows = ",\n".join(
            f'  {{"x": {_json_number(x)}, "value": {_json_number(v)}}}'
            for x, v in zip(map(repr, xs), map(fv, values), strict=True)
        )
        return f"[\n{rows}\n]\n"
    # table
    col_x = list(map(repr, xs))
    col_v = list(map(fv, values))
    if len(xs) <= RICH_TABLE_LIMIT:
        _rich_value_table(headers, col_x, col_v)
        return None
    wx = max(len(headers[0]), *map(len, col_x))
    wv = max(len(headers[1]), *map(len, col_v))
    lines = [f"{headers[0]:>{wx}}  {headers[1]:>{wv}}", f"{'-' * wx}  {'-' * wv}"]
    lines.extend(f"{x:>{wx}}  {v:>{wv}}" for x, v in zip(col_x, col_v, strict=True))
    return "\n".join(lines) + "\n"


@_stdout_writes
def _rich_value_table(headers: tuple[str, str], col_x: list[str], col_v: list[str]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(headers[0], justify="right", style="cyan", no_wrap=True)
    table.add_column(headers[1], justify="right", style="bold", no_wrap=True)
    for x, v in zip(col_x, col_v, strict=True):
        table.add_row(x, v)
    _console(soft_wrap=False).print(table)
