"""sigmoidnet.calibrate.thresholds: the exact threshold search, against a brute-force
oracle that tries every candidate threshold and counts the decisions `p > t` directly."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from sigmoidnet.calibrate.thresholds import tune_threshold

RULES: list[Any] = [
    "f1",
    "youden",
    {"precision": 0.8},
    {"precision": 0.5},
    {"recall": 0.9},
    {"recall": 0.3},
    {"cost": {"fp": 1.0, "fn": 5.0}},
    {"cost": {"fp": 3.0, "fn": 1.0}},
]


def counts(p: np.ndarray, y: np.ndarray, t: float) -> tuple[int, int, int, int]:
    pred = p > t
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    return tp, fp, int((~pred & y).sum()), int((~pred & ~y).sum())


def oracle(p: np.ndarray, y: np.ndarray, rule: Any) -> float:
    """Every cut's midpoint threshold, scored by direct counting; the best, ties to the
    highest threshold."""
    s = np.unique(p)
    cands = [s[0] / 2] + [(a + b) / 2 for a, b in itertools.pairwise(s)]
    cands.append((s[-1] + 1) / 2)
    scored = []
    for t in cands:
        tp, fp, fn, tn = counts(p, y, t)
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn)
        if rule == "f1":
            key: tuple[float, ...] = (2 * tp / (2 * tp + fp + fn),)
        elif rule == "youden":
            key = (rec + tn / (tn + fp) - 1,)
        elif "precision" in rule:
            ok = prec >= rule["precision"] and tp + fp > 0
            key = (1.0, rec) if ok else (0.0, prec, rec)
        elif "recall" in rule:
            key = (1.0, prec) if rec >= rule["recall"] else (0.0, rec)
        else:
            key = (-(rule["cost"]["fp"] * fp + rule["cost"]["fn"] * fn),)
        scored.append((key, t))
    best = max(k for k, _ in scored)
    return max(t for k, t in scored if k == best)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("rule", RULES, ids=[str(r) for r in RULES])
def test_the_search_equals_the_brute_force_oracle(seed: int, rule: Any) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    y = rng.random(n) < rng.uniform(0.2, 0.8)
    y[0], y[1] = True, False  # both classes
    # ties on purpose: scores rounded to a few values on some seeds
    p = rng.beta(2, 2, n) * 0.6 + 0.4 * y * rng.random(n)
    if seed % 3 == 0:
        p = np.round(p, 1)
    got = tune_threshold(p, y, rule)
    want = oracle(p, y, rule)
    assert got.threshold == pytest.approx(want, abs=0, rel=0)
    assert not np.isin(got.threshold, p)  # a midpoint: no score lies on it


def test_a_label_with_one_class_keeps_one_half() -> None:
    for y in ([0, 0, 0], [1, 1, 1]):
        got = tune_threshold([0.2, 0.5, 0.9], y, "f1")
        assert got.threshold == 0.5 and got.note is not None and "cannot be tuned" in got.note
        assert got.source.startswith("0.5: f1 not tuned (no ")


def test_an_unreachable_precision_gets_the_closest_with_a_note() -> None:
    p = [0.9, 0.8, 0.7, 0.6, 0.5]
    y = [1, 0, 1, 0, 0]
    got = tune_threshold(p, y, {"precision": 0.99})
    assert got.threshold == pytest.approx(0.85)  # only the top row: precision 1.0
    assert got.note is None
    # here the best precision any cut reaches is 2/3 (the top three scores)
    y = [0, 1, 1, 0, 1]
    got = tune_threshold(p, y, {"precision": 0.99})
    assert got.note is not None and "cannot be reached" in got.note
    tp, fp, _, _ = counts(np.array(p), np.array(y) == 1, got.threshold)
    assert tp / (tp + fp) == pytest.approx(2 / 3) and got.threshold == pytest.approx(0.65)


def test_the_source_states_the_figures_at_the_threshold() -> None:
    p = np.array([0.1, 0.35, 0.4, 0.8, 0.65, 0.2])
    y = np.array([0, 1, 0, 1, 1, 0]) == 1
    got = tune_threshold(p, y, "f1")
    tp, fp, fn, _ = counts(p, y, got.threshold)
    assert got.source == f"f1 on 6 validation rows: F1 {2 * tp / (2 * tp + fp + fn):.4f}"
    got = tune_threshold(p, y, {"cost": {"fp": 1, "fn": 5}})
    tp, fp, fn, _ = counts(p, y, got.threshold)
    assert got.source.endswith(f"({fp} FP, {fn} FN)")
