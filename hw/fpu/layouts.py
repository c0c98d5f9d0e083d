"""Operation and result formats of the floating-point units, defined once.

The payloads of every unit's ``i`` and ``o`` streams are the :class:`~amaranth.lib.data.StructLayout`
objects below; testbenches and drivers derive their packing from them with
:class:`tatami.hw.common.codec.Codec`.
"""

from __future__ import annotations

from amaranth.lib import data, enum

__all__ = [
    "FLAGS",
    "RESULT",
    "Cf8Layout",
    "FpFormat",
    "RoundMode",
    "add_op",
    "convert_op",
    "fma_op",
    "mac_op",
    "mul_op",
]


class FpFormat(enum.Enum, shape=3):
    """Formats a conversion reads and writes. A CFloat format takes its bias from the operation."""

    FP32 = 0
    BF16 = 1
    CF8_143 = 2  #: CFloat8 1-4-3
    CF8_152 = 3  #: CFloat8 1-5-2
    CF16_SHP = 4  #: CFloat16 signed half precision 1-5-10 (only when ``cfg.node.fpu.cf16``)
    CF16_UHP = 5  #: CFloat16 unsigned half precision 0-6-10 (only when ``cfg.node.fpu.cf16``)


class Cf8Layout(enum.Enum, shape=1):
    """Layout of a CFloat8 operand."""

    E4M3 = 0  #: 1-4-3
    E5M2 = 1  #: 1-5-2


class RoundMode(enum.Enum, shape=3):
    """Rounding modes; the values are those of :class:`tatami.sim.numerics.RoundingMode` (RISC-V
    ``frm`` for RNE and RTZ, 5 for stochastic). Any other code rounds to nearest-even."""

    RNE = 0
    RTZ = 1
    STOCHASTIC = 5


#: Exception flags, at the bit positions of :class:`tatami.sim.numerics.Flags` (RISC-V ``fflags``
#: order, then Dojo's denormal flag).
FLAGS = data.StructLayout(
    {"inexact": 1, "underflow": 1, "overflow": 1, "infinite": 1, "invalid": 1, "denormal": 1}
)

#: Every unit's result: an encoding (narrow formats in the low bits, upper bits zero) and its flags.
RESULT = data.StructLayout({"result": 32, "flags": FLAGS})


def add_op():
    """FP32 ``a + b`` (``sub`` = 0) or ``a - b`` (``sub`` = 1)."""
    return data.StructLayout({"a": 32, "b": 32, "sub": 1})


def mul_op(width=32):
    """``a * b`` with ``width``-bit operands (32: FP32, 16: BF16)."""
    return data.StructLayout({"a": width, "b": width})


def fma_op():
    """FP32 fused ``(-1)**negate_product * a * b + (-1)**negate_addend * c``, one rounding
    (``fmadd``, ``fmsub``, ``fnmsub``, ``fnmadd`` of RISC-V)."""
    return data.StructLayout({"a": 32, "b": 32, "c": 32, "negate_product": 1, "negate_addend": 1})


def mac_op(kind, accumulate=True):
    """BF16 (``kind`` = "bf16") or CFloat8 (``kind`` = "cf8") product, plus an FP32 accumulator
    ``acc`` when ``accumulate``. CFloat8 operands carry their layout and 6-bit bias."""
    fields = {"acc": 32} if accumulate else {}
    if kind == "bf16":
        fields.update(a=16, b=16)
    elif kind == "cf8":
        fields.update(a=8, b=8, layout_a=Cf8Layout, layout_b=Cf8Layout, bias_a=6, bias_b=6)
    else:
        raise ValueError(f"mac_op kind must be 'bf16' or 'cf8', not {kind!r}")
    return data.StructLayout(fields)


def convert_op():
    """Convert ``value`` (a ``src`` encoding in the low bits) into ``dst``. ``saturate`` makes
    overflow into FP32/BF16 give the largest finite value instead of Inf (CFloat always saturates)."""
    return data.StructLayout(
        {
            "value": 32,
            "src": FpFormat,
            "src_bias": 6,
            "dst": FpFormat,
            "dst_bias": 6,
            "mode": RoundMode,
            "saturate": 1,
        }
    )
