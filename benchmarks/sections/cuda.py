"""cuda (only when `torch.cuda.is_available()`): the engine in fp32 and bf16 and the
hand-written loop on the GPU (the same code; nothing to change on a GPU machine)."""

from __future__ import annotations

import gc
import platform
from typing import Any

from benchmarks.files import Files, npz_config
from benchmarks.harness import (
    BATCH,
    LR,
    SEED,
    Plan,
    Results,
    fmt_n,
    fmt_rate,
    loop_stats,
    ratio,
    time_epoch,
)
from benchmarks.internals import drive_engine


def run(plan: Plan, files: Files, res: Results, device: str = "cuda") -> None:
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
    time_epoch(hand)  # warm-up
    reps = max(plan.engine_reps, 3)
    samples: dict[str, list[float]] = {"hand-written fp32": []}

    def after_epoch(engine: list[tuple[float, float]]) -> bool:
        if len(engine) > 1:
            samples["hand-written fp32"].append(time_epoch(hand)[0])
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
        st = loop_stats(files.rows, xs, [])
        out[name] = st
        res.row(
            "cuda",
            f"{name} on {device} ({fmt_n(files.rows)} rows)",
            fmt_rate(st["rows_per_s"]),
            f"median {st['median_epoch_s']:.3f} s/epoch, {st['gflops']:.0f} GFLOP/s",
        )
    hand_rps = out["hand-written fp32"]["rows_per_s"]
    for name in ("engine fp32", "engine bf16"):
        r = ratio(out[name]["rows_per_s"], hand_rps)
        out[name]["vs_hand_written_fp32"] = r
        res.row("cuda", f"{name} / hand-written fp32", f"{r:.2f}×", "rows/s ratio of medians")
    res.data["cuda"] = out
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
