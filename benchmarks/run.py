"""`make bench`: how fast sigmoidnet is, against honest baselines, in one run.

    python -m benchmarks.run            # full run (4–6 minutes on 2 CPU cores)
    python -m benchmarks.run --quick    # one-minute smoke run (smaller N, fewer repeats)
    python -m benchmarks.run --strict   # exit 1 when a target fails or a section errors

Prints a table of measurements and the targets (PASS/FAIL with the measured ratio) and writes
everything, raw samples included, to `bench-results/bench.json`. Generated data files live in
a temporary folder that is deleted afterwards. Each section is independent: one that fails is
reported (and recorded under "errors") and the others still run.

The workload (every section): a synthetic learnable table (benchmarks/problem.py) of N rows ×
64 float32 features → 2 labels; the tutorial's model 64→128→2 with ReLU, batch 1024, Adam with
lr 1e-3, seed 0; torch's default thread count (nothing is pinned).

Sections (timings are medians of repeats taken in alternation, after a warm-up; the best
repeat is recorded too — on a shared machine other work only ever adds time, so when the load
average recorded in the JSON is high, the best-repeat ratios are the steadier figures):
- startup: `sigmoidnet --help`, `sigmoidnet activate 1.0 2.0` and `python -c "import torch"`,
  each a fresh process.
- sgemm: the machine's float32 `torch.mm` peak (workload-shaped and square; the best counts).
- throughput: epochs of sigmoidnet's engine, driven through its public path (`prepare` on an
  .npz of the table, then `fit`, timed by `fit` itself from before the epoch to its one host
  sync; epoch 1 is the warm-up), of the careful hand-written loop and of the idiomatic
  DataLoader loop, one epoch of each in turn from `fit`'s on_epoch callback; rows/s, GFLOP/s
  and share of the sgemm peak. FLOPs per epoch = 6·N·P, P = 64·128 + 128·2 = 8448 weights
  (2·P forward + 4·P backward per row, the usual convention; biases and elementwise ops not
  counted). The backward pass really needs 2·P + 2·128·2 flops per row (no gradient is taken
  for the input), so the executed work is ≈ 4.06·N·P: 6·N·P overstates it by about a third.
- load: sigmoidnet's `load_dataset` (csv and parquet; val_fraction 0, normalize none, so
  it returns the float32 arrays and no more) against `pandas.read_csv`, `pyarrow.csv` and
  `pyarrow.parquet.read_table`, raw and with conversion to float32 (N, F) + (N, L) arrays;
  warm page cache (the files were just written).
- command: the whole `sigmoidnet train --config C --quiet` process on the Parquet file, 3
  epochs, against `benchmarks/standalone_train.py` (pyarrow + the hand-written loop): wall
  time and peak RSS of each fresh child (through `benchmarks/spawn.py`, so that the bench's
  own memory is not counted). Same work in both: every row trains (`val_fraction: 0.0`, so
  neither has a validation pass), standard normalization fitted on the training rows
  (sigmoidnet's default; the script does it the same way, chunked float64), same model, seed,
  batch size and optimizer; both save the final weights.
- predict: `sigmoidnet predict` with the model of the train run on the same Parquet file (its
  label columns are ignored), to a Parquet file, end to end (process start included): rows/s.
- scaling: engine epoch seconds per million rows at 100k, 1M and 4M rows (nested tables of
  one teacher, .npz through `prepare` and `fit`), and the ratio of per-row times 4M/100k.
- cuda (only when `torch.cuda.is_available()`): the engine in fp32 and bf16 and the
  hand-written loop on the GPU (the same code; nothing to change on a GPU machine).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
N_FEATURES, HIDDEN, N_LABELS = 64, 128, 2
BATCH, LR, SEED = 1024, 1e-3, 0
PARAMS = N_FEATURES * HIDDEN + HIDDEN * N_LABELS  # 8448 weights
FLOPS_PER_ROW = 6 * PARAMS
FLOPS_FORMULA = "6·N·(64·128 + 128·2) per epoch (2·P forward + 4·P backward per row)"


# =============================================================================================
# plan


@dataclass(frozen=True)
class Plan:
    quick: bool
    rows: int  # the main table
    # repeats: at least *_reps; while a series is noisy (see `noisy`), up to *_reps_max
    engine_reps: int  # timed epochs of the engine and of the hand-written loop
    engine_reps_max: int
    idiomatic_reps: int
    load_reps: int
    load_reps_max: int
    command_reps: int
    command_reps_max: int
    command_epochs: int
    predict_reps: int
    startup_reps: int
    scaling_sizes: tuple[int, ...]
    scaling_seconds: float  # wanted timed seconds per scaling size
    scaling_min_epochs: int  # timed epochs per size: at least this many, at most 20
    sgemm_seconds: float


FULL = Plan(
    quick=False,
    rows=1_000_000,
    engine_reps=7,
    engine_reps_max=13,
    idiomatic_reps=2,
    load_reps=3,
    load_reps_max=5,
    command_reps=3,
    command_reps_max=5,
    command_epochs=3,
    predict_reps=2,
    startup_reps=7,
    scaling_sizes=(100_000, 1_000_000, 4_000_000),
    scaling_seconds=5.0,
    scaling_min_epochs=5,
    sgemm_seconds=0.6,
)
QUICK = Plan(
    quick=True,
    rows=100_000,
    engine_reps=3,
    engine_reps_max=3,
    idiomatic_reps=1,
    load_reps=1,
    load_reps_max=1,
    command_reps=1,
    command_reps_max=1,
    command_epochs=3,
    predict_reps=1,
    startup_reps=3,
    scaling_sizes=(20_000, 100_000, 400_000),
    scaling_seconds=1.0,
    scaling_min_epochs=3,
    sgemm_seconds=0.2,
)


# =============================================================================================
# results


@dataclass
class Target:
    name: str
    ratio: float | None
    op: str  # "<=" or ">="
    limit: float
    detail: str

    @property
    def passed(self) -> bool | None:
        if self.ratio is None or not math.isfinite(self.ratio):
            return None
        return self.ratio >= self.limit if self.op == ">=" else self.ratio <= self.limit


@dataclass
class Results:
    data: dict[str, Any] = field(default_factory=dict)
    # (section, measurement, value, note): the rows of the printed table
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def row(self, section: str, what: str, value: str, note: str = "") -> None:
        self.rows.append((section, what, value, note))


def _progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


NOISY_SPREAD = 1.5


def noisy(*series: Sequence[float]) -> bool:
    """True when a series' slowest repeat took over 1.5× its fastest: other work on the
    machine got in the way, so the bench takes more repeats (up to the plan's maximum)."""
    return any(len(xs) >= 2 and max(xs) > NOISY_SPREAD * min(xs) for xs in series)


def _more(done: int, least: int, most: int, *series: Sequence[float]) -> bool:
    return done < least or (done < most and noisy(*series))


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fmt_rate(rows_per_s: float) -> str:
    return f"{rows_per_s / 1e6:.3f} M rows/s" if rows_per_s >= 1e5 else f"{rows_per_s:,.0f} rows/s"


def _fmt_n(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


# =============================================================================================
# subprocesses


@dataclass
class Child:
    wall_s: float
    maxrss_mb: float | None
    rc: int
    stderr: str


def run_child(cmd: Sequence[str], cwd: Path | None = None) -> Child:
    """Run `cmd` as a fresh process: wall time and its own peak RSS, measured by the small
    `benchmarks/spawn.py` launcher (see there why the bench does not spawn it directly)."""
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        result, err_path = Path(tmp) / "result.json", Path(tmp) / "stderr"
        launcher = [sys.executable, "-S", str(REPO / "benchmarks" / "spawn.py"), str(result)]
        with open(err_path, "wb") as err:
            # a process group of its own, so that an interrupted bench can end the launcher
            # and the command it runs together
            proc = subprocess.Popen(
                [*launcher, *cmd],
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=cwd,
                start_new_session=os.name == "posix",
            )
            try:
                proc.wait()
            except BaseException:
                if os.name == "posix":
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                else:  # pragma: no cover
                    proc.kill()
                proc.wait()
                raise
        text = err_path.read_text("utf-8", "replace")
        if proc.returncode != 0 or not result.exists():
            return Child(math.nan, None, proc.returncode or 1, text[-2000:])
        r = json.loads(result.read_text())
    return Child(float(r["wall_s"]), r["maxrss_bytes"] / 2**20, int(r["rc"]), text[-2000:])


def _checked(child: Child, what: str) -> Child:
    if child.rc != 0:
        raise RuntimeError(f"{what} exited {child.rc}: {child.stderr.strip()[-600:]}")
    return child


def sigmoidnet_exe() -> str:
    exe = Path(sys.executable).parent / ("sigmoidnet.exe" if os.name == "nt" else "sigmoidnet")
    if not exe.exists():
        raise RuntimeError(f"{exe} not found: install the package (make install)")
    return str(exe)


# =============================================================================================
# files and configs


@dataclass
class Files:
    root: Path
    rows: int
    npz: Path
    parquet: Path
    csv: Path
    problem: Any  # benchmarks.problem.Problem, kept for the in-process loops


def make_files(root: Path, rows: int, res: Results) -> Files:
    from benchmarks.problem import make_problem, write_csv, write_npz, write_parquet

    t0 = time.perf_counter()
    p = make_problem(rows, N_FEATURES, N_LABELS, seed=SEED)
    gen_s = time.perf_counter() - t0
    out = {}
    timings = {}
    for name, writer in (("npz", write_npz), ("parquet", write_parquet), ("csv", write_csv)):
        t0 = time.perf_counter()
        out[name] = writer(p, root / f"table-{rows}.{name}")
        timings[name] = time.perf_counter() - t0
    sizes = {k: v.stat().st_size for k, v in out.items()}
    res.data["problem"] = {
        "rows": rows,
        "features": N_FEATURES,
        "labels": N_LABELS,
        "positive_share": [round(float(v), 4) for v in p.y.mean(axis=0)],
        "teacher": "x ~ N(0,1); y = [tanh(x@W1)@W2 + 0.5·noise > 0], W1: 64×32, W2: 32×2",
        "generate_s": gen_s,
        "write_s": timings,
        "file_bytes": sizes,
    }
    mb = ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sizes.items())
    res.row("problem", f"{_fmt_n(rows)} × {N_FEATURES} → {N_LABELS}", f"{gen_s:.1f} s", mb)
    return Files(root, rows, out["npz"], out["parquet"], out["csv"], p)


def write_config(path: Path, data: dict[str, Any], **extra: Any) -> Path:
    import yaml

    cfg = {
        "name": "bench",
        "seed": SEED,
        "device": extra.pop("device", "cpu"),
        "data": data,
        "model": {"hidden_sizes": [HIDDEN], "activation": "relu"},
        "train": {
            "epochs": extra.pop("epochs", 1),
            "batch_size": BATCH,
            "lr": LR,
            "optimizer": "adam",
        },
        "out_dir": str(extra.pop("out_dir", path.parent / "runs")),
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def npz_config(path: Path, npz: Path) -> Path:
    return write_config(
        path, {"source": "npz", "path": str(npz), "val_fraction": 0.0, "normalize": "none"}
    )


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# =============================================================================================
# sections


def section_startup(plan: Plan, res: Results) -> None:
    exe = sigmoidnet_exe()
    cmds = {
        "sigmoidnet --help": [exe, "--help"],
        "sigmoidnet activate 1.0 2.0": [exe, "activate", "1.0", "2.0"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    for name, cmd in cmds.items():  # warm-up: page cache, .pyc files
        _checked(run_child(cmd), name)
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(plan.startup_reps):  # alternate: noise hits every command alike
        for name, cmd in cmds.items():
            samples[name].append(_checked(run_child(cmd), name).wall_s)
    med = {k: median(v) for k, v in samples.items()}
    torch_s = med['python -c "import torch"']
    out: dict[str, Any] = {}
    for name in cmds:
        r = _ratio(med[name], torch_s)
        out[name] = {"samples_s": samples[name], "median_s": med[name], "vs_import_torch": r}
        note = "" if name.startswith("python") else f"{r:.3f}× import torch"
        res.row("startup", name, f"{med[name] * 1000:.0f} ms", note)
    res.data["startup"] = out
    act = out["sigmoidnet activate 1.0 2.0"]["vs_import_torch"]
    res.targets.append(
        Target(
            "activate start-up ≤ 0.15× import torch",
            act,
            "<=",
            0.15,
            f"{med['sigmoidnet activate 1.0 2.0'] * 1000:.0f} ms vs {torch_s * 1000:.0f} ms",
        )
    )


def section_sgemm(plan: Plan, res: Results) -> None:
    from benchmarks.baselines import sgemm_peak

    rates = sgemm_peak(BATCH, N_FEATURES, HIDDEN, min_seconds=plan.sgemm_seconds)
    best = max(rates, key=lambda r: r.gflops)
    res.data["sgemm"] = {
        "rates_gflops": {r.shape: r.gflops for r in rates},
        "peak_gflops": best.gflops,
        "peak_shape": best.shape,
    }
    for r in rates:
        res.row("sgemm", f"torch.mm {r.shape}", f"{r.gflops:.1f} GFLOP/s", "")
    res.row("sgemm", "peak (best)", f"{best.gflops:.1f} GFLOP/s", best.shape)


class _Enough(Exception):
    """Raised from `fit`'s on_epoch callback to end a measurement."""


def drive_engine(
    cfg_path: Path,
    device: str,
    after_epoch: Callable[[list[tuple[float, float]]], bool],
    overrides: Sequence[str] = (),
    max_epochs: int = 1000,
) -> list[tuple[float, float]]:
    """Run sigmoidnet's engine through its public path — `prepare`, then `fit` — and collect
    (train seconds, train loss) per epoch from the rows `fit` reports (its own timing: from
    before `train_epoch` to after the epoch's one host sync). `after_epoch(samples)` runs
    after every epoch (the baselines take their interleaved turn there) and returns False to
    stop. Driving `fit` itself means the bench measures whatever the engine does (thread
    policy, fused or hand-derived steps, ...) without depending on its internals."""
    from sigmoidnet.config import load_config
    from sigmoidnet.training import fit, prepare

    cfg = load_config(cfg_path, [*overrides, f"train.epochs={max_epochs}"])
    setup = prepare(cfg, device)
    n = int(setup.x_train.shape[0])
    samples: list[tuple[float, float]] = []

    def on_epoch(row: dict[str, Any]) -> None:
        rps = row.get("rows_per_s")
        seconds = n / rps if rps else float(row["seconds"])
        samples.append((seconds, float(row["train_loss"])))
        if not after_epoch(samples):
            raise _Enough

    with contextlib.suppress(_Enough):
        fit(setup, on_epoch=on_epoch)
    del setup
    gc.collect()
    return samples


def _time_epoch(loop: Any) -> tuple[float, float]:
    """Seconds of one epoch, and its loss; reading the loss is the epoch's host sync."""
    t0 = time.perf_counter()
    loss = float(loop.epoch())
    return time.perf_counter() - t0, loss


def _loop_stats(n: int, samples: Sequence[float], losses: Sequence[float]) -> dict[str, Any]:
    med, best = median(samples), min(samples)
    return {
        "epoch_s": list(samples),
        "median_epoch_s": med,
        "best_epoch_s": best,
        "rows_per_s": n / med,
        "best_rows_per_s": n / best,
        "gflops": n / med * FLOPS_PER_ROW / 1e9,
        "peak_share": None,
        "losses": list(losses),
    }


def section_throughput(plan: Plan, files: Files, res: Results) -> None:
    import torch

    from benchmarks.baselines import HandWrittenLoop, IdiomaticLoop

    cfg_path = npz_config(files.root / "engine.yaml", files.npz)
    x, y = torch.from_numpy(files.problem.x), torch.from_numpy(files.problem.y)
    hand = HandWrittenLoop(x, y, batch_size=BATCH, lr=LR, seed=SEED)
    idiom = IdiomaticLoop(x, y, batch_size=BATCH, lr=LR, seed=SEED)
    names = ("sigmoidnet engine", "hand-written loop", "idiomatic DataLoader loop")
    samples: dict[str, list[float]] = {k: [] for k in names}
    losses: dict[str, list[float]] = {k: [] for k in names}
    threads: list[int] = []
    _progress("  warm-up: hand-written loop (1 epoch), idiomatic loop (200 batches)")
    losses["hand-written loop"].append(_time_epoch(hand)[1])
    idiom.epoch(max_batches=200)

    def after_epoch(engine: list[tuple[float, float]]) -> bool:
        # epoch 1 of the engine is its warm-up; then one epoch of each loop in turn, so
        # that the machine's noise falls on all of them alike
        if len(engine) > 1:
            r = len(engine) - 2
            threads.append(torch.get_num_threads())
            for name, loop, reps in (
                ("hand-written loop", hand, plan.engine_reps_max),
                ("idiomatic DataLoader loop", idiom, plan.idiomatic_reps),
            ):
                if r < reps:
                    dt, loss = _time_epoch(loop)
                    samples[name].append(dt)
                    losses[name].append(loss)
        timed = [s for s, _ in engine[1:]]
        return _more(
            len(timed),
            plan.engine_reps,
            plan.engine_reps_max,
            timed,
            samples["hand-written loop"],
        )

    engine = drive_engine(cfg_path, "cpu", after_epoch)
    samples["sigmoidnet engine"] = [s for s, _ in engine[1:]]
    losses["sigmoidnet engine"] = [loss for _, loss in engine]
    peak = res.data.get("sgemm", {}).get("peak_gflops")
    out: dict[str, Any] = {
        "rows": files.rows,
        "flops_per_epoch": FLOPS_PER_ROW * files.rows,
        "flops_formula": FLOPS_FORMULA,
        "torch_threads_during_fit": sorted(set(threads)),
        "order": "engine epoch (via fit), hand-written epoch, idiomatic epoch, repeated",
    }
    for name in names:
        st = _loop_stats(files.rows, samples[name], losses[name])
        st["peak_share"] = _ratio(st["gflops"], peak)
        out[name] = st
        share = f", {st['peak_share']:.1%} of sgemm peak" if st["peak_share"] else ""
        res.row(
            "throughput",
            f"{name} ({_fmt_n(files.rows)} rows)",
            _fmt_rate(st["rows_per_s"]),
            f"median {st['median_epoch_s']:.2f} s/epoch (best {st['best_epoch_s']:.2f}),"
            f" {st['gflops']:.1f} GFLOP/s{share}; loss {losses[name][-1]:.3f}",
        )
    eng, hw, idm = (out[k] for k in names)
    ratios = {
        "engine/idiomatic": _ratio(eng["rows_per_s"], idm["rows_per_s"]),
        "engine/hand_written": _ratio(eng["rows_per_s"], hw["rows_per_s"]),
        "engine/idiomatic (best epochs)": _ratio(eng["best_rows_per_s"], idm["best_rows_per_s"]),
        "engine/hand_written (best epochs)": _ratio(eng["best_rows_per_s"], hw["best_rows_per_s"]),
    }
    out["ratios"] = ratios
    res.data["throughput"] = out
    for key in ("engine/idiomatic", "engine/hand_written"):
        res.row(
            "throughput",
            key.replace("_", "-"),
            f"{ratios[key]:.3f}×",
            f"rows/s ratio of medians (of best epochs: {ratios[key + ' (best epochs)']:.3f}×)",
        )
    res.targets.append(
        Target(
            "engine ≥ 6× the idiomatic loop",
            ratios["engine/idiomatic"],
            ">=",
            6.0,
            f"median epoch rows/s (best epochs: {ratios['engine/idiomatic (best epochs)']:.2f}×)",
        )
    )
    res.targets.append(
        Target(
            "engine ≥ 1.0× the hand-written loop",
            ratios["engine/hand_written"],
            ">=",
            1.0,
            "median epoch rows/s"
            f" (best epochs: {ratios['engine/hand_written (best epochs)']:.3f}×)",
        )
    )
    gc.collect()


def section_cuda(plan: Plan, files: Files, res: Results, device: str = "cuda") -> None:
    """GPU rows: the engine in fp32 and bf16 (autocast) and the hand-written loop, each
    epoch interleaved as on the CPU. `device` is a parameter so that tests can run this
    code on the CPU."""
    import torch

    on_gpu = device.startswith("cuda")
    if on_gpu and not torch.cuda.is_available():
        res.data["cuda"] = None
        res.row("cuda", "engine on cuda (fp32, bf16)", "skipped", "torch.cuda.is_available() False")
        return
    from benchmarks.baselines import HandWrittenLoop

    cfg_path = npz_config(files.root / "engine-gpu.yaml", files.npz)
    x, y = torch.from_numpy(files.problem.x), torch.from_numpy(files.problem.y)
    hand = HandWrittenLoop(x, y, batch_size=BATCH, lr=LR, seed=SEED, device=device)
    _time_epoch(hand)  # warm-up
    reps = max(plan.engine_reps, 3)
    samples: dict[str, list[float]] = {"hand-written fp32": []}

    def after_epoch(engine: list[tuple[float, float]]) -> bool:
        if len(engine) > 1:
            samples["hand-written fp32"].append(_time_epoch(hand)[0])
        return len(engine) < 1 + reps

    for name, overrides in (("engine fp32", []), ("engine bf16", ["train.precision=bf16"])):
        engine = drive_engine(cfg_path, device, after_epoch, overrides)
        samples[name] = [s for s, _ in engine[1:]]
    out: dict[str, Any] = {
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if on_gpu else platform.processor(),
        "rows": files.rows,
    }
    for name, xs in samples.items():
        st = _loop_stats(files.rows, xs, [])
        out[name] = st
        res.row(
            "cuda",
            f"{name} on {device} ({_fmt_n(files.rows)} rows)",
            _fmt_rate(st["rows_per_s"]),
            f"median {st['median_epoch_s']:.3f} s/epoch, {st['gflops']:.0f} GFLOP/s",
        )
    hand_rps = out["hand-written fp32"]["rows_per_s"]
    for name in ("engine fp32", "engine bf16"):
        r = _ratio(out[name]["rows_per_s"], hand_rps)
        out[name]["vs_hand_written_fp32"] = r
        res.row("cuda", f"{name} / hand-written fp32", f"{r:.2f}×", "rows/s ratio of medians")
    res.data["cuda"] = out
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()


def _float32_columns(table: Any, names: Sequence[str], batch_rows: int = 65536) -> Any:
    """(N, len(names)) float32 from an Arrow table, filled in row slices (cache-friendly)."""
    import numpy as np

    from benchmarks.standalone_train import columns_to_float32

    out = np.empty((table.num_rows, len(names)), dtype=np.float32)
    for start in range(0, table.num_rows, batch_rows):
        columns_to_float32(table.slice(start, batch_rows), names, out, start)
    return out


def section_load(plan: Plan, files: Files, res: Results) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from sigmoidnet.config import load_config
    from sigmoidnet.data import load_dataset

    features = [f"f{j}" for j in range(N_FEATURES)]
    labels = [f"y{j}" for j in range(N_LABELS)]

    def sigmoidnet_loader(source: str, path: Path) -> Callable[[], dict[str, float]]:
        cfg_path = write_config(
            files.root / f"load-{source}.yaml",
            {
                "source": source,
                "path": str(path),
                "labels": labels,
                "val_fraction": 0.0,
                "normalize": "none",
            },
        )
        cfg = load_config(cfg_path)

        def run() -> dict[str, float]:
            t0 = time.perf_counter()
            ds = load_dataset(cfg)
            dt = time.perf_counter() - t0
            assert ds.x_train.shape == (files.rows, N_FEATURES)
            return {"read+float32": dt}

        return run

    def pandas_csv() -> dict[str, float]:
        t0 = time.perf_counter()
        df = pd.read_csv(files.csv)
        t1 = time.perf_counter()
        x = df[features].to_numpy(dtype=np.float32)
        y = df[labels].to_numpy(dtype=np.float32)
        t2 = time.perf_counter()
        assert x.shape == (files.rows, N_FEATURES) and y.shape[1] == N_LABELS
        return {"read": t1 - t0, "read+float32": t2 - t0}

    def arrow_csv() -> dict[str, float]:
        t0 = time.perf_counter()
        table = pacsv.read_csv(files.csv)
        t1 = time.perf_counter()
        _float32_columns(table, features), _float32_columns(table, labels)
        return {"read": t1 - t0, "read+float32": time.perf_counter() - t0}

    def arrow_parquet() -> dict[str, float]:
        t0 = time.perf_counter()
        table = pq.read_table(files.parquet)
        t1 = time.perf_counter()
        _float32_columns(table, features), _float32_columns(table, labels)
        return {"read": t1 - t0, "read+float32": time.perf_counter() - t0}

    cases: dict[str, dict[str, Callable[[], dict[str, float]]]] = {
        "csv": {
            "sigmoidnet load_dataset": sigmoidnet_loader("csv", files.csv),
            "pandas.read_csv": pandas_csv,
            "pyarrow.csv.read_csv": arrow_csv,
        },
        "parquet": {
            "sigmoidnet load_dataset": sigmoidnet_loader("parquet", files.parquet),
            "pyarrow.parquet.read_table": arrow_parquet,
        },
    }
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        fmt: {name: {} for name in c} for fmt, c in cases.items()
    }
    done = 0
    while done == 0 or _more(
        done,
        plan.load_reps,
        plan.load_reps_max,
        samples["csv"]["sigmoidnet load_dataset"]["read+float32"],
        samples["csv"]["pandas.read_csv"]["read"],
    ):
        done += 1
        for fmt, c in cases.items():
            for name, fn in c.items():
                for k, v in fn().items():
                    samples[fmt][name].setdefault(k, []).append(v)
                gc.collect()
    out: dict[str, Any] = {}
    for fmt, c in samples.items():
        out[fmt] = {}
        for name, kinds in c.items():
            out[fmt][name] = {k: {"samples_s": v, "median_s": median(v)} for k, v in kinds.items()}
            for k, v in kinds.items():
                res.row(
                    "load",
                    f"{fmt}: {name} ({k})",
                    f"{median(v):.2f} s",
                    f"{files.rows / median(v) / 1e6:.2f} M rows/s",
                )
    snet_csv = out["csv"]["sigmoidnet load_dataset"]["read+float32"]["median_s"]
    pd_raw = out["csv"]["pandas.read_csv"]["read"]["median_s"]
    pd_full = out["csv"]["pandas.read_csv"]["read+float32"]["median_s"]
    snet_pq = out["parquet"]["sigmoidnet load_dataset"]["read+float32"]["median_s"]
    pq_raw = out["parquet"]["pyarrow.parquet.read_table"]["read"]["median_s"]
    pq_full = out["parquet"]["pyarrow.parquet.read_table"]["read+float32"]["median_s"]
    out["ratios"] = {
        "csv: sigmoidnet / pandas.read_csv": _ratio(snet_csv, pd_raw),
        "csv: sigmoidnet / pandas.read_csv+float32": _ratio(snet_csv, pd_full),
        "parquet: sigmoidnet / pyarrow read_table": _ratio(snet_pq, pq_raw),
        "parquet: sigmoidnet / pyarrow read_table+float32": _ratio(snet_pq, pq_full),
    }
    for k, v in out["ratios"].items():
        res.row("load", k, f"{v:.2f}×", "time ratio (lower is faster)")
    res.data["load"] = out
    csv_best = min(out["csv"]["sigmoidnet load_dataset"]["read+float32"]["samples_s"]) / min(
        out["csv"]["pandas.read_csv"]["read"]["samples_s"]
    )
    out["ratios"]["csv: sigmoidnet / pandas.read_csv (best runs)"] = csv_best
    res.targets.append(
        Target(
            "CSV load no slower than pandas.read_csv",
            _ratio(snet_csv, pd_raw),
            "<=",
            1.0,
            f"median time ratio, {snet_csv:.2f} s vs {pd_raw:.2f} s for the raw read (no"
            f" float32 conversion); best runs: {csv_best:.3f}×",
        )
    )


def section_command(plan: Plan, files: Files, res: Results) -> Path:
    """`sigmoidnet train` vs the standalone script; returns the trained model's path."""
    device = default_device()
    labels = [f"y{j}" for j in range(N_LABELS)]
    runs = files.root / "runs"
    cfg_path = write_config(
        files.root / "train.yaml",
        {
            "source": "parquet",
            "path": str(files.parquet),
            "labels": labels,
            "val_fraction": 0.0,
            "normalize": "standard",
        },
        epochs=plan.command_epochs,
        device=device,
        out_dir=runs,
    )
    train_cmd = [
        sigmoidnet_exe(),
        "train",
        "--config",
        str(cfg_path),
        "--quiet",
        "--out",
        str(runs),
    ]
    script_cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "standalone_train.py"),
        "--data",
        str(files.parquet),
        "--labels",
        *labels,
        "--epochs",
        str(plan.command_epochs),
        "--batch-size",
        str(BATCH),
        "--lr",
        str(LR),
        "--seed",
        str(SEED),
        "--device",
        device,
        "--normalize",
        "standard",
        "--out",
        str(files.root / "standalone.pt"),
    ]
    cmds = {"sigmoidnet train": train_cmd, "standalone script": script_cmd}
    samples: dict[str, list[Child]] = {k: [] for k in cmds}
    while _more(
        len(samples["sigmoidnet train"]),
        plan.command_reps,
        plan.command_reps_max,
        *([k.wall_s for k in kids] for kids in samples.values()),
    ):
        for name, cmd in cmds.items():
            samples[name].append(_checked(run_child(cmd), name))
    out: dict[str, Any] = {
        "epochs": plan.command_epochs,
        "rows": files.rows,
        "device": device,
        "work": "val_fraction 0.0 (no validation), normalize standard, 3 epochs, save weights",
    }
    for name, kids in samples.items():
        walls = [k.wall_s for k in kids]
        rss = [k.maxrss_mb for k in kids if k.maxrss_mb is not None]
        out[name] = {
            "wall_s": walls,
            "median_wall_s": median(walls),
            "best_wall_s": min(walls),
            "maxrss_mb": rss,
            "median_maxrss_mb": median(rss) if rss else None,
        }
        mem = f"{median(rss):.0f} MB peak RSS" if rss else "peak RSS n/a"
        res.row(
            "command",
            f"{name} ({plan.command_epochs} epochs)",
            f"{median(walls):.2f} s",
            f"median of {len(walls)} (best {min(walls):.2f} s); {mem}",
        )
    t, s = out["sigmoidnet train"], out["standalone script"]
    wall_r = _ratio(t["median_wall_s"], s["median_wall_s"])
    best_r = _ratio(t["best_wall_s"], s["best_wall_s"])
    mem_r = _ratio(t["median_maxrss_mb"], s["median_maxrss_mb"])
    out["ratios"] = {"wall": wall_r, "wall (best runs)": best_r, "peak_rss": mem_r}
    res.data["command"] = out
    res.row("command", "train / standalone wall", f"{wall_r:.3f}×", f"of best runs: {best_r:.3f}×")
    res.row("command", "train / standalone peak RSS", f"{mem_r:.3f}×" if mem_r else "n/a", "")
    res.targets.append(
        Target(
            "train command wall ≤ 1.15× standalone",
            wall_r,
            "<=",
            1.15,
            f"median whole-process wall (best runs: {best_r:.3f}×)",
        )
    )
    res.targets.append(
        Target("train command peak RSS ≤ 1.3× standalone", mem_r, "<=", 1.3, "median ru_maxrss")
    )
    models = sorted(runs.glob("*/model.safetensors"))
    if not models:
        raise RuntimeError(f"no model.safetensors under {runs}")
    return models[-1]


def section_predict(plan: Plan, files: Files, model: Path, res: Results) -> None:
    cmd = [
        sigmoidnet_exe(),
        "predict",
        "--checkpoint",
        str(model),
        "--data",
        str(files.parquet),
        "--out",
        str(files.root / "pred.parquet"),
    ]
    kids = [_checked(run_child(cmd), "sigmoidnet predict") for _ in range(plan.predict_reps)]
    import pyarrow.parquet as pq

    n_out = pq.read_metadata(files.root / "pred.parquet").num_rows
    if n_out != files.rows:
        raise RuntimeError(f"predict wrote {n_out} rows, expected {files.rows}")
    walls = [k.wall_s for k in kids]
    rps = files.rows / median(walls)
    res.data["predict"] = {
        "wall_s": walls,
        "median_wall_s": median(walls),
        "rows_per_s": rps,
        "maxrss_mb": [k.maxrss_mb for k in kids],
        "what": "whole process: start, read Parquet, normalize, forward, sigmoid, write Parquet",
        "input": "the table's Parquet file (64 feature columns; the 2 label columns ignored)",
    }
    res.row(
        "predict",
        f"sigmoidnet predict ({_fmt_n(files.rows)} rows, parquet → parquet)",
        _fmt_rate(rps),
        f"{median(walls):.2f} s end to end",
    )


def section_scaling(plan: Plan, root: Path, res: Results) -> None:
    from benchmarks.problem import make_problem, write_npz

    sizes = plan.scaling_sizes
    big = make_problem(max(sizes), N_FEATURES, N_LABELS, seed=SEED)
    paths = {}
    for n in sizes:  # rows [:n] of the largest table: one teacher, nested tables
        paths[n] = write_npz(type(big)(big.x[:n], big.y[:n]), root / f"scale-{n}.npz")
    del big
    gc.collect()
    out: dict[str, Any] = {"sizes": list(sizes)}
    for n in sizes:

        def enough(engine: list[tuple[float, float]]) -> bool:
            timed = [s for s, _ in engine[1:]]  # epoch 1 is the warm-up
            if len(timed) < plan.scaling_min_epochs:
                return True
            return len(timed) < 20 and sum(timed) < plan.scaling_seconds

        engine = drive_engine(npz_config(root / f"scale-{n}.yaml", paths[n]), "cpu", enough)
        samples = [s for s, _ in engine[1:]]
        per_m = median(samples) / n * 1e6
        best_m = min(samples) / n * 1e6
        out[str(n)] = {"epoch_s": samples, "s_per_million_rows": per_m, "best_s_per_M": best_m}
        res.row(
            "scaling",
            f"engine at {_fmt_n(n)} rows",
            f"{per_m:.3f} s / M rows",
            f"median of {len(samples)} epochs (best {best_m:.3f})",
        )
        paths[n].unlink()
    lo, hi = sizes[0], sizes[-1]
    r = _ratio(out[str(hi)]["s_per_million_rows"], out[str(lo)]["s_per_million_rows"])
    r_best = _ratio(out[str(hi)]["best_s_per_M"], out[str(lo)]["best_s_per_M"])
    out["ratio_largest_smallest"] = r
    out["ratio_largest_smallest_best"] = r_best
    res.data["scaling"] = out
    res.row(
        "scaling",
        f"per-row time {_fmt_n(hi)} / {_fmt_n(lo)}",
        f"{r:.3f}×",
        f"of best epochs: {r_best:.3f}×",
    )
    res.targets.append(
        Target(
            f"per-row epoch time at {_fmt_n(hi)} within 20% of {_fmt_n(lo)}",
            r,
            "<=",
            1.2,
            f"median epoch time ratio (best epochs: {r_best:.3f}×)",
        )
    )


# =============================================================================================
# output


def print_report(res: Results, plan: Plan, json_path: Path) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency
        for r in res.rows:
            print(" | ".join(r))
        for t in res.targets:
            print(_target_line(t))
        return
    con = Console(width=max(120, shutil.get_terminal_size((120, 20)).columns))
    title = f"sigmoidnet bench ({'quick' if plan.quick else 'full'}, N = {plan.rows:,})"
    table = Table(title=title, show_lines=False)
    for col in ("section", "measurement", "value", "note"):
        table.add_column(col, overflow="fold")
    last = None
    for section, what, value, note in res.rows:
        if last is not None and section != last:
            table.add_section()
        table.add_row(section if section != last else "", what, value, note)
        last = section
    con.print(table)
    tt = Table(title="targets (a bench reports; it does not gate unless --strict)")
    for col in ("target", "measured", "result", "detail"):
        tt.add_column(col, overflow="fold")
    for t in res.targets:
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "[yellow]n/a[/]"}
        measured = "n/a" if t.ratio is None else f"{t.ratio:.3f}×"
        tt.add_row(t.name, measured, verdict[t.passed], t.detail)
    for section, msg in res.errors.items():
        tt.add_row(f"section {section}", "", "[red]ERROR[/]", msg.splitlines()[-1][:200])
    con.print(tt)
    con.print(f"results: {json_path}")


def _target_line(t: Target) -> str:
    verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t.passed]
    measured = "n/a" if t.ratio is None else f"{t.ratio:.3f}x"
    return f"{verdict}  {t.name}: {measured} ({t.detail})"


def meta() -> dict[str, Any]:
    import numpy
    import torch

    from sigmoidnet import __version__

    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sigmoidnet": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "model": f"{N_FEATURES}→{HIDDEN}→{N_LABELS} relu",
        "batch_size": BATCH,
        "lr": LR,
        "seed": SEED,
        "flops_formula": FLOPS_FORMULA,
    }


SECTIONS = ("startup", "sgemm", "throughput", "cuda", "load", "command", "predict", "scaling")


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="one-minute smoke run")
    ap.add_argument("--strict", action="store_true", help="exit 1 on a failed target or error")
    ap.add_argument("--rows", type=int, default=None, help="rows of the main table")
    ap.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    ap.add_argument(
        "--json", type=Path, default=REPO / "bench-results" / "bench.json", help="results file"
    )
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.rows:
        plan = Plan(**{**plan.__dict__, "rows": args.rows})
    wanted = set(args.only or SECTIONS)
    if "predict" in wanted:
        wanted.add("command")  # predict uses the train run's model
    res = Results()
    started = time.perf_counter()
    res.data["meta"] = meta()
    res.data["meta"]["quick"] = plan.quick
    res.data["plan"] = dict(plan.__dict__)
    timings: dict[str, float] = {}
    loads: dict[str, tuple[float | None, float | None]] = {}

    def guarded(name: str, fn: Callable[[], Any], always: bool = False) -> Any:
        if name not in wanted and not always:
            return None
        _progress(f"{name} …")
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        t0 = time.perf_counter()
        try:
            return fn()
        except Exception as e:  # a bench reports what broke and carries on
            res.errors[name] = f"{type(e).__name__}: {e}"
            res.row(name, "ERROR", type(e).__name__, str(e).splitlines()[0][:100] if str(e) else "")
            traceback.print_exc()
            return None
        finally:
            timings[name] = time.perf_counter() - t0
            load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            loads[name] = (load_before, load_after)
            _progress(f"{name} done in {timings[name]:.1f} s (1-min load {load_after})")

    # SIGTERM (a CI timeout, say) unwinds like Ctrl-C: the running child is killed by
    # subprocess.run and the temporary folder with its data files (GBs) is deleted
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory(prefix="sigmoidnet-bench-") as tmp:
        root = Path(tmp)
        guarded("startup", lambda: section_startup(plan, res))
        needs_files = wanted & {"throughput", "cuda", "load", "command", "predict"}
        files = (
            guarded("files", lambda: make_files(root, plan.rows, res), always=True)
            if needs_files
            else None
        )
        if needs_files and files is None:
            wanted -= needs_files
        guarded("sgemm", lambda: section_sgemm(plan, res))
        guarded("throughput", lambda: section_throughput(plan, files, res))
        guarded("cuda", lambda: section_cuda(plan, files, res))
        guarded("load", lambda: section_load(plan, files, res))
        model = guarded("command", lambda: section_command(plan, files, res))
        if model is not None:
            guarded("predict", lambda: section_predict(plan, files, model, res))
        elif "predict" in wanted:
            res.errors["predict"] = "skipped: the train command gave no model"
        if files is not None:  # free the disk before the scaling tables are written
            for p in (files.npz, files.parquet, files.csv):
                p.unlink(missing_ok=True)
            files.problem = None
            gc.collect()
        guarded("scaling", lambda: section_scaling(plan, root, res))

    res.data["targets"] = [
        {
            "name": t.name,
            "measured_ratio": t.ratio,
            "op": t.op,
            "limit": t.limit,
            "pass": t.passed,
            "detail": t.detail,
        }
        for t in res.targets
    ]
    res.data["errors"] = res.errors
    res.data["section_seconds"] = timings
    res.data["load_average_1min_before_after"] = loads  # other work on the machine skews timings
    peak_load = max((v for pair in loads.values() for v in pair if v is not None), default=None)
    if peak_load is not None:
        res.row(
            "total",
            "machine 1-min load average (max seen)",
            f"{peak_load:.2f}",
            f"{os.cpu_count()} CPUs; above ~{os.cpu_count()} other work skews the timings",
        )
    res.data["elapsed_s"] = time.perf_counter() - started
    res.row("total", "bench wall time", f"{res.data['elapsed_s']:.0f} s", "")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res.data, indent=2, allow_nan=True) + "\n")
    print_report(res, plan, args.json)
    failed = any(t.passed is False for t in res.targets) or bool(res.errors)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
