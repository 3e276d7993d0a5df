"""Atomic file writes: a crash never leaves a torn file behind.

Every file sigmoidnet writes goes to a temporary name in the destination's own folder
(same file system, so the final rename is atomic), is flushed to disk, and is then
renamed over the destination with `os.replace`. If anything fails before the rename,
the temporary file is removed and an existing destination is left untouched.

Temporary names look like `.<name>.<pid>.<random>.tmp` (hidden, and unique per writer).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "input_file_problem",
    "temp_name",
]


def temp_name(path: Path) -> Path:
    """A fresh hidden temporary name next to `path`."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible everywhere (Windows): best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path` atomically.

    The temporary file already exists (empty, created with the usual umask permissions)
    when the body starts; the body may write it, truncate it or replace it. On an exception
    (including KeyboardInterrupt) it is removed and `path` is untouched.

        with atomic_path(run_dir / "config.yaml") as tmp:
            tmp.write_text(text)
    """
    final = Path(path)
    tmp = temp_name(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    try:
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if fsync:
        _fsync_dir(final.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write `data` to `path` atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> None:
    """Write UTF-8 `text` to `path` atomically (newlines are written as given)."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def input_file_problem(
    path: str | os.PathLike[str], *, missing: str = "file not found"
) -> str | None:
    """What is wrong with `path` as a file to read, in a few words, or None when it names a
    readable regular file. Never raises: NUL bytes, lone surrogates, names too long, symlink
    loops, directories, FIFOs and devices (`/dev/zero`), and unreadable files are all named.
    Only regular files are read, so nothing blocks on a FIFO or reads an endless device."""
    text = os.fspath(path)
    if "\x00" in text:
        return "the path contains a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the path is not valid UTF-8 (it holds a lone surrogate)"
    try:
        st = os.stat(text)
    except FileNotFoundError:
        return missing
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "the path is a symlink loop"
        if e.errno == errno.ENAMETOOLONG:
            return "the path is too long"
        if e.errno == errno.ENOTDIR:
            return missing
        return f"cannot read: {e.strerror or e}"
    except ValueError as e:  # pragma: no cover - embedded NUL on some platforms
        return f"bad path ({e})"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a character device"
            if stat.S_ISCHR(st.st_mode)
            else "a block device"
            if stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        return f"not a regular file ({kind})"
    if not os.access(text, os.R_OK):
        return "cannot read: permission denied"
    return None
