"""Smoke tests of the speed harness's pieces (benchmarks/): tiny sizes, seconds in all.

They check that the problem is learnable and deterministic, that the baselines train, that
the child-process measurement reports the child's own peak memory, that the mixed section's
table has the shape it promises, and that a run of the harness itself writes its JSON report
— not how fast anything is.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import harness, run
from benchmarks.baselines import HandWrittenLoop, IdiomaticLoop, sgemm_peak
from benchmarks.files import MIXED_CARDINALITIES, make_files, npz_config, write_mixed_csv
from benchmarks.internals import checkpoint_cost
from benchmarks.problem import make_problem, write_csv, write_npz, write_parquet
from benchmarks.sections import checkpoint, cuda, mixed
from benchmarks.standalone_train import load_parquet, standardize_


def test_problem_is_deterministic_nested_and_balanced() -> None:
    a, b = make_problem(3000, seed=0), make_problem(1000, seed=0)
    assert a.x.shape == (3000, 64) and a.y.shape == (3000, 2)
    assert a.x.dtype == np.float32 and a.y.dtype == np.float32
    assert a.x.flags.c_contiguous
    np.testing.assert_array_equal(a.x[:1000], b.x)  # smaller tables are prefixes
    np.testing.assert_array_equal(a.y[:1000], b.y)
    assert set(np.unique(a.y)) <= {0.0, 1.0}
    assert np.all(np.abs(a.y.mean(axis=0) - 0.5) < 0.1)
    assert not np.array_equal(make_problem(1000, seed=1).y, b.y)


def test_problem_files_round_trip(tmp_path: Path) -> None:
    p = make_problem(500)
    write_npz(p, tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as z:
        np.testing.assert_array_equal(z["X"], p.x)
    write_parquet(p, tmp_path / "t.parquet")
    x, y = load_parquet(str(tmp_path / "t.parquet"), ["y0", "y1"], batch_rows=128)
    np.testing.assert_array_equal(x, p.x)
    np.testing.assert_array_equal(y, p.y)
    write_csv(p, tmp_path / "t.csv")
    header = (tmp_path / "t.csv").read_text().splitlines()[0]
    assert header.replace('"', "").split(",")[-3:] == ["f63", "y0", "y1"]


def test_standardize_matches_float64_reference() -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5000, 4)) * [1, 10, 100, 0] + [5, -3, 0, 7]).astype(np.float32)
    ref = x.astype(np.float64)
    std = ref.std(axis=0)
    std[std == 0] = 1.0
    ref = (ref - ref.mean(axis=0)) / std
    standardize_(x, chunk=777)
    np.testing.assert_allclose(x, ref, atol=1e-5)


def test_baseline_loops_learn() -> None:
    p = make_problem(4096)
    x, y = torch.from_numpy(p.x), torch.from_numpy(p.y)
    for loop in (
        HandWrittenLoop(x, y, batch_size=256, lr=1e-2),
        IdiomaticLoop(x, y, batch_size=256, lr=1e-2),
    ):
        losses = [float(loop.epoch()) for _ in range(4)]
        assert all(math.isfinite(v) for v in losses)
        assert losses[-1] < losses[0] < 0.75  # starts near log(2), then learns


def test_hand_written_loop_is_seeded() -> None:
    p = make_problem(2048)
    x, y = torch.from_numpy(p.x), torch.from_numpy(p.y)
    a, b = HandWrittenLoop(x, y, seed=3), HandWrittenLoop(x, y, seed=3)
    assert float(a.epoch()) == float(b.epoch())


def test_sgemm_peak_reports_positive_rates() -> None:
    rates = sgemm_peak(64, 16, 32, squares=(64,), min_seconds=0.01)
    assert len(rates) == 4
    assert all(r.gflops > 0 for r in rates)


def test_run_child_reports_its_own_peak_memory() -> None:
    ballast = np.ones(40 * 2**20 // 8)  # 40 MiB in this process must not count
    ballast[::512] = 2.0
    child = harness.run_child([sys.executable, "-c", "pass"])
    assert child.rc == 0 and child.wall_s > 0
    assert child.maxrss_mb is not None and child.maxrss_mb < 40
    fill = "b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    big = harness.run_child([sys.executable, "-c", fill])
    assert big.maxrss_mb is not None and big.maxrss_mb > 80
    failed = harness.run_child([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert failed.rc == 3
    with pytest.raises(RuntimeError, match="exited 3"):
        harness.checked(failed, "it")


def test_targets_pass_fail_and_missing() -> None:
    assert harness.Target("a", 6.5, ">=", 6.0, "").passed is True
    assert harness.Target("a", 5.9, ">=", 6.0, "").passed is False
    assert harness.Target("a", 1.1, "<=", 1.15, "").passed is True
    assert harness.Target("a", None, "<=", 1.15, "").passed is None
    assert harness.Target("a", math.nan, "<=", 1.15, "").passed is None


def test_harness_end_to_end_tiny(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    rc = run.main(["--quick", "--rows", "3000", "--only", "throughput", "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["errors"] == {}
    t = data["throughput"]
    for name in ("sigmoidnet engine", "hand-written loop", "idiomatic DataLoader loop"):
        assert t[name]["rows_per_s"] > 0
        assert all(math.isfinite(v) for v in t[name]["losses"])
    names = {d["name"] for d in data["targets"]}
    assert "engine ≥ 1.0× the hand-written loop" in names


def test_gpu_section_runs_its_code_on_the_cpu(tmp_path: Path) -> None:
    # the GPU rows cannot be measured here; run the same code with device="cpu"
    plan = harness.Plan(**{**harness.QUICK.__dict__, "rows": 2048, "engine_reps": 1})
    res = harness.Results()
    files = make_files(tmp_path, plan.rows, res)
    cuda.run(plan, files, res, device="cpu")
    out = res.data["cuda"]
    for name in ("engine fp32", "engine bf16", "hand-written fp32"):
        assert out[name]["rows_per_s"] > 0
    assert out["engine bf16"]["vs_hand_written_fp32"] > 0


def test_mixed_table_has_the_promised_shape(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    t = write_mixed_csv(tmp_path / "m.csv", 4000, seed=0)
    again = write_mixed_csv(tmp_path / "m2.csv", 4000, seed=0)
    assert t.path.read_bytes() == again.path.read_bytes()  # seeded
    text = t.path.read_text()
    assert '"' not in text and ",," in text  # unquoted; empty cells are empty fields
    df = pd.read_csv(t.path)
    assert list(df.columns[-1:]) == ["y"] and len(df) == 4000
    assert sorted(df.columns) == sorted([*t.numeric, *t.text, "y"])
    assert all(df[c].dtype == np.float64 for c in t.numeric)
    share = df[t.numeric].isna().mean()
    assert share.between(0.03, 0.07).all() and list(df[t.numeric].isna().sum()) == list(
        t.numeric_missing
    )
    assert [df[c].nunique() for c in t.text] == t.categories_seen
    assert all(s <= k for s, k in zip(t.categories_seen, MIXED_CARDINALITIES, strict=True))
    assert t.categories_seen[:4] == [2, 3, 5, 10] and t.categories_seen[-1] > 51
    assert t.other_share[-1] > 0.3  # the top-50 cap matters for the widest column
    assert df[t.text].notna().all().all()
    assert set(df["y"]) == {"yes", "no"} and abs((df["y"] == "yes").mean() - 0.5) < 0.05
    assert t.positive_share == (df["y"] == "yes").mean()


def test_mixed_baseline_encodes_to_the_promised_width(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    t = write_mixed_csv(tmp_path / "m.csv", 3000, seed=0)
    x, y, read_s = mixed.sklearn_encode(str(t.path), t.numeric, t.text, "y", "yes", False)
    assert x.shape == (3000, t.encoded_width) and x.dtype == np.float32
    assert x.flags.c_contiguous and read_s > 0
    assert np.isfinite(x).all()
    assert y.shape == (3000, 1) and int(y.sum()) == round(t.positive_share * 3000)
    onehot = x[:, 2 * len(t.numeric) :]
    np.testing.assert_array_equal(onehot.sum(axis=1), len(t.text))  # one slot per text column
    xs, _, _ = mixed.sklearn_encode(str(t.path), t.numeric, t.text, "y", "yes", True)
    assert xs.shape == x.shape and xs.dtype == np.float32
    np.testing.assert_array_equal(xs.toarray(), x)
    config = mixed.data_config(t)
    assert config["categorical"] == t.text and config["positive"] == {"y": "yes"}


@pytest.mark.parametrize(
    "numeric_only",
    [pytest.param(True, marks=pytest.mark.slow, id="numeric"), pytest.param(False, id="mixed")],
)
def test_mixed_section_tiny(tmp_path: Path, numeric_only: bool) -> None:
    # 2–3 fresh children, each importing torch or pandas + scikit-learn: 5–20 s a variant;
    # the plain numeric one (slow) checks the code of sigmoidnet's side on any sigmoidnet
    pytest.importorskip("sklearn")
    plan = harness.Plan(**{**harness.QUICK.__dict__, "mixed_rows": 3000, "mixed_reps": 1})
    res = harness.Results()
    mixed.run(plan, tmp_path, res, numeric_only=numeric_only)
    out = res.data["mixed"]
    dense = out["pandas + ColumnTransformer (dense)"]
    assert dense["median_s"] > 0 and dense["shape"] == [3000, out["expected_width"]]
    assert out["shapes"]["pandas + ColumnTransformer (dense) ok"]
    assert ("pandas + ColumnTransformer (sparse, info)" in out) is not numeric_only
    (target,) = [t for t in res.targets if t.name.startswith("mixed")]
    snet = out["sigmoidnet load_dataset"]
    if numeric_only or "error" not in snet:  # a plain numeric CSV: any sigmoidnet reads it
        assert res.errors == {}
        assert out["shapes"]["sigmoidnet load_dataset ok"]
        assert snet["dtype"] == "float32" and snet["layout"] == "dense"
        assert target.ratio is not None and target.ratio > 0
    else:  # text columns, empty cells and yes/no labels: until sigmoidnet reads them
        assert "sigmoidnet" in res.errors["mixed"] and target.passed is None
    assert not list(tmp_path.glob("*.csv"))  # the tables are deleted


def test_checkpoint_section_measures_a_real_state(tmp_path: Path) -> None:
    from sigmoidnet.engine.checkpoint import load_state

    plan = harness.Plan(**{**harness.QUICK.__dict__, "rows": 2048, "engine_reps": 1})
    res = harness.Results()
    files = make_files(tmp_path, plan.rows, res)
    samples = checkpoint_cost(npz_config(tmp_path / "c.yaml", files.npz), tmp_path / "s", 3)
    assert len(samples) == 3 and all(wall > ckpt > 0 for wall, ckpt in samples)
    state = load_state(tmp_path / "s")
    assert state["epoch"] == 3 and len(state["history"]) == 3  # the last epoch's state
    checkpoint.run(plan, files, res)
    out = res.data["checkpoint"]
    assert out["epochs_timed"] == 3 and out["state_bytes"] > 0 and out["cost"] > 0
    (target,) = [t for t in res.targets if t.name.startswith("checkpointing")]
    assert target.ratio == out["cost"]
    assert not (files.root / "bench-state").exists()


def test_real_tables_splits_partition_the_rows_and_differ_by_seed(tmp_path: Path) -> None:
    from benchmarks.real_tables import split

    src = tmp_path / "t.csv"
    src.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(400)))
    sets = []
    for seed in (0, 1):
        folder = tmp_path / f"s{seed}"
        folder.mkdir()
        train, test = split(src, folder, seed)
        a, b = train.read_text().splitlines(), test.read_text().splitlines()
        assert a[0] == b[0] == "a,y"
        assert sorted(a[1:] + b[1:]) == sorted(src.read_text().splitlines()[1:])
        assert 60 < len(b) - 1 < 140  # about a quarter held out
        sets.append(set(b[1:]))
    assert sets[0] != sets[1]
