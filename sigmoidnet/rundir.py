"""The run directory: `<out_dir>/<name>-<YYYYmmdd-HHMMSS>/` and the `<out_dir>/latest` link.

Every file is written to a temporary name in the same folder and renamed into place, so a
crash never leaves a torn file. This module imports no torch: `find_run` serves `eval`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmoidnet.errors import CheckpointError, UsageError
from sigmoidnet.fsutil import (
    OutputError,
    atomic_write_bytes,
    make_dirs,
    output_error,
    remove_dirs,
)

if TYPE_CHECKING:
    from sigmoidnet.artifact import Artifact
    from sigmoidnet.config import Config

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
MODEL = "model.safetensors"
LATEST = "latest"
STATE = "state.safetensors"  # the resumable state (sigmoidnet.engine.checkpoint)
STATUS = "status.json"  # how the last attempt ended: finished, early_stopped, diverged, ...


#: the longest run name, in UTF-8 bytes: with `-<YYYYmmdd-HHMMSS>-<k>` it stays a
#: folder name every file system takes (255 bytes)
MAX_NAME_BYTES = 200
_WRITE = "cannot write the run directory"


def check_run_name(name: str) -> str:
    """`name` if it can name a run folder inside `out_dir` (one path component, no control
    characters, at most `MAX_NAME_BYTES`), else a one-line `UsageError` naming `name`.
    The config's schema refuses such names first; this is the last line of defence."""
    if not name:
        raise UsageError("name", "expected a run name, got an empty string")
    if any(c in name for c in ("/", "\\")) or name in (".", ".."):
        raise UsageError("name", f"expected one folder name, got {name!r} (a path)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UsageError("name", f"control characters cannot name a folder: {name!r}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise UsageError("name", f"not valid UTF-8 (a lone surrogate): {name!r}") from None
    if size > MAX_NAME_BYTES:
        raise UsageError(
            "name", f"too long for a folder name: {size} bytes, at most {MAX_NAME_BYTES}"
        )
    return name


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class RunDir:
    """A run directory being written by `train` (implements training.RunSink).

    `create` leaves nothing behind when it fails (the run folder, and the folders of
    `out_dir` it had to create, are removed, an interruption included); `abandon` is what a
    failed or interrupted training calls: it keeps a run that holds a model and removes
    one that does not. A write that fails is a one-line `fsutil.OutputError`: exit 3 when
    the storage failed (a full disk, a quota, a file-size limit), 2 for an out_dir that
    cannot be used (permission, read-only, a name too long, a file in the way)."""

    def __init__(self, path: Path, created: list[Path] | None = None) -> None:
        self.path = path
        self.has_model = False  # a model has been saved here
        self.model_epoch: int | None = None  # and the epoch it is of
        self.has_state = False  # a resumable state has been saved here
        self.state_extra: dict[str, Any] = {}  # saved with every state (the data's fingerprint)
        #: written with every status (a DDP job's id, to be found again after a restart)
        self.status_extra: dict[str, Any] = {}
        self._created = list(created or [])  # folders of out_dir this run created
        self._rows: list[str] = []

    @classmethod
    def create(cls, out_dir: str | Path, name: str, cfg: Config) -> RunDir:
        check_run_name(name)
        out = Path(out_dir)
        where = str(out)
        if "\x00" in where:
            raise UsageError(where, "the path contains a NUL byte")
        try:
            if out.exists() and not out.is_dir():
                raise UsageError(where, "output folder is a file")
            _check_latest(out / LATEST)
            created = make_dirs(out)
        except OSError as e:
            raise output_error(where, e, "cannot create the output folder") from None
        path: Path | None = None
        try:
            path = cls._new_folder(out, name)
            run = cls(path, created)
            lock_run(path)
            run._write(path / CONFIG, cfg.to_yaml().encode())
            run._write_metrics()
        except BaseException as e:  # an interruption included: nothing is left behind
            if path is not None:
                unlock_run(path)
                shutil.rmtree(path, ignore_errors=True)
            remove_dirs(created)
            if isinstance(e, OutputError):
                raise OutputError(e.where, e.what + "; nothing is kept", e.exit_code) from None
            raise
        return run

    @staticmethod
    def _new_folder(out: Path, name: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = out / f"{name}-{stamp}"
        k = 1
        while True:  # two runs in the same second get -2, -3, ...
            try:
                path.mkdir()
                return path
            except FileExistsError:
                k += 1
                path = out / f"{name}-{stamp}-{k}"
            except OSError as e:
                raise output_error(str(path), e, "cannot create the run directory") from None

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write_bytes(path, data)
        except OSError as e:
            raise output_error(str(path), e, _WRITE) from None

    def _write_metrics(self) -> None:
        self._write(self.path / METRICS, "".join(self._rows).encode())

    @classmethod
    def reopen(cls, path: Path, history: list[dict[str, Any]], model_epoch: int | None) -> RunDir:
        """The run directory of `train --resume`: `metrics.jsonl` is rewritten from the
        state's history (a row logged after the last state was saved is logged again, once,
        when the resumed run reaches it)."""
        run = cls(path)
        run.has_state = True
        run.has_model = (path / MODEL).is_file()
        run.model_epoch = model_epoch if run.has_model else None
        run._rows = [json.dumps(row, allow_nan=True) + "\n" for row in history]
        run._write_metrics()
        return run

    def write_config(self, cfg: Config) -> None:
        """Rewrite `config.yaml` (a resume that extends the run, or lowers its lr)."""
        self._write(self.path / CONFIG, cfg.to_yaml().encode())

    def save_state(self, state: dict[str, Any]) -> None:
        from sigmoidnet.engine.checkpoint import save_state

        save_state(self.path / STATE, {**state, **self.state_extra})
        self.has_state = True

    def write_status(self, status: str, **info: Any) -> None:
        """`status.json`: how this attempt ended (read by `train --resume`)."""
        text = json.dumps({"status": status, **self.status_extra, **info}, allow_nan=True) + "\n"
        self._write(self.path / STATUS, text.encode())

    def log_epoch(self, row: dict[str, Any]) -> None:
        # the whole (small) file is rewritten atomically: never a torn last line
        self._rows.append(json.dumps(row, allow_nan=True) + "\n")
        self._write_metrics()

    def save_model(self, artifact: Artifact) -> None:
        from sigmoidnet.artifact import save

        first = not self.has_model
        target = self.path / MODEL
        before = _inode(target)
        try:
            save(artifact, target)
        except OSError as e:
            raise output_error(str(target), e, _WRITE) from None
        except BaseException:
            # interrupted: the new file may already be in place (renamed, not yet fsynced)
            if _inode(target) not in (None, before):
                self.has_model, self.model_epoch = True, artifact.epoch
                if first:
                    with contextlib.suppress(OSError):
                        self.mark_latest()
            raise
        self.has_model, self.model_epoch = True, artifact.epoch
        if first:  # `latest` only ever names a run that has a model
            try:
                self.mark_latest()
            except OSError as e:
                raise output_error(str(self.path.parent / LATEST), e, _WRITE) from None

    def abandon(self) -> bool:
        """After a failure or an interruption: keep the run if it holds a model or a
        resumable state (True); otherwise remove it, and the folders of out_dir it created
        (False)."""
        if self.has_model and (self.path / MODEL).is_file():
            if (self.path / STATE).is_file():
                self.has_state = True  # a save stopped after its rename: the file is whole
            return True
        if (self.path / STATE).is_file():  # ours (a new run's folder), whole once renamed
            self.has_state = True
            return True
        self._remove()
        return False

    def _remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        created, self._created = self._created, []
        remove_dirs(created)

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


def _check_latest(link: Path) -> None:
    """`<out_dir>/latest` may be replaced only if it is sigmoidnet's own pointer: a symlink,
    or the one-line file naming a sibling run (where symlinks are not allowed). Anything
    else is the user's, and is never overwritten: exit 2 before anything is written."""
    if link.is_symlink() or not os.path.lexists(link):
        return
    ours = False
    if link.is_file() and link.stat().st_size <= 4096:
        try:
            text = link.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        ours = bool(text) and "/" not in text and "\n" not in text and (link.parent / text).is_dir()
    if not ours:
        raise UsageError(
            str(link),
            "exists and is not sigmoidnet's pointer to the newest run; "
            "move it away or choose another out_dir (nothing was written)",
        )


def find_run(run: str | Path | None, out_dir: str | Path = "runs") -> Path:
    """The run directory named by `run`, or the newest one under `out_dir/latest`.

    Every problem is a one-line `CheckpointError` (exit 4): no run yet, a `latest` that is a
    symlink loop, dangling, or a file that does not name a run, a run path that is missing,
    not a folder or a symlink loop, and a run without a readable regular `model.safetensors`.
    Nothing but a small regular file is read (`latest`), so a FIFO or a device never blocks."""
    import errno
    import stat

    from sigmoidnet.fsutil import input_file_problem

    def not_a_run(p: Path) -> str | None:
        problem = input_file_problem(p, missing="run directory not found")
        if problem == "is a directory":
            return None
        if problem is None:  # a readable regular file
            return "not a run directory (a file; a model file goes with --checkpoint)"
        if problem.startswith("not a regular file"):
            return "not a run directory" + problem[len("not a regular file") :]
        return problem

    if run is None:
        link = Path(out_dir) / LATEST
        where = str(link)
        try:
            lst = os.lstat(link)
        except (OSError, ValueError):
            lst = None
        if lst is None:
            raise CheckpointError(
                where, "no run found; train one first or pass --run / --checkpoint"
            )
        if stat.S_ISLNK(lst.st_mode):
            try:
                os.stat(link)
                path = link.resolve()
            except (OSError, RuntimeError) as e:
                loop = isinstance(e, RuntimeError) or getattr(e, "errno", None) == errno.ELOOP
                raise CheckpointError(
                    where,
                    "is a symlink loop" if loop else "points to a run directory that is gone",
                ) from None
        elif stat.S_ISDIR(lst.st_mode):
            path = link
        elif stat.S_ISREG(lst.st_mode):  # where symlinks are not allowed: the run's name
            try:
                with open(link, "rb") as f:
                    text = f.read(4097).decode("utf-8").strip()
            except (OSError, UnicodeDecodeError) as e:
                detail = getattr(e, "strerror", None) or "not UTF-8 text"
                raise CheckpointError(where, f"cannot read: {detail}") from None
            if (
                not text
                or len(text) > 4096
                or any(c in text for c in "/\\\x00\n")
                or text in (".", "..")
            ):
                raise CheckpointError(where, "does not name a run directory (one folder name)")
            path = link.parent / text
        else:
            raise CheckpointError(where, "not a link, folder or file naming the latest run")
    else:
        path = Path(run)
    problem = not_a_run(path)
    if problem is not None:
        raise CheckpointError(str(run if run is not None else path), problem)
    model_problem = input_file_problem(path / MODEL, missing="")
    if model_problem == "":
        raise CheckpointError(str(path), f"no {MODEL} in this run directory")
    if model_problem is not None:
        raise CheckpointError(str(path / MODEL), model_problem)
    return path


def read_metrics(path: Path) -> list[dict[str, Any]]:
    f = path / METRICS
    if not f.is_file():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]


def find_resumable(run: str | Path) -> Path:
    """The run directory `train --resume` continues: a folder with its `config.yaml` and a
    resumable state. Every problem is a one-line `CheckpointError` (exit 4)."""
    from sigmoidnet.fsutil import input_file_problem

    path = Path(run)
    if path.is_symlink() and path.name == LATEST:  # `runs/latest`: the run it points at
        with contextlib.suppress(OSError):
            path = path.parent / path.readlink()
    problem = input_file_problem(path, missing="run directory not found")
    if problem != "is a directory":
        raise CheckpointError(str(run), problem or "not a run directory (a file)")
    config_problem = input_file_problem(path / CONFIG, missing="")
    if config_problem is not None:
        what = config_problem or "missing"
        raise CheckpointError(str(path / CONFIG), f"{what}: not a sigmoidnet run directory")
    state_problem = input_file_problem(path / STATE, missing="")
    if state_problem == "":
        raise CheckpointError(
            str(path),
            f"no {STATE} in this run directory: it was stopped before its first state was "
            "saved, or made by a sigmoidnet without resume; train it again",
        )
    if state_problem is not None:
        raise CheckpointError(str(path / STATE), state_problem)
    return path


def find_launch_run(out_dir: str | Path, launch: str) -> Path | None:
    """The run directory under `out_dir` that the torchrun job `launch` started (its
    `status.json` names the job), the newest if several; None when there is none."""
    if launch in ("", "none"):  # torchrun's id when none was given: not this job's own
        return None
    out = Path(out_dir)
    try:
        entries = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return None
    found = [p for p in entries if read_status(p).get("launch") == launch]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def read_status(path: Path) -> dict[str, Any]:
    """`status.json` of a run ({} when absent or unreadable: a run killed while training)."""
    try:
        value = json.loads((path / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


_LOCKS: dict[str, int] = {}  # run directories this process trains: their locked descriptors


def lock_run(path: Path) -> None:
    """Hold an exclusive lock on a run directory for the life of this process, so that a
    second `train --resume` of a run being trained is refused (exit 4) rather than two
    processes writing one state. POSIX `flock` on the folder; where it is not available
    (Windows) this does nothing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    key = str(path.resolve())
    if key in _LOCKS:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # an unreadable folder is reported by what reads it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CheckpointError(
            str(path), "is being trained by another sigmoidnet process; wait for it or stop it"
        ) from None
    except OSError:
        os.close(fd)
        return  # a file system without locks: nothing to hold
    _LOCKS[key] = fd


def unlock_run(path: Path) -> None:
    """Release `lock_run(path)` (the end of a `train`)."""
    fd = _LOCKS.pop(str(path.resolve()), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the lock
