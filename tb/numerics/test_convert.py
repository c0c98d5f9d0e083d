"""Conversions between FP32, BF16, CFloat8 (both layouts, any bias) and CFloat16 against ml_dtypes and
gfloat, the vector model against the scalar model, and the documented special-value rules.

Where the oracles and Tatami deliberately differ, the tests say so and check Tatami's rule instead:

- ml_dtypes float8 types reserve codes for NaN/Inf (and fnuz types have no -0); CFloat8 has neither, so
  its largest codes are finite, overflow saturates and NaN maps to the largest magnitude.
- ml_dtypes and gfloat keep NaN payloads or signs; Tatami's IEEE formats return the canonical NaN.
- gfloat folds the sign of a negative input into an unsigned format; Tatami gives 0 and INVALID.
- gfloat has no flags; flags are checked against independent constructions below.
"""

import math

import ml_dtypes
import numpy as np
import pytest
from gfloat import Domain, FormatInfo, RoundMode, round_float, round_ndarray

from tatami.sim.numerics import (
    BF16,
    FP32,
    Flags,
    FloatClass,
    RoundingMode,
    bf16_to_cf8,
    cf8_to_bf16,
    cf8_to_f32,
    cf16_to_f32,
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

from .oracles import gfloat_format
from .stimulus import f32_around, f32_random, f32_to_float

RNE, RTZ, SR = RoundingMode.RNE, RoundingMode.RTZ, RoundingMode.STOCHASTIC

TARGETS = [
    BF16,
    cfloat8_143(0),
    cfloat8_143(7),
    cfloat8_143(11),
    cfloat8_143(40),
    cfloat8_143(63),
    cfloat8_152(0),
    cfloat8_152(15),
    cfloat8_152(16),
    cfloat8_152(50),
    cfloat8_152(63),
    cfloat16_shp(0),
    cfloat16_shp(15),
    cfloat16_shp(63),
    cfloat16_uhp(0),
    cfloat16_uhp(31),
    cfloat16_uhp(63),
]


def stimulus(fmt, seed, n=20000):
    rng = np.random.default_rng(seed)
    return np.concatenate([f32_around(fmt, rng, n), f32_random(rng, n // 4)])


def values(bits):
    with np.errstate(invalid="ignore"):  # signalling NaNs
        return f32_to_float(bits).astype(np.float64)


# -- ml_dtypes ----------------------------------------------------------------------------------------


def test_f32_to_bf16_rne_matches_ml_dtypes():
    rng = np.random.default_rng(2)
    bits = np.concatenate([f32_random(rng, 200_000), f32_around(BF16, rng, 100_000)])
    x = f32_to_float(bits)
    with np.errstate(invalid="ignore"):
        theirs = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    ours, _ = convert_f32_array(bits, BF16, RNE)
    nan = np.isnan(x)
    np.testing.assert_array_equal(ours[~nan], theirs[~nan])
    assert (ours[nan] == 0x7FC0).all()  # canonical NaN, where ml_dtypes keeps sign and payload
    for b, code in zip(bits[:5000].tolist(), ours[:5000].tolist()):
        assert f32_to_bf16(b)[0] == code


# (ml_dtypes type, CFloat8 format with the same layout and bias, largest finite value of the ml_dtype)
FP8_TWINS = [
    (ml_dtypes.float8_e4m3fn, cfloat8_143(7), 448.0),
    (ml_dtypes.float8_e4m3, cfloat8_143(7), 240.0),
    (ml_dtypes.float8_e4m3fnuz, cfloat8_143(8), 240.0),
    (ml_dtypes.float8_e4m3b11fnuz, cfloat8_143(11), 30.0),
    (ml_dtypes.float8_e5m2, cfloat8_152(15), 57344.0),
    (ml_dtypes.float8_e5m2fnuz, cfloat8_152(16), 57344.0),
]


@pytest.mark.parametrize(("dtype", "fmt", "their_max"), FP8_TWINS, ids=lambda x: getattr(x, "__name__", ""))
def test_f32_to_cf8_rne_matches_ml_dtypes_within_their_range(dtype, fmt, their_max):
    bits = stimulus(fmt, 3, 40000)
    x = f32_to_float(bits)
    finite = np.isfinite(x)
    bits, x = bits[finite], x[finite]
    with np.errstate(invalid="ignore", over="ignore"):
        theirs = x.astype(dtype).astype(np.float64)
    ours_codes, flags = convert_f32_array(bits, fmt, RNE)
    ours = decode_array(fmt, ours_codes)
    in_range = np.isfinite(theirs)
    assert in_range.mean() > 0.5
    # Same value (fnuz types have no -0: compare values, then signs where they have them).
    np.testing.assert_array_equal(ours[in_range], theirs[in_range])
    if "fnuz" not in dtype.__name__:
        np.testing.assert_array_equal(np.signbit(ours[in_range]), np.signbit(theirs[in_range]))
    # Where ml_dtypes overflows to NaN/Inf, CFloat8 gives a finite value above their max: its own
    # codes beyond their specials, or saturation to its max with OVERFLOW.
    beyond = ~in_range
    assert beyond.any()
    saturated = (np.abs(ours[beyond]) == float(fmt.max_finite)) & ((flags[beyond] & Flags.OVERFLOW) != 0)
    assert ((np.abs(ours[beyond]) > their_max) | saturated).all()


# -- gfloat -------------------------------------------------------------------------------------------

GFLOAT_MODES = {RNE: RoundMode.TiesToEven, RTZ: RoundMode.TowardZero}


def gfloat_round(fmt, bits, mode, rand=None):
    x = values(bits)
    fi = gfloat_format(fmt)
    sat = not fmt.has_inf
    if mode is SR:
        return round_ndarray(fi, x, RoundMode.StochasticFastest, sat, (rand & 0xFFFF).astype(np.int64), 16)
    return round_ndarray(fi, x, GFLOAT_MODES[mode], sat)


def comparable(fmt, bits):
    """Inputs on which gfloat's rules coincide with Tatami's: finite, and non-negative for unsigned."""
    x = values(bits)
    keep = np.isfinite(x)
    if not fmt.signed:
        keep &= ~np.signbit(x)
    return bits[keep]


@pytest.mark.parametrize("mode", [RNE, RTZ, SR], ids=lambda m: m.name)
@pytest.mark.parametrize("fmt", TARGETS, ids=str)
def test_f32_conversion_matches_gfloat(fmt, mode):
    bits = comparable(fmt, stimulus(fmt, 4))
    rand = np.random.default_rng(5).integers(0, 1 << 32, bits.shape, dtype=np.int64)
    codes, _ = convert_f32_array(bits, fmt, mode, rand)
    ours = decode_array(fmt, codes)
    theirs = gfloat_round(fmt, bits, mode, rand)
    np.testing.assert_array_equal(ours, theirs)
    if fmt.signed:
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


@pytest.mark.parametrize("fmt", [BF16, cfloat16_shp(20)], ids=str)
def test_stochastic_equals_gfloat_exact_stochastic_when_at_most_16_bits_are_discarded(fmt):
    """gfloat's ``Stochastic`` first rounds the discarded fraction to ``srnumbits`` bits; with no more
    than 16 discarded bits that is exact, so it must agree with Tatami's window rule bit for bit."""
    rng = np.random.default_rng(6)
    bits = comparable(fmt, f32_around(fmt, rng, 30000))
    x = values(bits)
    normal = (np.abs(x) >= float(fmt.min_normal)) & (np.abs(x) <= float(fmt.max_finite))
    bits = bits[normal]
    rand = rng.integers(0, 1 << 16, bits.shape, dtype=np.int64)
    codes, _ = convert_f32_array(bits, fmt, SR, rand)
    theirs = round_ndarray(gfloat_format(fmt), values(bits), RoundMode.Stochastic, not fmt.has_inf, rand, 16)
    np.testing.assert_array_equal(decode_array(fmt, codes), theirs)


# -- flags, against independent constructions ----------------------------------------------------------


def unbounded_twin(fmt):
    """A gfloat format with fmt's precision and a far wider exponent range: rounding into it is rounding
    'as if the exponent range were unbounded', which defines IEEE overflow and after-rounding tininess."""
    return FormatInfo(
        name="twin",
        k=1 + 10 + fmt.man_bits,
        precision=fmt.precision,
        bias=600,
        is_signed=True,
        domain=Domain.Extended,
        has_nz=True,
        num_high_nans=1,
        has_subnormals=True,
        is_twos_complement=False,
    )


@pytest.mark.parametrize("mode", [RNE, RTZ], ids=lambda m: m.name)
@pytest.mark.parametrize("fmt", TARGETS, ids=str)
def test_flags_match_ieee_definitions(fmt, mode):
    bits = comparable(fmt, stimulus(fmt, 7, 3000))
    twin = unbounded_twin(fmt)
    for b in bits.tolist():
        v = FP32.to_float(b)
        code, flags = convert(b, FP32, fmt, mode)
        result = fmt.to_float(code)
        unbounded = abs(round_float(twin, v, GFLOAT_MODES[mode]))
        overflow = unbounded > fmt.max_finite
        tiny = 0 < abs(v) < fmt.min_normal and unbounded < fmt.min_normal
        inexact = overflow or result != v
        expected = (
            Flags.INEXACT * inexact
            | Flags.OVERFLOW * overflow
            | Flags.UNDERFLOW * (tiny and inexact)
            | Flags.DENORMAL * (FloatClass.SUBNORMAL in (FP32.classify(b), fmt.classify(code)))
        )
        assert flags == expected, f"{fmt} {mode.name} {b:#010x} ({v!r}) -> {code:#x} flags {flags:#x}"


# -- vector model against the scalar model -----------------------------------------------------------


@pytest.mark.parametrize("mode", [RNE, RTZ, SR], ids=lambda m: m.name)
@pytest.mark.parametrize("fmt", [*TARGETS, FP32], ids=str)
def test_vector_model_equals_scalar_model(fmt, mode):
    rng = np.random.default_rng(8)
    bits = np.concatenate(
        [f32_around(fmt, rng, 2500) if fmt != FP32 else f32_random(rng, 2500), f32_random(rng, 1500)]
    )
    rand = rng.integers(0, 1 << 32, bits.shape, dtype=np.int64)
    for saturate in (False, True):
        codes, flags = convert_f32_array(bits, fmt, mode, rand, saturate)
        for b, r, c, f in zip(bits.tolist(), rand.tolist(), codes.tolist(), flags.tolist()):
            expected = convert(b, FP32, fmt, mode, r, saturate)
            assert (c, f) == expected, f"{fmt} {mode.name} {b:#010x} rand {r:#x} saturate {saturate}"


# -- exact widening conversions -----------------------------------------------------------------------


@pytest.mark.parametrize("bias", [0, 1, 31, 62, 63])
@pytest.mark.parametrize("make", [cfloat8_143, cfloat8_152])
def test_cf8_widening_is_exact_and_round_trips(make, bias):
    fmt = make(bias)
    for code in range(256):
        sub = Flags.DENORMAL * (fmt.classify(code).value == "subnormal")
        f32, flags = cf8_to_f32(code, fmt)
        assert flags == sub
        assert FP32.to_float(f32) == fmt.to_float(code)
        assert math.copysign(1, FP32.to_float(f32)) == math.copysign(1, fmt.to_float(code))
        assert FP32.classify(f32).value in ("zero", "normal")  # never an FP32 subnormal
        b16, flags = cf8_to_bf16(code, fmt)
        assert flags == sub and BF16.to_float(b16) == fmt.to_float(code)
        for mode in (RNE, RTZ, SR):
            assert f32_to_cf8(f32, fmt, mode, rand=0xFFFF) == (code, sub)
            assert bf16_to_cf8(b16, fmt, mode, rand=0xFFFF) == (code, sub)


@pytest.mark.parametrize(
    "fmt", [cfloat16_shp(0), cfloat16_shp(63), cfloat16_uhp(0), cfloat16_uhp(63)], ids=str
)
def test_cf16_widening_is_exact_and_round_trips(fmt):
    for code in range(0, 1 << 16, 7):
        f32, flags = cf16_to_f32(code, fmt)
        assert FP32.to_float(f32) == fmt.to_float(code)
        assert flags == Flags.DENORMAL * (fmt.classify(code).value == "subnormal")
        assert f32_to_cf16(f32, fmt, RNE)[0] == code


# -- documented special-value rules -------------------------------------------------------------------

E4M3 = cfloat8_143(7)


@pytest.mark.parametrize(
    ("fmt", "f32", "mode", "expected"),
    [
        # NaN into CFloat: largest magnitude with the NaN's sign, INVALID.
        (E4M3, 0x7FC00000, RNE, (0x7F, Flags.INVALID)),
        (E4M3, 0xFF800001, RNE, (0xFF, Flags.INVALID)),
        (cfloat16_uhp(31), 0xFFC00000, RNE, (0xFFFF, Flags.INVALID)),
        # Inf into CFloat: saturates, OVERFLOW | INEXACT.
        (E4M3, 0x7F800000, RNE, (0x7F, Flags.OVERFLOW | Flags.INEXACT)),
        (E4M3, 0xFF800000, RTZ, (0xFF, Flags.OVERFLOW | Flags.INEXACT)),
        # Finite overflow saturates in every mode; just above max is not an overflow when it rounds down.
        (E4M3, 0x43F80000, RNE, (0x7F, Flags.OVERFLOW | Flags.INEXACT)),  # 496: tie 480|512 goes to 512
        (E4M3, 0x43F00000, RNE, (0x7F, 0)),  # 480 exact
        (E4M3, 0x43F7FFFF, RNE, (0x7F, Flags.INEXACT)),  # just below the tie: rounds down to max
        (E4M3, 0x43F80000, RTZ, (0x7F, Flags.INEXACT)),
        (E4M3, 0x44000000, RTZ, (0x7F, Flags.OVERFLOW | Flags.INEXACT)),
        # Underflow to zero keeps the sign; smallest subnormal.
        (E4M3, 0x3A800000, RNE, (0x00, Flags.UNDERFLOW | Flags.INEXACT)),  # 2**-10: tie to even (0)
        (E4M3, 0xBA800001, RNE, (0x81, Flags.UNDERFLOW | Flags.INEXACT | Flags.DENORMAL)),
        (E4M3, 0x3B000000, RNE, (0x01, Flags.DENORMAL)),  # 2**-9 exact subnormal: no underflow
        (E4M3, 0x80000001, RNE, (0x80, Flags.UNDERFLOW | Flags.INEXACT | Flags.DENORMAL)),
        # Unsigned: negatives give 0 and INVALID; -0 gives 0 quietly.
        (cfloat16_uhp(31), 0xBF800000, RNE, (0, Flags.INVALID)),
        (cfloat16_uhp(31), 0xFF800000, RNE, (0, Flags.INVALID)),
        (cfloat16_uhp(31), 0x80000000, RNE, (0, 0)),
        # BF16: canonical NaN, INVALID only for signalling NaN, Inf kept, overflow to Inf (RNE) or max (RTZ).
        (BF16, 0xFFC12345, RNE, (0x7FC0, 0)),
        (BF16, 0x7F800001, RNE, (0x7FC0, Flags.INVALID)),
        (BF16, 0xFF800000, RNE, (0xFF80, 0)),
        (BF16, 0x7F7FFFFF, RNE, (0x7F80, Flags.OVERFLOW | Flags.INEXACT)),
        (BF16, 0x7F7FFFFF, RTZ, (0x7F7F, Flags.INEXACT)),
        (BF16, 0x7F7F8000, RTZ, (0x7F7F, Flags.INEXACT)),
    ],
)
def test_special_value_rules(fmt, f32, mode, expected):
    assert convert(f32, FP32, fmt, mode) == (expected[0], int(expected[1]))


def test_saturating_bf16_conversion():
    assert f32_to_bf16(0x7F7FFFFF, RNE, saturate=True) == (0x7F7F, Flags.OVERFLOW | Flags.INEXACT)
    assert f32_to_bf16(0xFF800000, RNE, saturate=True) == (0xFF7F, Flags.OVERFLOW | Flags.INEXACT)
    assert f32_to_bf16(0x7FC00000, RNE, saturate=True) == (0x7FC0, 0)  # NaN stays NaN


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="rand must be a non-negative int"):
        f32_to_bf16(0x3F800000, SR, rand=-1)
    with pytest.raises(ValueError, match="8-bit CFloat format"):
        f32_to_cf8(0x3F800000, cfloat16_shp(15))
    with pytest.raises(ValueError, match="needs rand"):
        convert_f32_array(np.zeros(3, np.uint32), BF16, SR)
    with pytest.raises(ValueError):
        convert(0x3F800000, FP32, BF16, mode=3)


@pytest.mark.parametrize("mode", [RNE, RTZ, SR], ids=lambda m: m.name)
@pytest.mark.parametrize("fmt", [cfloat8_143(3), cfloat8_152(60)], ids=str)
def test_bf16_source_behaves_as_its_fp32_widening(fmt, mode):
    """A BF16 value is an FP32 value: converting it must give the same code and flags as converting its
    exact FP32 widening (DENORMAL aside: a BF16 subnormal widens to an FP32 subnormal too)."""
    rng = np.random.default_rng(9)
    for x, r in zip(rng.integers(0, 1 << 16, 4000).tolist(), rng.integers(0, 1 << 16, 4000).tolist()):
        assert bf16_to_cf8(x, fmt, mode, r) == convert(x << 16, FP32, fmt, mode, r), f"{x:#06x} rand {r:#x}"
