"""Descriptors of Tatami's binary floating-point formats.

A :class:`FloatFormat` is a frozen dataclass: it is the one definition of a format, shared by the golden
models, the testbenches and (through :meth:`FloatFormat.layout`) the RTL. An encoding is always a plain
non-negative Python ``int`` holding the bit pattern.

Formats (see ``docs/numerics.md`` for the full tables):

========================  =====  ====  ====  ==========  ===================================
name                      sign   exp   man   bias        specials
========================  =====  ====  ====  ==========  ===================================
``FP32``                  1      8     23    127         IEEE: Inf, NaN (top exponent)
``BF16``                  1      8     7     127         IEEE: Inf, NaN (top exponent)
``cfloat8_143(bias)``     1      4     3     0..63       none: every code is finite
``cfloat8_152(bias)``     1      5     2     0..63       none: every code is finite
``cfloat16_shp(bias)``    1      5     10    0..63       none: every code is finite
``cfloat16_uhp(bias)``    0      6     10    0..63       none: every code is finite, no sign
========================  =====  ====  ====  ==========  ===================================

All formats have subnormals (exponent field 0, mantissa not 0) and signed zeros (where signed).
"""

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

__all__ = [
    "BF16",
    "FP32",
    "FloatClass",
    "FloatFormat",
    "Unpacked",
    "cfloat8_143",
    "cfloat8_152",
    "cfloat16_shp",
    "cfloat16_uhp",
]


class FloatClass(enum.Enum):
    """What an encoding denotes."""

    ZERO = "zero"
    SUBNORMAL = "subnormal"
    NORMAL = "normal"
    INF = "inf"
    QNAN = "qnan"
    SNAN = "snan"

    @property
    def is_nan(self):
        return self in (FloatClass.QNAN, FloatClass.SNAN)

    @property
    def is_finite(self):
        return self in (FloatClass.ZERO, FloatClass.SUBNORMAL, FloatClass.NORMAL)


class Unpacked(NamedTuple):
    """An encoding split into class, sign and exact value ``(-1)**sign * sig * 2**exp``.

    For ``INF`` and the NaN classes ``sig`` and ``exp`` are 0 and carry no meaning. For ``ZERO``, ``sig``
    is 0.
    """

    cls: FloatClass
    sign: int
    sig: int
    exp: int


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign (optional), exponent field, trailing mantissa field.

    Parameters
    ----------
    name : str
        Human-readable name, used in messages and ``repr``.
    exp_bits : int
        Width of the biased exponent field (>= 2).
    man_bits : int
        Width of the trailing mantissa (fraction) field (>= 1).
    bias : int
        Exponent bias: a normal encoding with exponent field ``E`` has value ``1.m * 2**(E - bias)``.
    signed : bool
        Whether the format has a sign bit (the most significant bit).
    ieee_specials : bool
        Whether the all-ones exponent field encodes Inf (mantissa 0) and NaN (mantissa not 0, quiet when
        the mantissa MSB is set), as in IEEE 754. When false, every code is a finite number and overflow
        saturates to the largest finite value.
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    signed: bool = True
    ieee_specials: bool = False

    def __post_init__(self):
        if not isinstance(self.exp_bits, int) or self.exp_bits < 2:
            raise ValueError(f"{self.name}: exp_bits must be an int >= 2, not {self.exp_bits!r}")
        if not isinstance(self.man_bits, int) or self.man_bits < 1:
            raise ValueError(f"{self.name}: man_bits must be an int >= 1, not {self.man_bits!r}")
        if not isinstance(self.bias, int) or isinstance(self.bias, bool):
            raise TypeError(f"{self.name}: bias must be an int, not {self.bias!r}")
        if self.bias < 0:
            raise ValueError(f"{self.name}: bias must be non-negative, not {self.bias}")

    # -- geometry ---------------------------------------------------------------------------------------

    @property
    def width(self):
        """Total number of bits of an encoding."""
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def precision(self):
        """Significand precision ``p`` in bits, counting the implicit leading bit."""
        return self.man_bits + 1

    @property
    def max_exp_field(self):
        """Largest exponent field value of a finite encoding."""
        return (1 << self.exp_bits) - (2 if self.ieee_specials else 1)

    @property
    def emin(self):
        """Exponent of the smallest normal number (``2**emin``)."""
        return 1 - self.bias

    @property
    def emax(self):
        """Exponent of the largest finite number's leading bit."""
        return self.max_exp_field - self.bias

    @property
    def has_inf(self):
        return self.ieee_specials

    @property
    def has_nan(self):
        return self.ieee_specials

    @property
    def sign_shift(self):
        """Bit position of the sign bit (only meaningful when ``signed``)."""
        return self.exp_bits + self.man_bits

    @property
    def max_finite(self):
        """The largest finite value, as a :class:`~fractions.Fraction`."""
        return Fraction((1 << self.precision) - 1) * Fraction(2) ** (self.emax - self.man_bits)

    @property
    def min_normal(self):
        """The smallest positive normal value, ``2**emin``."""
        return Fraction(2) ** self.emin

    @property
    def min_subnormal(self):
        """The smallest positive value, ``2**(emin - man_bits)``."""
        return Fraction(2) ** (self.emin - self.man_bits)

    # -- codes ------------------------------------------------------------------------------------------

    def pack(self, sign, exp_field, man_field):
        """Assemble an encoding from its three fields (no checks beyond field ranges)."""
        if sign and not self.signed:
            raise ValueError(f"{self.name} has no sign bit")
        if not 0 <= exp_field < (1 << self.exp_bits) or not 0 <= man_field < (1 << self.man_bits):
            raise ValueError(f"{self.name}: field out of range (exp {exp_field}, man {man_field})")
        return (sign << self.sign_shift) | (exp_field << self.man_bits) | man_field

    def fields(self, bits):
        """Split an encoding into ``(sign, exp_field, man_field)``."""
        self.check_code(bits)
        sign = (bits >> self.sign_shift) & 1 if self.signed else 0
        return sign, (bits >> self.man_bits) & ((1 << self.exp_bits) - 1), bits & ((1 << self.man_bits) - 1)

    def check_code(self, bits):
        """Raise a :class:`ValueError` unless ``bits`` is an int encoding of this format."""
        if not isinstance(bits, int) or isinstance(bits, bool):
            raise TypeError(f"{self.name}: an encoding must be an int bit pattern, not {bits!r}")
        if not 0 <= bits < (1 << self.width):
            raise ValueError(f"{self.name}: code {bits:#x} does not fit in {self.width} bits")

    def max_code(self, sign=0):
        """Encoding of the largest finite magnitude with the given sign."""
        return self.pack(sign if self.signed else 0, self.max_exp_field, (1 << self.man_bits) - 1)

    def zero_code(self, sign=0):
        return (sign << self.sign_shift) if self.signed else 0

    def inf_code(self, sign=0):
        if not self.has_inf:
            raise ValueError(f"{self.name} has no infinity")
        return self.pack(sign, (1 << self.exp_bits) - 1, 0)

    @property
    def canonical_nan(self):
        """The RISC-V canonical quiet NaN: sign 0, exponent all ones, only the mantissa MSB set."""
        if not self.has_nan:
            raise ValueError(f"{self.name} has no NaN")
        return self.pack(0, (1 << self.exp_bits) - 1, 1 << (self.man_bits - 1))

    # -- decoding ---------------------------------------------------------------------------------------

    def unpack(self, bits):
        """Decode an encoding into an :class:`Unpacked` with an exact integer significand and exponent."""
        sign, e, m = self.fields(bits)
        if self.ieee_specials and e == (1 << self.exp_bits) - 1:
            if m == 0:
                return Unpacked(FloatClass.INF, sign, 0, 0)
            quiet = (m >> (self.man_bits - 1)) & 1
            return Unpacked(FloatClass.QNAN if quiet else FloatClass.SNAN, sign, 0, 0)
        if e == 0:
            cls = FloatClass.SUBNORMAL if m else FloatClass.ZERO
            return Unpacked(cls, sign, m, self.emin - self.man_bits)
        return Unpacked(FloatClass.NORMAL, sign, m | (1 << self.man_bits), e - self.bias - self.man_bits)

    def classify(self, bits):
        return self.unpack(bits).cls

    def to_fraction(self, bits):
        """Exact value of a finite encoding as a :class:`~fractions.Fraction` (the sign of zero is lost)."""
        u = self.unpack(bits)
        if not u.cls.is_finite:
            raise ValueError(f"{self.name}: code {bits:#x} is {u.cls.value}, not a finite number")
        value = Fraction(u.sig) * Fraction(2) ** u.exp
        return -value if u.sign else value

    def to_float(self, bits):
        """Value as a Python float (binary64). Exact for every format defined here, signed zeros kept."""
        u = self.unpack(bits)
        if u.cls is FloatClass.INF:
            return float("-inf") if u.sign else float("inf")
        if u.cls.is_nan:
            return float("nan")
        value = float(u.sig) * 2.0**u.exp
        return -value if u.sign else value

    # -- hardware view ----------------------------------------------------------------------------------

    def layout(self):
        """The encoding as an Amaranth ``data.StructLayout``: ``mantissa``, ``exponent`` and ``sign``
        fields from the least significant bit up (no ``sign`` field for unsigned formats)."""
        from amaranth.lib import data

        members = {"mantissa": self.man_bits, "exponent": self.exp_bits}
        if self.signed:
            members["sign"] = 1
        return data.StructLayout(members)

    def __str__(self):
        return self.name


def _check_bias(kind, bias):
    if not isinstance(bias, int) or isinstance(bias, bool) or not 0 <= bias <= 63:
        raise ValueError(f"{kind} exponent bias must be an int in 0..63 (a 6-bit field), not {bias!r}")


#: IEEE 754 binary32.
FP32 = FloatFormat("fp32", exp_bits=8, man_bits=23, bias=127, ieee_specials=True)
#: bfloat16: the top half of binary32 (1-8-7, bias 127), IEEE specials and subnormals.
BF16 = FloatFormat("bf16", exp_bits=8, man_bits=7, bias=127, ieee_specials=True)


def cfloat8_143(bias):
    """CFloat8 in layout sign-exponent-mantissa 1-4-3 with a configurable 6-bit bias (0..63)."""
    _check_bias("CFloat8 1-4-3", bias)
    return FloatFormat(f"cfloat8_143(bias={bias})", exp_bits=4, man_bits=3, bias=bias)


def cfloat8_152(bias):
    """CFloat8 in layout sign-exponent-mantissa 1-5-2 with a configurable 6-bit bias (0..63)."""
    _check_bias("CFloat8 1-5-2", bias)
    return FloatFormat(f"cfloat8_152(bias={bias})", exp_bits=5, man_bits=2, bias=bias)


def cfloat16_shp(bias):
    """CFloat16 signed half precision: 1-5-10 with a configurable 6-bit bias (0..63), no Inf/NaN."""
    _check_bias("CFloat16 SHP", bias)
    return FloatFormat(f"cfloat16_shp(bias={bias})", exp_bits=5, man_bits=10, bias=bias)


def cfloat16_uhp(bias):
    """CFloat16 unsigned half precision: 0-6-10 (no sign bit) with a configurable 6-bit bias (0..63)."""
    _check_bias("CFloat16 UHP", bias)
    return FloatFormat(f"cfloat16_uhp(bias={bias})", exp_bits=6, man_bits=10, bias=bias, signed=False)
