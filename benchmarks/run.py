"""`make bench`: how fast sigmoidnet is, against honest baselines, in one run.

    python -m benchmarks.run            # full run (6–8 minutes on 2 CPU cores)
    python -m benchmarks.run --quick    # short smoke run (smaller N, fewer repeats)
    python -m benchmarks.run --strict   # exit 1 when a target fails or a section errors
    python -m benchmarks.run --quick --only mixed   # one section (repeatable)

Prints a table of measurements and the targets (PASS/FAIL with the measured ratio) and writes
everything, raw samples included, to `bench-results/bench.json`. Generated data files live in
a temporary folder that is deleted afterwards. Each section is independent: one that fails is
reported (and recorded under "errors") and the others still run.

The workload (every section): a synthetic learnable table (benchmarks/problem.py) of N rows ×
64 float32 features → 2 labels; the tutorial's model 64→128→2 with ReLU, batch 1024, Adam with
lr 1e-3, seed 0; torch's default thread count (nothing is pinned).

Sections (timings are medians of repeats taken in alternation, after a warm-up; the best
repeat is recorded too — on a shared machine other work only ever adds time, so when the load
average recorded in the JSON is high, the best-repeat ratios are the steadier figures), each
described in its module's docstring, benchmarks/sections/<name>.py:
- startup: `sigmoidnet --help`, `sigmoidnet activate 1.0 2.0` and `import torch` start-up;
- sgemm: the machine's float32 `torch.mm` peak;
- throughput: epochs of sigmoidnet's engine (through `prepare` and `fit`), of the careful
  hand-written loop and of the idiomatic DataLoader loop; rows/s, GFLOP/s, share of the peak;
- checkpoint: what saving the resumable state at every epoch's end costs, as a share of
  training time (target: at most 3%);
- cuda (only when `torch.cuda.is_available()`): the engine in fp32 and bf16 and the
  hand-written loop on the GPU;
- load: sigmoidnet's `load_dataset` against pandas and pyarrow readers (csv and parquet);
- mixed: `load_dataset` on a real-world-shaped CSV of its own (numbers with empty cells, text
  columns, yes/no labels) against `pandas.read_csv` + scikit-learn's `ColumnTransformer`
  (median imputation with indicators, top-50 one-hot): time and peak RSS;
- command: the whole `sigmoidnet train` process against `benchmarks/standalone_train.py`:
  wall time and peak RSS;
- predict: the whole `sigmoidnet predict` process, Parquet to Parquet: rows/s;
- ddp: `train --nproc 2` (2 processes × 1 thread) against one process × 2 threads: rows/s,
  wall time and the largest process's peak RSS (reported, not gated);
- scaling: engine epoch seconds per million rows at three table sizes.

The shared pieces: benchmarks/harness.py (plan, results, targets, timing and child-process
helpers, report), benchmarks/files.py (the generated data files and configs) and
benchmarks/internals.py (the bench's only in-process calls into sigmoidnet).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.files import make_files
from benchmarks.harness import FULL, QUICK, REPO, Plan, Results, meta, print_report, progress
from benchmarks.sections import (
    checkpoint,
    command,
    cuda,
    ddp,
    load,
    mixed,
    predict,
    scaling,
    sgemm,
    startup,
    throughput,
)

SECTIONS = (
    "startup",
    "sgemm",
    "throughput",
    "checkpoint",
    "cuda",
    "load",
    "mixed",
    "command",
    "predict",
    "ddp",
    "scaling",
)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="one-minute smoke run")
    ap.add_argument("--strict", action="store_true", help="exit 1 on a failed target or error")
    ap.add_argument("--rows", type=int, default=None, help="rows of the main table")
    ap.add_argument("--mixed-rows", type=int, default=None, help="rows of the mixed table")
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
    if args.mixed_rows:
        plan = Plan(**{**plan.__dict__, "mixed_rows": args.mixed_rows})
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
        progress(f"{name} …")
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
            progress(f"{name} done in {timings[name]:.1f} s (1-min load {load_after})")

    # SIGTERM (a CI timeout, say) unwinds like Ctrl-C: the running child is killed by
    # subprocess.run and the temporary folder with its data files (GBs) is deleted
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory(prefix="sigmoidnet-bench-") as tmp:
        root = Path(tmp)
        guarded("startup", lambda: startup.run(plan, res))
        needs_files = wanted & {
            "throughput",
            "checkpoint",
            "cuda",
            "load",
            "command",
            "predict",
            "ddp",
        }
        files = (
            guarded("files", lambda: make_files(root, plan.rows, res), always=True)
            if needs_files
            else None
        )
        if needs_files and files is None:
            wanted -= needs_files
        guarded("sgemm", lambda: sgemm.run(plan, res))
        guarded("throughput", lambda: throughput.run(plan, files, res))
        guarded("checkpoint", lambda: checkpoint.run(plan, files, res))
        guarded("cuda", lambda: cuda.run(plan, files, res))
        guarded("load", lambda: load.run(plan, files, res))
        guarded("mixed", lambda: mixed.run(plan, root, res))
        model = guarded("command", lambda: command.run(plan, files, res))
        if model is not None:
            guarded("predict", lambda: predict.run(plan, files, model, res))
        elif "predict" in wanted:
            res.errors["predict"] = "skipped: the train command gave no model"
        guarded("ddp", lambda: ddp.run(plan, files, res))
        if files is not None:  # free the disk before the scaling tables are written
            for p in (files.npz, files.parquet, files.csv):
                p.unlink(missing_ok=True)
            files.problem = None
            gc.collect()
        guarded("scaling", lambda: scaling.run(plan, root, res))

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
