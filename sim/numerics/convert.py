"""Bit-exact golden models of conversions between Tatami's floating-point formats.

:func:`convert` is the general model; the named functions are the conversions the hardware provides.
All take and return plain ints: ``(result_bits, flags)``.

Special values (see ``docs/numerics.md``):

- NaN into a format with NaN (FP32, BF16): canonical quiet NaN; INVALID only for a signalling NaN.
- NaN into a CFloat format (no NaN): largest finite magnitude with the NaN's sign bit (+max for UHP);
  INVALID.
- Inf into a format with Inf: Inf, no flags (with ``saturate=True``: largest finite, OVERFLOW | INEXACT).
- Inf into a CFloat format: largest finite magnitude with the same sign; OVERFLOW | INEXACT.
- Finite overflow into a CFloat format: largest finite magnitude; OVERFLOW | INEXACT, in every mode.
- Negative nonzero value or -Inf into CFloat16 UHP (unsigned): 0 and INVALID; -0 gives 0, no flags.
- DENORMAL is raised when the source encoding is subnormal or the result is a nonzero subnormal.
"""

from .flags import Flags
from .formats import BF16, FP32, FloatClass, FloatFormat
from .rounding import RoundingMode, check_mode, round_pack, special_inf, special_nan

__all__ = [
    "bf16_to_cf8",
    "bf16_to_f32",
    "cf8_to_bf16",
    "cf8_to_f32",
    "cf16_to_f32",
    "convert",
    "f32_to_bf16",
    "f32_to_cf8",
    "f32_to_cf16",
]


def convert(bits, src: FloatFormat, dst: FloatFormat, mode=RoundingMode.RNE, rand=0, saturate=False):
    """Convert an encoding of ``src`` into ``dst``.

    Parameters
    ----------
    bits : int
        Source encoding.
    src, dst : FloatFormat
        Source and destination formats.
    mode : RoundingMode
        RNE, RTZ or STOCHASTIC.
    rand : int
        Random word for STOCHASTIC: its low ``SR_BITS`` (16) bits are used. Ignored by RNE and RTZ.
    saturate : bool
        Only matters for destinations with Inf (FP32, BF16): finite overflow and Inf give the largest
        finite value instead of Inf. CFloat destinations always saturate.

    Returns
    -------
    (int, int)
        ``(result_bits, flags)``.
    """
    mode = check_mode(mode, rand)
    u = src.unpack(bits)
    flags = int(Flags.DENORMAL) if u.cls is FloatClass.SUBNORMAL else 0
    if u.cls.is_nan:
        r, f = special_nan(dst, u.sign, u.cls is FloatClass.SNAN)
    elif u.cls is FloatClass.INF:
        r, f = special_inf(dst, u.sign, saturate)
    else:
        r, f = round_pack(dst, u.sign, u.sig, u.exp, mode, rand, saturate)
    return r, flags | f


def f32_to_bf16(bits, mode=RoundingMode.RNE, rand=0, saturate=False):
    """FP32 to BF16 (RNE, RTZ or STOCHASTIC)."""
    return convert(bits, FP32, BF16, mode, rand, saturate)


def bf16_to_f32(bits):
    """BF16 to FP32: exact (a signalling NaN becomes the canonical NaN with INVALID)."""
    return convert(bits, BF16, FP32)


def f32_to_cf8(bits, fmt: FloatFormat, mode=RoundingMode.RNE, rand=0):
    """FP32 to a CFloat8 format (``cfloat8_143(bias)`` or ``cfloat8_152(bias)``); saturating."""
    _check_width(fmt, 8)
    return convert(bits, FP32, fmt, mode, rand)


def cf8_to_f32(bits, fmt: FloatFormat):
    """CFloat8 to FP32: always exact (every CFloat8 value of every bias is an FP32 normal number)."""
    _check_width(fmt, 8)
    return convert(bits, fmt, FP32)


def bf16_to_cf8(bits, fmt: FloatFormat, mode=RoundingMode.RNE, rand=0):
    """BF16 to a CFloat8 format; saturating."""
    _check_width(fmt, 8)
    return convert(bits, BF16, fmt, mode, rand)


def cf8_to_bf16(bits, fmt: FloatFormat):
    """CFloat8 to BF16: always exact."""
    _check_width(fmt, 8)
    return convert(bits, fmt, BF16)


def f32_to_cf16(bits, fmt: FloatFormat, mode=RoundingMode.RNE, rand=0):
    """FP32 to CFloat16 (``cfloat16_shp(bias)`` or ``cfloat16_uhp(bias)``); saturating."""
    _check_width(fmt, 16)
    return convert(bits, FP32, fmt, mode, rand)


def cf16_to_f32(bits, fmt: FloatFormat):
    """CFloat16 to FP32: always exact."""
    _check_width(fmt, 16)
    return convert(bits, fmt, FP32)


def _check_width(fmt, width):
    if not isinstance(fmt, FloatFormat) or fmt.width != width or fmt.has_inf:
        raise ValueError(f"expected a {width}-bit CFloat format, not {fmt!r}")
