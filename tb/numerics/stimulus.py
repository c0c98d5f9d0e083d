"""Seeded FP32 stimulus for the numerics tests: uniform bit patterns plus edge-biased values (zeros,
subnormals, the edges of a target format's range, exact ties and near-ties of its rounding)."""

import numpy as np

from tatami.sim.numerics import FP32, FloatFormat

#: Hand-picked FP32 encodings: signed zeros, subnormal edges, normal edges, 1.0, the largest finite,
#: infinities, quiet and signalling NaNs (with and without sign and payload).
F32_SPECIALS = [
    0x00000000,
    0x80000000,
    0x00000001,
    0x80000001,
    0x007FFFFF,
    0x807FFFFF,
    0x00400000,
    0x00800000,
    0x80800000,
    0x00800001,
    0x3F800000,
    0xBF800000,
    0x3F800001,
    0x3FFFFFFF,
    0x7F7FFFFF,
    0xFF7FFFFF,
    0x7F000000,
    0x7F800000,
    0xFF800000,
    0x7FC00000,
    0xFFC00000,
    0x7FC00001,
    0x7F800001,
    0xFF800001,
    0x7FBFFFFF,
    0x33800000,
    0x34000000,
    0x4B800000,
    0x4B7FFFFF,
]


def f32_random(rng: np.random.Generator, n):
    """``n`` FP32 encodings: a quarter uniform bit patterns, the rest with exponents drawn near the
    subnormal range, near 1 and near overflow, and mantissas with long runs of zeros or ones."""
    bits = rng.integers(0, 1 << 32, n, dtype=np.int64)
    kind = rng.integers(0, 8, n)
    sign = rng.integers(0, 2, n) << 31
    exp_field = np.select(
        [kind == 1, kind == 2, kind == 3, kind >= 4],
        [
            rng.integers(0, 3, n),
            rng.integers(120, 135, n),
            rng.integers(250, 255, n),
            rng.integers(0, 255, n),
        ],
        0,
    )
    man = rng.integers(0, 1 << 23, n)
    keep = rng.integers(0, 24, n)
    low_mask = (np.int64(1) << (23 - keep)) - 1
    man = np.where(kind == 5, man & ~low_mask, man)  # few significant bits: exact products, ties
    man = np.where(kind == 6, man | low_mask, man)  # long runs of ones: carries
    shaped = sign | (exp_field << 23) | man
    bits = np.where(kind == 0, bits, shaped)
    bits[: min(n, len(F32_SPECIALS))] = F32_SPECIALS[: min(n, len(F32_SPECIALS))]
    return bits.astype(np.uint32)


def f32_around(fmt: FloatFormat, rng: np.random.Generator, n):
    """``n`` FP32 encodings of finite values spread over ``fmt``'s range (from below its smallest
    subnormal to above its largest value), with exact ties, near-ties and exact values of ``fmt``
    over-represented."""
    lo = max(fmt.emin - fmt.man_bits - 3, FP32.emin - FP32.man_bits)
    hi = min(fmt.emax + 2, FP32.emax)
    e = rng.integers(lo, hi + 1, n)
    man = rng.integers(0, 1 << 23, n)
    # Bits of FP32's mantissa that fmt discards for a normal result (more for fmt subnormals).
    drop = 23 - fmt.man_bits
    kind = rng.integers(0, 6, n)
    top = man >> drop << drop
    half = np.int64(1) << (drop - 1)
    man = np.select(
        [kind == 1, kind == 2, kind == 3, kind == 4],
        [top, top | half, top | (half - 1), top | (half + 1)],
        man,
    )
    sign = rng.integers(0, 2, n)
    # Build the value e, man as an FP32 encoding (subnormal FP32 where e is below -126).
    value_bits = np.zeros(n, dtype=np.int64)
    normal = e >= FP32.emin
    value_bits = np.where(normal, ((e + 127) << 23) | man, value_bits)
    shift = np.clip(FP32.emin - e, 0, 63)
    value_bits = np.where(~normal, ((1 << 23) | man) >> shift, value_bits)
    return ((sign << 31) | value_bits).astype(np.uint32)


def f32_to_float(bits):
    """FP32 encodings (array) to numpy float32 values, bit for bit."""
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def float_to_f32(values):
    """numpy float32 values to their encodings."""
    return np.asarray(values, dtype=np.float32).view(np.uint32)
