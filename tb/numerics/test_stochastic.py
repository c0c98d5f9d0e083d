"""Stochastic rounding: the documented bit rule (a 16-bit window of discarded bits plus the low 16 bits
of the random word, rounding up on carry-out) by hand, and its statistics over 10**6 conversions of one
value: the rounding-up frequency equals the discarded fraction and the mean equals the value. Round to
nearest or toward zero would fail these tests (they always round the same way)."""

import numpy as np
import pytest

from tatami.sim.numerics import (
    BF16,
    FP32,
    SR_BITS,
    Flags,
    RoundingMode,
    cfloat8_143,
    cfloat8_152,
    cfloat16_shp,
    cfloat16_uhp,
    convert,
    convert_f32_array,
    decode_array,
    f32_to_bf16,
    f32_to_cf8,
    f32_to_cf16,
)

SR = RoundingMode.STOCHASTIC
NX = int(Flags.INEXACT)


def test_window_rule_by_hand():
    assert SR_BITS == 16
    # FP32 -> BF16 discards exactly 16 bits: 1 + 2**-8 has discarded bits 0x8000.
    assert f32_to_bf16(0x3F808000, SR, rand=0x7FFF) == (0x3F80, NX)
    assert f32_to_bf16(0x3F808000, SR, rand=0x8000) == (0x3F81, NX)
    assert f32_to_bf16(0x3F808000, SR, rand=0xFFFF_7FFF) == (0x3F80, NX)  # bits above 16 are ignored
    # FP32 -> CFloat16 discards 13 bits; they sit at the top of the window: 0x1000 -> 0x8000.
    shp = cfloat16_shp(15)
    assert f32_to_cf16(0x3F801000, shp, SR, rand=0x7FFF) == (0x3C00, NX)
    assert f32_to_cf16(0x3F801000, shp, SR, rand=0x8000) == (0x3C01, NX)
    # FP32 -> CFloat8 1-4-3 discards 20 bits: the window is the top 16, the rest only sets INEXACT.
    e4m3 = cfloat8_143(7)
    assert f32_to_cf8(0x3F800001, e4m3, SR, rand=0xFFFF) == (0x38, NX)  # window 0: never rounds up
    assert f32_to_cf8(0x3F800010, e4m3, SR, rand=0xFFFF) == (0x39, NX)  # window 1: up only for rand 0xFFFF
    assert f32_to_cf8(0x3F800010, e4m3, SR, rand=0xFFFE) == (0x38, NX)
    # Exact values never move, whatever the random word.
    for rand in (0, 0x8000, 0xFFFF):
        assert f32_to_cf8(0x3F900000, e4m3, SR, rand=rand) == (0x39, 0)
    # Rounding up past the largest value saturates (CFloat) or overflows to Inf (BF16).
    assert f32_to_cf8(0x43F7FFFF, e4m3, SR, rand=0xFFFF) == (0x7F, int(Flags.OVERFLOW) | NX)
    assert f32_to_cf8(0x43F7FFFF, e4m3, SR, rand=0) == (0x7F, NX)
    assert f32_to_bf16(0x7F7FFFFF, SR, rand=0x0001) == (0x7F80, int(Flags.OVERFLOW) | NX)
    assert f32_to_bf16(0x7F7F0001, SR, rand=0x0000) == (0x7F7F, NX)


def test_stochastic_underflow_uses_the_rounded_result():
    e4m3 = cfloat8_143(7)  # smallest normal 2**-6, smallest subnormal 2**-9
    just_below_normal = 0x3C7FFFFF  # 2**-6 * (1 - 2**-24)
    assert convert(just_below_normal, FP32, e4m3, SR, rand=0xFFFF) == (0x08, NX)  # rounded up to 2**-6
    rounded_down = (0x07, NX | int(Flags.UNDERFLOW | Flags.DENORMAL))
    assert convert(just_below_normal, FP32, e4m3, SR, rand=0) == rounded_down


# (format, FP32 input): values between two neighbours of the format, with different fractions.
CASES = [
    (cfloat8_143(7), 0x3F84CCCD),  # 1 + 0.3 ulp
    (cfloat8_143(7), 0xBF8B3333),  # -(1 + 0.7 ulp)
    (cfloat8_152(15), 0x3FA00000 | 0x0ABCD),  # 1.25 + small fraction of an ulp
    (cfloat8_143(40), 0x2A00_0000 | 0x1234),  # 2**-43: between 0 and the smallest subnormal 2**-42
    (cfloat16_shp(15), 0x3F800000 | 0x0555),  # 1 + 0.1666 ulp
    (cfloat16_uhp(31), 0x4E2AAAAB),
    (BF16, 0x3F80_5555),  # 1 + 1/3 ulp
]


@pytest.mark.parametrize(("fmt", "bits"), CASES, ids=lambda c: f"{c:#010x}" if isinstance(c, int) else str(c))
def test_statistics_over_a_million_conversions(fmt, bits):
    n = 1_000_000
    rng = np.random.default_rng(bits)
    rand = rng.integers(0, 1 << 32, n, dtype=np.int64)
    codes, flags = convert_f32_array(np.full(n, bits, dtype=np.uint32), fmt, SR, rand)
    x = FP32.to_float(bits)
    lo_code, _ = convert(bits, FP32, fmt, RoundingMode.RTZ)
    lo = fmt.to_float(lo_code)
    hi = fmt.to_float(lo_code + 1)  # the next value away from zero (sign-magnitude codes)
    results = decode_array(fmt, codes)
    assert set(np.unique(results)) == {lo, hi}
    assert (flags & NX).all()
    # P(away from zero) is the discarded fraction, read through the 16-bit window (floor).
    fraction = (x - lo) / (hi - lo)
    p = np.floor(fraction * 2**SR_BITS) / 2**SR_BITS
    assert abs(p - fraction) < 2**-SR_BITS
    freq = np.mean(results == hi)
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(freq - p) < 5 * sigma, f"P(up) {freq:.6f}, expected {p:.6f} +- {sigma:.6f}"
    # So the mean result is the value (within sampling error and the window's bias below 2**-16 ulp).
    mean = np.mean(results)
    assert abs(mean - x) < 5 * sigma * abs(hi - lo) + abs(hi - lo) * 2**-SR_BITS
    # Round to nearest, by contrast, always gives the same value.
    nearest, _ = convert_f32_array(np.full(1000, bits, dtype=np.uint32), fmt, RoundingMode.RNE)
    assert len(np.unique(nearest)) == 1
