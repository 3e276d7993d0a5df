"""User-facing errors. Each carries the exit code of the README's "Exit codes" table.

The CLI catches `SigmoidnetError` only and prints `error: <where>: <what>` on one line;
anything else is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations


class SigmoidnetError(Exception):
    """Base class: a problem the user can act on."""

    exit_code: int = 1

    def __init__(self, where: str | None, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class UsageError(SigmoidnetError):
    """Bad command-line usage (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """Bad config file or --set override (exit 2)."""


class DataError(SigmoidnetError):
    """Bad data: missing file/column, bad label, non-finite feature, size mismatch (exit 3)."""

    exit_code = 3


class CheckpointError(SigmoidnetError):
    """Bad checkpoint or run directory (exit 4)."""

    exit_code = 4


class DivergenceError(SigmoidnetError):
    """Training produced a non-finite loss (exit 5); the last good model is kept."""

    exit_code = 5


class InterruptedError_(SigmoidnetError):
    """Ctrl-C / SIGTERM after saving what can be saved (exit 130)."""

    exit_code = 130
