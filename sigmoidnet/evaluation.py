"""Metrics of sigmoid-output classifiers, computed from logits.

Two entry points:

- `evaluate_logits` — the full per-label report of `sigmoidnet eval` (accuracy, precision,
  recall, F1, ROC-AUC, PR-AUC, Brier, ECE, log-loss), plus the macro and micro averages and
  human-readable notes for metrics that are not applicable;
- `epoch_metrics` — the cheap summary written to each per-epoch row during training.

Conventions (the same in both):

- Probabilities are ``sigmoid(logits)`` computed in float64.
- A row is predicted positive for a label iff its probability is **strictly greater** than the
  label's decision threshold (torchmetrics' convention): with threshold 0.5 a logit of exactly
  0 is a negative.
- Precision with no predicted positives, and recall with no actual positives, are reported
  as 0.0 (torchmetrics' ``zero_division`` default); F1 is then 0.0 as well. A note says so.
- ROC-AUC is n/a (``None``) for a label with only one class; PR-AUC (average precision) is
  n/a when the label has no positives. A note says so; nothing raises.
- ROC-AUC and PR-AUC rank the rows by their *logits*, not by float probabilities: near 1 a
  float cannot tell large logits apart (``float32`` sigmoid is exactly 1.0 above ~16.6), and
  ranking by probabilities would turn distinct scores into ties. The ranking is exact.
- ECE is torchmetrics' ``binary_calibration_error`` with 15 equal-width bins and the L1 norm
  (the positive-class reliability form: mean probability vs. share of positives per bin).
  torchmetrics puts a probability of exactly 1.0 into a 16th bin of its own; we clamp
  probabilities to the largest double below 1 first, so 1.0 falls into the last of the 15 bins.
- Log-loss is the mean binary cross-entropy computed from the logits (exact and stable, also
  for saturated probabilities).
- Macro = unweighted mean over labels of each per-label metric (ROC-AUC / PR-AUC over the
  labels where they are defined). Micro = each metric over all N*L (row, label) elements
  pooled, every element judged at its own label's threshold.

Nothing here prints; torchmetrics' warnings (e.g. "no positive samples") are silenced, the
caller renders `EvalReport.notes` instead.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F

# torchmetrics imports matplotlib.pyplot when it is installed (for its plots, which we do
# not use); matplotlib then logs a warning to stderr when its config folder cannot be
# written (a read-only home): keep that out of the one-line contract. Errors still show.
logging.getLogger("matplotlib").setLevel(logging.ERROR)

from torchmetrics.functional import mean_squared_error  # noqa: E402
from torchmetrics.functional.classification import (  # noqa: E402
    binary_auroc,
    binary_average_precision,
    binary_calibration_error,
    multilabel_accuracy,
    multilabel_f1_score,
    multilabel_precision,
    multilabel_recall,
)

__all__ = ["ECE_BINS", "EvalReport", "LabelMetrics", "epoch_metrics", "evaluate_logits"]

ECE_BINS = 15
"""Number of equal-width probability bins of the expected calibration error."""

_BELOW_ONE = math.nextafter(1.0, 0.0)


@dataclass(frozen=True)
class LabelMetrics:
    """Metrics of one label, or of the ``macro`` / ``micro`` average over labels.

    ``accuracy``, ``precision``, ``recall`` and ``f1`` are taken at the label's decision
    threshold (probability > threshold is positive). Precision is 0.0 when nothing is
    predicted positive and recall is 0.0 when the label has no positives (torchmetrics'
    ``zero_division`` default). ``roc_auc`` is ``None`` when only one class is present,
    ``pr_auc`` (average precision) is ``None`` when there are no positives. ``n_rows`` is the
    number of rows N (also for the averages); ``threshold`` is ``None`` for the averages.
    """

    name: str
    n_rows: int
    prevalence: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    pr_auc: float | None
    brier: float
    ece: float
    log_loss: float
    threshold: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; non-finite floats (e.g. an infinite log-loss) become ``None``."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class EvalReport:
    """The result of `evaluate_logits`: per-label metrics, their averages, and notes."""

    labels: list[LabelMetrics]
    macro: LabelMetrics
    micro: LabelMetrics
    n_rows: int
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (plain Python types; ``None`` for n/a and non-finite values)."""
        return {
            "n_rows": self.n_rows,
            "labels": [m.to_dict() for m in self.labels],
            "macro": self.macro.to_dict(),
            "micro": self.micro.to_dict(),
            "notes": list(self.notes),
        }


def evaluate_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    thresholds: Sequence[float],
    label_names: Sequence[str],
) -> EvalReport:
    """Evaluate logits ``(N, L)`` against 0/1 targets ``(N, L)``; see the module docstring.

    Raises:
        ValueError: wrong types or shapes, N == 0 ("no rows to evaluate"), thresholds outside
            [0, 1], targets other than 0/1, or NaN logits.
    """
    if len(label_names) != _n_labels(logits):
        raise ValueError(
            f"label_names: expected {_n_labels(logits)} names (one per logits column), "
            f"got {len(label_names)}"
        )
    x, y, thr = _check_inputs(logits, targets, thresholds)
    if torch.isnan(x).any():
        n_nan = int(torch.isnan(x).sum())
        raise ValueError(f"logits: expected finite numbers, got {n_nan} NaN value(s)")
    n, n_labels = x.shape
    names = [str(s) for s in label_names]

    with torch.no_grad(), _quiet():
        yf = y.to(torch.float64)  # (N, L)
        probs = torch.sigmoid(x.to(torch.float64))  # (N, L)
        preds = _decide(probs, thr)  # (N, L) int64

        n_pos = [int(v) for v in y.sum(dim=0).tolist()]
        n_pred_pos = [int(v) for v in preds.sum(dim=0).tolist()]
        prevalence = yf.mean(dim=0).tolist()
        acc, prec, rec, f1 = _threshold_metrics(preds, y, average="none")
        brier = mean_squared_error(probs, yf, num_outputs=n_labels).reshape(-1).tolist()
        bce = _bce(x.to(torch.float64), yf)  # (N, L)
        log_loss = bce.mean(dim=0).tolist()
        p_ece = probs.clamp(max=_BELOW_ONE)
        ranks = _rank_scores(x)  # (N, L), same order as the logits, in [0, 1]

        labels: list[LabelMetrics] = []
        notes: list[str] = []
        for j, name in enumerate(names):
            has_both = 0 < n_pos[j] < n
            labels.append(
                LabelMetrics(
                    name=name,
                    n_rows=n,
                    prevalence=prevalence[j],
                    accuracy=acc[j],
                    precision=prec[j],
                    recall=rec[j],
                    f1=f1[j],
                    roc_auc=_auroc(ranks[:, j], y[:, j]) if has_both else None,
                    pr_auc=_average_precision(ranks[:, j], y[:, j]) if n_pos[j] > 0 else None,
                    brier=brier[j],
                    ece=_ece(p_ece[:, j], y[:, j]),
                    log_loss=log_loss[j],
                    threshold=thr[j],
                )
            )
            notes.extend(_label_notes(name, n_pos[j], n, n_pred_pos[j], thr[j]))

        macro = _macro(labels, n)
        notes.extend(_macro_notes(labels))

        flat_y = y.reshape(-1)
        total_pos = sum(n_pos)
        m_acc, m_prec, m_rec, m_f1 = _threshold_metrics(preds, y, average="micro")
        micro = LabelMetrics(
            name="micro",
            n_rows=n,
            prevalence=float(yf.mean()),
            accuracy=m_acc[0],
            precision=m_prec[0],
            recall=m_rec[0],
            f1=m_f1[0],
            roc_auc=(_auroc(ranks.reshape(-1), flat_y) if 0 < total_pos < flat_y.numel() else None),
            pr_auc=_average_precision(ranks.reshape(-1), flat_y) if total_pos > 0 else None,
            brier=float(mean_squared_error(probs.reshape(-1), yf.reshape(-1))),
            ece=_ece(p_ece.reshape(-1), flat_y),
            log_loss=float(bce.mean()),
            threshold=None,
        )
        if n_labels > 1 and micro.roc_auc is None:
            notes.append("micro ROC-AUC is n/a: all (row, label) targets have the same class")
        if n_labels > 1 and micro.pr_auc is None:
            notes.append("micro PR-AUC is n/a: no positive targets at all")

    return EvalReport(labels=labels, macro=macro, micro=micro, n_rows=n, notes=notes)


def epoch_metrics(
    logits: torch.Tensor,
    targets: torch.Tensor,
    thresholds: Sequence[float] | None = None,
) -> dict[str, float | None]:
    """Per-epoch validation summary: ``val_loss``, ``val_accuracy``, ``val_f1``, ``val_roc_auc``.

    ``val_loss`` is the mean BCE-with-logits over all N*L elements; accuracy and F1 are
    macro averages over labels at ``thresholds`` (default 0.5 for every label); ROC-AUC is
    the macro average over the labels that have both classes (``None`` if none has). The
    values agree with `evaluate_logits` (``log_loss`` of micro, ``accuracy``/``f1``/``roc_auc``
    of macro).

    NaN logits (a diverged model) do not raise: ``val_loss`` is NaN and the other entries are
    ``None``, so the training loop's divergence check sees a non-finite loss.

    Raises:
        ValueError: wrong types or shapes, N == 0, thresholds outside [0, 1], non-0/1 targets.
    """
    n_labels = _n_labels(logits)
    thr_in: Sequence[float] = [0.5] * n_labels if thresholds is None else thresholds
    x, y, thr = _check_inputs(logits, targets, thr_in)
    n = x.shape[0]
    with torch.no_grad(), _quiet():
        yf = y.to(torch.float64)
        x64 = x.to(torch.float64)
        loss = float(_bce(x64, yf).mean())
        if math.isnan(loss):  # only NaN logits make it NaN
            return {"val_loss": loss, "val_accuracy": None, "val_f1": None, "val_roc_auc": None}
        preds = _decide(torch.sigmoid(x64), thr)
        acc = _at_threshold(multilabel_accuracy, preds, y, "none")
        f1 = _at_threshold(multilabel_f1_score, preds, y, "none")
        n_pos = [int(v) for v in y.sum(dim=0).tolist()]
        aucs: list[float] = []
        for j in range(n_labels):
            if 0 < n_pos[j] < n:
                aucs.append(_auroc(_rank_scores(x[:, j]), y[:, j]))
    return {
        "val_loss": loss,
        "val_accuracy": _mean(acc),
        "val_f1": _mean(f1),
        "val_roc_auc": _mean(aucs) if aucs else None,
    }


# --- input checks -------------------------------------------------------------------------


def _n_labels(logits: torch.Tensor) -> int:
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"logits: expected a torch.Tensor, got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(
            f"logits: expected a 2-D tensor (N rows, L labels), got shape {tuple(logits.shape)}"
            + (" (use logits.unsqueeze(1) for a single label)" if logits.ndim == 1 else "")
        )
    return int(logits.shape[1])


def _check_inputs(
    logits: torch.Tensor, targets: torch.Tensor, thresholds: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Validate; return detached logits, int64 targets on the logits' device, float thresholds."""
    n_labels = _n_labels(logits)
    if not logits.is_floating_point():
        raise ValueError(f"logits: expected a floating-point tensor, got dtype {logits.dtype}")
    if not isinstance(targets, torch.Tensor):
        raise ValueError(f"targets: expected a torch.Tensor, got {type(targets).__name__}")
    if tuple(targets.shape) != tuple(logits.shape):
        raise ValueError(
            f"targets: expected the shape of logits {tuple(logits.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    if n_labels == 0:
        raise ValueError("logits: expected at least one label column, got 0")
    if logits.shape[0] == 0:
        raise ValueError("no rows to evaluate")
    if len(thresholds) != n_labels:
        raise ValueError(
            f"thresholds: expected {n_labels} values (one per label), got {len(thresholds)}"
        )
    thr: list[float] = []
    for j, t in enumerate(thresholds):
        value = float(t)
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise ValueError(f"thresholds[{j}]: expected a number in [0, 1], got {t!r}")
        thr.append(value)

    x = logits.detach()
    y = targets.detach().to(x.device)
    bad = (y != 0) & (y != 1)
    if bool(bad.any()):
        row, col = (int(i) for i in bad.nonzero()[0].tolist())
        raise ValueError(
            f"targets: expected 0 or 1, got {y[row, col].item()!r} at row {row}, column {col}"
        )
    return x, y.to(torch.int64), thr


# --- metric helpers ---------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence warnings (torchmetrics warns on one-class inputs; we report notes instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _decide(probs: torch.Tensor, thresholds: list[float]) -> torch.Tensor:
    """0/1 decisions ``(N, L)``: probability strictly above the label's threshold."""
    thr = torch.tensor(thresholds, dtype=probs.dtype, device=probs.device)  # (L,)
    return (probs > thr).to(torch.int64)


def _threshold_metrics(
    preds: torch.Tensor, targets: torch.Tensor, average: Literal["none", "micro"]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Accuracy, precision, recall, F1 of 0/1 decisions; per label ("none") or pooled ("micro")."""
    return (
        _at_threshold(multilabel_accuracy, preds, targets, average),
        _at_threshold(multilabel_precision, preds, targets, average),
        _at_threshold(multilabel_recall, preds, targets, average),
        _at_threshold(multilabel_f1_score, preds, targets, average),
    )


def _at_threshold(
    metric: Callable[..., torch.Tensor],
    preds: torch.Tensor,
    targets: torch.Tensor,
    average: Literal["none", "micro"],
) -> list[float]:
    """A torchmetrics multilabel metric of 0/1 decisions ``(N, L)``, as a list of floats."""
    out = metric(
        preds,
        targets,
        num_labels=preds.shape[1],
        average=None if average == "none" else average,
        validate_args=False,
    )
    # with one label and average=None torchmetrics returns a 0-d tensor: reshape to a list
    return [float(v) for v in out.reshape(-1).tolist()]


def _rank_scores(logits: torch.Tensor) -> torch.Tensor:
    """Map logits into [0, 1] (float64), keeping their order and ties exactly.

    Ranking metrics only need the order of the scores. torchmetrics wants scores in [0, 1]
    (it applies a sigmoid to anything outside), and a float sigmoid would merge distinct
    large logits. For float32 (and narrower) logits, the IEEE bit pattern is turned into a
    monotone integer key, which is exact in float64 and costs one elementwise pass; float64
    logits get their dense rank from a sort.
    """
    if logits.dtype == torch.float64:
        inverse: torch.Tensor = torch.unique(logits, sorted=True, return_inverse=True)[1]
        return inverse.to(torch.float64) / max(1, logits.numel())
    bits = logits.to(torch.float32).contiguous().view(torch.int32).to(torch.float64)
    # Non-negative floats: the bits ascend with the value; key = bits + 2**31 in [2**31, 2**32).
    # Negative floats: bits = m - 2**31 (m = magnitude bits), so key = -bits = 2**31 - m, in
    # (0, 2**31], ascends with the value. Scaling by 2**-32 is exact: key in (0, 1), and
    # -0.0 and +0.0 both map to 0.5.
    key = torch.where(bits >= 0, bits + 2.0**31, -bits)
    return key.mul_(2.0**-32)


def _bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Elementwise BCE-with-logits; infinite logits give 0 (right side) or inf, not NaN."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    inf = torch.isinf(logits)
    right = (logits > 0) == (targets > 0.5)
    return torch.where(inf, torch.where(right, 0.0, math.inf), bce)


def _auroc(scores: torch.Tensor, targets: torch.Tensor) -> float:
    return float(binary_auroc(scores, targets, thresholds=None, validate_args=False))


def _average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    return float(binary_average_precision(scores, targets, thresholds=None, validate_args=False))


def _ece(probs: torch.Tensor, targets: torch.Tensor) -> float:
    return float(
        binary_calibration_error(probs, targets, n_bins=ECE_BINS, norm="l1", validate_args=False)
    )


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return _mean(defined) if defined else None


def _macro(labels: list[LabelMetrics], n_rows: int) -> LabelMetrics:
    return LabelMetrics(
        name="macro",
        n_rows=n_rows,
        prevalence=_mean([m.prevalence for m in labels]),
        accuracy=_mean([m.accuracy for m in labels]),
        precision=_mean([m.precision for m in labels]),
        recall=_mean([m.recall for m in labels]),
        f1=_mean([m.f1 for m in labels]),
        roc_auc=_mean_defined([m.roc_auc for m in labels]),
        pr_auc=_mean_defined([m.pr_auc for m in labels]),
        brier=_mean([m.brier for m in labels]),
        ece=_mean([m.ece for m in labels]),
        log_loss=_mean([m.log_loss for m in labels]),
        threshold=None,
    )


def _label_notes(name: str, n_pos: int, n_rows: int, n_pred_pos: int, thr: float) -> list[str]:
    notes: list[str] = []
    if n_pos == 0:
        notes.append(
            f"label {name!r}: only one class in the data (no positives); ROC-AUC and PR-AUC "
            "are n/a, recall is reported as 0.0"
        )
    elif n_pos == n_rows:
        notes.append(f"label {name!r}: only one class in the data (no negatives); ROC-AUC is n/a")
    if n_pred_pos == 0:
        notes.append(
            f"label {name!r}: no predicted positives at threshold {thr:g}; "
            "precision is reported as 0.0"
        )
    return notes


def _macro_notes(labels: list[LabelMetrics]) -> list[str]:
    if len(labels) < 2:
        return []
    notes: list[str] = []
    for metric, attr in (("ROC-AUC", "roc_auc"), ("PR-AUC", "pr_auc")):
        k = sum(getattr(m, attr) is not None for m in labels)
        if k == 0:
            notes.append(f"macro {metric} is n/a: no label has it defined")
        elif k < len(labels):
            notes.append(
                f"macro {metric} averages {k} of {len(labels)} labels (the others are n/a)"
            )
    return notes


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
