"""sgemm: the machine's float32 `torch.mm` peak (workload-shaped and square; the best counts).

The throughput section reports each loop's share of this peak."""

from __future__ import annotations

from benchmarks.harness import BATCH, HIDDEN, N_FEATURES, Plan, Results


def run(plan: Plan, res: Results) -> None:
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
