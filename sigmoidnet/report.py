"""Rendering: the only place that prints (Rich tables, progress bars, JSON lines, errors).

Rich is imported lazily so that importing this module costs nothing at start-up.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from sigmoidnet.evaluation import EvalReport


def error(message: str) -> None:
    """One line on stderr: `error: <where>: <what>`."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def note(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}f}"
    return str(value)


def json_line(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# train


_EPOCH_COLUMNS = [
    ("epoch", "epoch", 7),
    ("train_loss", "train loss", 10),
    ("val_loss", "val loss", 9),
    ("val_accuracy", "val acc", 8),
    ("val_f1", "val F1", 7),
    ("val_roc_auc", "val AUC", 8),
    ("seconds", "seconds", 8),
    ("rows_per_s", "rows/s", 10),
]


class TrainReporter:
    """Per-epoch output of `train`: a Rich row per epoch (with a transient progress bar for
    epochs that last more than a moment), JSON lines with `--json`, nothing with `--quiet`."""

    PROGRESS_AFTER_S = 0.5

    def __init__(self, mode: str, epochs: int, has_val: bool) -> None:
        self.mode = mode  # "rich" | "json" | "quiet"
        self.epochs = epochs
        self.columns = [c for c in _EPOCH_COLUMNS if has_val or not c[0].startswith("val_")]
        self.console = _console() if mode == "rich" else None
        self._header_done = False
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._epoch_start = time.perf_counter()
        self._epoch = 1

    def start(self, description: str, device: str, run_dir: str) -> None:
        if self.console is not None:
            self.console.print(f"[bold]data[/]   {description}")
            self.console.print(f"[bold]device[/] {device}    [bold]run[/] {run_dir}")

    def _header(self) -> None:
        if self.console is not None and not self._header_done:
            cells = [f"{title:>{w}}" for _, title, w in self.columns]
            self.console.print("[bold]" + " ".join(cells) + "[/]")
            self._header_done = True

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

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

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
                    text = f"{v}/{self.epochs}"
                elif key == "rows_per_s":
                    text = "n/a" if v is None else f"{v:,.0f}"
                elif key == "seconds":
                    text = fmt(v, 3)
                else:
                    text = fmt(v, 6 if key.endswith("loss") else 4)
                cells.append(f"{text:>{w}}")
            self.console.print(" ".join(cells))
        self._epoch = row["epoch"] + 1
        self._epoch_start = time.perf_counter()

    def close(self) -> None:
        self._stop_progress()

    def summary(
        self, best_epoch: int | None, best: dict[str, Any], run_dir: str, seconds: float
    ) -> None:
        if self.mode == "json":
            return  # stdout holds the epoch objects only
        con = self.console or _console()
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


def eval_table(report: EvalReport, title: str) -> None:
    """Two tables (they fit an 80-column terminal): one row per label, then the macro and
    micro averages when there are several labels; n/a notes on stderr."""
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
    for n in report.notes:
        note(n)


def predict_summary(n_rows: int, out: str, seconds: float) -> None:
    rate = n_rows / seconds if seconds > 0 else float("inf")
    _console(stderr=True).print(f"{n_rows:,} rows → {out} ({seconds:.2f} s, {rate:,.0f} rows/s)")
