"""FP32 arithmetic against numpy float32 and an exact-rational FMA oracle; IEEE/RISC-V special cases by
hand; the widening BF16 and CFloat8 products checked for the exactness that docs/numerics.md claims."""

import math
from fractions import Fraction

import numpy as np
import pytest

from tatami.sim.numerics import (
    BF16,
    FP32,
    Flags,
    RoundingMode,
    bf16_mac_f32,
    bf16_mul_f32,
    cf8_mac_f32,
    cf8_mul_f32,
    cfloat8_143,
    cfloat8_152,
    decode_array,
    f32_accumulate,
    f32_add,
    f32_fma,
    f32_mul,
    f32_sub,
    fp_add,
    fp_mul,
)

from .stimulus import f32_random, f32_to_float, float_to_f32

NX, UF, OF, NV, DN = Flags.INEXACT, Flags.UNDERFLOW, Flags.OVERFLOW, Flags.INVALID, Flags.DENORMAL
QNAN = 0x7FC00000


def operand_pairs(seed, n):
    """Random FP32 operand pairs; a third of the second operands are near-negations of the first
    (massive cancellation) and a third share its exponent."""
    rng = np.random.default_rng(seed)
    a, b = f32_random(rng, n), f32_random(rng, n)
    kind = rng.integers(0, 3, n)
    near = (a ^ np.uint32(0x80000000)) ^ rng.integers(0, 1 << 12, n).astype(np.uint32)
    same_exp = (a & np.uint32(0xFF800000)) | (b & np.uint32(0x007FFFFF))
    b = np.where(kind == 1, near, np.where(kind == 2, same_exp, b))
    return a, b


def check_against_numpy(model, numpy_op, seed):
    a, b = operand_pairs(seed, 30000)
    with np.errstate(all="ignore"):
        expected = float_to_f32(numpy_op(f32_to_float(a), f32_to_float(b)))
    for x, y, e in zip(a.tolist(), b.tolist(), expected.tolist()):
        r, _ = model(x, y)
        if (e & 0x7FFFFFFF) > 0x7F800000:
            assert r == QNAN, f"{x:#010x} {y:#010x}: NaN expected, got {r:#010x}"
        else:
            assert r == e, f"{x:#010x} {y:#010x}: numpy {e:#010x}, model {r:#010x}"


def test_add_matches_numpy():
    check_against_numpy(f32_add, np.add, 10)


def test_sub_matches_numpy():
    check_against_numpy(f32_sub, np.subtract, 11)


def test_mul_matches_numpy():
    check_against_numpy(f32_mul, np.multiply, 12)


def round_to_odd_float64(x: Fraction):
    """``x`` rounded to 53 bits with round-to-odd: a later RNE rounding to FP32 (24 bits) is then
    correct, free of double-rounding errors. Assumes ``x`` is in float64's normal range."""
    sign, x = (-1, -x) if x < 0 else (1, x)
    e = x.numerator.bit_length() - x.denominator.bit_length()
    shift = 60 - e
    scaled = x * Fraction(2) ** shift  # about 2**60
    m, r = divmod(scaled.numerator, scaled.denominator)
    drop = m.bit_length() - 53
    sticky = r != 0 or (m & ((1 << drop) - 1)) != 0
    m = (m >> drop) | int(sticky)
    return sign * math.ldexp(m, drop - shift)


def test_fma_matches_exact_rational_oracle():
    rng = np.random.default_rng(13)
    n = 20000
    a, b = operand_pairs(13, n)
    c = f32_random(rng, n)
    with np.errstate(all="ignore"):
        cancelling = float_to_f32(-(f32_to_float(a) * f32_to_float(b)))
    cancelling ^= rng.integers(0, 4, n).astype(np.uint32)
    c = np.where(rng.integers(0, 2, n) == 1, cancelling, c)  # addends (nearly) cancelling the product
    checked = 0
    for x, y, z in zip(a.tolist(), b.tolist(), c.tolist()):
        if not all(FP32.classify(v).is_finite for v in (x, y, z)):
            continue
        exact = FP32.to_fraction(x) * FP32.to_fraction(y) + FP32.to_fraction(z)
        if exact == 0:
            continue  # sign of an exact zero: tested by hand below
        with np.errstate(over="ignore"):
            expected = int(np.float32(round_to_odd_float64(exact)).view(np.uint32))
        assert f32_fma(x, y, z)[0] == expected, f"fma({x:#010x}, {y:#010x}, {z:#010x})"
        checked += 1
    assert checked > n // 2


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [
        # Exact zeros: +0 unless both addends are -0.
        (f32_add, (0x3F800000, 0xBF800000), (0x00000000, 0)),
        (f32_add, (0x80000000, 0x80000000), (0x80000000, 0)),
        (f32_add, (0x80000000, 0x00000000), (0x00000000, 0)),
        (f32_sub, (0x80000000, 0x00000000), (0x80000000, 0)),
        (f32_fma, (0x80000000, 0x3F800000, 0x80000000), (0x80000000, 0)),  # -0*1 + -0
        (f32_fma, (0x3F800000, 0x3F800000, 0xBF800000), (0x00000000, 0)),
        (f32_mul, (0x80000000, 0x7F7FFFFF), (0x80000000, 0)),
        # Invalid operations and NaN propagation: canonical NaN.
        (f32_add, (0x7F800000, 0xFF800000), (QNAN, NV)),
        (f32_mul, (0x00000000, 0xFF800000), (QNAN, NV)),
        (f32_add, (0xFFC12345, 0x3F800000), (QNAN, 0)),
        (f32_add, (0x7F800001, 0x3F800000), (QNAN, NV)),
        (f32_fma, (0x00000000, 0x7F800000, 0x7FC00000), (QNAN, NV)),  # 0*inf + qNaN is invalid (RISC-V)
        (f32_fma, (0x7FC00000, 0x3F800000, 0x7F800001), (QNAN, NV)),  # sNaN addend
        (f32_fma, (0x7F800000, 0x40000000, 0xFF800000), (QNAN, NV)),  # inf - inf
        (f32_fma, (0x7F800000, 0x40000000, 0x7F800000), (0x7F800000, 0)),
        (f32_fma, (0x3F800000, 0x40000000, 0xFF800000), (0xFF800000, 0)),
        # Overflow: Inf in RNE, largest finite in RTZ.
        (f32_mul, (0x7F7FFFFF, 0x40000000), (0x7F800000, OF | NX)),
        (lambda a, b: f32_mul(a, b, RoundingMode.RTZ), (0x7F7FFFFF, 0x40000000), (0x7F7FFFFF, OF | NX)),
        # Tininess after rounding. 2**-126 * (1 - 2**-46) rounds to 2**-126 even with an unbounded
        # exponent: not tiny, no underflow (before-rounding detection would raise it).
        (f32_mul, (0x3F800001, 0x007FFFFF), (0x00800000, NX | DN)),
        # 2**-126 - 2**-150 is exact with 24 bits and an unbounded exponent, so it is tiny; it still
        # rounds (tie to even) to the smallest normal number.
        (f32_mul, (0x3F7FFFFF, 0x00800000), (0x00800000, UF | NX)),
        (f32_mul, (0x3F7FFFFE, 0x00800000), (0x007FFFFF, DN)),  # exact subnormal result: no underflow
        (f32_mul, (0x3F7FFFFF, 0x007FFFFF), (0x007FFFFF, UF | NX | DN)),
        (f32_mul, (0x00000001, 0x3F000000), (0x00000000, UF | NX | DN)),
        (f32_mul, (0x00000001, 0x40000000), (0x00000002, DN)),  # exact subnormal: no underflow
        (f32_add, (0x00800000, 0x80000001), (0x007FFFFF, DN)),
    ],
)
def test_ieee_special_cases(op, args, expected):
    assert op(*args) == (expected[0], int(expected[1]))


def test_accumulate_is_an_add_and_other_formats_work():
    assert f32_accumulate(0x3F800000, 0x40000000) == f32_add(0x3F800000, 0x40000000) == (0x40400000, 0)
    assert fp_add(BF16, 0x3F80, 0x3B80) == (0x3F80, int(NX))  # 1 + 2**-8: tie to even
    assert fp_mul(BF16, 0x7F7F, 0x4000) == (0x7F80, int(OF | NX))


# -- widening products ---------------------------------------------------------------------------------


def test_bf16_products_are_exact_in_fp32_range():
    rng = np.random.default_rng(14)
    a = rng.integers(0, 1 << 16, 40000, dtype=np.uint32)
    near = a ^ rng.integers(0, 512, 40000)  # similar magnitudes: products near 1, the widest significands
    b = np.where(rng.integers(0, 2, 40000) == 1, rng.integers(0, 1 << 16, 40000), near)
    b = b.astype(np.uint32)
    with np.errstate(all="ignore"):
        # Widen exactly, then one FP32 rounding.
        expected = float_to_f32(f32_to_float(a << 16) * f32_to_float(b << 16))
    inexact_in_range = 0
    for x, y, e in zip(a.tolist(), b.tolist(), expected.tolist()):
        r, flags = bf16_mul_f32(x, y)
        assert r == e or ((e & 0x7FFFFFFF) > 0x7F800000 and r == QNAN), f"{x:#06x} * {y:#06x}"
        if BF16.classify(x).is_finite and BF16.classify(y).is_finite:
            exact = abs(BF16.to_fraction(x) * BF16.to_fraction(y))
            in_range = exact == 0 or FP32.min_normal <= exact <= FP32.max_finite
            inexact_in_range += in_range and bool(flags & NX)
    assert inexact_in_range == 0  # the significand of a BF16 x BF16 product always fits in FP32


def test_bf16_mac_is_fused():
    # In FP32's normal range the product is exact, so fused and unfused accumulation agree.
    acc, a = 0xBF800000, 0x3F81
    assert bf16_mac_f32(acc, a, a) == f32_fma(a << 16, a << 16, acc)
    assert bf16_mac_f32(acc, a, a) == f32_add(acc, bf16_mul_f32(a, a)[0])
    # Below FP32's range (2**-100 * 2**-100) the one rounding is the accumulation's: alone it underflows
    # to zero, next to 1.0 it is just an inexact addition.
    assert bf16_mac_f32(0x00000000, 0x0D80, 0x0D80) == (0x00000000, int(UF | NX))
    assert bf16_mac_f32(0x3F800000, 0x0D80, 0x0D80) == (0x3F800000, int(NX))


CF8_LAYOUTS = [cfloat8_143, cfloat8_152]


@pytest.mark.parametrize("make_b", CF8_LAYOUTS)
@pytest.mark.parametrize("make_a", CF8_LAYOUTS)
def test_cf8_products_are_always_exact_in_fp32(make_a, make_b):
    """Every product of two CFloat8 numbers of any layouts and biases is an FP32 number: checked on all
    code pairs at the extreme and middle biases (the range limits are monotonic in the bias)."""
    codes = np.arange(256)
    for bias_a in (0, 31, 63):
        for bias_b in (0, 31, 63):
            va = decode_array(make_a(bias_a), codes)
            vb = decode_array(make_b(bias_b), codes)
            exact = np.multiply.outer(va, vb)  # exact in float64: at most 8 significant bits
            np.testing.assert_array_equal(exact.astype(np.float32).astype(np.float64), exact)


@pytest.mark.parametrize("make_b", CF8_LAYOUTS)
@pytest.mark.parametrize("make_a", CF8_LAYOUTS)
def test_cf8_product_model(make_a, make_b):
    rng = np.random.default_rng(15)
    for _ in range(3000):
        fa, fb = make_a(int(rng.integers(0, 64))), make_b(int(rng.integers(0, 64)))
        x, y = (int(v) for v in rng.integers(0, 256, 2))
        r, flags = cf8_mul_f32(x, fa, y, fb)
        assert FP32.to_float(r) == fa.to_float(x) * fb.to_float(y)
        sign = math.copysign(1, fa.to_float(x)) * math.copysign(1, fb.to_float(y))
        assert math.copysign(1, FP32.to_float(r)) == sign
        sub = "subnormal" in (fa.classify(x).value, fb.classify(y).value, FP32.classify(r).value)
        assert flags == DN * sub
    # The smallest products are FP32 subnormals: DENORMAL, never UNDERFLOW (they are exact).
    tiny = cfloat8_152(63)
    assert cf8_mul_f32(0x01, tiny, 0x01, tiny) == (0x00200000, int(DN))  # 2**-64 * 2**-64 = 2**-128
    assert cf8_mac_f32(0x3F800000, 0x01, tiny, 0x01, tiny) == (0x3F800000, int(NX | DN))
