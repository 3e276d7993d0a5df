"""sigmoidnet.io.writers: prediction files, atomically; nothing created before the first
write, nothing left after a failure; full disks and unusable paths as one-line errors."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from sigmoidnet.errors import SigmoidnetError, UsageError
from sigmoidnet.fsutil import OutputError
from sigmoidnet.io import PredictionWriter, output_format
from tests.data.util import files_in

# ---------------------------------------------------------------------------------------------
# writers


@pytest.fixture
def preds() -> pa.Table:
    return pa.table(
        {
            "id": ["a", 'q"uote\\', "new\nline"],
            "p": pa.array([0.25, 0.5, 0.75], pa.float32()),
            "n": pa.array([1, None, 3], pa.int64()),
            "ok": [True, False, None],
        }
    )


@pytest.mark.parametrize("ext", ["csv", "parquet", "pq", "jsonl", "ndjson"])
def test_writers_round_trip(tmp_path: Path, preds: pa.Table, ext: str) -> None:
    out = tmp_path / "sub" / f"preds.{ext}"
    with PredictionWriter(out) as w:
        w.write(preds.slice(0, 2))
        w.write(preds.slice(2))
    assert w.rows == 3
    assert files_in(out.parent) == [out.name]  # no temporary left behind
    if ext == "csv":
        back = pacsv.read_csv(out)
        assert back.column("id").to_pylist() == preds.column("id").to_pylist()
        assert back.column("p").to_pylist() == [0.25, 0.5, 0.75]
    elif ext in ("parquet", "pq"):
        assert pq.read_table(out).equals(preds)
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert rows == [
            {"id": "a", "p": 0.25, "n": 1, "ok": True},
            {"id": 'q"uote\\', "p": 0.5, "n": None, "ok": False},
            {"id": "new\nline", "p": 0.75, "n": 3, "ok": None},
        ]


def test_jsonl_numbers_and_non_finite(tmp_path: Path) -> None:
    t = pa.table({"p": pa.array([0.1, float("nan"), 1e-7], pa.float32()), "s": ["é", "x", "y"]})
    out = tmp_path / "p.jsonl"
    with PredictionWriter(out) as w:
        w.write(t)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["p"] for r in rows] == [0.1, None, 1e-7] and rows[0]["s"] == "é"


def test_csv_to_a_stream(preds: pa.Table) -> None:
    buf = io.BytesIO()
    with PredictionWriter(None, stream=buf) as w:
        w.write(preds.select(["p", "n"]))
    assert not buf.closed
    assert buf.getvalue().decode().splitlines() == ['"p","n"', "0.25,1", "0.5,", "0.75,3"]


def test_unsupported_output_extension(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        PredictionWriter(tmp_path / "out.xlsx")
    assert info.value.exit_code == 2 and "unsupported output extension '.xlsx'" in str(info.value)
    assert output_format(None) == "csv" and output_format("a.NDJSON") == "jsonl"


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_writer_is_atomic(tmp_path: Path, preds: pa.Table, ext: str) -> None:
    out = tmp_path / f"preds.{ext}"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="boom"), PredictionWriter(out) as w:
        w.write(preds)
        raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"
    assert files_in(tmp_path) == [out.name]


# ---------------------------------------------------------------------------------------------
# nothing is created before the first write, and nothing is left after a failure


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_nothing_is_created_until_the_first_write(
    tmp_path: Path, preds: pa.Table, ext: str
) -> None:
    out = tmp_path / "new" / "deeper" / f"preds.{ext}"
    with PredictionWriter(out) as w:
        assert listing(tmp_path) == []  # checked, not created
        w.write(preds)
        assert out.parent.is_dir() and not out.exists()  # a temporary file only
        assert [p.name.endswith(".tmp") for p in out.parent.iterdir()] == [True]
    assert listing(tmp_path) == ["new", "new/deeper", f"new/deeper/preds.{ext}"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("write_first", [True, False], ids=["after-a-write", "before"])
def test_a_failure_removes_the_temporary_file_and_the_new_folders(
    tmp_path: Path, preds: pa.Table, error: BaseException, write_first: bool
) -> None:
    (tmp_path / "old").mkdir()
    out = tmp_path / "old" / "new" / "deeper" / "preds.parquet"
    with pytest.raises(type(error)), PredictionWriter(out) as w:
        if write_first:
            w.write(preds)
        raise error
    assert listing(tmp_path) == ["old"]


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_no_rows_still_writes_an_empty_file(tmp_path: Path, ext: str) -> None:
    out = tmp_path / "sub" / f"p.{ext}"
    with PredictionWriter(out):
        pass
    assert out.read_bytes() == b"" and files_in(out.parent) == [out.name]


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow's writers fail as on a full disk (in pyarrow's words) once they write a table."""

    def failing(cls: type) -> Callable[..., object]:
        class Full:
            def __init__(self, *args: object, **kwargs: object) -> None:
                self._real = cls(*args, **kwargs)

            def write_table(self, table: pa.Table) -> None:
                raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28]")

            def close(self) -> None:
                self._real.close()

        return Full

    monkeypatch.setattr(pq, "ParquetWriter", failing(pq.ParquetWriter))
    monkeypatch.setattr(pacsv, "CSVWriter", failing(pacsv.CSVWriter))


@pytest.mark.usefixtures("full_disk")
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_full_disk_is_one_line_exit_3_and_keeps_the_old_output(
    tmp_path: Path, preds: pa.Table, ext: str
) -> None:
    out = tmp_path / f"preds.{ext}"
    out.write_bytes(b"previous result")
    new = tmp_path / "new" / f"preds.{ext}"
    for target in (out, new):
        with pytest.raises(OutputError) as info, PredictionWriter(target) as w:
            w.write(preds)
        assert info.value.exit_code == 3
        assert info.value.message == f"{target}: cannot write predictions: No space left on device"
    assert out.read_bytes() == b"previous result"
    assert listing(tmp_path) == [out.name]  # no temporary file, no new folder


def test_stdout_that_is_full_is_one_line_exit_3(preds: pa.Table) -> None:
    with (
        open("/dev/full", "wb", buffering=0) as full,
        pytest.raises(OutputError) as info,
        PredictionWriter(None, stream=full) as w,
    ):
        w.write(preds)
    assert info.value.exit_code == 3
    assert info.value.message == "<stdout>: cannot write predictions: No space left on device"


def test_a_broken_pipe_is_left_to_the_cli(preds: pa.Table) -> None:
    class Gone(io.BytesIO):
        def write(self, b: object) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError), PredictionWriter(None, stream=Gone()) as w:
        w.write(preds)


# ---------------------------------------------------------------------------------------------
# what --out may name


def test_a_fifo_or_device_is_refused_and_left_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    (tmp_path / "link.csv").symlink_to(fifo)
    targets = [(fifo, "a FIFO"), (tmp_path / "link.csv", "a FIFO")]
    if os.geteuid() == 0:  # a /dev/full of our own: renaming over it would replace it
        dev = tmp_path / "full.csv"
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        targets.append((dev, "a character device"))
    before = listing(tmp_path)
    for target, kind in targets:
        with pytest.raises(UsageError) as info:
            PredictionWriter(target).__enter__()
        assert info.value.exit_code == 2
        assert info.value.message.startswith(f"{target}: not a regular file ({kind}): ")
        assert "leave it out to write CSV to stdout" in info.value.message
    assert listing(tmp_path) == before
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_symlink_stays_a_link_to_the_new_output(tmp_path: Path, preds: pa.Table) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "preds.csv"
    real.write_text("old")
    link = tmp_path / "preds.csv"
    link.symlink_to(real)
    with PredictionWriter(link) as w:
        w.write(preds)
    assert link.is_symlink() and pacsv.read_csv(real).num_rows == 3
    assert files_in(tmp_path / "real") == ["preds.csv"]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda t: (t / "d.csv").mkdir(), "is a directory, expected an output file name"),
        (lambda t: (t / "f").write_text(""), "cannot create its folder: "),
    ],
    ids=["a-folder", "a-file-in-the-path"],
)
def test_unusable_paths_are_exit_2_before_anything_is_written(
    tmp_path: Path, make: Callable[[Path], object], fragment: str
) -> None:
    make(tmp_path)
    target = tmp_path / "d.csv" if "directory" in fragment else tmp_path / "f" / "x" / "p.csv"
    with pytest.raises(UsageError) as info:
        PredictionWriter(target).__enter__()
    assert info.value.exit_code == 2 and fragment in info.value.message


def test_a_name_too_long_and_a_folder_without_write_permission_are_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for target in (tmp_path / ("n" * 300 + ".csv"), tmp_path / ("n" * 300) / "p.csv"):
        with pytest.raises(SigmoidnetError) as info:
            PredictionWriter(target).__enter__()
        assert info.value.exit_code == 2 and "too long" in info.value.message
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(UsageError) as info:
        PredictionWriter(tmp_path / "new" / "p.csv").__enter__()
    assert info.value.exit_code == 2
    assert info.value.message.endswith(f"cannot create files in {tmp_path} (permission denied)")
    assert listing(tmp_path) == []


def test_an_interrupt_while_the_output_is_opened_leaves_nothing(
    tmp_path: Path, preds: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sigmoidnet.io.writers as writers_mod

    real = writers_mod.atomic_path

    @contextlib.contextmanager
    def interrupted(path: Any, **kw: Any) -> Any:
        with real(path, **kw) as tmp:  # the temporary file exists, then Ctrl-C
            raise KeyboardInterrupt
            yield tmp

    monkeypatch.setattr(writers_mod, "atomic_path", interrupted)
    out = tmp_path / "new" / "sub" / "p.csv"
    with pytest.raises(KeyboardInterrupt), PredictionWriter(str(out)) as w:
        w.write(preds)
    assert files_in(tmp_path) == []
