"""command: the whole `sigmoidnet train --config C --quiet` process on the Parquet file, 3
epochs, against `benchmarks/standalone_train.py` (pyarrow + the hand-written loop): wall time
and peak RSS of each fresh child (through `benchmarks/spawn.py`, so that the bench's own
memory is not counted). Same work in both: every row trains (`val_fraction: 0.0`, so neither
has a validation pass), standard normalization fitted on the training rows (sigmoidnet's
default; the script does it the same way, chunked float64), same model, seed, batch size and
optimizer; both save the final weights."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks.files import Files, parquet_train_config
from benchmarks.harness import (
    BATCH,
    LR,
    N_LABELS,
    REPO,
    SEED,
    Child,
    Plan,
    Results,
    Target,
    checked,
    default_device,
    median,
    more,
    ratio,
    run_child,
    sigmoidnet_exe,
)


def run(plan: Plan, files: Files, res: Results) -> Path:
    """`sigmoidnet train` vs the standalone script; returns the trained model's path."""
    device = default_device()
    labels = [f"y{j}" for j in range(N_LABELS)]
    runs = files.root / "runs"
    cfg_path = parquet_train_config(
        files.root / "train.yaml", files, plan.command_epochs, device, runs
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
    while more(
        len(samples["sigmoidnet train"]),
        plan.command_reps,
        plan.command_reps_max,
        *([k.wall_s for k in kids] for kids in samples.values()),
    ):
        for name, cmd in cmds.items():
            samples[name].append(checked(run_child(cmd), name))
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
    wall_r = ratio(t["median_wall_s"], s["median_wall_s"])
    best_r = ratio(t["best_wall_s"], s["best_wall_s"])
    mem_r = ratio(t["median_maxrss_mb"], s["median_maxrss_mb"])
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
