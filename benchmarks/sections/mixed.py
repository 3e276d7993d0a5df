"""mixed: loading and encoding a real-world-shaped table, sigmoidnet's `load_dataset` against
`pandas.read_csv` + scikit-learn's `ColumnTransformer`.

The table (`benchmarks.files.write_mixed_csv`, 1M rows; --quick: 100k): 20 float columns
of assorted scales with 5% of the cells empty at random, 10 text columns of 2, 3, 5, 10, 20,
50, 100, 200, 500 and 1,000 categories with Zipf-like frequencies (13–40% of the rows of the
four widest columns fall outside their top 50), interleaved, and a label `y` of "yes"/"no" that
depends on a few numbers, a missingness and a few categories. CSV, unquoted, empty fields for
missing numbers; warm page cache (the file was just written).

The two sides, each producing a dense float32 (N, F) matrix and an (N, 1) float32 label:
- sigmoidnet: `load_dataset` for `source: csv, labels: [y], val_fraction: 0.0` with
  `categorical: [c0..c9], positive: {y: "yes"}, max_categories: 50, impute: median` and the
  default `normalize: standard`: F = 20 numbers + 20 missing indicators + the one-hot columns (per
  text column one slot per category, or the top 50 and one "other" slot when there are
  more). It also standardizes, which the baseline does not: the comparison leans against
  sigmoidnet.
- the baseline: `pandas.read_csv(path)` (C engine, inferred dtypes), then
  `ColumnTransformer([("num", SimpleImputer(strategy="median", add_indicator=True), numbers),
  ("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=51,
  sparse_output=False, dtype=float32), texts)]).fit_transform(df)`, the label mapped with
  `df.y == "yes"`, and the result made C-contiguous float32. `max_categories=51` because
  scikit-learn counts its infrequent slot among them: 50 + 1, the same F as sigmoidnet's.
  Dense (`sparse_output=False`) is the like-for-like choice: sigmoidnet hands a dense float32
  matrix to the model, and a torch MLP needs dense rows anyway (a sparse result would still
  have to be densified, per batch or whole). The default `sparse_output=True` (the
  ColumnTransformer then returns a CSR matrix, ~10% dense) is measured once as an extra row,
  for information; it is not in the target. `n_jobs` is left at its default (one process),
  as in most pipelines; sigmoidnet uses the threads it chooses.

Each measurement is a fresh child process (`python -m benchmarks.sections.mixed`, through
`harness.run_child`) so that each side's peak RSS is its own and one side's heap does not
slow the other's: the child imports what it needs, warms up on a 2,000-row table of the same
shape (first-call costs), then times load + encode (+ label mapping, + float32) once; the
imports are not timed, the RSS includes them. sigmoidnet is timed twice (up to 4 times while
the times are noisy), in turn with the dense baseline, which is timed once (over 30 s at 1M
rows: long enough for short bursts of other work to average out, and the section's two
minutes would not hold another); the sparse row is timed once. Medians are reported, with
the best run. Both shapes are checked against the width the table implies (and the labels:
(N, 1), the same share of positives). When sigmoidnet refuses the config or the file, its
error is recorded (the section's entry in "errors") and the baseline is still measured; the
target then reads n/a.

Target: mixed load+encode time ≤ 1.0× pandas + ColumnTransformer (dense), median time ratio;
the stretch goal, 0.5×, is printed with it.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.files import (
    MIXED_MAX_CATEGORIES,
    MixedTable,
    write_config,
    write_mixed_csv,
)
from benchmarks.harness import (
    REPO,
    SEED,
    Plan,
    Results,
    Target,
    fmt_n,
    median,
    more,
    progress,
    ratio,
    run_child,
)

WARMUP_ROWS = 2000
STRETCH = 0.5
SIGMOIDNET = "sigmoidnet load_dataset"
DENSE = "pandas + ColumnTransformer (dense)"
SPARSE = "pandas + ColumnTransformer (sparse, info)"
SIDES = {SIGMOIDNET: "sigmoidnet", DENSE: "sklearn-dense", SPARSE: "sklearn-sparse"}


# =============================================================================================
# the two sides (run in the child)


def data_config(table: MixedTable) -> dict[str, Any]:
    """sigmoidnet's `data:` section for `table`; the keys for text columns, missing numbers
    and yes/no labels only when the table has them (so that a plain numeric variant runs on
    a sigmoidnet without them)."""
    data: dict[str, Any] = {
        "source": "csv",
        "path": str(table.path),
        "labels": [table.label],
        "val_fraction": 0.0,
    }
    if table.text:
        data["categorical"] = list(table.text)
        data["max_categories"] = MIXED_MAX_CATEGORIES
    if any(table.numeric_missing):
        data["impute"] = "median"
    if table.yes_no:
        data["positive"] = {table.label: "yes"}
    return data


def sklearn_encode(
    path: str,
    numeric: Sequence[str],
    text: Sequence[str],
    label: str,
    positive: str | None,
    sparse: bool,
) -> tuple[Any, Any, float]:
    """`pandas.read_csv` + `ColumnTransformer.fit_transform`: (x float32, y (N, 1) float32,
    seconds of the read alone); x is C-contiguous, or with `sparse` CSR (when the
    ColumnTransformer's default `sparse_threshold` finds it under 30% dense, as here)."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    t0 = time.perf_counter()
    df = pd.read_csv(path)
    read_s = time.perf_counter() - t0
    parts: list[tuple[str, Any, list[str]]] = [
        ("num", SimpleImputer(strategy="median", add_indicator=True), list(numeric))
    ]
    if text:
        onehot = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=MIXED_MAX_CATEGORIES + 1,  # the infrequent slot counts among them
            sparse_output=sparse,
            dtype=np.float32,
        )
        parts.append(("cat", onehot, list(text)))
    x = ColumnTransformer(parts).fit_transform(df)
    if hasattr(x, "tocsr"):  # sparse: only when asked for, and when the result is < 30% dense
        x = x.tocsr().astype(np.float32)
    else:
        x = np.ascontiguousarray(x, dtype=np.float32)
    col = df[label]
    y = (col == positive) if positive is not None else col
    return x, y.to_numpy(dtype=np.float32).reshape(-1, 1), read_s


def _child(spec_path: str, side: str, out_path: str) -> int:
    """One measurement, in this fresh process: warm up on the small table, then time the big
    one; write {"seconds", "read_s", "shape", "positive_share", ...} or {"error"} as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    result: dict[str, Any] = {"side": side}
    try:
        if side == "sigmoidnet":
            from benchmarks.internals import dataset_loader

            dataset_loader(Path(spec["warmup_config"]))()
            load = dataset_loader(Path(spec["config"]))  # reads the config: not timed
            gc.collect()
            t0 = time.perf_counter()
            ds = load()
            result["seconds"] = time.perf_counter() - t0
            x, y = ds.x_train, ds.y_train
            result["dtype"] = str(x.dtype).replace("torch.", "")
            result["layout"] = "dense" if x.is_contiguous() else "strided"
        else:
            sparse = side == "sklearn-sparse"
            args = (spec["numeric"], spec["text"], spec["label"], spec["positive"], sparse)
            sklearn_encode(spec["warmup_csv"], *args)
            gc.collect()
            t0 = time.perf_counter()
            x, y, result["read_s"] = sklearn_encode(spec["csv"], *args)
            result["seconds"] = time.perf_counter() - t0
            result["dtype"] = str(x.dtype)
            result["layout"] = "csr" if hasattr(x, "nnz") else "dense"
            if hasattr(x, "nnz"):
                result["nnz"] = int(x.nnz)
        result["shape"] = [int(d) for d in x.shape]
        result["y_shape"] = [int(d) for d in y.shape]
        result["positive_share"] = float(y.sum()) / max(1, int(y.shape[0]))
        rc = 0
    except Exception as e:  # reported by the parent: the section carries on without this side
        result["error"] = f"{type(e).__name__}: {e}"
        rc = 3
    Path(out_path).write_text(json.dumps(result))
    return rc


# =============================================================================================
# the section (the parent)


def _measure(spec: Path, side: str, out: Path) -> dict[str, Any]:
    """One fresh child for `side`: its JSON result plus wall and peak RSS; "error" on failure."""
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.sections.mixed", str(spec), side, str(out)]
    child = run_child(cmd, cwd=REPO)
    r: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    r["wall_s"], r["maxrss_mb"], r["rc"] = child.wall_s, child.maxrss_mb, child.rc
    if child.rc != 0 and "error" not in r:
        lines = [ln for ln in child.stderr.strip().splitlines() if ln.strip()]
        r["error"] = f"exited {child.rc}: {lines[-1] if lines else 'no output'}"
    return r


def _short(msg: str) -> str:
    return " / ".join(ln.strip() for ln in msg.splitlines()[:3] if ln.strip())[:160]


def run(plan: Plan, root: Path, res: Results, numeric_only: bool = False) -> None:
    """`numeric_only`: the same measurements on a plain numeric variant of the table (no text,
    no empty cells, 0/1 labels), which any sigmoidnet reads: a check of this code."""
    variant: dict[str, Any] = (
        {"cardinalities": (), "missing": 0.0, "yes_no": False} if numeric_only else {}
    )
    t0 = time.perf_counter()
    table = write_mixed_csv(root / f"mixed-{plan.mixed_rows}.csv", plan.mixed_rows, SEED, **variant)
    gen_s = time.perf_counter() - t0
    warm = write_mixed_csv(root / "mixed-warmup.csv", WARMUP_ROWS, SEED + 1, **variant)
    spec = root / "mixed-spec.json"
    spec.write_text(
        json.dumps(
            {
                "csv": str(table.path),
                "warmup_csv": str(warm.path),
                "config": str(write_config(root / "mixed.yaml", data_config(table))),
                "warmup_config": str(write_config(root / "mixed-warmup.yaml", data_config(warm))),
                "numeric": table.numeric,
                "text": table.text,
                "label": table.label,
                "positive": "yes" if table.yes_no else None,
            }
        )
    )
    try:
        _run(plan, res, table, gen_s, spec, root)
    finally:
        for p in (table.path, warm.path):
            p.unlink(missing_ok=True)


def _run(plan: Plan, res: Results, table: MixedTable, gen_s: float, spec: Path, root: Path) -> None:
    n = table.rows
    size = table.path.stat().st_size
    want_f = table.encoded_width
    res.row(
        "mixed",
        f"table {fmt_n(n)} × ({len(table.numeric)} numbers, {len(table.text)} texts, y)",
        f"{gen_s:.1f} s",
        f"CSV {size / 1e6:.0f} MB; encodes to {want_f} columns;"
        f" {table.positive_share:.1%} positive",
    )
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in SIDES}
    errors: dict[str, str] = {}
    out = root / "mixed-result.json"

    def take(name: str) -> None:
        progress(f"  {name} ({fmt_n(n)} rows)")
        r = _measure(spec, SIDES[name], out)
        if "error" in r:
            errors[name] = r["error"]
        else:
            samples[name].append(r)

    def secs(name: str) -> list[float]:
        return [r["seconds"] for r in samples[name]]

    def wanted() -> bool:
        snet = SIGMOIDNET not in errors and more(
            len(samples[SIGMOIDNET]), plan.mixed_reps, plan.mixed_reps_max, secs(SIGMOIDNET)
        )
        return snet or len(samples[DENSE]) < plan.mixed_baseline_reps

    rounds = 0
    while wanted():  # in turn: sigmoidnet, then (while it needs more) the dense baseline
        rounds += 1
        if SIGMOIDNET not in errors:
            take(SIGMOIDNET)
        if len(samples[DENSE]) < plan.mixed_baseline_reps:
            take(DENSE)
            if DENSE in errors:
                raise RuntimeError(f"{DENSE}: {errors[DENSE]}")
        if rounds == 1 and table.text:  # (without text columns it is the dense run again)
            take(SPARSE)
    record: dict[str, Any] = {
        "rows": n,
        "file_bytes": size,
        "generate_s": gen_s,
        "numeric": table.numeric,
        "text": table.text,
        "numeric_missing": table.numeric_missing,
        "categories_seen": table.categories_seen,
        "other_share": table.other_share,
        "positive_share": table.positive_share,
        "expected_width": want_f,
        "rounds": rounds,
        "work": "fresh child each; warm-up on a 2,000-row table; load + encode + label +"
        " float32 timed, imports not",
    }
    meds: dict[str, float | None] = {SPARSE: None}
    sides = [k for k in SIDES if k != SPARSE or table.text]  # no text: no sparse run
    for name in sides:
        rs = samples[name]
        if not rs:
            meds[name] = None
            record[name] = {"error": errors.get(name, "not measured")}
            res.row("mixed", name, "ERROR", _short(errors.get(name, "not measured")))
            continue
        s = [r["seconds"] for r in rs]
        rss = [r["maxrss_mb"] for r in rs if r["maxrss_mb"] is not None]
        meds[name] = median(s)
        record[name] = {
            "samples_s": s,
            "median_s": median(s),
            "best_s": min(s),
            "read_s": [r["read_s"] for r in rs if "read_s" in r],
            "maxrss_mb": rss,
            "median_maxrss_mb": median(rss) if rss else None,
            "child_wall_s": [r["wall_s"] for r in rs],
            "shape": rs[0]["shape"],
            "y_shape": rs[0]["y_shape"],
            "dtype": rs[0]["dtype"],
            "layout": rs[0]["layout"],
            "positive_share": rs[0]["positive_share"],
            **({"nnz": rs[0]["nnz"]} if "nnz" in rs[0] else {}),
        }
        read = record[name]["read_s"]
        part = f"read_csv {median(read):.2f} s; " if read else ""
        mem = f"{median(rss):.0f} MB peak RSS" if rss else "peak RSS n/a"
        res.row(
            "mixed",
            f"load+encode: {name}",
            f"{median(s):.2f} s",
            f"{part}median of {len(s)} (best {min(s):.2f} s); {n / median(s) / 1e6:.2f} M rows/s;"
            f" {mem}",
        )
    # the shapes: both against the width the table implies
    checks: dict[str, Any] = {"expected": [n, want_f]}
    for name in sides:
        if samples[name]:
            got = record[name]
            checks[name] = got["shape"]
            ok = got["shape"] == [n, want_f] and got["y_shape"] == [n, 1]
            ok = ok and abs(got["positive_share"] - table.positive_share) < 1e-9
            checks[f"{name} ok"] = ok
    record["shapes"] = checks
    got_s = checks.get(SIGMOIDNET)
    note = f"expected ({n:,}, {want_f}); sklearn {tuple(checks[DENSE])}"
    if got_s is not None:
        note += f"; sigmoidnet {tuple(got_s)}"
    verdict = "match" if all(v for k, v in checks.items() if k.endswith(" ok")) else "MISMATCH"
    res.row("mixed", "encoded shapes (and y: (N, 1), same positives)", verdict, note)
    if verdict != "match":
        progress(f"  mixed: encoded shapes differ: {checks}")
    # ratios and the target
    r_med = ratio(meds[SIGMOIDNET], meds[DENSE])
    r_best = (
        ratio(record[SIGMOIDNET]["best_s"], record[DENSE]["best_s"])
        if samples[SIGMOIDNET]
        else None
    )
    r_sparse = ratio(meds[SIGMOIDNET], meds[SPARSE])
    mem_r = (
        ratio(record[SIGMOIDNET]["median_maxrss_mb"], record[DENSE]["median_maxrss_mb"])
        if samples[SIGMOIDNET]
        else None
    )
    record["ratios"] = {
        "sigmoidnet / dense baseline": r_med,
        "sigmoidnet / dense baseline (best runs)": r_best,
        "sigmoidnet / sparse baseline": r_sparse,
        "peak RSS sigmoidnet / dense baseline": mem_r,
    }
    record["errors"] = errors
    res.data["mixed"] = record

    def x(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}×"

    stretch = "n/a" if r_med is None else ("met" if r_med <= STRETCH else "not met")
    res.row(
        "mixed",
        "sigmoidnet / pandas + ColumnTransformer (dense)",
        x(r_med),
        f"time ratio (lower is faster); best runs {x(r_best)}; target ≤ 1.0×, stretch"
        f" ≤ {STRETCH}×: {stretch}",
    )
    if table.text:
        res.row("mixed", "sigmoidnet / pandas + ColumnTransformer (sparse)", x(r_sparse), "info")
    res.row("mixed", "peak RSS sigmoidnet / dense baseline", x(mem_r), "each child's own")
    a, b = meds[SIGMOIDNET], meds[DENSE]
    times = f"{a:.2f} s vs {b:.2f} s" if a is not None and b is not None else "sigmoidnet failed"
    res.targets.append(
        Target(
            "mixed load+encode vs pandas+ColumnTransformer",
            r_med,
            "<=",
            1.0,
            f"≤ 1.0×: median time ratio, {times} (dense float32 both, {fmt_n(n)} rows × {want_f});"
            f" stretch goal ≤ {STRETCH}×: {stretch}; best runs {x(r_best)}",
        )
    )
    if errors:  # the section's entry in the report's errors (and --strict fails)
        res.errors["mixed"] = "; ".join(f"{k}: {v}" for k, v in errors.items())
    gc.collect()


if __name__ == "__main__":
    code = _child(*sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the result is written: skip tearing down GBs of objects (1–3 s, untimed)
