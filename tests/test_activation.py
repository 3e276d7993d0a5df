"""sigmoidnet.activation: the exact sigmoid, its derivative and its inverse, against mpmath."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigmoidnet import activation as act
from sigmoidnet.activation import (
    logit,
    logit_array,
    sigmoid,
    sigmoid_array,
    sigmoid_derivative,
    sigmoid_derivative_array,
)

MIN_SUB = 5e-324
MAX = sys.float_info.max
EDGES = [
    -MAX, -1e300, -800.0, -746.0, -745.2, -745.1332191019412, -745.13, -745.0, -744.44,
    -740.0, -720.0, -709.79, -709.78, -709.8, -708.4, -100.0, -37.5, -36.8, -36.7, -20.0,
    -1.0, -0.5, -1e-8, -1e-300, -2.2250738585072014e-308, -1e-310, -MIN_SUB, -0.0,
    0.0, MIN_SUB, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-8, 0.5, 1.0, 20.0, 36.7,
    36.8, 37.5, 40.0, 100.0, 709.78, 720.0, 745.13, 800.0, 1e300, MAX,
]  # fmt: skip


def _mp_sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-x))


def _mp_derivative(x: mpmath.mpf) -> mpmath.mpf:
    t = mpmath.exp(-abs(x))
    return t / (1 + t) ** 2


def _mp_logit(p: mpmath.mpf) -> mpmath.mpf:
    return mpmath.log(p / (1 - p))


def _ulp_error(got: float, true: mpmath.mpf) -> tuple[float, bool]:
    """(|got - true| in ulps of the true value, whether got is the double nearest to true)."""
    diff = abs(mpmath.mpf(got) - true)
    if diff == 0:
        return 0.0, True
    exponent = -1074 if true == 0 else max(int(mpmath.floor(mpmath.log(abs(true), 2))) - 52, -1074)
    neighbour = math.nextafter(got, math.inf if true > got else -math.inf)
    return float(diff / mpmath.ldexp(1, exponent)), diff <= abs(mpmath.mpf(neighbour) - true)


def _accuracy(
    xs: Sequence[float],
    scalar: Callable[[float], float],
    vector: Callable[[np.ndarray], np.ndarray],
    reference: Callable[[mpmath.mpf], mpmath.mpf],
) -> tuple[float, float, float]:
    """(max ulp error, share correctly rounded, worst x); also checks scalar == array bitwise."""
    got = vector(np.array(xs)).tolist()
    worst, worst_x, rounded = 0.0, math.nan, 0
    with mpmath.workdps(50):
        for x, g in zip(xs, got, strict=True):
            assert g == scalar(x), x  # bit for bit
            err, nearest = _ulp_error(g, reference(mpmath.mpf(x)))
            rounded += nearest
            if err > worst:
                worst, worst_x = err, x
    return worst, rounded / len(xs), worst_x


def _sample_inputs(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], n)
    parts = [
        rng.uniform(-800.0, 800.0, n),  # uniform
        signs * 10.0 ** rng.uniform(-320.0, np.log10(800.0), n),  # log-spaced magnitudes
        rng.uniform(-746.0, -700.0, n // 5),  # where the textbook formula gives 0
        rng.uniform(-40.0, 40.0, n // 5),
    ]
    return [float(v) for v in np.concatenate(parts)] + EDGES


def _assert_exact(
    name: str,
    xs: Sequence[float],
    scalar: Callable[[float], float],
    vector: Callable[[np.ndarray], np.ndarray],
    reference: Callable[[mpmath.mpf], mpmath.mpf],
) -> None:
    """Max error ≤ 1 ulp and ≥ 99.9% correctly rounded against mpmath (figures printed)."""
    worst, share, worst_x = _accuracy(xs, scalar, vector, reference)
    print(f"{name}: {len(xs)} points, max error {worst:.4f} ulp at {worst_x!r}, "
          f"{share:.4%} correctly rounded")  # fmt: skip
    assert worst <= 1.0
    assert share >= 0.999


def test_sigmoid_is_within_an_ulp_and_correctly_rounded_against_mpmath() -> None:
    xs = _sample_inputs(8000, seed=2024)  # ~20k points
    _assert_exact("sigmoid", xs, sigmoid, sigmoid_array, _mp_sigmoid)


def test_derivative_is_exact_against_mpmath() -> None:
    xs = _sample_inputs(2000, seed=7)
    _assert_exact("derivative", xs, sigmoid_derivative, sigmoid_derivative_array, _mp_derivative)


def test_logit_is_exact_against_mpmath() -> None:
    rng = np.random.default_rng(11)
    n = 1500
    ps = np.concatenate([
        rng.uniform(0.0, 1.0, n),
        10.0 ** rng.uniform(-323.0, 0.0, n),  # near 0, subnormals included
        1.0 - 10.0 ** rng.uniform(-16.0, 0.0, n),  # near 1
        0.5 + rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-17.0, -0.4, n),  # near 1/2
    ])  # fmt: skip
    xs = [float(p) for p in ps if 0.0 < p < 1.0] + [MIN_SUB, 0.25, 0.3, 0.5, 0.7, 0.75]
    _assert_exact("logit", xs, logit, logit_array, _mp_logit)


def test_far_tail_is_subnormal_not_zero() -> None:
    # 1/(1+exp(-x)) (and scipy's expit, torch.sigmoid) give 0 below x ≈ -709.78
    with np.errstate(over="ignore"):
        assert 1.0 / (1.0 + np.exp(np.float64(720.0))) == 0.0
    assert sigmoid(-720.0) == pytest.approx(math.exp(-720.0), rel=1e-12)  # 2.03e-313
    assert sigmoid(-745.0) == MIN_SUB
    assert sigmoid(-745.13) == MIN_SUB  # just above half the smallest subnormal
    assert sigmoid(-745.14) == 0.0  # just below
    assert sigmoid(-746.0) == 0.0
    assert sigmoid_derivative(-740.0) > 0.0
    assert sigmoid_derivative(40.0) == pytest.approx(math.exp(-40.0), rel=1e-15)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (math.inf, 1.0), (-math.inf, 0.0), (0.0, 0.5), (-0.0, 0.5), (MIN_SUB, 0.5),
        (-MIN_SUB, 0.5), (MAX, 1.0), (-MAX, 0.0), (37.5, 1.0), (36.0, 1.0 - 2.0**-52),
    ],
)  # fmt: skip
def test_special_values(x: float, expected: float) -> None:
    assert sigmoid(x) == expected
    assert sigmoid_array(np.array([x]))[0] == expected


def test_tutorial_values() -> None:
    got = [repr(v) for v in sigmoid_array(np.array([-2.0, -1.0, 0.0, 1.0, 2.0])).tolist()]
    assert got == [
        "0.11920292202211756", "0.2689414213699951", "0.5", "0.7310585786300049",
        "0.8807970779778824",
    ]  # fmt: skip


def test_nan_and_no_warnings() -> None:
    x = np.array([math.nan, math.inf, -math.inf, -0.0, MIN_SUB, -MAX, MAX, -745.5, 1e-320])
    p = np.array([math.nan, 0.0, 1.0, MIN_SUB, 0.5, 1.0 - 2.0**-53])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, d, q = sigmoid_array(x), sigmoid_derivative_array(x), logit_array(p)
        scalars = [sigmoid(v) for v in x] + [sigmoid_derivative(v) for v in x]
        scalars += [logit(v) for v in p]
    assert math.isnan(s[0]) and math.isnan(d[0]) and math.isnan(q[0])
    assert math.isnan(sigmoid(math.nan)) and math.isnan(logit(math.nan))
    assert s[1:].tolist() == [1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 0.0, 0.5]
    assert d[1:].tolist() == [0.0, 0.0, 0.25, 0.25, 0.0, 0.0, 0.0, 0.25]
    assert q[1:3].tolist() == [-math.inf, math.inf]
    assert len(scalars) == 24


def test_logit_edges_and_errors() -> None:
    assert logit(0.0) == -math.inf
    assert logit(1.0) == math.inf
    assert logit(0.5) == 0.0
    assert logit(1e-300) == math.log(1e-300)  # exact near 0 ...
    assert logit(1.0 - 2.0**-53) == 53 * math.log(2.0)  # ... and near 1
    for bad in (-0.1, 1.5, -math.inf, math.inf):
        with pytest.raises(ValueError, match="not a probability"):
            logit(bad)
    with pytest.raises(ValueError, match=r"1\.5"):
        logit_array(np.array([0.2, 1.5, -1.0]))


def test_arrays_keep_shape_and_accept_array_likes() -> None:
    x = np.linspace(-5, 5, 12).reshape(3, 4)
    assert sigmoid_array(x).shape == (3, 4)
    assert sigmoid_array(x).dtype == np.float64
    assert sigmoid_array(np.float64(1.0)).shape == ()
    assert sigmoid_array([1, 2]).tolist() == [sigmoid(1.0), sigmoid(2.0)]
    assert sigmoid_array(np.array([], dtype=np.float32)).shape == (0,)
    assert sigmoid(3) == sigmoid(3.0)  # ints are fine
    big = np.random.default_rng(0).uniform(-750, 750, 200_003)  # several chunks
    assert np.array_equal(sigmoid_array(big)[-5:], [sigmoid(v) for v in big[-5:]])


finite = st.floats(allow_nan=False)
moderate = st.floats(-700.0, 700.0)


@given(finite, finite)
def test_monotone(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert sigmoid(lo) <= sigmoid(hi)


@given(finite)
def test_range_and_symmetry(x: float) -> None:
    s = sigmoid(x)
    assert 0.0 <= s <= 1.0
    if x >= 0:  # 1 - σ(x) is exact for σ(x) >= 1/2; σ(-x) within an ulp of it
        assert abs(sigmoid(-x) - (1.0 - s)) <= math.ulp(s)
    assert sigmoid(-x) + s == pytest.approx(1.0, abs=2.0**-52)


@given(finite)
def test_derivative_is_sigma_times_one_minus_sigma(x: float) -> None:
    d = sigmoid_derivative(x)
    expected = sigmoid(x) * sigmoid(-x)
    assert 0.0 <= d <= 0.25
    assert d == sigmoid_derivative(-x)
    if expected > 1e-300:  # away from the subnormals, where the product loses bits
        assert d == pytest.approx(expected, rel=4 * 2.0**-53)


@given(moderate)
def test_logit_inverts_sigmoid(x: float) -> None:
    s = sigmoid(x)
    if 1e-300 < s < 1.0 - 2.0**-20:  # where σ is invertible to ~full precision
        assert logit(s) == pytest.approx(x, rel=1e-9, abs=1e-15)


@given(st.lists(finite, max_size=20))
def test_scalar_and_array_agree_bitwise(xs: list[float]) -> None:
    assert sigmoid_array(np.array(xs)).tolist() == [sigmoid(x) for x in xs]
    assert sigmoid_derivative_array(np.array(xs)).tolist() == [sigmoid_derivative(x) for x in xs]


def test_import_is_light() -> None:
    code = (
        "import sys, sigmoidnet.activation as a; a.sigmoid(-745.0); a.logit(0.2);"
        "print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_accuracy_on_many_more_points() -> None:
    xs = _sample_inputs(100_000, seed=99)  # ~240k points
    for name, scalar, vector, reference in (
        ("sigmoid", sigmoid, sigmoid_array, _mp_sigmoid),
        ("derivative", sigmoid_derivative, sigmoid_derivative_array, _mp_derivative),
    ):
        worst, share, worst_x = _accuracy(xs, scalar, vector, reference)
        print(f"{name}: {len(xs)} points, max {worst:.4f} ulp at {worst_x!r}, {share:.5%} CR")
        assert worst <= 1.0
        assert share >= 0.999


# --- the generated constants of sigmoidnet.activation, regenerated with mpmath -----------

# contexts of their own, so the global mpmath precision is left alone
_MP = mpmath.MPContext()
_MP.prec = 300
_MP53 = mpmath.MPContext()  # converting into it rounds to 53 bits, to nearest
_MP53.prec = 53


def _exact_exp2_table() -> list[mpmath.mpf]:
    """2^(j/N), j = 0..N-1, to 300 bits (j/N is exact: N = 256 is a power of two)."""
    return [_MP.power(2, _MP.mpf(j) / act._N) for j in range(act._N)]


def _nearest_double(x: mpmath.mpf) -> float:
    """The double nearest to x (for x in the normal range): x rounded to 53 bits, exactly."""
    return float(_MP53.mpf(x))  # exact: the 53-bit value is a double


def _significant_bits(v: float) -> int:
    """Bits from the leading to the last set bit of a normal float (1.0: 1, 1.5: 2)."""
    m = int(math.frexp(abs(v))[0] * 2**53)
    return 53 - ((m & -m).bit_length() - 1)


def _pair_hex(pair: tuple[float, float]) -> str:
    return f"({pair[0].hex()}, {pair[1].hex()})"


def test_exp2_table_matches_mpmath_bit_for_bit() -> None:
    # The table's comment: 2^(j/256) as (hi, lo) double-doubles, hi + lo correct to ~2^-106,
    # i.e. hi = the double nearest to 2^(j/N), lo = the double nearest to 2^(j/N) - hi.
    assert act._N == 256
    assert len(act._TABLE) == act._N
    expected = []
    for x in _exact_exp2_table():
        hi = _nearest_double(x)
        expected.append((hi, _nearest_double(x - hi)))  # x - hi is exact at 300 bits
    table = [(float(hi), float(lo)) for hi, lo in act._TABLE]
    differ = [j for j in range(act._N) if _pair_hex(table[j]) != _pair_hex(expected[j])]
    if differ:
        j = differ[0]
        pytest.fail(
            f"_TABLE[{j}] = {_pair_hex(table[j])}, mpmath gives {_pair_hex(expected[j])} "
            f"({len(differ)} of {act._N} entries differ)"
        )
    # the array path reads a numpy copy of the table: the same bits
    hi_arr, lo_arr = act._table_arrays()
    assert hi_arr.dtype == lo_arr.dtype == np.float64
    copy = list(zip(hi_arr.tolist(), lo_arr.tolist(), strict=True))
    differ = [j for j in range(act._N) if _pair_hex(copy[j]) != _pair_hex(table[j])]
    assert not differ, f"_table_arrays() differs from _TABLE first at j={differ[0]}"


def test_exp2_table_invariants() -> None:
    # What _exp_neg_mantissa and the final rounding rely on: each entry a normalised
    # double-double in [1, 2) whose sum is 2^(j/N) to ~2^-106.
    for j, ((hi, lo), x) in enumerate(zip(act._TABLE, _exact_exp2_table(), strict=True)):
        assert 1.0 <= hi < 2.0, j
        assert abs(lo) <= math.ulp(hi) / 2, j
        assert hi + lo == hi, j  # hi + lo rounds to hi
        assert abs(x - hi) <= _MP.mpf(math.ulp(hi)) / 2, j  # hi is the nearest double
        assert abs(x - hi - lo) <= _MP.ldexp(1, -106), j
        if lo != 0.0:
            assert abs(x - hi - lo) <= _MP.mpf(math.ulp(lo)) / 2, j  # lo is the nearest too
    assert act._TABLE[0] == (1.0, 0.0)


def test_range_reduction_constants_against_mpmath() -> None:
    n, ln2 = act._N, _MP.ln2
    # _INV_L = N / ln2 (the nearest double)
    inv_l = _nearest_double(n / ln2)
    assert inv_l == act._INV_L, f"_INV_L = {act._INV_L.hex()}, N/ln2 rounds to {inv_l.hex()}"
    # ln2/N = _L1 + _L2 + _L3 to ~2^-130 (the sum is exact at 300 bits)
    split = _MP.mpf(act._L1) + _MP.mpf(act._L2) + _MP.mpf(act._L3)
    assert abs(ln2 / n - split) <= _MP.ldexp(1, -130)
    # k·_L1 and k·_L2 exact for every k that occurs: k <= round(_BIG·_INV_L) < 2^19
    k_max = round(act._BIG * act._INV_L)
    assert k_max < 2**19
    assert _significant_bits(act._L1) + 19 <= 53
    assert _significant_bits(act._L2) + 19 <= 53
    assert _MP.mpf(k_max) * _MP.mpf(act._L1) == _MP.mpf(k_max * act._L1)
    assert _MP.mpf(k_max) * _MP.mpf(act._L2) == _MP.mpf(k_max * act._L2)
    # Veltkamp's splitter, 2^27 + 1
    assert act._SPLITTER == 2.0**27 + 1
    # beyond _BIG, e^-|x| < 2^-1075: σ rounds to 0 or 1 and σ' to 0
    assert _MP.exp(-_MP.mpf(act._BIG)) < _MP.ldexp(1, -1075)
