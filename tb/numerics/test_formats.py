"""Format descriptors: geometry, range constants, decoding of every code (against gfloat, ml_dtypes and
numpy), field packing, the Amaranth layout, and parameter checking."""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from gfloat import decode_ndarray

from tatami.sim.numerics import (
    BF16,
    FP32,
    FloatClass,
    FloatFormat,
    cfloat8_143,
    cfloat8_152,
    cfloat16_shp,
    cfloat16_uhp,
    decode_array,
)

from .oracles import gfloat_format

CF8_MAKERS = [cfloat8_143, cfloat8_152]
CF16_MAKERS = [cfloat16_shp, cfloat16_uhp]


@pytest.mark.parametrize(
    ("fmt", "width", "max_finite", "min_normal", "min_subnormal"),
    [
        (FP32, 32, Fraction(2**24 - 1) * 2**104, Fraction(1, 2**126), Fraction(1, 2**149)),
        (BF16, 16, Fraction(2**8 - 1) * 2**120, Fraction(1, 2**126), Fraction(1, 2**133)),
        (cfloat8_143(7), 8, 480, Fraction(1, 2**6), Fraction(1, 2**9)),
        (cfloat8_143(0), 8, Fraction(15, 8) * 2**15, 2, Fraction(1, 4)),
        (cfloat8_143(63), 8, Fraction(15, 8) * Fraction(1, 2**48), Fraction(1, 2**62), Fraction(1, 2**65)),
        (cfloat8_152(15), 8, 114688, Fraction(1, 2**14), Fraction(1, 2**16)),
        (cfloat8_152(0), 8, Fraction(7, 4) * 2**31, 2, Fraction(1, 2)),
        (cfloat8_152(63), 8, Fraction(7, 4) * Fraction(1, 2**32), Fraction(1, 2**62), Fraction(1, 2**64)),
        (cfloat16_shp(15), 16, 131008, Fraction(1, 2**14), Fraction(1, 2**24)),
        (
            cfloat16_shp(63),
            16,
            Fraction(2047, 1024) * Fraction(1, 2**32),
            Fraction(1, 2**62),
            Fraction(1, 2**72),
        ),
        (cfloat16_uhp(31), 16, Fraction(2047, 1024) * 2**32, Fraction(1, 2**30), Fraction(1, 2**40)),
        (cfloat16_uhp(0), 16, Fraction(2047, 1024) * 2**63, 2, Fraction(1, 2**9)),
    ],
    ids=str,
)
def test_range_constants(fmt, width, max_finite, min_normal, min_subnormal):
    assert fmt.width == width
    assert fmt.max_finite == max_finite
    assert fmt.min_normal == min_normal
    assert fmt.min_subnormal == min_subnormal
    assert fmt.to_fraction(fmt.max_code()) == max_finite
    assert fmt.to_fraction(1) == min_subnormal
    assert fmt.to_fraction(1 << fmt.man_bits) == min_normal


@pytest.mark.parametrize("make", CF8_MAKERS)
def test_cfloat8_every_code_every_bias_matches_gfloat(make):
    codes = np.arange(256)
    for bias in range(64):
        fmt = make(bias)
        ours = np.array([fmt.to_float(int(c)) for c in codes])
        theirs = decode_ndarray(gfloat_format(fmt), codes)
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))
        np.testing.assert_array_equal(decode_array(fmt, codes), ours)
        classes = {fmt.classify(int(c)) for c in codes}
        assert classes == {FloatClass.ZERO, FloatClass.SUBNORMAL, FloatClass.NORMAL}  # all finite


@pytest.mark.parametrize("make", CF16_MAKERS)
@pytest.mark.parametrize("bias", [0, 15, 31, 63])
def test_cfloat16_every_code_matches_gfloat(make, bias):
    fmt = make(bias)
    codes = np.arange(1 << 16)
    ours = decode_array(fmt, codes)
    np.testing.assert_array_equal(ours, decode_ndarray(gfloat_format(fmt), codes))
    sample = range(0, 1 << 16, 97)
    assert [fmt.to_float(c) for c in sample] == list(ours[list(sample)])
    assert not np.isnan(ours).any() and np.isfinite(ours).all()


def test_bf16_every_code_matches_ml_dtypes():
    codes = np.arange(1 << 16, dtype=np.uint16)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        theirs = codes.view(ml_dtypes.bfloat16).astype(np.float64)
    ours = decode_array(BF16, codes)
    np.testing.assert_array_equal(ours, theirs)  # NaNs compare equal here
    scalar = np.array([BF16.to_float(int(c)) for c in codes[::61]])
    np.testing.assert_array_equal(scalar, theirs[::61])


def test_fp32_random_codes_match_numpy():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 1 << 32, 20000, dtype=np.uint32)
    with np.errstate(invalid="ignore"):  # signalling NaNs
        theirs = codes.view(np.float32).astype(np.float64)
    np.testing.assert_array_equal(decode_array(FP32, codes), theirs)
    np.testing.assert_array_equal([FP32.to_float(int(c)) for c in codes[:3000]], theirs[:3000])


# (ml_dtypes type, Tatami format with the same layout and bias, codes whose meaning differs)
ML_DTYPES_FP8 = [
    (ml_dtypes.float8_e4m3fn, cfloat8_143(7), {0x7F, 0xFF}),  # NaN there; 480 in CFloat8
    (ml_dtypes.float8_e4m3, cfloat8_143(7), set(range(0x78, 0x80)) | set(range(0xF8, 0x100))),  # Inf/NaN
    (ml_dtypes.float8_e4m3fnuz, cfloat8_143(8), {0x80}),  # NaN there; -0 in CFloat8
    (ml_dtypes.float8_e4m3b11fnuz, cfloat8_143(11), {0x80}),
    (ml_dtypes.float8_e5m2, cfloat8_152(15), set(range(0x7C, 0x80)) | set(range(0xFC, 0x100))),
    (ml_dtypes.float8_e5m2fnuz, cfloat8_152(16), {0x80}),
]


@pytest.mark.parametrize(("dtype", "fmt", "differ"), ML_DTYPES_FP8, ids=lambda x: getattr(x, "__name__", ""))
def test_cfloat8_codes_match_ml_dtypes_except_their_specials(dtype, fmt, differ):
    codes = np.arange(256, dtype=np.uint8)
    theirs = codes.view(dtype).astype(np.float64)
    ours = decode_array(fmt, codes)
    same = np.array([c not in differ for c in range(256)])
    np.testing.assert_array_equal(ours[same], theirs[same])
    assert (~np.isfinite(theirs[~same]) | (theirs[~same] != ours[~same])).all()


def test_fp32_classes_and_canonical_nan():
    assert FP32.canonical_nan == 0x7FC00000 and BF16.canonical_nan == 0x7FC0
    assert FP32.classify(0x7F800000) is FloatClass.INF
    assert FP32.classify(0xFFC00001) is FloatClass.QNAN
    assert FP32.classify(0x7F800001) is FloatClass.SNAN
    assert FP32.classify(0x80000001) is FloatClass.SUBNORMAL
    assert FP32.classify(0x80000000) is FloatClass.ZERO
    assert FP32.unpack(0x3F800000) == (FloatClass.NORMAL, 0, 1 << 23, -23)
    assert FP32.to_float(0x80000000) == 0.0 and np.signbit(FP32.to_float(0x80000000))


@pytest.mark.parametrize(
    "fmt", [FP32, BF16, cfloat8_143(5), cfloat8_152(40), cfloat16_shp(9), cfloat16_uhp(33)], ids=str
)
def test_fields_and_amaranth_layout(fmt):
    layout = fmt.layout()
    assert layout.size == fmt.width
    assert layout["mantissa"].offset == 0 and layout["mantissa"].width == fmt.man_bits
    assert layout["exponent"].offset == fmt.man_bits and layout["exponent"].width == fmt.exp_bits
    if fmt.signed:
        assert layout["sign"].offset == fmt.man_bits + fmt.exp_bits
    else:
        assert "sign" not in {name for name, _ in layout}
    rng = np.random.default_rng(fmt.width)
    for code in rng.integers(0, 1 << fmt.width, 500).tolist():
        assert fmt.pack(*fmt.fields(code)) == code


@pytest.mark.parametrize("make", CF8_MAKERS + CF16_MAKERS)
@pytest.mark.parametrize("bias", [-1, 64, 1.0, True, None])
def test_bad_bias_is_refused_with_the_reason(make, bias):
    with pytest.raises(ValueError, match=r"bias must be an int in 0\.\.63"):
        make(bias)


def test_bad_codes_and_formats_are_refused():
    fmt = cfloat8_143(7)
    with pytest.raises(ValueError, match="does not fit in 8 bits"):
        fmt.unpack(0x100)
    with pytest.raises(ValueError, match="does not fit"):
        fmt.unpack(-1)
    with pytest.raises(TypeError, match="int bit pattern"):
        fmt.unpack(1.0)
    with pytest.raises(ValueError, match="no infinity"):
        fmt.inf_code()
    with pytest.raises(ValueError, match="exp_bits"):
        FloatFormat("bad", exp_bits=1, man_bits=3, bias=0)
    with pytest.raises(ValueError, match="no sign bit"):
        cfloat16_uhp(3).pack(1, 0, 0)
