"""Atomic file writes: a crash never leaves a torn file behind.

Every file sigmoidnet writes goes to a temporary name in the destination's own folder
(same file system, so the final rename is atomic), is flushed to disk, and is then
renamed over the destination with `os.replace`. If anything fails before the rename,
the temporary file is removed and an existing destination is left untouched.

Temporary names look like `.<name>.<pid>.<random>.tmp` (hidden, and unique per writer;
a long `<name>` is shortened in it, so that the temporary name is never the one that is too
long).

Writing can fail for two kinds of reason, and `output_error` turns an `OSError` into the
one-line `OutputError` of its kind: the storage failed (a full disk, a quota, a file-size
limit, an I/O error: exit 3, the data/output side of the exit-code table), or the path
cannot be used (permission denied, a read-only file system, a name too long, a file where a
folder is needed: exit 2, bad usage). `make_dirs` creates the missing folders of a path and
says which it created, so that a command that fails can remove them (`remove_dirs`): a
failed command leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sigmoidnet.errors import SigmoidnetError

__all__ = [
    "STORAGE_ERRNOS",
    "InputFileError",
    "OutputError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "input_file_problem",
    "make_dirs",
    "open_input",
    "output_error",
    "remove_dirs",
    "temp_name",
]

#: errno values that mean the storage failed, not the path: exit 3 rather than 2
STORAGE_ERRNOS = frozenset(
    e
    for e in (
        errno.ENOSPC,
        getattr(errno, "EDQUOT", None),
        errno.EFBIG,
        errno.EIO,
        getattr(errno, "ENOBUFS", None),
    )
    if e is not None
)
NAME_MAX = 255  # bytes in one path component (Linux, macOS, Windows: 255 units)


class OutputError(SigmoidnetError):
    """An output could not be written: exit 3 when the storage failed (`STORAGE_ERRNOS`),
    exit 2 when the path cannot be used. Made by `output_error`."""

    def __init__(self, where: str | None, what: str, exit_code: int) -> None:
        super().__init__(where, what)
        self.exit_code = exit_code


def _strerror(e: OSError) -> str:
    # pyarrow's OSErrors carry the errno and a long text ("Error writing bytes to file.
    # Detail: [errno 28] No space left on device"): the system's words are enough
    if e.errno is not None:
        with contextlib.suppress(ValueError, OverflowError):
            return os.strerror(e.errno)
    return " ".join(str(e.strerror or e).split()) or type(e).__name__


def output_error(where: str, e: OSError, doing: str) -> OutputError:
    """`<where>: <doing>: <the system's reason>`, exit 3 for a storage failure (full disk,
    quota, file-size limit, I/O error), 2 otherwise (permission, read-only, name too long,
    not a folder, ...)."""
    code = 3 if e.errno in STORAGE_ERRNOS else 2
    return OutputError(where, f"{doing}: {_strerror(e)}", code)


def temp_name(path: Path) -> Path:
    """A fresh hidden temporary name next to `path` (at most `NAME_MAX` bytes: a long
    name is shortened, its start kept)."""
    suffix = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    name = os.fsencode(path.name)
    room = NAME_MAX - 1 - len(suffix)
    if len(name) > room:
        name = name[:room]
    return path.with_name("." + os.fsdecode(name) + suffix)


def make_dirs(folder: str | os.PathLike[str]) -> list[Path]:
    """Create `folder` and its missing parents; the folders created, outermost first.
    On an error, what was created is removed again and the `OSError` raised."""
    target = Path(folder)
    missing: list[Path] = []
    p = target
    while not p.is_dir():
        if os.path.lexists(p):  # a file (or a dangling link) where a folder is needed
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(p))
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    created: list[Path] = []
    try:
        for d in reversed(missing):
            created.append(d)  # before mkdir: an interrupt just after it still knows `d`
            d.mkdir()
    except BaseException:
        if created and not os.path.isdir(created[-1]):
            created.pop()  # its mkdir failed: not ours to remove
        remove_dirs(created)
        raise
    return created


def remove_dirs(created: list[Path]) -> None:
    """Remove the folders `make_dirs` created, innermost first, as far as they are empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            return


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
    opening = True  # an interrupt can land at any point: the temporary is made inside `try`
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        opening = False
        os.close(fd)
        yield tmp
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException as e:
        if not (opening and isinstance(e, FileExistsError)):  # never someone else's file
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


class InputFileError(ValueError):
    """`open_input`'s refusal: the message says what is wrong with the path, in a few words."""


def open_input(
    path: str | os.PathLike[str], *, missing: str = "file not found", directory: str | None = None
) -> tuple[IO[bytes], int]:
    """Open a file to read: only a regular file (`input_file_problem`), opened non-blocking
    so that a FIFO swapped in after the check is never waited on, and checked again on the
    open descriptor. Returns the unbuffered binary file and its size; raises
    `InputFileError` (a message for the caller to place in its own error). `directory`
    replaces the message for a directory."""
    problem = input_file_problem(path, missing=missing)
    if problem == "is a directory" and directory is not None:
        problem = directory
    if problem is not None:
        raise InputFileError(problem)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise InputFileError(f"cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced since it was checked
            raise InputFileError("not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb", buffering=0), st.st_size
