"""Tests of sigmoidnet.evaluation against independent numpy computations."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigmoidnet.evaluation import (
    ECE_BINS,
    EvalReport,
    LabelMetrics,
    _rank_scores,
    epoch_metrics,
    evaluate_logits,
)

# torchmetrics computes AUC/accuracy/precision/... in float32: compare at this tolerance
TOL = 2e-6

# --- independent reference implementations (numpy, from the definitions) -----------------


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):  # the branch np.where discards may overflow
        out: np.ndarray = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
    return out


def midranks(s: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def np_auc(s: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney U statistic over (P * N), ties counting 1/2."""
    s, y = np.asarray(s, dtype=np.float64), np.asarray(y)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    r_pos = midranks(s)[y == 1].sum()
    u = r_pos - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def np_auc_pairs(s: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC by counting all (positive, negative) pairs — a second opinion."""
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def np_ap(s: np.ndarray, y: np.ndarray) -> float:
    """Average precision: sum over distinct thresholds of (R_k - R_{k-1}) * P_k."""
    s, y = np.asarray(s, dtype=np.float64), np.asarray(y)
    ap, prev_recall = 0.0, 0.0
    for t in np.unique(s)[::-1]:  # descending thresholds, predict positive when s >= t
        pred = s >= t
        tp = float((pred & (y == 1)).sum())
        precision, recall = tp / pred.sum(), tp / y.sum()
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


def np_ece(p: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """L1 ECE over equal-width bins [k/n, (k+1)/n), the last one closed at 1."""
    idx = np.minimum(np.floor(p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for k in range(n_bins):
        m = idx == k
        if m.any():
            total += abs(y[m].mean() - p[m].mean()) * m.sum() / len(p)
    return total


def np_log_loss(x: np.ndarray, y: np.ndarray) -> float:
    p = np_sigmoid(x)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def np_threshold_metrics(p: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    pred = p > t
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float((pred == (y == 1)).mean()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def reference(x: np.ndarray, y: np.ndarray, t: np.ndarray | float) -> dict[str, float | None]:
    """All metrics of one label (or of pooled elements, with per-element thresholds)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y).astype(int)
    p = np_sigmoid(x)
    pred = p > np.asarray(t)
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    n_pos = int(y.sum())
    return {
        "prevalence": float(y.mean()),
        "accuracy": float((pred == (y == 1)).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "roc_auc": np_auc(x, y) if 0 < n_pos < len(y) else None,
        "pr_auc": np_ap(x, y) if n_pos > 0 else None,
        "brier": float(np.mean((p - y) ** 2)),
        "ece": np_ece(p, y),
        "log_loss": np_log_loss(x, y),
    }


def assert_matches(m: LabelMetrics, ref: dict[str, float | None]) -> None:
    for key, want in ref.items():
        got = getattr(m, key)
        if want is None:
            assert got is None, f"{m.name}.{key}: expected n/a, got {got}"
        else:
            assert got is not None, f"{m.name}.{key}: expected {want}, got n/a"
            assert got == pytest.approx(want, abs=TOL), f"{m.name}.{key}"


@pytest.fixture(autouse=True)
def _no_warnings() -> Iterator[None]:
    """evaluation must not leak torchmetrics warnings: turn every warning into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- a small hand-made case -----------------------------------------------------------------

# 10 rows, 2 labels; label 'a' has tied scores (0.5 twice, -1.0 twice) across classes
HAND_X = np.array(
    [
        [2.0, -0.3],
        [0.5, 1.2],
        [0.5, -2.0],
        [-1.0, 0.1],
        [-1.0, 3.0],
        [1.5, -0.7],
        [-2.5, 0.4],
        [0.2, -1.5],
        [3.0, 2.2],
        [-0.4, 0.9],
    ],
    dtype=np.float32,
)
HAND_Y = np.array(
    [[1, 0], [1, 1], [0, 0], [1, 0], [0, 1], [1, 0], [0, 1], [0, 0], [1, 1], [0, 0]],
    dtype=np.float32,
)


def evaluate_np(
    x: np.ndarray, y: np.ndarray, thresholds: list[float], names: list[str] | None = None
) -> EvalReport:
    names = names or [f"l{j}" for j in range(x.shape[1])]
    return evaluate_logits(torch.from_numpy(x), torch.from_numpy(y), thresholds, names)


def test_hand_case_per_label_matches_numpy() -> None:
    report = evaluate_np(HAND_X, HAND_Y, [0.5, 0.6], ["a", "b"])
    assert [m.name for m in report.labels] == ["a", "b"]
    assert report.n_rows == 10
    assert report.notes == []
    for j, (m, t) in enumerate(zip(report.labels, [0.5, 0.6], strict=True)):
        assert m.n_rows == 10 and m.threshold == t
        assert_matches(m, reference(HAND_X[:, j], HAND_Y[:, j], t))


def test_hand_case_reference_values() -> None:
    """Pin the references themselves on label 'a', computed on paper."""
    x, y = HAND_X[:, 0].astype(np.float64), HAND_Y[:, 0].astype(int)
    # positives 2.0, 0.5, -1.0, 1.5, 3.0; negatives 0.5, -1.0, -2.5, 0.2, -0.4
    # pairs won per positive: 3.0: 5, 2.0: 5, 1.5: 5, 0.5: 4 + 1/2 (tie with the negative 0.5),
    # -1.0: 1 + 1/2 (tie with the negative -1.0) → 21/25
    assert np_auc(x, y) == pytest.approx(21 / 25)
    assert np_auc_pairs(x, y) == pytest.approx(21 / 25)
    # descending distinct scores 3, 2, 1.5, {0.5, 0.5}, 0.2, -0.4, {-1, -1}, -2.5:
    # recall steps at 3 (P=1), 2 (1), 1.5 (1), 0.5 (4/5), -1.0 (5/9), each step 1/5
    assert np_ap(x, y) == pytest.approx((1 + 1 + 1 + 4 / 5 + 5 / 9) / 5)


def test_hand_case_micro_pools_all_elements() -> None:
    thresholds = [0.5, 0.6]
    report = evaluate_np(HAND_X, HAND_Y, thresholds)
    t_elem = np.broadcast_to(np.array(thresholds), HAND_X.shape).reshape(-1)
    want = reference(HAND_X.reshape(-1), HAND_Y.reshape(-1), t_elem)
    assert_matches(report.micro, want)
    assert report.micro.threshold is None and report.micro.name == "micro"
    assert report.micro.n_rows == 10


def test_hand_case_macro_is_unweighted_mean() -> None:
    report = evaluate_np(HAND_X, HAND_Y, [0.5, 0.6])
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "brier", "ece"):
        values = [getattr(m, key) for m in report.labels]
        assert getattr(report.macro, key) == pytest.approx(sum(values) / 2, abs=1e-12), key
    assert report.macro.threshold is None and report.macro.name == "macro"


# --- special classifiers --------------------------------------------------------------------


def test_perfect_classifier() -> None:
    y = np.array([[0], [1], [0], [1], [1], [0]], dtype=np.float32)
    spread = np.arange(6, dtype=np.float32)[:, None]
    x = np.where(y == 1, 1.0 + spread, -1.0 - spread).astype(np.float32)
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.roc_auc == 1.0 and m.pr_auc == 1.0
    assert (m.accuracy, m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0, 1.0)


def test_inverted_classifier() -> None:
    y = np.array([[0], [1], [0], [1], [1], [0]], dtype=np.float32)
    x = np.where(y == 1, -3.0, 3.0).astype(np.float32)
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.roc_auc == 0.0
    assert m.accuracy == 0.0 and m.precision == 0.0 and m.recall == 0.0 and m.f1 == 0.0
    assert m.pr_auc == pytest.approx(np_ap(x[:, 0], y[:, 0]))  # AP = prevalence here
    assert m.pr_auc == pytest.approx(0.5)


def test_ties_in_scores() -> None:
    # all scores equal: a coin
    y = np.array([[0], [1], [1], [0], [1]], dtype=np.float32)
    x = np.zeros_like(y)
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.roc_auc == pytest.approx(0.5)
    assert m.pr_auc == pytest.approx(3 / 5)  # one threshold: precision = prevalence
    # partial ties: pairs (1 vs 1) = 1/2, (2 vs 1) = 1 → 3/4
    m = evaluate_np(
        np.array([[1.0], [1.0], [2.0]], np.float32), np.array([[0], [1], [1]], np.float32), [0.5]
    ).labels[0]
    assert m.roc_auc == pytest.approx(0.75)
    assert m.pr_auc == pytest.approx(np_ap(np.array([1.0, 1.0, 2.0]), np.array([0, 1, 1])))


def test_large_logits_are_ranked_not_tied_by_sigmoid() -> None:
    """float32 sigmoid is exactly 1.0 above ~16.6: ranking must use the logits."""
    x = np.array([[20.0], [25.0], [30.0], [40.0]], dtype=np.float32)
    assert set(torch.sigmoid(torch.from_numpy(x)).reshape(-1).tolist()) == {1.0}  # the trap
    y = np.array([[0], [0], [1], [1]], dtype=np.float32)
    for dtype in (np.float32, np.float64):
        m = evaluate_np(x.astype(dtype), y, [0.5]).labels[0]
        assert m.roc_auc == 1.0 and m.pr_auc == 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_rank_scores_keep_order_and_ties_exactly(dtype: torch.dtype) -> None:
    values = [-math.inf, -1e30, -3.0, -1.0, -1e-30, -0.0, 0.0, 1e-40, 1e-30, 1.0, 1.0, 3.0, 1e30]
    values += [math.inf]
    x = torch.tensor(values, dtype=torch.float64).to(dtype)  # sorted, with ties
    keys = _rank_scores(x)
    assert keys.dtype == torch.float64
    assert bool(((keys >= 0) & (keys <= 1)).all())
    xs, ks = x.tolist(), keys.tolist()
    for i in range(len(xs) - 1):
        if xs[i] == xs[i + 1]:
            assert ks[i] == ks[i + 1], (xs[i], xs[i + 1])
        else:
            assert ks[i] < ks[i + 1], (xs[i], xs[i + 1])


# --- n/a handling ---------------------------------------------------------------------------


def test_single_class_labels_get_notes_not_errors() -> None:
    x = np.array([[-1.0, 2.0, 0.3], [0.5, 1.0, -0.2], [-2.0, -1.0, 1.1]], dtype=np.float32)
    y = np.array([[0, 1, 1], [0, 1, 0], [0, 1, 1]], dtype=np.float32)
    report = evaluate_np(x, y, [0.5, 0.5, 0.5], ["neg", "pos", "ok"])
    neg, pos, ok = report.labels
    assert neg.roc_auc is None and neg.pr_auc is None
    assert neg.accuracy == pytest.approx(2 / 3) and neg.recall == 0.0 and neg.prevalence == 0.0
    assert pos.roc_auc is None and pos.pr_auc == pytest.approx(1.0)
    assert pos.accuracy == pytest.approx(2 / 3) and pos.prevalence == 1.0
    assert ok.roc_auc == pytest.approx(1.0)
    # each metric still matches the reference (which also says n/a)
    for j, m in enumerate(report.labels):
        assert_matches(m, reference(x[:, j], y[:, j], 0.5))
    notes = "\n".join(report.notes)
    assert "label 'neg': only one class in the data" in notes
    assert "ROC-AUC and PR-AUC are n/a" in notes
    assert "label 'pos': only one class in the data (no negatives); ROC-AUC is n/a" in notes
    assert "'ok'" not in notes
    assert "macro ROC-AUC averages 1 of 3 labels" in notes
    assert "macro PR-AUC averages 2 of 3 labels" in notes
    assert report.macro.roc_auc == pytest.approx(ok.roc_auc)
    assert report.macro.pr_auc == pytest.approx((1.0 + 1.0) / 2)
    assert report.micro.roc_auc is not None  # pooled elements have both classes


def test_all_labels_one_class() -> None:
    x = np.array([[0.3, -0.2], [1.0, 2.0]], dtype=np.float32)
    y = np.zeros_like(x)
    report = evaluate_np(x, y, [0.5, 0.5])
    assert report.macro.roc_auc is None and report.macro.pr_auc is None
    assert report.micro.roc_auc is None and report.micro.pr_auc is None
    assert "macro ROC-AUC is n/a: no label has it defined" in report.notes
    assert "micro ROC-AUC is n/a: all (row, label) targets have the same class" in report.notes
    assert report.micro.accuracy == pytest.approx(0.25)  # only logit -0.2 is below 0.5
    assert json.dumps(report.to_dict(), allow_nan=False)


def test_no_predicted_positives_gives_zero_precision_and_a_note() -> None:
    x = np.array([[-1.0], [-2.0], [-0.5]], dtype=np.float32)
    y = np.array([[1], [0], [1]], dtype=np.float32)
    report = evaluate_np(x, y, [0.5], ["z"])
    m = report.labels[0]
    assert m.precision == 0.0 and m.recall == 0.0 and m.f1 == 0.0
    assert m.accuracy == pytest.approx(1 / 3)
    assert "label 'z': no predicted positives at threshold 0.5; precision is reported as 0.0" in (
        report.notes
    )


# --- multi-label and thresholds -------------------------------------------------------------


def test_macro_and_micro_differ_and_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    n = 40
    y = np.stack([rng.random(n) < 0.5, rng.random(n) < 0.1, rng.random(n) < 0.7], 1)
    y = y.astype(np.float32)
    # labels on different logit scales: pooling across labels changes the ranking
    x = rng.normal(size=(n, 3)) + 1.5 * (2 * y - 1) + np.array([0.0, -3.0, 2.0])
    x = x.astype(np.float32)
    thresholds = [0.5, 0.2, 0.8]
    report = evaluate_np(x, y, thresholds)
    for j, m in enumerate(report.labels):
        assert_matches(m, reference(x[:, j], y[:, j], thresholds[j]))
    t_elem = np.broadcast_to(np.array(thresholds), x.shape).reshape(-1)
    assert_matches(report.micro, reference(x.reshape(-1), y.reshape(-1), t_elem))
    for key in ("precision", "recall", "f1", "roc_auc", "pr_auc", "ece"):
        mean = np.mean([getattr(m, key) for m in report.labels])
        assert getattr(report.macro, key) == pytest.approx(mean, abs=1e-12)
    assert report.macro.roc_auc != pytest.approx(report.micro.roc_auc, abs=1e-3)
    assert report.macro.precision != pytest.approx(report.micro.precision, abs=1e-3)


def test_thresholds_trade_precision_for_recall() -> None:
    x = np.array([[-2.0], [-1.0], [-0.5], [0.0], [0.5], [1.0], [1.5], [2.5]], np.float32)
    y = np.array([[0], [1], [0], [1], [0], [1], [1], [1]], np.float32)
    p = np_sigmoid(x[:, 0])
    results = {}
    for t in (0.2, 0.5, 0.8):
        m = evaluate_np(x, y, [t]).labels[0]
        ref = np_threshold_metrics(p, y[:, 0], t)
        for key, want in ref.items():
            assert getattr(m, key) == pytest.approx(want, abs=TOL), (t, key)
        results[t] = m
        # threshold-free metrics do not move
        assert m.roc_auc == pytest.approx(np_auc(x[:, 0], y[:, 0]), abs=TOL)
    assert results[0.2].recall > results[0.5].recall > results[0.8].recall
    assert results[0.2].precision < results[0.5].precision < results[0.8].precision


def test_decision_is_strictly_above_threshold() -> None:
    x = np.array([[0.0], [0.0]], np.float32)  # probability exactly 0.5
    y = np.array([[1], [0]], np.float32)
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.recall == 0.0  # 0.5 is not > 0.5
    m = evaluate_np(x, y, [0.0]).labels[0]
    assert m.recall == 1.0 and m.precision == 0.5
    m = evaluate_np(np.array([[50.0], [-50.0]], np.float32), y, [1.0]).labels[0]
    assert m.recall == 0.0  # nothing is above 1


# --- calibration and losses -----------------------------------------------------------------


def test_ece_uses_15_bins_and_puts_probability_one_in_the_last() -> None:
    # logit 40 → float64 sigmoid is exactly 1.0; torchmetrics alone would give it a 16th bin
    x = np.array([[40.0], [40.0], [2.7], [-1.4]], np.float64)
    y = np.array([[1], [0], [1], [0]], np.float64)
    p = np_sigmoid(x[:, 0])
    assert p[0] == 1.0 and ECE_BINS == 15
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.ece == pytest.approx(np_ece(p, y[:, 0]), abs=1e-12)


def test_log_loss_from_logits_is_stable_and_exact() -> None:
    # probabilities 1 - 1e-26 would be 1.0: a loss from probabilities gives inf or 0
    x = np.array([[60.0], [-60.0], [60.0]], np.float32)
    y = np.array([[1], [1], [0]], np.float32)
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.log_loss == pytest.approx((math.log1p(math.exp(-60)) + 60 + 60) / 3, rel=1e-12)
    assert math.isfinite(m.brier)


def test_infinite_logits_give_inf_or_zero_loss_and_null_in_json() -> None:
    x = np.array([[math.inf], [-math.inf], [1.0], [-1.0]], np.float32)
    y = np.array([[1], [0], [1], [0]], np.float32)
    m = evaluate_np(x, y, [0.5]).labels[0]
    assert m.log_loss == pytest.approx(2 * math.log1p(math.exp(-1)) / 4)
    assert m.roc_auc == 1.0
    y_wrong = np.array([[0], [0], [1], [0]], np.float32)
    report = evaluate_np(x, y_wrong, [0.5])
    assert report.labels[0].log_loss == math.inf
    d = report.to_dict()
    assert d["labels"][0]["log_loss"] is None
    json.dumps(d, allow_nan=False)


# --- epoch_metrics --------------------------------------------------------------------------


def test_epoch_metrics_agrees_with_evaluate_logits() -> None:
    g = torch.Generator().manual_seed(1)
    y = (torch.rand(500, 3, generator=g) < torch.tensor([0.3, 0.6, 0.0])).float()
    x = torch.randn(500, 3, generator=g) + 2 * y
    thresholds = [0.5, 0.3, 0.7]
    report = evaluate_logits(x, y, thresholds, ["a", "b", "c"])
    em = epoch_metrics(x, y, thresholds)
    assert set(em) == {"val_loss", "val_accuracy", "val_f1", "val_roc_auc"}
    assert em["val_loss"] == pytest.approx(report.micro.log_loss, rel=1e-12)
    assert em["val_loss"] == pytest.approx(
        float(torch.nn.functional.binary_cross_entropy_with_logits(x, y)), rel=1e-5
    )
    assert em["val_accuracy"] == pytest.approx(report.macro.accuracy, abs=1e-12)
    assert em["val_f1"] == pytest.approx(report.macro.f1, abs=1e-12)
    assert em["val_roc_auc"] == pytest.approx(report.macro.roc_auc, abs=1e-12)
    # label 'c' has one class: the macro AUC is over 'a' and 'b'
    assert report.labels[2].roc_auc is None
    assert em["val_roc_auc"] == pytest.approx(
        (np_auc(x[:, 0].numpy(), y[:, 0].numpy()) + np_auc(x[:, 1].numpy(), y[:, 1].numpy())) / 2,
        abs=TOL,
    )
    for v in em.values():
        assert type(v) is float


def test_epoch_metrics_default_thresholds_and_no_auc() -> None:
    x = torch.tensor([[0.0, 1.0], [2.0, -1.0], [-3.0, 0.5]])
    y = torch.zeros(3, 2)
    em = epoch_metrics(x, y)
    report = evaluate_logits(x, y, [0.5, 0.5], ["a", "b"])
    assert em["val_roc_auc"] is None
    assert em["val_accuracy"] == pytest.approx(report.macro.accuracy)
    assert em["val_accuracy"] == pytest.approx(0.5)  # a: 2/3 right (0.0 is negative), b: 1/3


def test_epoch_metrics_nan_logits_report_nan_loss() -> None:
    x = torch.tensor([[math.nan], [1.0]])
    y = torch.tensor([[1.0], [0.0]])
    em = epoch_metrics(x, y)
    assert math.isnan(em["val_loss"] or 0.0)
    assert em["val_accuracy"] is None and em["val_f1"] is None and em["val_roc_auc"] is None
    with pytest.raises(ValueError, match="NaN"):
        evaluate_logits(x, y, [0.5], ["a"])


# --- to_dict, inputs, devices ---------------------------------------------------------------


def test_to_dict_is_json_ready() -> None:
    report = evaluate_np(HAND_X, np.column_stack([HAND_Y[:, 0], np.zeros(10)]), [0.5, 0.5])
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert set(d) == {"n_rows", "labels", "macro", "micro", "notes"}
    assert d["labels"][1]["roc_auc"] is None and d["labels"][1]["pr_auc"] is None
    assert d["macro"]["threshold"] is None
    for entry in [*d["labels"], d["macro"], d["micro"]]:
        for key, value in entry.items():
            assert value is None or type(value) in (str, int, float), (key, type(value))
    assert type(d["labels"][0]["accuracy"]) is float and type(d["n_rows"]) is int


def test_accepts_int_bool_targets_and_logits_requiring_grad() -> None:
    x = torch.from_numpy(HAND_X).requires_grad_(True)
    want = evaluate_np(HAND_X, HAND_Y, [0.5, 0.5]).to_dict()
    for y in (torch.from_numpy(HAND_Y).long(), torch.from_numpy(HAND_Y).bool()):
        assert evaluate_logits(x, y, [0.5, 0.5], ["l0", "l1"]).to_dict() == want
    assert epoch_metrics(x, torch.from_numpy(HAND_Y).long())["val_loss"] is not None


def test_does_not_print(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate_np(np.zeros((3, 1), np.float32), np.zeros((3, 1), np.float32), [0.5])
    epoch_metrics(torch.zeros(3, 1), torch.zeros(3, 1))
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("logits", "targets", "thresholds", "names", "match"),
    [
        (torch.zeros(0, 2), torch.zeros(0, 2), [0.5, 0.5], ["a", "b"], "no rows to evaluate"),
        (torch.zeros(3, 2), torch.zeros(3, 1), [0.5, 0.5], ["a", "b"], r"targets: .*\(3, 2\)"),
        (torch.zeros(3), torch.zeros(3), [0.5], ["a"], "2-D tensor.*unsqueeze"),
        (torch.zeros(3, 2), torch.zeros(3, 2), [0.5], ["a", "b"], "thresholds: expected 2"),
        (torch.zeros(3, 2), torch.zeros(3, 2), [0.5, 0.5], ["a"], "label_names: expected 2"),
        (torch.zeros(3, 1), torch.zeros(3, 1), [1.5], ["a"], r"thresholds\[0\].*\[0, 1\]"),
        (torch.zeros(3, 1), torch.zeros(3, 1), [math.nan], ["a"], r"thresholds\[0\]"),
        (torch.zeros(2, 1), torch.tensor([[1.0], [0.5]]), [0.5], ["a"], "row 1, column 0"),
        (torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1), [0.5], ["a"], "floating"),
        (torch.zeros(2, 0), torch.zeros(2, 0), [], [], "at least one label"),
    ],
)
def test_bad_inputs_raise_value_error(
    logits: torch.Tensor,
    targets: torch.Tensor,
    thresholds: list[float],
    names: list[str],
    match: str,
) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate_logits(logits, targets, thresholds, names)
    if "label_names" not in match:
        with pytest.raises(ValueError, match=match):
            epoch_metrics(logits, targets, thresholds)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    x, y = torch.from_numpy(HAND_X), torch.from_numpy(HAND_Y)
    cpu = evaluate_logits(x, y, [0.5, 0.6], ["a", "b"]).to_dict()
    gpu = evaluate_logits(x.cuda(), y.cuda(), [0.5, 0.6], ["a", "b"]).to_dict()
    assert json.dumps(gpu) and gpu["notes"] == cpu["notes"]
    for a, b in zip([*cpu["labels"], cpu["micro"]], [*gpu["labels"], gpu["micro"]], strict=True):
        for key, value in a.items():
            assert b[key] == (value if not isinstance(value, float) else pytest.approx(value))
    assert epoch_metrics(x.cuda(), y.cuda()) == pytest.approx(epoch_metrics(x, y))


# --- property test against the references ---------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(
        st.tuples(st.integers(-4, 4), st.booleans()),  # small integer logits: many ties
        min_size=1,
        max_size=25,
    ),
    threshold=st.sampled_from([0.0, 0.1, 0.5, 0.73, 1.0]),
)
def test_random_cases_match_references(data: list[tuple[int, bool]], threshold: float) -> None:
    x = np.array([[v / 2] for v, _ in data], np.float32)
    y = np.array([[float(b)] for _, b in data], np.float32)
    report = evaluate_np(x, y, [threshold])
    assert_matches(report.labels[0], reference(x[:, 0], y[:, 0], threshold))
    if report.labels[0].roc_auc is not None:
        assert report.labels[0].roc_auc == pytest.approx(
            np_auc_pairs(x[:, 0], y[:, 0].astype(int)), abs=TOL
        )
