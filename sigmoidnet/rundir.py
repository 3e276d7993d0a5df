"""The run directory: `<out_dir>/<name>-<YYYYmmdd-HHMMSS>/` and the `<out_dir>/latest` link.

Every file is written to a temporary name in the same folder and renamed into place, so a
crash never leaves a torn file. This module imports no torch: `find_run` serves `eval`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmoidnet.errors import CheckpointError, UsageError
from sigmoidnet.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from sigmoidnet.artifact import Artifact
    from sigmoidnet.config import Config

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
MODEL = "model.safetensors"
LATEST = "latest"


class RunDir:
    """A run directory being written by `train` (implements training.RunSink)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: list[str] = []

    @classmethod
    def create(cls, out_dir: str | Path, name: str, cfg: Config) -> RunDir:
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise UsageError(str(out), "output folder is a file")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(
                str(out), f"cannot create the output folder: {e.strerror or e}"
            ) from None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = out / f"{name}-{stamp}"
        k = 1
        while True:  # two runs in the same second get -2, -3, ...
            try:
                path.mkdir()
                break
            except FileExistsError:
                k += 1
                path = out / f"{name}-{stamp}-{k}"
        run = cls(path)
        atomic_write_bytes(path / CONFIG, cfg.to_yaml().encode())
        run._write_metrics()
        return run

    def _write_metrics(self) -> None:
        atomic_write_bytes(self.path / METRICS, "".join(self._rows).encode())

    def log_epoch(self, row: dict[str, Any]) -> None:
        # the whole (small) file is rewritten atomically: never a torn last line
        self._rows.append(json.dumps(row, allow_nan=True) + "\n")
        self._write_metrics()

    def save_model(self, artifact: Artifact) -> None:
        from sigmoidnet.artifact import save

        first = not (self.path / MODEL).exists()
        save(artifact, self.path / MODEL)
        if first:  # `latest` only ever names a run that has a model
            self.mark_latest()

    def mark_latest(self) -> None:
        """Point `<out_dir>/latest` at this run (a relative symlink, replaced atomically;
        a one-line text file where symlinks are not allowed)."""
        link = self.path.parent / LATEST
        tmp = self.path.parent / f".{LATEST}.{os.getpid()}.tmp"
        try:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(self.path.name, tmp)
            os.replace(tmp, link)
        except OSError:
            if tmp.is_symlink():
                tmp.unlink()
            if link.is_symlink() or link.is_dir():
                raise
            atomic_write_bytes(link, (self.path.name + "\n").encode())


def find_run(run: str | Path | None, out_dir: str | Path = "runs") -> Path:
    """The run directory named by `run`, or the newest one under `out_dir/latest`."""
    if run is None:
        link = Path(out_dir) / LATEST
        if link.is_symlink() or link.is_dir():
            path = link.resolve()
        elif link.is_file():
            path = link.parent / link.read_text().strip()
        else:
            raise CheckpointError(
                str(link), "no run found; train one first or pass --run / --checkpoint"
            )
    else:
        path = Path(run)
    if not path.is_dir():
        raise CheckpointError(str(run or path), "run directory not found")
    if not (path / MODEL).is_file():
        raise CheckpointError(str(path), f"no {MODEL} in this run directory")
    return path


def read_metrics(path: Path) -> list[dict[str, Any]]:
    f = path / METRICS
    if not f.is_file():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
