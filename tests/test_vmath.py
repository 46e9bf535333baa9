"""The vectorisable log of kernels/vmath.py against np.log (correctly rounded to < 1 ulp)."""

import numpy as np
import pytest

from segloss_cli.kernels.vmath import log_row


def _log(x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    log_row(x, out, x.size)
    return out


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_log_within_one_ulp_where_losses_use_it():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            np.exp(rng.uniform(np.log(1e-7), 0.0, 400_000)),  # clamped probabilities, log-uniform
            rng.uniform(0.0, 1.0, 400_000),
            1.0 - rng.uniform(0.0, 1e-6, 100_000),  # 1 - tiny p: log close to 0
            1.0 + rng.uniform(0.0, 1e-6, 100_000),
            np.nextafter(1.0, [0.0, 2.0]),
            [1e-7, 0.5, 2.0, np.sqrt(0.5), np.sqrt(2.0)],
        ]
    )
    got, want = _log(x), np.log(x)
    nz = want != 0
    assert np.all(_ulps(got[nz], want[nz]) <= 1.0)
    assert np.max(np.abs(got[nz] - want[nz]) / np.abs(want[nz])) <= 4.5e-16
    assert np.all(got[~nz] == 0.0)


def test_log_whole_double_range_and_subnormals():
    rng = np.random.default_rng(2)
    bits = rng.integers(1, 0x7FF0000000000000, 400_000, dtype=np.int64)  # every positive finite double
    x = np.concatenate([bits.view(np.float64), [5e-324, 1e-310, 2.2250738585072014e-308, 1.7976931348623157e308]])
    got, want = _log(x), np.log(x)
    nz = want != 0
    assert np.all(_ulps(got[nz], want[nz]) <= 1.0)


@pytest.mark.parametrize("x, want", [(0.0, -np.inf), (np.inf, np.inf), (1.0, 0.0)])
def test_log_special_values(x, want):
    assert _log([x])[0] == want


def test_log_nan_for_negative_and_nan():
    assert np.all(np.isnan(_log([-1.0, -5e-324, -np.inf, np.nan])))


# --- float32 ---------------------------------------------------------------------------
# Reference: np.log / np.log1p in float64 (exact to ~1e-16, far below a float32 ulp); the
# error is counted in ulps of the float32 nearest the exact value.

import numba  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from segloss_cli.kernels._jit import jit  # noqa: E402
from segloss_cli.kernels.vmath import _ONE_F, _logf_reduced, _split_f32, logf_own_other, vlogf  # noqa: E402

# Test-only kernels: log(1 - p) on its own and row loops, built on vmath's reduction (the
# package uses it through logf_own_other).


@jit()
def log1mf_finite(p):
    """log(1 - p) for a float32 p < 1 with 1 - p finite, to float32 accuracy relative to the
    result; no special values (callers that clamp 1 - p away from 0 use this directly).

    1 - p rounded to float32 would lose p below 2^-24 (log(1 - p) ~ -p); instead the
    reduced argument f = 2^-k (1 - p) - 1 = (2^-k - 1) - 2^-k p is formed exactly for
    0 <= p < 1: k = 0 (p < 0.29) gives f = -p, k = -1 gives 1 - 2p (Sterbenz), and for
    p >= 1/2 1 - p itself is exact. Only the exponent k is read from the rounded 1 - p.
    (Negative p, not a probability: f carries the rounding of 1 - p, <= 1.5 ulp; and 2^-k
    must be a normal float32, so p > -2^125.)
    """
    kf, _, s = _split_f32(_ONE_F - p)  # s = 2^-k <= 2^25 for 1 - p >= 2^-25
    return _logf_reduced(kf, (s - _ONE_F) - s * p)


@jit()
def vlog1mf(p):
    """log(1 - p) for one float32 p: log1mf_finite for 1 - p < 2 (where its exact reduction
    matters), vlogf(1 - p) above; log(0) = -inf, NaN for p > 1 or NaN, +inf for p = -inf."""
    q = _ONE_F - p
    res = log1mf_finite(p) if q < np.float32(2.0) else vlogf(q)
    if not q > 0:
        res = np.float32(-np.inf) if q == 0 else np.float32(np.nan)
    return res


@jit()
def logf_row(x, out, n):
    """out[:n] = log(x[:n]) for float32 rows; the loop vectorises."""
    for t in range(n):
        out[t] = vlogf(x[t])


@jit()
def log1mf_row(p, out, n):
    """out[:n] = log(1 - p[:n]) for float32 rows; the loop vectorises."""
    for t in range(n):
        out[t] = vlog1mf(p[t])


F32_ULP_BOUND = 1.0  # measured max 0.83 (logf) and 0.81 (log(1 - p)) over the sweeps below


def _logf(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    logf_row(x, out, x.size)
    return out


def _log1mf(p):
    p = np.ascontiguousarray(p, dtype=np.float32)
    out = np.empty_like(p)
    log1mf_row(p, out, p.size)
    return out


def _ulps32(got, exact):
    return np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)


def _positive_float32(rng, n):
    bits = rng.integers(1, 0x7F800000, n, dtype=np.int64).astype(np.int32)  # every positive finite float32
    return bits.view(np.float32)


@pytest.mark.compiled  # large arrays: seconds compiled, minutes as Python
def test_logf_within_one_ulp_everywhere_incl_subnormals():
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            _positive_float32(rng, 1_000_000),
            rng.random(500_000, dtype=np.float32),
            np.float32(1) - rng.random(100_000, dtype=np.float32) * np.float32(1e-5),  # just below 1
            np.float32(1) + rng.random(100_000, dtype=np.float32) * np.float32(1e-5),
            np.array(
                [1e-45, 1e-40, 1.17549435e-38, 1e-7, 0.5, np.sqrt(0.5), np.sqrt(2.0), 2.0, 3.4028235e38], np.float32
            ),
            np.nextafter(np.float32(1), np.array([0, 2], np.float32)),
        ]
    )
    got, exact = _logf(x), np.log(x.astype(np.float64))
    nz = exact != 0
    assert np.max(_ulps32(got[nz], exact[nz])) <= F32_ULP_BOUND
    assert np.all(got[~nz] == 0)


@pytest.mark.parametrize("x, want", [(0.0, -np.inf), (-0.0, -np.inf), (np.inf, np.inf), (1.0, 0.0)])
def test_logf_special_values(x, want):
    assert _logf([x])[0] == want


def test_logf_nan_for_negative_and_nan():
    assert np.all(np.isnan(_logf([-1.0, -1e-45, -np.inf, np.nan])))


@pytest.mark.compiled  # large arrays: seconds compiled, minutes as Python
def test_log1mf_within_one_ulp_incl_tiny_p():
    """log(1 - p) keeps full relative accuracy where it is ~ -p (1 - p in float32 would be 1)."""
    rng = np.random.default_rng(4)
    p = np.concatenate(
        [
            rng.random(1_000_000, dtype=np.float32),
            np.exp(rng.uniform(-103, 0, 500_000)).astype(np.float32),  # down to subnormal p
            np.float32(1) - rng.random(100_000, dtype=np.float32) * np.float32(1e-5),  # p near 1
            np.array([1e-45, 1e-30, 1e-7, 0.25, 1 - np.sqrt(0.5), 0.5, 0.99999994], np.float32),
        ]
    )
    p = p[np.isfinite(p) & (p < 1)]
    got, exact = _log1mf(p), np.log1p(-p.astype(np.float64))
    nz = exact != 0
    assert np.max(_ulps32(got[nz], exact[nz])) <= F32_ULP_BOUND
    assert np.all(got[~nz] == 0)


def test_log1mf_negative_p_within_two_ulp():
    """Not a probability, but defined: 1 - p > 1 is rounded (<= 1 ulp of the log of the
    rounded value, < 1.5 ulp of the exact one)."""
    rng = np.random.default_rng(5)
    p = -_positive_float32(rng, 300_000)
    p = p[np.isfinite(1 - p)]
    got, exact = _log1mf(p), np.log1p(-p.astype(np.float64))
    nz = exact != 0
    assert np.max(_ulps32(got[nz], exact[nz])) <= 2.0


@pytest.mark.parametrize("p, want", [(1.0, -np.inf), (0.0, 0.0), (-np.inf, np.inf)])
def test_log1mf_special_values(p, want):
    assert _log1mf([p])[0] == want


def test_log1mf_nan_above_one_and_for_nan():
    assert np.all(np.isnan(_log1mf([1.0000001, 2.0, np.inf, np.nan])))


@numba.njit
def _own_other_and_parts(p, own):
    return logf_own_other(p, own), vlogf(p), log1mf_finite(p), vlog1mf(p)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=2.0**-24, max_value=1.0, width=32, exclude_max=True), st.booleans())
def test_log_own_other_is_bitwise_the_log_it_selects(p, own):
    """The kernel's per-element own/other log equals log p or log(1 - p) exactly."""
    both, lp, lq_finite, lq = _own_other_and_parts(np.float32(p), own)
    assert lq_finite == lq
    assert both == (lp if own else lq)
