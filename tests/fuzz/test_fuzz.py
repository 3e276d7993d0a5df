"""The fuzz suite (slow; `make test-slow`, run by CI): generated configs, data files and
tampered checkpoints through `train`, `eval` and `predict`. Every run must end with a
documented exit code; a failing run prints exactly one `error:` line and no traceback, and
writes nothing (no run directory, no output file, no new folder, no temporary file); every
run stays within a time and a memory bound (`harness.py`).

Seed and size: `SIGMOIDNET_FUZZ_SEED` (default 20261202) and `SIGMOIDNET_FUZZ_EXAMPLES`
(default 150 per test); the README's reliability section records a full run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as gen
from tests.fuzz.harness import check_outcome, listing, run_cli

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("SIGMOIDNET_FUZZ_SEED", "20261202"))
EXAMPLES = int(os.environ.get("SIGMOIDNET_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
    # shrinking re-runs a failing case many times over: opt in with SIGMOIDNET_FUZZ_SHRINK=1
    phases=[p for p in Phase if p != Phase.shrink or os.environ.get("SIGMOIDNET_FUZZ_SHRINK")],
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Fixed files the generated cases point at: a tiny valid CSV and Parquet, a model
    trained on it, a directory, /dev/zero, a FIFO, a binary file."""
    root = tmp_path_factory.mktemp("fuzz-world")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    lines = ["a,b,y"] + [f"{a:.5f},{b:.5f},{t}" for (a, b), t in zip(x, y, strict=True)]
    (root / "ok.csv").write_text("\n".join(lines) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "y": y}), root / "ok.parquet")
    (root / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (root / "folder").mkdir()
    os.mkfifo(root / "fifo.csv")
    cfg = root / "ok.yaml"
    cfg.write_text(
        f"data: {{source: csv, path: ok.csv, labels: [y]}}\ntrain: {{epochs: 2}}\n"
        f"out_dir: {root / 'runs'}\n"
    )
    out = run_cli(["train", "--config", str(cfg), "--quiet"])
    assert out.code == 0, out.describe()
    model = root / "runs" / "latest" / "model.safetensors"
    yield {
        "root": root,
        "csv": root / "ok.csv",
        "parquet": root / "ok.parquet",
        "model": model.resolve(),
        "fifo": root / "fifo.csv",
    }


def _case_dir(world: dict[str, Path]) -> Path:
    return Path(tempfile.mkdtemp(prefix="case-", dir=world["root"]))


def _data_paths(world: dict[str, Path]) -> list[str]:
    r = world["root"]
    return [
        str(r / "ok.csv"), str(r / "ok.parquet"), str(r / "junk.bin"), str(r / "folder"),
        str(r / "missing.csv"), "/dev/zero", str(r / "fifo.csv"), str(r / "ok.csv") + "/x",
    ]  # fmt: skip


def _assert_nothing_written_on_error(code: int, out_dir: Path) -> None:
    if code not in (0, 5):  # a diverged run keeps its last good model, by design
        assert listing(out_dir) == [], listing(out_dir)


@seed(SEED)
@FUZZ
@given(data=st.data())
def test_generated_configs(world: dict[str, Path], data: st.DataObject) -> None:
    case = _case_dir(world)
    text = data.draw(gen.config_texts(_data_paths(world)), label="config")
    cfg = case / "c.yaml"
    cfg.write_text(text, encoding="utf-8", errors="surrogateescape")
    out_dir = case / "out"
    o = run_cli(["train", "--config", str(cfg), "--out", str(out_dir), "--quiet"])
    check_outcome(o, {0, 2, 3, 5})
    _assert_nothing_written_on_error(o.code, out_dir)
    o = run_cli(["config", "show", "--config", str(cfg)])
    check_outcome(o, {0, 2})


def _write_data(case: Path, data: st.DataObject) -> Path:
    kind = data.draw(st.sampled_from(["csv", "csv", "parquet", "npz"]), label="format")
    if kind == "csv":
        path = case / data.draw(st.sampled_from(["d.csv", "d.tsv", "d.txt", "d.csv.gz", "d"]))
        path.write_bytes(data.draw(gen.csv_bytes(), label="csv"))
    elif kind == "parquet":
        path = case / "d.parquet"
        path.write_bytes(data.draw(gen.parquet_bytes(), label="parquet"))
    else:
        path = case / "d.npz"
        path.write_bytes(data.draw(gen.npz_bytes(), label="npz"))
    return path


@seed(SEED)
@FUZZ
@given(data=st.data())
def test_generated_data_files(world: dict[str, Path], data: st.DataObject) -> None:
    case = _case_dir(world)
    path = _write_data(case, data)
    source = {".parquet": "parquet", ".npz": "npz"}.get(path.suffix, "csv")
    labels = "" if source == "npz" else ", labels: [y]"
    frac = data.draw(st.sampled_from([0.0, 0.25]), label="val_fraction")
    cfg = case / "c.yaml"
    cfg.write_text(
        f"data: {{source: {source}, path: {path.name}{labels}, val_fraction: {frac}}}\n"
        "model: {hidden_sizes: [4]}\ntrain: {epochs: 1, batch_size: 8}\n"
    )
    out_dir = case / "out"
    o = run_cli(["train", "--config", str(cfg), "--out", str(out_dir), "--quiet"])
    check_outcome(o, {0, 3})
    _assert_nothing_written_on_error(o.code, out_dir)
    model = str(world["model"])
    o = run_cli(["eval", "--checkpoint", model, "--data", str(path), "--json"])
    check_outcome(o, {0, 3})
    target = case / "new" / "sub" / "p.parquet"
    o = run_cli(["predict", "--checkpoint", model, "--data", str(path), "--out", str(target)])
    check_outcome(o, {0, 3})
    if o.code != 0:
        assert not (case / "new").exists(), listing(case)


@seed(SEED)
@FUZZ
@given(data=st.data())
def test_tampered_checkpoints(world: dict[str, Path], data: st.DataObject) -> None:
    case = _case_dir(world)
    raw = world["model"].read_bytes()
    bad = case / "m.safetensors"
    bad.write_bytes(data.draw(gen.tampered_checkpoints(raw), label="checkpoint"))
    csv = str(world["csv"])
    o = run_cli(["eval", "--checkpoint", str(bad), "--data", csv, "--json"])
    check_outcome(o, {0, 3, 4})
    target = case / "p.csv"
    o = run_cli(["predict", "--checkpoint", str(bad), "--data", csv, "--out", str(target)])
    check_outcome(o, {0, 3, 4})
    if o.code != 0:
        assert listing(case) == ["m.safetensors"], listing(case)


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--checkpoint", "{fifo}", "--data", "{csv}"],
        ["eval", "--checkpoint", "/dev/zero", "--data", "{csv}"],
        ["predict", "--checkpoint", "{model}", "--data", "{fifo}"],
        ["predict", "--checkpoint", "{model}", "--data", "/dev/zero"],
        ["eval", "--run", "{fifo}"],
        ["train", "--config", "{fifo}"],
        ["train", "--config", "/dev/zero"],
    ],
)
def test_special_files_do_not_hang_or_blow_up(world: dict[str, Path], args: list[str]) -> None:
    names = {k: str(v) for k, v in world.items()}
    o = run_cli([a.format(**names) for a in args])
    check_outcome(o, {2, 3, 4})
