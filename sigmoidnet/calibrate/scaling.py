"""Probability calibration per label, fitted on the validation rows' logits after training.

Both methods map a label's logit z to a calibrated logit a·z + b (probability σ(a·z + b)):

- `temperature` (Guo et al., 2017): b = 0 and a = 1/T, the temperature T minimizing the
  validation rows' log-loss (binary cross-entropy with the 0/1 targets). One convex
  parameter: Newton's method on a, bounded to T in [0.01, 100] (a separable validation set
  would otherwise send T to 0).
- `platt` (Platt, 1999): a and b minimizing the log-loss against Platt's smoothed targets
  (N₊ + 1)/(N₊ + 2) for a positive and 1/(N₋ + 2) for a negative, which keeps the minimum
  finite on separable rows; Newton's method with a backtracking line search, as in Lin, Lin
  & Weng (2007), "A note on Platt's probabilistic outputs for support vector machines".

Everything is computed in float64 with log-sigmoids that do not overflow. A label whose
validation rows hold one class is left as it is (a = 1, b = 0), with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
METHODS = ("temperature", "platt")
T_MIN, T_MAX = 0.01, 100.0


@dataclass(frozen=True)
class Scaling:
    a: float
    b: float
    note: str | None = None


def _nll(z: F64, t: F64) -> float:
    """Mean binary cross-entropy of logits z against (soft) targets t, stable."""
    return float(np.mean(np.logaddexp(0.0, z) - t * z))


def fit_temperature(logits: Any, targets: Any) -> Scaling:
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if len(z) == 0 or y.min() == y.max():
        return Scaling(1.0, 0.0, "one class in the validation rows: not calibrated")
    lo, hi = 1.0 / T_MAX, 1.0 / T_MIN
    a = 1.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * z, -700, 700)))
        grad = float(np.mean((p - y) * z))
        hess = float(np.mean(p * (1.0 - p) * z * z))
        if hess <= 1e-300:
            break
        new = min(max(a - grad / hess, lo), hi)
        # Newton on a convex function of one variable, guarded: never a worse value
        while _nll(new * z, y) > _nll(a * z, y) + 1e-15 and abs(new - a) > 1e-15:
            new = (new + a) / 2.0
        if abs(new - a) <= 1e-12 * max(1.0, abs(a)):
            a = new
            break
        a = new
    return Scaling(a, 0.0)


def fit_platt(logits: Any, targets: Any) -> Scaling:
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if len(z) == 0 or n_pos == 0 or n_neg == 0:
        return Scaling(1.0, 0.0, "one class in the validation rows: not calibrated")
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    a, b = 1.0, 0.0
    f = _nll(a * z + b, t)
    for _ in range(200):
        s = a * z + b
        p = 1.0 / (1.0 + np.exp(-np.clip(s, -700, 700)))
        g = np.array([np.mean((p - t) * z), np.mean(p - t)])
        w = p * (1.0 - p)
        h = np.array([[np.mean(w * z * z), np.mean(w * z)], [np.mean(w * z), np.mean(w)]])
        h += np.eye(2) * 1e-12  # Lin et al.'s sigma: keeps the Hessian positive definite
        if np.max(np.abs(g)) < 1e-12:
            break
        step = np.linalg.solve(h, -g)
        k = 1.0
        while k >= 1e-10:
            na, nb = a + k * step[0], b + k * step[1]
            nf = _nll(na * z + nb, t)
            if nf < f + 1e-4 * k * float(g @ step):
                break
            k /= 2.0
        else:
            break  # no descent: at the minimum to rounding
        a, b, f = na, nb, nf
    return Scaling(float(a), float(b))


def fit(method: str, logits: Any, targets: Any) -> Scaling:
    if method == "temperature":
        return fit_temperature(logits, targets)
    if method == "platt":
        return fit_platt(logits, targets)
    raise ValueError(f"unknown calibration method {method!r}")


def apply(logits: Any, a: Any, b: Any) -> F64:
    """Calibrated float64 logits a·z + b of (n, L) logits, per label."""
    z = np.asarray(logits, dtype=np.float64)
    out: F64 = z * np.asarray(a, dtype=np.float64) + np.asarray(b, dtype=np.float64)
    return out
