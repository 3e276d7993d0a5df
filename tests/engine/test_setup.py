"""`engine.prepare`: the memory estimate comes before any allocation, from the config for
random data and from the file's header for files; past the memory available it is exit 2,
naming the key, the estimate and the memory available."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from sigmoidnet.config import load_config
from sigmoidnet.data import dataset
from sigmoidnet.data.formats import csv_fast
from sigmoidnet.data.formats.csv import CsvReader
from sigmoidnet.engine import prepare, setup
from sigmoidnet.errors import ConfigError, UsageError
from sigmoidnet.limits import MEMORY_ENV
from tests.cli.util import invoke


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging or swapping) when the body runs past `seconds`."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def no_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything that would allocate the data or the model fails the test."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("allocated before the memory check refused")

    monkeypatch.setattr(torch, "rand", boom)
    monkeypatch.setattr(torch, "randint", boom)
    monkeypatch.setattr(setup, "MLP", boom)
    monkeypatch.setattr(csv_fast, "read_numeric", boom)
    monkeypatch.setattr(CsvReader, "table", boom)
    monkeypatch.setattr(dataset, "_split_part", boom)


def refused(cfg_overrides: list[str], path: Path | None = None) -> ConfigError:
    cfg = load_config(path, cfg_overrides)
    with deadline(5), pytest.raises(ConfigError) as exc:
        prepare(cfg, "cpu")
    assert exc.value.exit_code == 2
    assert "\n" not in exc.value.message
    return exc.value


@pytest.mark.usefixtures("no_allocation")
@pytest.mark.parametrize(
    ("overrides", "key", "what"),
    [
        (["data.n_samples=1000000000000"], "data.n_samples", "the data needs about 528.0 TB"),
        (["model.hidden_sizes=[1000000000]"], "model.hidden_sizes", "the model needs about 1.1 TB"),
        (["data.n_labels=1000000000000"], "data.n_labels", "the data needs about 256.0 TB"),
        (["data.n_features=1000000000000"], "data.n_features", "the data needs about 256.0 TB"),
        (
            ["data.n_features=100000", "model.hidden_sizes=[200000]"],
            "model.hidden_sizes",
            "the model needs about 320.0 GB (2e10 parameters, 16 bytes each",
        ),
        (
            ["data.n_samples=1000000", "train.batch_size=1000000", "model.hidden_sizes=[4096]"],
            "train.batch_size",
            "a batch needs about 49.9 GB (1e6 rows × 4,162 units)",
        ),
    ],
)
def test_random_data_past_memory_is_refused_before_allocation(
    monkeypatch: pytest.MonkeyPatch, overrides: list[str], key: str, what: str
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "8G")
    err = refused(overrides)
    assert err.where == key
    assert err.what.startswith(what), err.what
    assert err.what.endswith("but 8.0 GB is available")


def test_parts_that_fit_alone_but_not_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # the data 4.2 GB, the model 3.2 GB, a batch 1.2 GB: each fits in 6 GB, not all three
    monkeypatch.setenv(MEMORY_ENV, "6G")
    err = refused(["data.n_samples=8000000", "data.n_features=64", "model.hidden_sizes=[3000000]"])
    assert err.where == "data.n_samples"  # the largest part
    assert err.what == (
        "this run needs about 8.6 GB (the data 4.2 GB, the model 3.2 GB, a batch 1.2 GB)"
        " but 6.0 GB is available"
    )


def test_the_tutorial_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "100M")
    s = prepare(load_config(None), "cpu")
    assert s.x_train.shape == (32, 64)


def test_optimizer_state_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1e9 parameters: 16 GB with Adam's two moments, 8 GB with plain SGD
    sizes = ["data.n_features=1000", "model.hidden_sizes=[1000000]", "data.n_labels=1"]
    monkeypatch.setenv(MEMORY_ENV, "5G")
    assert refused(sizes).what.startswith("the model needs about 16.0 GB (1e9 parameters, 16 ")
    err = refused([*sizes, "train.optimizer=sgd"])
    assert err.what.startswith("the model needs about 8.0 GB (1e9 parameters, 8 bytes each")


def test_a_bad_memory_limit_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(UsageError) as exc:
        prepare(load_config(None), "cpu")
    assert exc.value.where == MEMORY_ENV and exc.value.exit_code == 2


# ---------------------------------------------------------------------------------------------
# Files: the sizes from the header, before the values are read


def file_config(tmp_path: Path, source: str, path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "f.yaml"
    labels = "" if source == "npz" else "  labels: [a, b]\n"
    cfg.write_text(
        f"device: cpu\ndata:\n  source: {source}\n  path: {path.name}\n{labels}{extra}"
        "model:\n  hidden_sizes: [16]\n"
    )
    return cfg


def test_csv_rows_are_counted_before_refusing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, learnable_csv: Path
) -> None:
    # 400 rows × 8 used columns: ~26 KB of data. The file size alone bounds the rows to
    # ~7,500 (~480 KB), too much for 100 KB, so the line ends are counted: it fits.
    features = "  features: [f0, f1, f2, f3, f4, f5]\n"
    cfg = file_config(tmp_path, "csv", learnable_csv, features)
    monkeypatch.setenv(MEMORY_ENV, "100K")
    assert prepare(load_config(cfg), "cpu").x_train.shape == (320, 6)
    monkeypatch.setenv(MEMORY_ENV, "20K")
    monkeypatch.setattr(csv_fast, "read_numeric", pytest.fail)
    err = refused([], cfg)
    assert err.where == str(learnable_csv)
    assert err.what.startswith("the data needs about 25.7 KB (402 rows × 8 values")


@pytest.mark.usefixtures("no_allocation")
def test_file_model_past_memory_is_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, learnable_csv: Path
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "8G")
    cfg = file_config(tmp_path, "csv", learnable_csv, "  features: [f0, f1, f2, f3, f4, f5]\n")
    err = refused(["model.hidden_sizes=[1000000000]"], cfg)
    assert err.where == "model.hidden_sizes"
    assert err.what.startswith("the model needs about 144.0 GB (9e9 parameters")


@pytest.mark.usefixtures("no_allocation")
def test_parquet_rows_come_from_its_footer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    n = 100_000
    table = pa.table({"x": np.zeros(n, np.float32), "a": np.zeros(n), "b": np.ones(n)})
    pq.write_table(table, tmp_path / "t.parquet")
    monkeypatch.setenv(MEMORY_ENV, "1M")
    err = refused([], file_config(tmp_path, "parquet", tmp_path / "t.parquet"))
    assert err.where == str(tmp_path / "t.parquet")
    assert err.what.startswith("the data needs about 2.4 MB (100,000 rows × 3 values")


def test_npz_model_is_checked_before_it_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    x, y = np.zeros((50, 3), np.float32), np.zeros((50, 2), np.float32)
    np.savez(tmp_path / "t.npz", X=x, y=y)
    monkeypatch.setenv(MEMORY_ENV, "1G")
    cfg = file_config(tmp_path, "npz", tmp_path / "t.npz")
    monkeypatch.setattr(setup, "MLP", pytest.fail)
    err = refused(["model.hidden_sizes=[1000000000]"], cfg)
    assert err.where == "model.hidden_sizes"
    monkeypatch.setenv(MEMORY_ENV, "1K")
    err = refused([], cfg)
    assert err.where == str(tmp_path / "t.npz")
    assert err.what.startswith("the data needs about 2.0 KB (50 rows × 5 values")


@pytest.mark.usefixtures("no_allocation")
def test_val_path_rows_add_to_the_training_rows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def table(n: int) -> pa.Table:
        return pa.table({"x": np.zeros(n, np.float32), "a": np.zeros(n), "b": np.ones(n)})

    pq.write_table(table(100_000), tmp_path / "t.parquet")
    pq.write_table(table(300_000), tmp_path / "v.parquet")
    cfg = file_config(tmp_path, "parquet", tmp_path / "t.parquet", "  val_path: v.parquet\n")
    monkeypatch.setenv(MEMORY_ENV, "5M")  # 2.4 MB for the training rows, 9.6 MB with both
    err = refused([], cfg)
    assert err.where == str(tmp_path / "v.parquet")  # the file with the most rows
    assert err.what.startswith("the data needs about 9.6 MB (400,000 rows × 3 values")


# ---------------------------------------------------------------------------------------------
# The command


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["data.n_samples=1000000000000"], "error: data.n_samples: the data needs about 528.0 TB"),
        (["model.hidden_sizes=[1000000000]"], "error: model.hidden_sizes: the model needs"),
        (["data.n_labels=1000000000000"], "error: data.n_labels: the data needs about"),
    ],
)
def test_train_refuses_in_one_line_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, overrides: list[str], line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MEMORY_ENV, "8G")
    (tmp_path / "c.yaml").write_text("device: cpu\n")
    args = ["train", "--config", "c.yaml"]
    for item in overrides:
        args += ["--set", item]
    start = time.monotonic()
    with deadline(20):
        code, stdout, stderr = invoke(*args)
    assert time.monotonic() - start < 20
    assert code == 2
    assert stderr.startswith(line), stderr
    assert stderr.endswith("but 8.0 GB is available\n")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stdout == ""
    assert not (tmp_path / "runs").exists()
