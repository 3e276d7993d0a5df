"""predict: `sigmoidnet predict` with the model of the command section's train run on the same
Parquet file (its label columns are ignored), to a Parquet file, end to end (process start
included): rows/s."""

from __future__ import annotations

from pathlib import Path

from benchmarks.files import Files
from benchmarks.harness import (
    Plan,
    Results,
    checked,
    fmt_n,
    fmt_rate,
    median,
    run_child,
    sigmoidnet_exe,
)


def run(plan: Plan, files: Files, model: Path, res: Results) -> None:
    cmd = [
        sigmoidnet_exe(),
        "predict",
        "--checkpoint",
        str(model),
        "--data",
        str(files.parquet),
        "--out",
        str(files.root / "pred.parquet"),
    ]
    kids = [checked(run_child(cmd), "sigmoidnet predict") for _ in range(plan.predict_reps)]
    import pyarrow.parquet as pq

    n_out = pq.read_metadata(files.root / "pred.parquet").num_rows
    if n_out != files.rows:
        raise RuntimeError(f"predict wrote {n_out} rows, expected {files.rows}")
    walls = [k.wall_s for k in kids]
    rps = files.rows / median(walls)
    res.data["predict"] = {
        "wall_s": walls,
        "median_wall_s": median(walls),
        "rows_per_s": rps,
        "maxrss_mb": [k.maxrss_mb for k in kids],
        "what": "whole process: start, read Parquet, normalize, forward, sigmoid, write Parquet",
        "input": "the table's Parquet file (64 feature columns; the 2 label columns ignored)",
    }
    res.row(
        "predict",
        f"sigmoidnet predict ({fmt_n(files.rows)} rows, parquet → parquet)",
        fmt_rate(rps),
        f"{median(walls):.2f} s end to end",
    )
