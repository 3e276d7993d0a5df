"""scaling: engine epoch seconds per million rows at 100k, 1M and 4M rows (nested tables of
one teacher, .npz through `prepare` and `fit`), and the ratio of per-row times 4M/100k (with
--quick: 20k, 100k and 400k rows, the ratio 400k/20k)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from benchmarks.files import npz_config
from benchmarks.harness import (
    N_FEATURES,
    N_LABELS,
    SEED,
    Plan,
    Results,
    Target,
    fmt_n,
    median,
    ratio,
)
from benchmarks.internals import drive_engine


def run(plan: Plan, root: Path, res: Results) -> None:
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
            f"engine at {fmt_n(n)} rows",
            f"{per_m:.3f} s / M rows",
            f"median of {len(samples)} epochs (best {best_m:.3f})",
        )
        paths[n].unlink()
    lo, hi = sizes[0], sizes[-1]
    r = ratio(out[str(hi)]["s_per_million_rows"], out[str(lo)]["s_per_million_rows"])
    r_best = ratio(out[str(hi)]["best_s_per_M"], out[str(lo)]["best_s_per_M"])
    out["ratio_largest_smallest"] = r
    out["ratio_largest_smallest_best"] = r_best
    res.data["scaling"] = out
    res.row(
        "scaling",
        f"per-row time {fmt_n(hi)} / {fmt_n(lo)}",
        f"{r:.3f}×",
        f"of best epochs: {r_best:.3f}×",
    )
    res.targets.append(
        Target(
            f"per-row epoch time at {fmt_n(hi)} within 20% of {fmt_n(lo)}",
            r,
            "<=",
            1.2,
            f"median epoch time ratio (best epochs: {r_best:.3f}×)",
        )
    )
