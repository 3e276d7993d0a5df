"""The sampled exact median against numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from sigmoidnet.preprocess.median import column_medians


@pytest.mark.parametrize("workers", [1, 2])
def test_equals_nanmedian_on_large_columns(workers: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((200_001, 6)).astype(np.float32)
    x[:, 1] = np.round(x[:, 1])  # heavy ties at the median
    x[rng.random(x.shape) < 0.05] = np.nan
    x[:, 2] = np.nan  # nothing at all
    x[:7, 3] = 1.5  # almost nothing: the bracket is everything
    x[7:, 3] = np.nan
    x[:, 4] = np.exp(x[:, 4] * 20)  # a spread far past the sample's resolution
    x[:100_000, 5] = 0.0  # half one value: the median sits on the edge of a run
    got = column_medians(x, workers)
    cols = x.T.astype(np.float64)
    want = np.array([np.median(c[~np.isnan(c)]) if (~np.isnan(c)).any() else np.nan for c in cols])
    np.testing.assert_array_equal(got, want)


def test_even_and_odd_counts_and_small_inputs() -> None:
    for n in (1, 2, 3, 10, 65_536, 65_537, 70_000, 70_001):
        x = np.arange(n, dtype=np.float32)[::-1].reshape(n, 1).copy()
        assert column_medians(x)[0] == np.median(x[:, 0].astype(np.float64))


def test_a_bracket_that_misses_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # a sample that says nothing about the median: the exact fallback still answers
    import sigmoidnet.preprocess.median as med

    monkeypatch.setattr(med, "_SAMPLE", 64)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((100_000, 2)).astype(np.float32)
    x[:50_010, 0] = -5.0
    np.testing.assert_array_equal(column_medians(x), np.median(x.astype(np.float64), axis=0))
