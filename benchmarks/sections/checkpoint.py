"""checkpoint: what saving the resumable state at every epoch's end costs. The engine trains
the main table (.npz, as in throughput) through `Trainer.fit` with a sink that, like a run
directory, builds `Trainer.state_dict()` and writes it with `engine.checkpoint.save_state`
(a temporary file, fsynced, renamed, the folder fsynced; the previous state kept) at every
epoch. Each epoch's wall time and the seconds its state took are measured in the same run;
the cost is the state's seconds over the rest of the epoch's, summed over the epochs after
the first (the warm-up). Target: at most 3%."""

from __future__ import annotations

from benchmarks.files import Files, npz_config
from benchmarks.harness import Plan, Results, Target, fmt_n, median
from benchmarks.internals import checkpoint_cost


def run(plan: Plan, files: Files, res: Results) -> None:
    cfg_path = npz_config(files.root / "checkpoint.yaml", files.npz)
    epochs = 1 + max(3, plan.engine_reps)
    state = files.root / "bench-state" / "state.safetensors"
    state.parent.mkdir(exist_ok=True)
    samples = checkpoint_cost(cfg_path, state, epochs)[1:]
    size = state.stat().st_size
    for p in state.parent.iterdir():
        p.unlink()
    state.parent.rmdir()
    epoch_s = [wall - ckpt for wall, ckpt in samples]
    ckpt_s = [ckpt for _, ckpt in samples]
    cost = sum(ckpt_s) / sum(epoch_s)
    res.data["checkpoint"] = {
        "rows": files.rows,
        "epochs_timed": len(samples),
        "epoch_s_without_state": epoch_s,
        "state_s": ckpt_s,
        "state_bytes": size,
        "cost": cost,
    }
    res.row(
        "checkpoint",
        f"state at every epoch ({fmt_n(files.rows)} rows)",
        f"{cost * 100:.2f}% of training",
        f"{median(ckpt_s) * 1e3:.1f} ms a state ({size / 1e3:.0f} kB) per "
        f"{median(epoch_s):.2f} s epoch; {len(samples)} epochs",
    )
    res.targets.append(
        Target(
            "checkpointing at every epoch costs at most 3% of training time",
            cost,
            "<=",
            0.03,
            "state seconds / training seconds, summed over the timed epochs",
        )
    )
