"""The bench's shared pieces: the workload's constants, the plan (full or quick), the results
and targets, the timing and child-process helpers, the report printing and the run's metadata.

The sections (benchmarks/sections/) measure; `benchmarks.run` runs them in order and writes
what they recorded here (`Results`) to bench-results/bench.json.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Sequence
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
    mixed_rows: int  # the mixed section's own table (numbers, text, yes/no)
    mixed_reps: int  # fresh children timing sigmoidnet's load + encode
    mixed_reps_max: int
    mixed_baseline_reps: int  # ... and pandas + ColumnTransformer (30+ s each at 1M rows)
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
    mixed_rows=1_000_000,
    mixed_reps=2,
    mixed_reps_max=4,
    mixed_baseline_reps=1,
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
    mixed_rows=100_000,
    mixed_reps=2,
    mixed_reps_max=2,
    mixed_baseline_reps=1,
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


def progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# =============================================================================================
# timing


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


NOISY_SPREAD = 1.5


def noisy(*series: Sequence[float]) -> bool:
    """True when a series' slowest repeat took over 1.5× its fastest: other work on the
    machine got in the way, so the bench takes more repeats (up to the plan's maximum)."""
    return any(len(xs) >= 2 and max(xs) > NOISY_SPREAD * min(xs) for xs in series)


def more(done: int, least: int, most: int, *series: Sequence[float]) -> bool:
    """Whether to take another repeat: fewer than `least` done, or a series is noisy and
    fewer than `most` done."""
    return done < least or (done < most and noisy(*series))


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def time_epoch(loop: Any) -> tuple[float, float]:
    """Seconds of one epoch, and its loss; reading the loss is the epoch's host sync."""
    t0 = time.perf_counter()
    loss = float(loop.epoch())
    return time.perf_counter() - t0, loss


def loop_stats(n: int, samples: Sequence[float], losses: Sequence[float]) -> dict[str, Any]:
    """The JSON record of a training loop's timed epochs over `n` rows."""
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


def fmt_rate(rows_per_s: float) -> str:
    return f"{rows_per_s / 1e6:.3f} M rows/s" if rows_per_s >= 1e5 else f"{rows_per_s:,.0f} rows/s"


def fmt_n(n: int) -> str:
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


def checked(child: Child, what: str) -> Child:
    if child.rc != 0:
        raise RuntimeError(f"{what} exited {child.rc}: {child.stderr.strip()[-600:]}")
    return child


def sigmoidnet_exe() -> str:
    exe = Path(sys.executable).parent / ("sigmoidnet.exe" if os.name == "nt" else "sigmoidnet")
    if not exe.exists():
        raise RuntimeError(f"{exe} not found: install the package (make install)")
    return str(exe)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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

    from benchmarks.internals import sigmoidnet_version

    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sigmoidnet": sigmoidnet_version(),
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
