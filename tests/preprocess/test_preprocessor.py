"""sigmoidnet.preprocess: the Preprocessor fits on training rows, transforms in float32 as
the standardization formula says, and round-trips through its stored state."""

from __future__ import annotations

import numpy as np
import pytest

from sigmoidnet.preprocess import (
    Preprocessor,
    PreprocessorStateError,
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
