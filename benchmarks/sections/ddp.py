"""ddp: data-parallel training on this machine — `sigmoidnet train --nproc 2` (2 processes ×
1 thread, gloo) against `sigmoidnet train` (1 process, torch's default threads: 2 here), on
the bench workload's table written as Parquet in row groups of 65,536 rows (so that each rank
can read only the row groups of its rows: the bench's own file is one 1M-row group),
`command_epochs` epochs, no validation rows. Rows/s
is the engine's own figure (`rows_per_s` in metrics.jsonl, the median over the epochs: the
processes' start-up and the data loading left out); wall time is the whole command's; the
peak RSS is that of the largest process of each command (the launcher or a worker: on Linux
`wait4` reports the largest of a process and the descendants it waited for).

It also times the all-reduce each step adds, alone: the model's gradient in one flat float32
buffer (8,578 values, 34 kB) between 2 gloo processes on the loopback, ms per all-reduce.

It reports and does not gate: on 2 cores, 2 processes have no cores to gain, and the
all-reduce competes with them for the same cores. The README turns the all-reduce volume per
step into a projection for N machines."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from benchmarks.files import Files, parquet_train_config
from benchmarks.harness import (
    HIDDEN,
    N_FEATURES,
    N_LABELS,
    Child,
    Plan,
    Results,
    checked,
    fmt_rate,
    median,
    ratio,
    run_child,
    sigmoidnet_exe,
)

GROUP_ROWS = 65536


def _rows_per_s(runs: Path) -> float:
    (run,) = [p for p in runs.iterdir() if p.is_dir() and not p.is_symlink()]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x]
    return median([float(r["rows_per_s"]) for r in rows])


def _allreduce_worker(rank: int, world: int, port: int, values: int, out: str) -> None:
    import time

    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    buf = torch.ones(values)
    for _ in range(50):  # warm-up
        dist.all_reduce(buf)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(200):
            dist.all_reduce(buf)
        times.append((time.perf_counter() - t0) / 200 * 1e3)
    if rank == 0:
        Path(out).write_text(json.dumps(times))
    dist.destroy_process_group()


def _allreduce_ms(values: int, folder: Path) -> list[float]:
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    out = folder / "allreduce.json"
    mp.spawn(_allreduce_worker, args=(2, port, values, str(out)), nprocs=2, join=True)
    times: list[float] = json.loads(out.read_text())
    return times


def run(plan: Plan, files: Files, res: Results) -> None:
    from benchmarks.problem import write_parquet

    assert files.problem is not None
    table = write_parquet(files.problem, files.root / "ddp.parquet", row_group_rows=GROUP_ROWS)
    files = dataclasses.replace(files, parquet=table)
    out: dict[str, Any] = {
        "epochs": plan.command_epochs,
        "rows": files.rows,
        "row_group_rows": GROUP_ROWS,
    }
    for name, nproc in (("1 process × 2 threads", None), ("2 processes × 1 thread", 2)):
        runs = files.root / f"ddp-runs-{nproc or 1}"
        cfg = parquet_train_config(
            files.root / f"ddp-{nproc or 1}.yaml", files, plan.command_epochs, "cpu", runs
        )
        cmd = [sigmoidnet_exe(), "train", "--config", str(cfg), "--quiet", "--out", str(runs)]
        if nproc is not None:
            cmd += ["--nproc", str(nproc)]
        env_before = os.environ.pop("OMP_NUM_THREADS", None)  # each command's own default
        try:
            child: Child = checked(run_child(cmd), name)
        finally:
            if env_before is not None:
                os.environ["OMP_NUM_THREADS"] = env_before
        rate = _rows_per_s(runs)
        out[name] = {"rows_per_s": rate, "wall_s": child.wall_s, "maxrss_mb": child.maxrss_mb}
        mem = f"{child.maxrss_mb:.0f} MB peak RSS (largest process)" if child.maxrss_mb else ""
        res.row("ddp", name, fmt_rate(rate), f"whole command {child.wall_s:.1f} s; {mem}")
    one, two = out["1 process × 2 threads"], out["2 processes × 1 thread"]
    r = ratio(two["rows_per_s"], one["rows_per_s"])
    out["ratio_rows_per_s"] = r
    res.row("ddp", "2 processes / 1 process rows/s", f"{r:.3f}×" if r else "n/a", "reported only")
    values = N_FEATURES * HIDDEN + HIDDEN + HIDDEN * N_LABELS + N_LABELS
    times = _allreduce_ms(values, files.root)
    out["allreduce"] = {
        "values": values,
        "bytes": values * 4,
        "ms": times,
        "median_ms": median(times),
    }
    res.row(
        "ddp",
        f"gloo all-reduce of the gradient ({values * 4 / 1000:.1f} kB), 2 processes",
        f"{median(times):.3f} ms",
        f"median of {len(times)} × 200 (best {min(times):.3f} ms); one per step",
    )
    res.data["ddp"] = out
    table.unlink(missing_ok=True)
