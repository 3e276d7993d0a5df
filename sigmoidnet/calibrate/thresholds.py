"""Per-label decision thresholds tuned on the validation rows.

A row is positive for a label when its probability is greater than the label's threshold
(`p > t`, the rule `eval` and `predict` apply). The search is exact: it runs over every
distinct probability of the validation rows, not a grid. With the k distinct scores
s_1 < ... < s_k, the candidates are the k + 1 ways of cutting them — all rows positive,
the rows above s_i positive (i = 1..k-1), none positive — and each cut's threshold is the
midpoint between the two scores it falls between (s_1 / 2 below the lowest, (s_k + 1) / 2
above the highest), so that no validation score lies on a threshold and float rounding
elsewhere cannot flip a decision. The confusion counts of every cut come from one sort and
two cumulative sums (O(n log n)).

Rules (`decision.threshold`):
- `f1`: the cut with the highest F1;
- `youden`: the highest Youden's J = recall + specificity - 1;
- `{precision: P}`: the highest recall among the cuts whose precision is at least P;
- `{recall: R}`: the highest precision among the cuts whose recall is at least R;
- `{cost: {fp: A, fn: B}}`: the lowest A * false positives + B * false negatives.

Tie-break (documented): among equally good cuts, the highest threshold (the fewest rows
called positive). A target that no cut meets gets the cut closest to it — the highest
precision (then recall) for a precision target, the highest recall (then precision) for a
recall target — and a note. A label whose validation rows hold no positive or no negative
keeps 0.5, with a note: no threshold can be tuned on one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TunedThreshold:
    threshold: float
    source: str  # where it came from, for `eval` ("f1 on 67 validation rows: F1 0.912")
    note: str | None = None  # a target not met, or a label that could not be tuned


def _describe(rule: Any) -> str:
    if isinstance(rule, str):
        return rule
    if isinstance(rule, dict):
        ((key, value),) = rule.items()
        if key == "cost":
            return f"cost (fp {value['fp']:g}, fn {value['fn']:g})"
        return f"{key} >= {value:g}"
    return str(rule)


def _cuts(probs: F64, y: npt.NDArray[np.bool_]) -> tuple[F64, F64, F64, F64, F64]:
    """(thresholds, tp, fp, fn, tn) of every cut, from all positive to none positive."""
    order = np.argsort(-probs, kind="stable")
    p, t = probs[order], y[order]
    n_pos = float(t.sum())
    n_neg = float(len(t) - n_pos)
    # the last row of each run of equal scores: a cut can only fall after it
    last = np.flatnonzero(np.r_[p[1:] != p[:-1], True])
    tp_runs = np.cumsum(t)[last].astype(np.float64)
    fp_runs = (last + 1).astype(np.float64) - tp_runs
    tp = np.r_[0.0, tp_runs]  # cut 0: none positive; cut i: the i highest scores positive
    fp = np.r_[0.0, fp_runs]
    distinct = p[last]  # descending
    above = np.r_[1.0, distinct]  # the score just above each cut (1 above the highest)
    below = np.r_[distinct, 0.0]  # the score just below it (0 below the lowest)
    thresholds = (above + below) / 2.0
    return thresholds, tp, fp, n_pos - tp, n_neg - fp


def _best(score: F64, thresholds: F64) -> int:
    """The index of the highest score; ties: the highest threshold."""
    best = np.flatnonzero(score == score.max())
    return int(best[np.argmax(thresholds[best])])


def tune_threshold(probs: Any, targets: Any, rule: Any) -> TunedThreshold:
    """The threshold `rule` picks for one label from its validation probabilities and 0/1
    targets (numpy-like, shape (n,))."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    y = np.asarray(targets).reshape(-1) == 1
    n = len(p)
    what = _describe(rule)
    if n == 0 or y.all() or not y.any():
        which = "no positive" if not y.any() else "no negative"
        return TunedThreshold(
            0.5,
            f"0.5: {what} not tuned ({which} in {n} validation rows)",
            f"{which} in the validation rows: {what} cannot be tuned, the threshold stays 0.5",
        )
    thr, tp, fp, fn, tn = _cuts(p, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)  # no positive call: vacuous
        recall = tp / (tp + fn)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        specificity = tn / (tn + fp)
    rows = f"{n} validation rows"
    note = None
    if rule == "f1":
        i = _best(f1, thr)
        source = f"f1 on {rows}: F1 {f1[i]:.4f}"
    elif rule == "youden":
        j = recall + specificity - 1.0
        i = _best(j, thr)
        source = f"youden on {rows}: J {j[i]:.4f}"
    elif isinstance(rule, dict) and "precision" in rule:
        target = float(rule["precision"])
        # at least one positive call: "no row positive" meets any precision vacuously
        ok = (precision >= target) & (tp + fp > 0)
        if ok.any():
            i = _best(np.where(ok, recall, -1.0), thr)
        else:
            i = _best(np.where(tp + fp > 0, precision + recall * 1e-9, -1.0), thr)
            note = (
                f"precision {target:g} cannot be reached on the validation rows: the closest, "
                f"{precision[i]:.4f} (recall {recall[i]:.4f}), is used"
            )
        source = f"{what} on {rows}: precision {precision[i]:.4f}, recall {recall[i]:.4f}"
    elif isinstance(rule, dict) and "recall" in rule:
        target = float(rule["recall"])
        ok = recall >= target
        if ok.any():
            i = _best(np.where(ok, precision, -1.0), thr)
        else:  # pragma: no cover - the all-positive cut has recall 1
            i = _best(recall + precision * 1e-9, thr)
            note = f"recall {target:g} cannot be reached on the validation rows"
        source = f"{what} on {rows}: precision {precision[i]:.4f}, recall {recall[i]:.4f}"
    elif isinstance(rule, dict) and "cost" in rule:
        cost = float(rule["cost"]["fp"]) * fp + float(rule["cost"]["fn"]) * fn
        i = _best(-cost, thr)
        source = f"{what} on {rows}: cost {cost[i]:g} ({int(fp[i])} FP, {int(fn[i])} FN)"
    else:
        raise ValueError(f"unknown threshold rule {rule!r}")
    return TunedThreshold(float(thr[i]), source, note)
