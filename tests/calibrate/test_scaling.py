"""sigmoidnet.calibrate.scaling: temperature and Platt scaling against independent
optimizers (scipy's bounded scalar minimizer; scikit-learn's LogisticRegression on the
smoothed targets, written as weighted rows)."""

from __future__ import annotations

import numpy as np
import pytest

from sigmoidnet.calibrate import scaling


def problem(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.float64)
    # over-confident logits: a true logit scaled up, plus a shift
    z = (rng.normal(size=n) + 1.5 * (2 * y - 1)) * rng.uniform(1.5, 4) + rng.uniform(-1, 1)
    return z, y


def nll(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@pytest.mark.parametrize("seed", range(6))
def test_temperature_equals_scipys_minimizer(seed: int) -> None:
    optimize = pytest.importorskip("scipy.optimize")
    z, y = problem(seed)
    got = scaling.fit_temperature(z, y)
    want = optimize.minimize_scalar(
        lambda a: nll(a * z, y), bounds=(0.01, 100), method="bounded",
        options={"xatol": 1e-12},
    )  # fmt: skip
    assert got.b == 0.0 and got.note is None
    assert got.a == pytest.approx(want.x, rel=1e-6)
    assert nll(got.a * z, y) <= nll(want.x * z, y) + 1e-12


@pytest.mark.parametrize("seed", range(6))
def test_platt_equals_logistic_regression_on_the_smoothed_targets(seed: int) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    z, y = problem(seed)
    got = scaling.fit_platt(z, y)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    # the soft-target log-loss as a weighted one: each row once as 1 (weight t), once as 0
    x = np.r_[z, z].reshape(-1, 1)
    lab = np.r_[np.ones(len(z)), np.zeros(len(z))]
    lr = linear_model.LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000)
    lr.fit(x, lab, sample_weight=np.r_[t, 1 - t])
    assert got.a == pytest.approx(float(lr.coef_[0, 0]), rel=1e-5, abs=1e-7)
    assert got.b == pytest.approx(float(lr.intercept_[0]), rel=1e-5, abs=1e-6)


def test_separable_rows_stay_finite() -> None:
    z = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    y = np.array([0, 0, 0, 1, 1, 1], dtype=np.float64)
    t = scaling.fit_temperature(z, y)
    assert t.a == pytest.approx(100.0)  # bounded: T = 0.01
    p = scaling.fit_platt(z, y)
    assert np.isfinite(p.a) and np.isfinite(p.b) and 0 < p.a < 100


def test_one_class_is_left_as_it_is() -> None:
    for fit in (scaling.fit_temperature, scaling.fit_platt):
        got = fit([0.1, 2.0, -1.0], [1, 1, 1])
        assert (got.a, got.b) == (1.0, 0.0) and got.note is not None
