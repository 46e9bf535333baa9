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
    x = np.concatenate([
        np.exp(rng.uniform(np.log(1e-7), 0.0, 400_000)),  # clamped probabilities, log-uniform
        rng.uniform(0.0, 1.0, 400_000),
        1.0 - rng.uniform(0.0, 1e-6, 100_000),  # 1 - tiny p: log close to 0
        1.0 + rng.uniform(0.0, 1e-6, 100_000),
        np.nextafter(1.0, [0.0, 2.0]), [1e-7, 0.5, 2.0, np.sqrt(0.5), np.sqrt(2.0)],
    ])
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
