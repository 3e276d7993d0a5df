"""throughput: epochs of sigmoidnet's engine, driven through its public path (`prepare` on an
.npz of the table, then `fit`, timed by `fit` itself from before the epoch to its one host
sync; epoch 1 is the warm-up), of the careful hand-written loop and of the idiomatic
DataLoader loop, one epoch of each in turn from `fit`'s on_epoch callback; rows/s, GFLOP/s
and share of the sgemm peak.

FLOPs per epoch = 6·N·P, P = 64·128 + 128·2 = 8448 weights (2·P forward + 4·P backward per
row, the usual convention; biases and elementwise ops not counted). The backward pass really
needs 2·P + 2·128·2 flops per row (no gradient is taken for the input), so the executed work
is ≈ 4.06·N·P: 6·N·P overstates it by about a third.
"""

from __future__ import annotations

import gc
from typing import Any

from benchmarks.files import Files, npz_config
from benchmarks.harness import (
    BATCH,
    FLOPS_FORMULA,
    FLOPS_PER_ROW,
    LR,
    SEED,
    Plan,
    Results,
    Target,
    fmt_n,
    fmt_rate,
    loop_stats,
    more,
    progress,
    ratio,
    time_epoch,
)
from benchmarks.internals import drive_engine


def run(plan: Plan, files: Files, res: Results) -> None:
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
    progress("  warm-up: hand-written loop (1 epoch), idiomatic loop (200 batches)")
    losses["hand-written loop"].append(time_epoch(hand)[1])
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
                    dt, loss = time_epoch(loop)
                    samples[name].append(dt)
                    losses[name].append(loss)
        timed = [s for s, _ in engine[1:]]
        return more(
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
        st = loop_stats(files.rows, samples[name], losses[name])
        st["peak_share"] = ratio(st["gflops"], peak)
        out[name] = st
        share = f", {st['peak_share']:.1%} of sgemm peak" if st["peak_share"] else ""
        res.row(
            "throughput",
            f"{name} ({fmt_n(files.rows)} rows)",
            fmt_rate(st["rows_per_s"]),
            f"median {st['median_epoch_s']:.2f} s/epoch (best {st['best_epoch_s']:.2f}),"
            f" {st['gflops']:.1f} GFLOP/s{share}; loss {losses[name][-1]:.3f}",
        )
    eng, hw, idm = (out[k] for k in names)
    ratios = {
        "engine/idiomatic": ratio(eng["rows_per_s"], idm["rows_per_s"]),
        "engine/hand_written": ratio(eng["rows_per_s"], hw["rows_per_s"]),
        "engine/idiomatic (best epochs)": ratio(eng["best_rows_per_s"], idm["best_rows_per_s"]),
        "engine/hand_written (best epochs)": ratio(eng["best_rows_per_s"], hw["best_rows_per_s"]),
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
