"""Bit-exact golden models of Tatami's floating-point arithmetic.

Every function takes encodings as plain ints and returns ``(result_bits, flags)``; ``flags`` is an int
built from :class:`~tatami.sim.numerics.flags.Flags`. Results are computed exactly with Python integers
and rounded once by :func:`~tatami.sim.numerics.rounding.round_pack`.

IEEE behaviour follows RISC-V (as Berkeley SoftFloat built with ``SPECIALIZE_TYPE=RISCV``): every NaN
result is the canonical quiet NaN; INVALID is raised for a signalling NaN operand, ``inf - inf``,
``0 * inf`` (in a fused multiply-add even when the addend is a quiet NaN); an exact zero sum of operands
with opposite signs is +0 (-0 only when both addends are -0).

Mixed-precision (widening) operations take each operand with its own format; the product of two BF16 or
two CFloat8 numbers always has an exact significand in FP32 (see ``docs/numerics.md``), so rounding there
only happens at the edges of FP32's exponent range (BF16) or never (CFloat8).
"""

from .flags import Flags
from .formats import BF16, FP32, FloatClass, FloatFormat, Unpacked
from .rounding import RoundingMode, check_mode, round_pack, special_inf, special_nan

__all__ = [
    "bf16_mac_f32",
    "bf16_mul_f32",
    "cf8_mac_f32",
    "cf8_mul_f32",
    "f32_accumulate",
    "f32_add",
    "f32_fma",
    "f32_mul",
    "f32_sub",
    "fp_add",
    "fp_fma",
    "fp_mul",
    "fp_sub",
    "mac_widening",
    "mul_widening",
]

_ONE = Unpacked(FloatClass.NORMAL, 0, 1, 0)


def _fma(out: FloatFormat, ua, ub, uc, mode, rand):
    """``ua * ub + uc`` (``uc`` may be None for a plain product), rounded once into ``out``."""
    operands = [u for u in (ua, ub, uc) if u is not None]
    flags = int(Flags.DENORMAL) if any(u.cls is FloatClass.SUBNORMAL for u in operands) else 0
    signalling = any(u.cls is FloatClass.SNAN for u in operands)
    ps = ua.sign ^ ub.sign
    a_inf, b_inf = ua.cls is FloatClass.INF, ub.cls is FloatClass.INF
    c_cls = uc.cls if uc is not None else FloatClass.ZERO

    if ua.cls.is_nan or ub.cls.is_nan:
        r, f = special_nan(out, 0, signalling)
    elif (a_inf and ub.cls is FloatClass.ZERO) or (b_inf and ua.cls is FloatClass.ZERO):
        r, f = special_nan(out, 0, True)  # 0 * inf is invalid, whatever the addend
    elif c_cls.is_nan:
        r, f = special_nan(out, 0, signalling)
    elif a_inf or b_inf:
        if c_cls is FloatClass.INF and uc.sign != ps:
            r, f = special_nan(out, 0, True)  # inf - inf
        else:
            r, f = special_inf(out, ps)
    elif c_cls is FloatClass.INF:
        r, f = special_inf(out, uc.sign)
    else:
        sig, exp, sign = ua.sig * ub.sig, ua.exp + ub.exp, ps
        if uc is not None:
            low = min(exp, uc.exp)
            product = -(sig << (exp - low)) if ps else sig << (exp - low)
            addend = -(uc.sig << (uc.exp - low)) if uc.sign else uc.sig << (uc.exp - low)
            total = product + addend
            if total == 0:
                # Exact zero: -0 only if both addends were -0 (round-to-nearest and toward-zero rule).
                sign = ps if ps == uc.sign else 0
            else:
                sign = int(total < 0)
            sig, exp = abs(total), low
        r, f = round_pack(out, sign, sig, exp, mode, rand)
    return r, flags | f


def _unpack(fmt, bits):
    if not isinstance(fmt, FloatFormat):
        raise TypeError(f"expected a FloatFormat, not {fmt!r}")
    return fmt.unpack(bits)


# -- same-format operations ---------------------------------------------------------------------------


def fp_add(fmt: FloatFormat, a, b, mode=RoundingMode.RNE, rand=0):
    """``a + b`` in ``fmt``, one rounding."""
    mode = check_mode(mode, rand)
    return _fma(fmt, _unpack(fmt, a), _ONE, _unpack(fmt, b), mode, rand)


def fp_sub(fmt: FloatFormat, a, b, mode=RoundingMode.RNE, rand=0):
    """``a - b`` in ``fmt``: ``a + (-b)`` (the sign of ``b`` is flipped, even for NaN)."""
    mode = check_mode(mode, rand)
    ub = _unpack(fmt, b)
    if not fmt.signed:
        raise ValueError(f"{fmt.name} is unsigned: subtraction is not defined on it")
    return _fma(fmt, _unpack(fmt, a), _ONE, ub._replace(sign=ub.sign ^ 1), mode, rand)


def fp_mul(fmt: FloatFormat, a, b, mode=RoundingMode.RNE, rand=0):
    """``a * b`` in ``fmt``, one rounding."""
    mode = check_mode(mode, rand)
    return _fma(fmt, _unpack(fmt, a), _unpack(fmt, b), None, mode, rand)


def fp_fma(fmt: FloatFormat, a, b, c, mode=RoundingMode.RNE, rand=0):
    """Fused multiply-add ``a * b + c`` in ``fmt`` with a single rounding (SoftFloat ``mulAdd``)."""
    mode = check_mode(mode, rand)
    return _fma(fmt, _unpack(fmt, a), _unpack(fmt, b), _unpack(fmt, c), mode, rand)


def f32_add(a, b, mode=RoundingMode.RNE):
    """FP32 ``a + b``. Returns ``(bits, flags)``."""
    return fp_add(FP32, a, b, mode)


def f32_sub(a, b, mode=RoundingMode.RNE):
    """FP32 ``a - b``. Returns ``(bits, flags)``."""
    return fp_sub(FP32, a, b, mode)


def f32_mul(a, b, mode=RoundingMode.RNE):
    """FP32 ``a * b``. Returns ``(bits, flags)``."""
    return fp_mul(FP32, a, b, mode)


def f32_fma(a, b, c, mode=RoundingMode.RNE):
    """FP32 fused ``a * b + c``, one rounding. Returns ``(bits, flags)``."""
    return fp_fma(FP32, a, b, c, mode)


def f32_accumulate(acc, x, mode=RoundingMode.RNE):
    """The FP32 accumulate step ``acc + x`` of a dot product: an FP32 add (``acc`` first)."""
    return fp_add(FP32, acc, x, mode)


# -- widening (mixed-precision) operations ------------------------------------------------------------


def mul_widening(
    a, fmt_a: FloatFormat, b, fmt_b: FloatFormat, out: FloatFormat = FP32, mode=RoundingMode.RNE, rand=0
):
    """``a * b`` with each operand in its own format, rounded once into ``out``."""
    mode = check_mode(mode, rand)
    return _fma(out, _unpack(fmt_a, a), _unpack(fmt_b, b), None, mode, rand)


def mac_widening(
    acc, a, fmt_a: FloatFormat, b, fmt_b: FloatFormat, out: FloatFormat = FP32, mode=RoundingMode.RNE, rand=0
):
    """Multiply-accumulate ``acc + a * b`` with ``acc`` in ``out``, the operands in their own formats,
    and one rounding (fused)."""
    mode = check_mode(mode, rand)
    return _fma(out, _unpack(fmt_a, a), _unpack(fmt_b, b), _unpack(out, acc), mode, rand)


def bf16_mul_f32(a, b, mode=RoundingMode.RNE):
    """BF16 x BF16 product delivered in FP32. The 16-bit product significand always fits; the result is
    inexact only when the product overflows FP32 or falls below FP32's normal range with more bits than
    the subnormal grid holds."""
    return mul_widening(a, BF16, b, BF16, FP32, mode)


def bf16_mac_f32(acc, a, b, mode=RoundingMode.RNE):
    """FP32 accumulator plus BF16 x BF16 product, fused (one rounding)."""
    return mac_widening(acc, a, BF16, b, BF16, FP32, mode)


def cf8_mul_f32(a, fmt_a: FloatFormat, b, fmt_b: FloatFormat):
    """CFloat8 x CFloat8 product in FP32, each operand with its own layout and bias. Always exact (the
    result may be an FP32 subnormal, which raises DENORMAL but never UNDERFLOW)."""
    return mul_widening(a, fmt_a, b, fmt_b, FP32, RoundingMode.RNE)


def cf8_mac_f32(acc, a, fmt_a: FloatFormat, b, fmt_b: FloatFormat, mode=RoundingMode.RNE):
    """FP32 accumulator plus CFloat8 x CFloat8 product (exact), one rounding."""
    return mac_widening(acc, a, fmt_a, b, fmt_b, FP32, mode)
