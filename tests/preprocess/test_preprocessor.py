"""sigmoidnet.preprocess: the Preprocessor fits on training rows, transforms in float32 as
the standardization formula says, and round-trips through its stored state."""

from __future__ import annotations

import numpy as np
import pytest

from sigmoidnet.preprocess import (
    Preprocessor,
    PreprocessorStateError,
    TransformError,
    fit_standardization,
    standardize_,
)


def rows(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32) * np.float32([1, 100, 0])
    return x + np.float32([5, -3, 7])  # the third column is constant


def test_fit_is_float64_population_statistics() -> None:
    x = rows()
    pre = Preprocessor(["a", "b", "c"]).fit(x)
    assert pre.mean_ is not None and pre.std_ is not None
    np.testing.assert_allclose(pre.mean_, x.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(pre.std_[:2], x[:, :2].astype(np.float64).std(axis=0), rtol=1e-6)
    assert pre.std_[2] == 1.0  # zero variance: left unscaled
    m, s = fit_standardization(x)
    assert np.array_equal(pre.mean_, m) and np.array_equal(pre.std_, s)


def test_transform_is_x_minus_mean_over_std_in_float32() -> None:
    x = rows()
    pre = Preprocessor(["a", "b", "c"]).fit(x)
    assert pre.mean_ is not None and pre.std_ is not None
    new = rows(7, seed=1)
    expect = (new - pre.mean_) / pre.std_  # float32 throughout
    out = pre.transform(new)
    assert out.dtype == np.float32 and np.array_equal(out, expect)
    assert not np.array_equal(new, out)  # `transform` copies
    inplace = new.copy()
    assert pre.transform_(inplace) is inplace and np.array_equal(inplace, expect)
    again = new.copy()
    standardize_(again, pre.mean_, pre.std_)
    assert np.array_equal(again, expect)


def test_none_is_the_identity() -> None:
    x = rows()
    pre = Preprocessor(["a", "b", "c"], "none").fit(x)
    assert pre.mean_ is None and np.array_equal(pre.transform(x), x)
    assert pre.state() == ({"normalize": "none", "feature_names": ["a", "b", "c"]}, {})


def test_state_round_trip() -> None:
    pre = Preprocessor(["a", "b", "c"]).fit(rows())
    meta, arrays = pre.state()
    back = Preprocessor.from_state(meta, arrays)
    new = rows(5, seed=2)
    assert np.array_equal(back.transform(new), pre.transform(new))
    assert back.feature_names == ["a", "b", "c"] and back.fitted


def test_unfitted_and_bad_shapes() -> None:
    pre = Preprocessor(["a", "b"])
    with pytest.raises(RuntimeError, match="before fit"):
        pre.transform(np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        pre.fit(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="normalize must be one of"):
        Preprocessor(["a"], "minmax")


@pytest.mark.parametrize(
    ("meta", "arrays", "message"),
    [
        ({"feature_names": "ab", "normalize": "none"}, {}, "feature_names must be a list"),
        ({"feature_names": ["a"], "normalize": "robust"}, {}, "unknown normalize"),
        ({"feature_names": ["a"], "normalize": "standard"}, {"mean": [0.0]}, "inconsistent"),
        (
            {"feature_names": ["a"], "normalize": "standard"},
            {"mean": [0.0], "std": [0.0]},
            "non-finite or non-positive",
        ),
        (
            {"feature_names": ["a", "b"], "normalize": "standard"},
            {"mean": [0.0], "std": [1.0]},
            "inconsistent",
        ),
        ({"feature_names": ["a"], "normalize": "none"}, {"mean": [0.0]}, "inconsistent"),
        ({"feature_names": ["a"], "normalize": "none"}, {"scale": [1.0]}, "unexpected tensor"),
    ],
)
def test_bad_state_is_refused(meta: dict, arrays: dict, message: str) -> None:
    as_arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    with pytest.raises(PreprocessorStateError, match=message):
        Preprocessor.from_state(meta, as_arrays)


# ---------------------------------------------------------------------------------------------
# extreme but valid values: float64 statistics, float32 overflow redone in float64, refusal

MAX = float(np.finfo(np.float32).max)  # 3.4028235e38


def test_statistics_of_values_near_float32s_largest_stay_finite() -> None:
    x = np.array([[MAX, 1.0], [-MAX, 2.0], [-MAX, 3.0], [MAX, 4.0]], np.float32)
    mean, std = fit_standardization(x)  # float32 sums and squares would overflow
    assert np.isfinite(mean).all() and np.isfinite(std).all()
    assert mean[0] == 0.0 and std[0] == np.float32(MAX)
    np.testing.assert_allclose(std[1], np.std([1.0, 2.0, 3.0, 4.0]), rtol=1e-6)


def test_a_float32_overflow_in_x_minus_mean_is_computed_in_float64() -> None:
    x = np.array([[MAX], [-MAX], [-MAX]], np.float32)
    pre = Preprocessor(["a"]).fit(x)
    out = pre.transform(x)  # MAX - mean is past float32's range; the quotient is not
    assert pre.mean_ is not None and pre.std_ is not None
    exact = (x.astype(np.float64) - float(pre.mean_[0])) / float(pre.std_[0])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, exact.astype(np.float32), rtol=1e-6)
    # rows that do not overflow keep the float32 formula exactly
    plain = np.array([[1.0e37], [-2.0e37]], np.float32)
    assert pre.mean_ is not None and pre.std_ is not None
    assert np.array_equal(pre.transform(plain), (plain - pre.mean_) / pre.std_)


def test_a_value_that_does_not_standardize_to_a_finite_float32_is_refused() -> None:
    rng = np.random.default_rng(0)
    train = (rng.normal(size=(100, 3)) * 0.5).astype(np.float32)
    pre = Preprocessor(["a", "b", "c"]).fit(train)
    x = np.zeros((5, 3), np.float32)
    x[3, 2] = MAX  # std < 1: MAX / std is past float32's range, in any precision
    x[3, 1] = -MAX
    x[4, 0] = MAX
    with pytest.raises(TransformError) as info:
        pre.transform(x)
    e = info.value
    assert (e.feature, e.index) == ("b", 3)  # the lowest row, then the leftmost column
    assert e.what.startswith("-3.4028235e+38 does not standardize to a finite float32")
    assert pre.mean_ is not None and pre.std_ is not None
    assert e.what.endswith(f"(training mean {pre.mean_[1]!s}, std {pre.std_[1]!s})")
    big = 16384 * 5  # past one transform block
    many = np.zeros((big, 3), np.float32)
    many[big - 2, 0] = MAX
    with pytest.raises(TransformError) as info:
        pre.transform(many)
    assert info.value.index == big - 2
    nan = np.zeros((2, 3), np.float32)
    nan[1, 1] = np.nan
    with pytest.raises(TransformError, match="nan does not standardize"):
        pre.transform(nan)
    # normalize: none leaves values as they are (the model gets them raw)
    assert Preprocessor(["a", "b", "c"], "none").fit(train).transform(x)[3, 2] == MAX
