"""Vectorised (numpy) variants of the golden models, for bulk testbench stimulus and statistics.

These compute the same bits and flags as the scalar models in :mod:`.convert` (the test suite checks it
on large random and edge-case sets); the scalar models remain the reference.
"""

import numpy as np

from .flags import Flags
from .formats import FloatFormat
from .rounding import SR_BITS, RoundingMode

__all__ = ["convert_f32_array", "decode_array"]


def _dtype_for(width):
    return np.uint8 if width <= 8 else np.uint16 if width <= 16 else np.uint32


def decode_array(fmt: FloatFormat, codes):
    """Decode an array of encodings of ``fmt`` to float64 values (exact; NaN for NaN codes)."""
    c = np.asarray(codes)
    if c.size and (c.min() < 0 or int(c.max()) >> fmt.width):
        raise ValueError(f"{fmt.name}: codes do not fit in {fmt.width} bits")
    c = c.astype(np.int64)
    m = c & ((1 << fmt.man_bits) - 1)
    e = (c >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1)
    sign = (c >> fmt.sign_shift) & 1 if fmt.signed else np.zeros_like(c)
    sig = np.where(e == 0, m, m | (1 << fmt.man_bits)).astype(np.float64)
    value = np.ldexp(sig, (np.maximum(e, 1) - fmt.bias - fmt.man_bits).astype(np.int32))
    if fmt.ieee_specials:
        top = e == (1 << fmt.exp_bits) - 1
        value = np.where(top & (m == 0), np.inf, value)
        value = np.where(top & (m != 0), np.nan, value)
    return np.where(sign == 1, -value, value)


def _bitlen(x):
    """Bit length of positive int64 values below 2**53."""
    return np.frexp(x.astype(np.float64))[1].astype(np.int64)


def _round_at(sig, exp, q, mode, rand):
    """Vector form of :func:`.rounding._round_at`."""
    n = q - exp
    nn = np.clip(n, 0, 62)
    k = np.where(n > 0, sig >> nn, sig << np.clip(-n, 0, 38))
    rem = sig & ((np.int64(1) << nn) - 1)
    if mode is RoundingMode.RNE:
        half = np.int64(1) << np.maximum(nn - 1, 0)
        up = (rem != 0) & ((rem > half) | ((rem == half) & ((k & 1) == 1)))
    elif mode is RoundingMode.RTZ:
        up = np.zeros(sig.shape, dtype=bool)
    else:
        window = np.where(
            nn >= SR_BITS, rem >> np.maximum(nn - SR_BITS, 0), rem << np.maximum(SR_BITS - nn, 0)
        )
        up = ((window + (rand & ((1 << SR_BITS) - 1))) >> SR_BITS) == 1
    return k, up.astype(np.int64), rem != 0


def convert_f32_array(bits, dst: FloatFormat, mode=RoundingMode.RNE, rand=None, saturate=False):
    """Convert an array of FP32 encodings (uint32) into ``dst``; same semantics as
    :func:`.convert.convert` with ``src=FP32``.

    Parameters
    ----------
    bits : array_like of uint32
    dst : FloatFormat
        Any format with at most 23 mantissa bits.
    mode : RoundingMode
    rand : array_like of int, optional
        Random words for STOCHASTIC (broadcast against ``bits``; low 16 bits used). Required for it.
    saturate : bool

    Returns
    -------
    (ndarray, ndarray)
        Codes (uint8, uint16 or uint32 depending on the width of ``dst``) and flags (uint8).
    """
    mode = RoundingMode(mode)
    if dst.man_bits > 23:
        raise ValueError(f"{dst.name}: the vector model handles destinations with at most 23 mantissa bits")
    x = np.asarray(bits)
    if x.size and (x.min() < 0 or int(x.max()) >> 32):
        raise ValueError("FP32 codes must fit in 32 bits")
    x = x.astype(np.int64)
    if mode is RoundingMode.STOCHASTIC:
        if rand is None:
            raise ValueError("STOCHASTIC rounding needs rand (one random word per conversion)")
        r = np.broadcast_to(np.asarray(rand).astype(np.int64), x.shape)
        if r.size and r.min() < 0:
            raise ValueError("rand words must be non-negative")
    else:
        r = np.zeros(x.shape, dtype=np.int64)

    sign = (x >> 31) & 1
    ef = (x >> 23) & 0xFF
    mf = x & 0x7FFFFF
    special = ef == 0xFF
    is_nan = special & (mf != 0)
    is_snan = is_nan & ((mf >> 22) == 0)
    is_inf = special & (mf == 0)
    is_zero = (ef == 0) & (mf == 0)
    in_sub = (ef == 0) & (mf != 0)
    finite_nz = ~special & ~is_zero

    sig = np.where(finite_nz, np.where(ef == 0, mf, mf | (1 << 23)), 1)
    exp = np.maximum(ef, 1) - 150
    p, M = dst.precision, dst.man_bits
    e = exp + _bitlen(sig) - 1
    q = np.maximum(e, dst.emin) - (p - 1)
    k, up, inexact = _round_at(sig, exp, q, mode, r)
    k = k + up
    carry = k >> p
    k = k >> carry
    q = q + carry
    overflow = (k >= (1 << (p - 1))) & (q + p - 1 > dst.emax)

    if mode is RoundingMode.STOCHASTIC:
        tiny = k < (1 << (p - 1))
    else:
        k2, up2, _ = _round_at(sig, exp, e - (p - 1), mode, r)
        tiny = e + ((k2 + up2) >> p) < dst.emin
    underflow = inexact & (e < dst.emin) & tiny & ~overflow

    sbit = sign << dst.sign_shift if dst.signed else np.zeros_like(sign)
    normal_code = sbit | ((q + p - 1 + dst.bias) << M) | (k - (1 << (p - 1)))
    sub_code = sbit | k
    code = np.where(k >= (1 << (p - 1)), normal_code, sub_code)
    max_code = sbit | (dst.max_exp_field << M) | ((1 << M) - 1)
    if dst.has_inf and not saturate and mode is not RoundingMode.RTZ:
        over_code = sbit | (((1 << dst.exp_bits) - 1) << M)
    else:
        over_code = max_code
    code = np.where(overflow, over_code, code)

    flags = np.where(inexact | overflow, int(Flags.INEXACT), 0)
    flags |= np.where(overflow, int(Flags.OVERFLOW), 0)
    flags |= np.where(underflow, int(Flags.UNDERFLOW), 0)
    flags |= np.where(in_sub | (~overflow & (k != 0) & (k < (1 << (p - 1)))), int(Flags.DENORMAL), 0)

    # Zeros, infinities, NaNs.
    code = np.where(is_zero, sbit, code)
    flags = np.where(is_zero, 0, flags)
    if dst.has_inf and not saturate:
        inf_code, inf_flags = sbit | (((1 << dst.exp_bits) - 1) << M), 0
    else:
        inf_code, inf_flags = max_code, int(Flags.OVERFLOW | Flags.INEXACT)
    code = np.where(is_inf, inf_code, code)
    flags = np.where(is_inf, inf_flags, flags)
    if dst.has_nan:
        code = np.where(is_nan, dst.canonical_nan, code)
        flags = np.where(is_nan, np.where(is_snan, int(Flags.INVALID), 0), flags)
    else:
        code = np.where(is_nan, max_code, code)
        flags = np.where(is_nan, int(Flags.INVALID), flags)
    if not dst.signed:
        negative = (sign == 1) & ~is_zero & ~is_nan
        code = np.where(negative, 0, code)
        flags = np.where(negative, int(Flags.INVALID) | (in_sub * int(Flags.DENORMAL)), flags)
    return code.astype(_dtype_for(dst.width)), flags.astype(np.uint8)
