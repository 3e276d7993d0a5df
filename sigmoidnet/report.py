"""`sigmoidnet report`: one self-contained HTML page about a run, its figures inline.

What it shows (`build_report`):
- the loss and metric curves per epoch, and the lr, from `metrics.jsonl`;
- per label, on the run's held-out rows (read again and checked as `eval` does): the ROC
  and precision-recall curves, a reliability diagram (15 equal-width bins, as ECE) before
  and, for a calibrated model, after calibration, precision / recall / F1 against the
  threshold at every distinct score with the model's threshold marked, and the confusion
  matrix at that threshold;
- the columns table of the model's input schema, its thresholds and where they came from,
  its calibration, and the resolved config.

Every figure is also a PNG under `RUN/plots/`, each with a JSON file of the values it draws
(so that tests check numbers, not pixels). Labels are drawn `LABELS_PER_PAGE` to a figure
(a grid), in as many pages as it takes: one label or a hundred. matplotlib (Agg) is
imported here only. This module computes and writes; it prints nothing.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmoidnet.fsutil import atomic_write_bytes

LABELS_PER_PAGE = 12
ECE_BINS = 15
F64 = npt.NDArray[np.float64]


@dataclass
class Report:
    path: Path  # report.html
    plots: list[Path] = field(default_factory=list)  # the PNG files (each with a .json)
    notes: list[str] = field(default_factory=list)


def _sigmoid(z: F64) -> F64:
    from sigmoidnet.activation import sigmoid_array

    return sigmoid_array(z)


def roc_curve(p: F64, y: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """False and true positive rates at every cut of the scores (descending), from (0, 0)."""
    from sigmoidnet.calibrate.thresholds import _cuts

    thr, tp, fp, fn, tn = _cuts(p, y)
    fpr = fp / max(1.0, fp[-1] + tn[-1])
    tpr = tp / max(1.0, tp[-1] + fn[-1])
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))  # the trapezoid rule
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thr.tolist(), "auc": auc}


def pr_curve(p: F64, y: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Precision and recall at every cut with at least one positive call."""
    from sigmoidnet.calibrate.thresholds import _cuts

    thr, tp, fp, fn, _ = _cuts(p, y)
    called = tp + fp > 0
    prec = tp[called] / (tp[called] + fp[called])
    rec = tp[called] / max(1.0, float(tp[-1] + fn[-1]))
    return {"precision": prec.tolist(), "recall": rec.tolist(), "thresholds": thr[called].tolist()}


def threshold_curve(p: F64, y: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Precision, recall and F1 of `p > t` at every candidate threshold (ascending t)."""
    from sigmoidnet.calibrate.thresholds import _cuts

    thr, tp, fp, fn, _ = _cuts(p, y)
    order = np.argsort(thr)
    thr, tp, fp, fn = thr[order], tp[order], fp[order], fn[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        rec = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return {
        "thresholds": thr.tolist(),
        "precision": prec.tolist(),
        "recall": rec.tolist(),
        "f1": f1.tolist(),
    }


def reliability(p: F64, y: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Per equal-width bin: rows, mean probability, share of positives; and the ECE."""
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, ECE_BINS - 1)
    count = np.bincount(idx, minlength=ECE_BINS).astype(np.float64)
    conf = np.bincount(idx, weights=p, minlength=ECE_BINS)
    acc = np.bincount(idx, weights=y.astype(np.float64), minlength=ECE_BINS)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = np.where(count > 0, conf / count, np.nan)
        frac = np.where(count > 0, acc / count, np.nan)
    ece = float(np.nansum(count * np.abs(mean_p - frac)) / max(1.0, count.sum()))
    return {
        "edges": edges.tolist(),
        "count": count.astype(int).tolist(),
        "mean_probability": [None if math.isnan(v) else v for v in mean_p.tolist()],
        "fraction_positive": [None if math.isnan(v) else v for v in frac.tolist()],
        "ece": ece,
    }


def confusion(p: F64, y: npt.NDArray[np.bool_], t: float) -> dict[str, Any]:
    pred = p > t
    return {
        "threshold": t,
        "tn": int((~pred & ~y).sum()),
        "fp": int((pred & ~y).sum()),
        "fn": int((~pred & y).sum()),
        "tp": int((pred & y).sum()),
    }


def _figure(n: int) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def _save(fig: Any, folder: Path, stem: str, values: Any, out: list[Path]) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    png = folder / f"{stem}.png"
    atomic_write_bytes(png, buf.getvalue(), fsync=False)
    atomic_write_bytes(
        folder / f"{stem}.json", json.dumps(values, allow_nan=False).encode(), fsync=False
    )
    out.append(png)


def build_report(run: Path) -> Report:
    """Write `run/report.html` and `run/plots/`; the report's paths and notes. A folder
    or file that cannot be written is a one-line `OutputError` (exit 2, or 3 for storage)."""
    from sigmoidnet.fsutil import output_error

    try:
        return _build_report(run)
    except OSError as e:
        where = str(run)
        if isinstance(e.filename, str):  # the file, or the folder of a temporary name
            name = Path(e.filename)
            where = str(name.parent if name.name.endswith(".tmp") else name)
        raise output_error(where, e, "cannot write the report") from None


def _build_report(run: Path) -> Report:
    import torch

    from sigmoidnet import artifact
    from sigmoidnet.calibrate.tuning import calibrated_logits
    from sigmoidnet.errors import UsageError
    from sigmoidnet.inference import heldout_logits
    from sigmoidnet.rundir import MODEL, read_metrics

    ckpt = run / MODEL
    art = artifact.load(ckpt)
    history = read_metrics(run)
    folder = run / "plots"
    folder.mkdir(exist_ok=True)
    plots: list[Path] = []
    notes: list[str] = []
    # curves per epoch
    if history:
        fig, axes = _figure(3)
        groups = [
            ("loss", ["train_loss", "val_loss"]),
            ("validation metrics", ["val_accuracy", "val_f1", "val_roc_auc"]),
            ("learning rate", ["lr"]),
        ]
        values: dict[str, Any] = {"epoch": [r.get("epoch") for r in history]}
        for ax, (title, keys) in zip(axes, groups, strict=False):
            for k in keys:
                ys = [r.get(k) for r in history]
                if any(v is not None for v in ys):
                    values[k] = ys
                    ax.plot(values["epoch"], [np.nan if v is None else v for v in ys], label=k)
            ax.set_title(title)
            ax.set_xlabel("epoch")
            if ax.get_lines():
                ax.legend(fontsize=7)
        _save(fig, folder, "curves", values, plots)
    # per label, on the held-out rows
    label_sections = ""
    try:
        logits, y_t, desc, _ = heldout_logits(art, ckpt)
    except UsageError:
        logits = None
        notes.append("no held-out rows: the per-label figures need validation rows")
    if logits is not None:
        raw = logits.detach().to(torch.float64).numpy()
        p_raw = _sigmoid(raw)
        p_cal = _sigmoid(calibrated_logits(art, logits.detach().numpy()))
        y_all = y_t.numpy() == 1
        names = art.label_names
        pages = math.ceil(len(names) / LABELS_PER_PAGE)
        for page in range(pages):
            labels = list(
                range(page * LABELS_PER_PAGE, min(len(names), (page + 1) * LABELS_PER_PAGE))
            )
            suffix = f"-{page + 1}" if pages > 1 else ""
            _label_figures(art, names, labels, p_raw, p_cal, y_all, folder, suffix, plots, notes)
        label_sections = f"<p>Per-label figures on {html.escape(desc)}.</p>"
    page_html = _html(art, run, plots, label_sections, notes)
    path = run / "report.html"
    atomic_write_bytes(path, page_html.encode(), fsync=False)
    return Report(path, plots, notes)


def _label_figures(
    art: Any,
    names: list[str],
    labels: list[int],
    p_raw: F64,
    p_cal: F64,
    y_all: npt.NDArray[np.bool_],
    folder: Path,
    suffix: str,
    plots: list[Path],
    notes: list[str],
) -> None:
    n = len(labels)
    cal = art.calibration is not None
    figs = {k: _figure(n) for k in ("roc", "pr", "reliability", "threshold", "confusion")}
    values: dict[str, dict[str, Any]] = {k: {} for k in figs}
    for slot, j in enumerate(labels):
        name, y, p = names[j], y_all[:, j], p_cal[:, j]
        t = float(art.thresholds[j])
        both = 0 < int(y.sum()) < len(y)
        ax = figs["roc"][1][slot]
        if both:
            roc = roc_curve(p, y)
            values["roc"][name] = roc
            ax.plot(roc["fpr"], roc["tpr"])
            ax.plot([0, 1], [0, 1], ls=":", c="grey")
            ax.set_title(f"{name}: ROC-AUC {roc['auc']:.4f}", fontsize=9)
            pr = pr_curve(p, y)
            values["pr"][name] = pr
            figs["pr"][1][slot].plot(pr["recall"], pr["precision"])
            figs["pr"][1][slot].set_title(f"{name}: precision-recall", fontsize=9)
        else:
            notes.append(f"label {name!r}: one class in the held-out rows, no ROC/PR curve")
            ax.set_title(f"{name}: one class", fontsize=9)
        ax = figs["reliability"][1][slot]
        rel = {"before": reliability(p_raw[:, j], y)}
        if cal:
            rel["after"] = reliability(p, y)
        values["reliability"][name] = rel
        ax.plot([0, 1], [0, 1], ls=":", c="grey")
        for key, r in rel.items():
            xs = [np.nan if v is None else v for v in r["mean_probability"]]
            ys = [np.nan if v is None else v for v in r["fraction_positive"]]
            ax.plot(xs, ys, marker="o", ms=3, label=f"{key} (ECE {r['ece']:.3f})")
        ax.set_title(f"{name}: reliability", fontsize=9)
        ax.legend(fontsize=7)
        tc = threshold_curve(p, y)
        tc["chosen"] = t
        values["threshold"][name] = tc
        ax = figs["threshold"][1][slot]
        for k in ("precision", "recall", "f1"):
            ax.plot(tc["thresholds"], tc[k], label=k)
        ax.axvline(t, c="k", ls="--", lw=1, label=f"threshold {t:.3g}")
        ax.set_xlim(0, 1)
        ax.set_title(f"{name}: against the threshold", fontsize=9)
        ax.legend(fontsize=7)
        cm = confusion(p, y, t)
        values["confusion"][name] = cm
        ax = figs["confusion"][1][slot]
        grid = np.array([[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]])
        ax.imshow(grid, cmap="Blues")
        for (r, c), v in np.ndenumerate(grid):
            ax.text(c, r, str(v), ha="center", va="center")
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])
        ax.set_title(f"{name} at {t:.3g}", fontsize=9)
    for key, (fig, _) in figs.items():
        _save(fig, folder, f"{key}{suffix}", values[key], plots)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _html(art: Any, run: Path, plots: list[Path], intro: str, notes: list[str]) -> str:
    esc = html.escape
    pre = art.preprocessor
    col_rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            esc(c.name),
            esc(c.kind),
            esc(
                f"{len(c.categories)} categories"
                + (" + <missing>" if c.missing_slot else "")
                + (" + <other>" if c.other_slot else "")
                if not c.numeric
                else ("fill " + f"{c.fill:.6g}" if c.fill is not None else "no fill")
                + (", [missing] input" if c.indicator else "")
            ),
        )
        for c in pre.columns
    )
    sources = art.threshold_sources or ["stored"] * len(art.label_names)
    thr_rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{t:.6g}</td><td>{esc(s)}</td></tr>"
        for n, t, s in zip(art.label_names, art.thresholds, sources, strict=True)
    )
    cal = art.calibration
    cal_text = (
        "none"
        if cal is None
        else esc(
            f"{cal['method']}: "
            + ", ".join(
                f"{n} a={a:.4g} b={b:.4g}"
                for n, a, b in zip(art.label_names, cal["a"], cal["b"], strict=True)
            )
        )
    )
    figures = "\n".join(
        f"<figure>{_img(p)}<figcaption>{esc(p.name)}</figcaption></figure>" for p in plots
    )
    note_list = "".join(f"<li>{esc(n)}</li>" for n in notes)
    title = f"sigmoidnet report: {esc(run.resolve().name)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; background: #fff; }}
img {{ max-width: 100%; }} figure {{ margin: 1em 0; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 2px 8px; }}
pre {{ background: #f6f6f6; padding: 1em; }}
</style></head><body>
<h1>{title}</h1>
<p>Model: {esc(str(run / "model.safetensors"))}, epoch {esc(str(art.epoch))};
labels: {esc(", ".join(art.label_names))}.</p>
{intro}
<h2>Figures</h2>
{figures}
<h2>Thresholds</h2>
<table><tr><th>label</th><th>threshold</th><th>where it came from</th></tr>{thr_rows}</table>
<p>Calibration: {cal_text}</p>
<h2>Input schema</h2>
<table><tr><th>column</th><th>type</th><th>preprocessing</th></tr>{col_rows}</table>
<h2>Config</h2>
<pre>{esc(art.config.to_yaml())}</pre>
{"<h2>Notes</h2><ul>" + note_list + "</ul>" if notes else ""}
</body></html>
"""
