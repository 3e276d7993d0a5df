"""`sigmoidnet.limits`: the figures, the memory available and the estimates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sigmoidnet import limits
from sigmoidnet.errors import UsageError
from sigmoidnet.limits import (
    MEMORY_ENV,
    Need,
    available_memory,
    data_need,
    file_rows,
    format_bytes,
    format_count,
    memory_problem,
    model_memory_problem,
    model_needs,
    model_parameters,
    parse_size,
)


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 bytes"
    assert format_bytes(999) == "999 bytes"
    assert format_bytes(16e9) == "16.0 GB"
    assert format_bytes(11.2e9) == "11.2 GB"
    assert format_bytes(1_500_000) == "1.5 MB"
    assert format_bytes(5.28e14) == "528.0 TB"
    assert format_bytes(1e30) == "1.0e+12 EB"


def test_format_count() -> None:
    assert format_count(8578) == "8,578"
    assert format_count(4_000_000_000) == "4e9"
    assert format_count(1_290_000_000_000) == "1.29e12"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1048576", 1048576),
        ("512M", 512_000_000),
        ("2G", 2_000_000_000),
        ("2gb", 2_000_000_000),
        ("1.5GiB", int(1.5 * 2**30)),
        ("64 KiB", 65536),
        ("0", None),
        ("none", None),
        ("off", None),
        ("", None),
    ],
)
def test_parse_size(text: str, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1G", "2X", "1e9"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="expected a size"):
        parse_size(text)


def test_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "3G")
    assert available_memory() == 3_000_000_000
    monkeypatch.setenv(MEMORY_ENV, "0")
    assert available_memory() is None
    monkeypatch.setenv(MEMORY_ENV, "plenty")
    with pytest.raises(UsageError) as exc:
        available_memory()
    assert exc.value.exit_code == 2
    assert exc.value.message == (
        "SIGMOIDNET_MEMORY_LIMIT: expected a size such as 2G, 512MiB or 1048576 bytes, got 'plenty'"
    )


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only")
def test_available_memory_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    avail = available_memory()
    assert avail is not None and avail > 0
    meminfo = limits._mem_available_linux()
    assert meminfo is not None and avail <= meminfo


def test_cgroup_limit_is_the_tightest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    monkeypatch.setattr(limits, "_mem_available_linux", lambda: 64 * 10**9)
    monkeypatch.setattr(limits, "_cgroup_room", lambda: 3 * 10**9)
    assert available_memory() == 3 * 10**9
    monkeypatch.setattr(limits, "_cgroup_room", lambda: None)
    assert available_memory() == 64 * 10**9


def test_model_parameters() -> None:
    assert model_parameters(64, [128], 2) == 64 * 128 + 128 + 128 * 2 + 2
    assert model_parameters(30, [], 1) == 31  # logistic regression
    assert model_parameters(10, [5, 7], 3) == (10 * 5 + 5) + (5 * 7 + 7) + (7 * 3 + 3)


def test_model_needs_training_counts_gradients_and_adam() -> None:
    inference = model_needs(64, [128], 2)[0]
    adam = model_needs(64, [128], 2, optimizer="adam")[0]
    sgd = model_needs(64, [128], 2, optimizer="sgd")[0]
    momentum = model_needs(64, [128], 2, optimizer="sgd", momentum=0.9)[0]
    p = model_parameters(64, [128], 2)
    assert (inference.nbytes, adam.nbytes, sgd.nbytes, momentum.nbytes) == (
        4 * p,
        16 * p,
        8 * p,
        12 * p,
    )


def test_model_needs_blame_the_larger_side_of_the_largest_layer() -> None:
    keys = ("data.n_features", "model.hidden_sizes", "data.n_labels")
    assert model_needs(64, [10**9], 2, keys=keys)[0].key == "model.hidden_sizes"
    assert model_needs(10**9, [128], 2, keys=keys)[0].key == "data.n_features"
    assert model_needs(64, [128], 10**12, keys=keys)[0].key == "data.n_labels"


def test_data_need() -> None:
    need = data_need(10**12, 64, 2)
    assert need.key == "data.n_samples"
    assert need.nbytes == 10**12 * 66 * 4 * 2
    assert data_need(32, 64, 10**12).key == "data.n_labels"
    assert data_need(32, 10**12, 2).key == "data.n_features"


def test_memory_problem_names_the_part_that_is_too_much() -> None:
    needs = [Need("a", "the data", 10, "d"), Need("b", "the model", 40, "4e9 parameters")]
    assert memory_problem(needs, None) is None
    assert memory_problem(needs, 50) is None
    key, msg = memory_problem(needs, 30) or ("", "")
    assert key == "b"
    assert msg == "the model needs about 40 bytes (4e9 parameters) but 30 bytes is available"
    # neither part alone, but both together
    key, msg = memory_problem(needs, 45) or ("", "")
    assert key == "b"
    assert msg == (
        "this run needs about 50 bytes (the data 10 bytes, the model 40 bytes)"
        " but 45 bytes is available"
    )


def test_model_memory_problem_for_a_checkpoint_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "11.2G")
    assert model_memory_problem(30, [128], 1) is None
    msg = model_memory_problem(64, [4 * 10**9 // 67], 2)  # 67 parameters per unit
    assert msg is not None
    assert msg.startswith("the model needs about 16.0 GB (4e9 parameters) but 11.2 GB")
    monkeypatch.setenv(MEMORY_ENV, "0")
    assert model_memory_problem(64, [10**12], 2) is None  # the check turned off


def test_rows_from_headers(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": np.arange(1234.0), "y": np.zeros(1234)}), tmp_path / "t.pq")
    assert file_rows("parquet", str(tmp_path / "t.pq"), 2) == 1234
    np.savez(tmp_path / "t.npz", X=np.zeros((77, 3), np.float32), y=np.zeros(77))
    assert file_rows("npz", str(tmp_path / "t.npz"), 4) == 77
    # a CSV: at most one row per `n_columns` bytes; counted exactly past `enough`
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,y\n" + "1.25,2.5,0\n" * 100)
    size = csv.stat().st_size
    assert file_rows("csv", str(csv), 3) == size // 3
    assert file_rows("csv", str(csv), 3, enough=10) == 102  # 101 line ends, one more
    # unknown: compressed, or not the format (its reader says so, in its own words)
    (tmp_path / "t.csv.gz").write_bytes(b"\x1f\x8b\x08\x00rest")
    assert file_rows("csv", str(tmp_path / "t.csv.gz"), 3) is None
    assert file_rows("parquet", str(csv), 3) is None
    assert file_rows("npz", str(csv), 3) is None
    with zipfile.ZipFile(tmp_path / "no-x.npz", "w") as z:
        z.writestr("y.npy", b"")
    assert file_rows("npz", str(tmp_path / "no-x.npz"), 3) is None


def test_the_module_imports_no_heavy_library() -> None:
    code = (
        "import sys, sigmoidnet.limits; "
        "print(sorted(m for m in ('numpy', 'torch', 'pyarrow', 'yaml', 'pydantic')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_soft_address_space_limit_counts_as_the_memory_available() -> None:
    import resource

    code = (
        "import resource, os\n"
        "os.environ.pop('SIGMOIDNET_MEMORY_LIMIT', None)\n"
        "from sigmoidnet.limits import available_memory\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 40, resource.RLIM_INFINITY))\n"
        "big = available_memory()\n"
        "st = open('/proc/self/status').read().split('VmSize:')[1]\n"
        "vm = int(st.split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), resource.RLIM_INFINITY))\n"
        "small = available_memory()\n"
        "print(small <= (1 << 30), small < big)\n"
    )
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        pytest.skip("a hard address-space limit is already set")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
