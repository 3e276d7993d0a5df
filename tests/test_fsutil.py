"""sigmoidnet.fsutil: atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigmoidnet.fsutil import atomic_path, atomic_write_bytes, atomic_write_text
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
