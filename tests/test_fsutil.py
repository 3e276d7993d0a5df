"""sigmoidnet.fsutil: atomic writes, the folders a write creates, and write errors."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from sigmoidnet.errors import SigmoidnetError
from sigmoidnet.fsutil import (
    NAME_MAX,
    OutputError,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    make_dirs,
    output_error,
    remove_dirs,
    temp_name,
)
from tests.data.util import files_in

# ---------------------------------------------------------------------------------------------
# fsutil


def test_atomic_write_bytes_and_text(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    atomic_write_text(tmp_path / "t.txt", "é\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "é\n"
    assert files_in(tmp_path) == ["f.bin", "t.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_path_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.exists() and tmp != target
        tmp.write_text("half-writ")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and files_in(tmp_path) == ["config.yaml"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and files_in(tmp_path) == ["config.yaml"]


def test_a_long_name_gets_a_temporary_name_that_fits(tmp_path: Path) -> None:
    # the final name fits in NAME_MAX; the temporary one must too, or the write fails
    # with "File name too long" although the file itself could be written
    target = tmp_path / ("n" * (NAME_MAX - 4) + ".csv")
    tmp = temp_name(target)
    assert len(os.fsencode(tmp.name)) <= NAME_MAX and tmp.parent == tmp_path
    assert tmp.name.startswith(".nnn") and tmp.name.endswith(".tmp")
    atomic_write_bytes(target, b"x")
    assert files_in(tmp_path) == [target.name]
    short = temp_name(tmp_path / "a.csv").name
    assert short.startswith(".a.csv.") and temp_name(tmp_path / "a.csv").name != short


@pytest.mark.parametrize(
    ("err", "code", "reason"),
    [
        (errno.ENOSPC, 3, "No space left on device"),
        (errno.EFBIG, 3, "File too large"),
        (errno.EDQUOT, 3, "Disk quota exceeded"),
        (errno.EIO, 3, "Input/output error"),
        (errno.EACCES, 2, "Permission denied"),
        (errno.EROFS, 2, "Read-only file system"),
        (errno.ENAMETOOLONG, 2, "File name too long"),
        (errno.ENOTDIR, 2, "Not a directory"),
    ],
)
def test_output_error_is_3_for_storage_and_2_for_paths(err: int, code: int, reason: str) -> None:
    e = output_error("out.csv", OSError(err, "long words from a library"), "cannot write")
    assert isinstance(e, OutputError) and isinstance(e, SigmoidnetError)
    assert (e.exit_code, e.message) == (code, f"out.csv: cannot write: {reason}")


def test_output_error_words_pyarrow_errors_with_the_systems_reason() -> None:
    e = OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left")
    assert output_error("p.parquet", e, "cannot write predictions").message == (
        "p.parquet: cannot write predictions: No space left on device"
    )
    assert output_error("x", OSError("no errno\nat all"), "w").message == "x: w: no errno at all"


def test_make_dirs_says_what_it_created_and_remove_dirs_removes_only_that(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    created = make_dirs(tmp_path / "a" / "b" / "c")
    assert created == [tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    assert make_dirs(tmp_path / "a" / "b" / "c") == []  # nothing more to create
    remove_dirs(created)
    assert files_in(tmp_path) == ["a"] and files_in(tmp_path / "a") == []
    # a folder that is not empty any more is kept, and so are its parents
    created = make_dirs(tmp_path / "x" / "y")
    (tmp_path / "x" / "y" / "file").write_text("z")
    remove_dirs(created)
    assert (tmp_path / "x" / "y" / "file").exists()


def test_make_dirs_removes_what_it_created_when_it_fails(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("a file in the way")
    with pytest.raises(OSError):
        make_dirs(tmp_path / "f" / "x")
    with pytest.raises(OSError) as info:
        make_dirs(tmp_path / "new" / ("n" * 300) / "x")  # the second folder's name fails
    assert info.value.errno == errno.ENAMETOOLONG
    assert files_in(tmp_path) == ["f"]
