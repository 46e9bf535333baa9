"""Natural logs that LLVM can vectorise (numba here has no SVML).

``np.log`` inside a numba loop is a scalar libm call per element, which keeps the loop
scalar. These compute the log inline with selects instead of branches, so a row loop
compiles to SIMD instructions.

float64, ``vlog`` / ``log_row``: fdlibm's ``e_log.c`` algorithm,

    x = 2^k * z with z in [sqrt(1/2), sqrt(2))   (exponent split by integer arithmetic
                                                   on the bits, subnormals pre-scaled)
    f = z - 1,  s = f / (2 + f),  log z = 2 atanh s = f - f^2/2 + s (f^2/2 + R(s^2))
    log x = k ln2_hi - ((f^2/2 - (s (f^2/2 + R) + k ln2_lo)) - f)

R is fdlibm's degree-14 polynomial (error < 2^-58.45 on the range); the result is within
1 ulp of the correctly rounded log (tests/test_vmath.py checks against np.log).
log(0) = -inf, log(+inf) = +inf, log(x < 0) = log(nan) = nan. Compiled without fastmath
flags: the evaluation order above is what keeps the error below 1 ulp.

float32, ``vlogf`` and ``logf_own_other`` (log(p) or log(1 - p), per element):
the same exponent split in 32-bit lanes, then log(1 + f) = f - f^2/2 + f^3 P(f) as in
Cephes' logf, P of degree 7 (refitted), with no division: about 3x the
throughput of the float64 log on 8 or 16 lanes. The reduced argument f is formed exactly,
also for 1 - p (tests/test_vmath.py checks it against a log(1 - p) built on the same
reduction), so the result is within 1 ulp of the exact log
(< 0.85 ulp, 8.1e-8 relative, measured by tests/test_vmath.py) even where log(1 - p) ~ -p.
"""

import numpy as np
from numba import types
from numba.core import config
from numba.extending import intrinsic

from ._jit import jit


@intrinsic
def _f64_bits(typingctx, x):
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, x):
    if x != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42fee00000: k * LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_TINY = 2.2250738585072014e-308  # smallest normal
_TWO54 = 18014398509481984.0


@jit()
def vlog(x):
    """log(x) for one float64, branch-free (LLVM inlines it into vectorised loops)."""
    sub = x < _TINY
    xs = x * _TWO54 if sub else x
    ix = _f64_bits(xs)
    k = (ix - _SQRT_HALF_BITS) >> 52  # arithmetic shift: exponent of x relative to sqrt(1/2)
    z = _bits_f64(ix - (k << 52))  # in [sqrt(1/2), sqrt(2))
    dk = np.float64(k - 54 if sub else k)
    f = z - 1.0
    s = f / (2.0 + f)
    s2 = s * s
    s4 = s2 * s2
    t1 = s4 * (_LG2 + s4 * (_LG4 + s4 * _LG6))
    t2 = s2 * (_LG1 + s4 * (_LG3 + s4 * (_LG5 + s4 * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    res = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    res = res if x < np.inf else x
    if not x > 0.0:
        res = -np.inf if x == 0.0 else np.nan
    return res


@jit()
def log_row(x, out, n):
    """out[:n] = log(x[:n]); the loop vectorises."""
    for t in range(n):
        out[t] = vlog(x[t])


# --- float32 --------------------------------------------------------------------------


@intrinsic
def _split_f32(typingctx, x):
    """(k, z, 2^-k) as float32 with x = 2^k z, z in [sqrt(1/2), sqrt(2)), for normal x > 0.

    Integer arithmetic on the bits, in 32-bit lanes: numba's own int32 arithmetic widens to
    int64, which would halve the vector width.
    """
    if x != types.float32:
        return None
    rtype = types.UniTuple(types.float32, 3)

    def codegen(context, builder, sig, args):
        i32 = context.get_value_type(types.int32)
        f32 = context.get_value_type(types.float32)
        ix = builder.bitcast(args[0], i32)
        k = builder.ashr(builder.sub(ix, i32(0x3F3504F3)), i32(23))  # 0x3F3504F3: float32(sqrt(1/2))
        z = builder.bitcast(builder.sub(ix, builder.shl(k, i32(23))), f32)
        s = builder.bitcast(builder.shl(builder.sub(i32(127), k), i32(23)), f32)
        kf = builder.sitofp(k, f32)
        return context.make_tuple(builder, rtype, (kf, z, s))

    return rtype(types.float32), codegen


# log(1 + f) = f - f^2/2 + f^3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1], the form of Cephes'
# logf; P of degree 7 fitted (weighted minimax, Lawson's iteration, coefficients rounded to
# float32) for the relative error of log(1 + f): 5.8e-9 before rounding, one FMA fewer than
# Cephes' degree 8 at the same final accuracy (< 0.85 ulp). ln 2 is split so that
# k * _LN2F_HI is exact for |k| < 2^15. np.float32 globals keep the arithmetic in float32
# (a Python float would promote every operation to float64).
_PF = tuple(
    np.float32(v)
    for v in (
        -0.0763440653681755,
        0.12761428952217102,
        -0.1316014528274536,
        0.14201775193214417,
        -0.166233628988266,
        0.20001226663589478,
        -0.2500081956386566,
        0.3333333134651184,
    )
)
_PF0, _PF1, _PF2, _PF3, _PF4, _PF5, _PF6, _PF7 = _PF
_LN2F_HI = np.float32(0.693359375)
_LN2F_LO = np.float32(-2.12194440e-4)
_HALF_F = np.float32(0.5)
_ONE_F = np.float32(1.0)
_TINY_F = np.float32(1.17549435e-38)  # smallest normal float32
_TWO23_F = np.float32(8388608.0)
_TWENTY3_F = np.float32(23.0)


# contract: the polynomial's multiply-adds become FMAs (one rounding instead of two)
@jit(fastmath={"contract"})
def _logf_reduced(kf, f):
    """k ln2 + log(1 + f) in float32 for f in [sqrt(1/2) - 1, sqrt(2) - 1] (f exact)."""
    # Horner's rule (fewest operations: the vectorised loops are throughput-bound), with the
    # -f^2/2 term folded in: log(1 + f) = f + f^2 (-1/2 + f P(f)), one FMA to finish
    z = f * f
    y = _PF0 * f + _PF1
    y = y * f + _PF2
    y = y * f + _PF3
    y = y * f + _PF4
    y = y * f + _PF5
    y = y * f + _PF6
    y = y * f + _PF7
    y = y * f - _HALF_F
    return (z * y + f + kf * _LN2F_LO) + kf * _LN2F_HI


if config.DISABLE_JIT:  # type: ignore[attr-defined]  # numba sets it from the environment
    # Python bodies of the intrinsics, so the kernels run as plain Python under
    # NUMBA_DISABLE_JIT (a test lane without compilation); same bits as the codegen.

    def _f64_bits(x):  # type: ignore[misc]
        return np.array(x, np.float64).view(np.int64)[()]

    def _bits_f64(x):  # type: ignore[misc]
        return np.array(x, np.int64).view(np.float64)[()]

    def _split_f32(x):  # type: ignore[misc]
        ix = int(np.array(x, np.float32).view(np.int32)[()])
        k = (ix - 0x3F3504F3) >> 23  # arithmetic shift, as ashr
        z = np.array((ix - (k << 23)) & 0xFFFFFFFF, np.uint32).view(np.float32)[()]
        s = np.array(((127 - k) << 23) & 0xFFFFFFFF, np.uint32).view(np.float32)[()]
        return np.float32(k), z, s


@jit()
def vlogf(x):
    """log(x) for one float32, branch-free; same special values as vlog."""
    sub = x < _TINY_F
    kf, z, _ = _split_f32(x * _TWO23_F if sub else x)
    kf = kf - _TWENTY3_F if sub else kf
    res = _logf_reduced(kf, z - _ONE_F)  # z - 1 is exact (Sterbenz)
    res = res if x < np.float32(np.inf) else x
    if not x > 0:
        res = np.float32(-np.inf) if x == 0 else np.float32(np.nan)
    return res


@jit()
def logf_own_other(p, own):
    """log(p) if ``own`` else log(1 - p), for a float32 p with the argument a positive
    finite normal float32 (no special values): one log of either kind, branch-free. Both
    reduced arguments are formed exactly: f = 2^-k p - 1 or (2^-k - 1) - 2^-k p, with k from
    the (rounded) argument. 1 - p rounded to float32 would lose p below 2^-24 (log(1 - p) ~
    -p); the second form is exact for 0 <= p < 1: k = 0 (p < 0.29) gives f = -p, k = -1 gives
    1 - 2p (Sterbenz), and for p >= 1/2 1 - p itself is exact."""
    kf, _, s = _split_f32(p if own else _ONE_F - p)
    f = s * p - _ONE_F if own else (s - _ONE_F) - s * p
    return _logf_reduced(kf, f)
