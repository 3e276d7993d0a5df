"""startup: `sigmoidnet --help`, `sigmoidnet activate 1.0 2.0` and `python -c "import torch"`,
each a fresh process."""

from __future__ import annotations

import sys
from typing import Any

from benchmarks.harness import (
    Plan,
    Results,
    Target,
    checked,
    median,
    ratio,
    run_child,
    sigmoidnet_exe,
)


def run(plan: Plan, res: Results) -> None:
    exe = sigmoidnet_exe()
    cmds = {
        "sigmoidnet --help": [exe, "--help"],
        "sigmoidnet activate 1.0 2.0": [exe, "activate", "1.0", "2.0"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    for name, cmd in cmds.items():  # warm-up: page cache, .pyc files
        checked(run_child(cmd), name)
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(plan.startup_reps):  # alternate: noise hits every command alike
        for name, cmd in cmds.items():
            samples[name].append(checked(run_child(cmd), name).wall_s)
    med = {k: median(v) for k, v in samples.items()}
    torch_s = med['python -c "import torch"']
    out: dict[str, Any] = {}
    for name in cmds:
        r = ratio(med[name], torch_s)
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
