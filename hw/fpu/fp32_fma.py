"""FP32 fused multiply-add."""

from __future__ import annotations

from .arith import ArithUnit, check_config
from .datapath import unpack
from .layouts import fma_op

__all__ = ["FP32FMA"]


class FP32FMA(ArithUnit):
    """FP32 fused ``(-1)**negate_product * a * b + (-1)**negate_addend * c`` with one rounding
    (nearest-even), IEEE 754 with RISC-V NaN rules (``0 * inf + qNaN`` is invalid), subnormals, flags;
    bit-exact with :func:`tatami.sim.numerics.f32_fma` (the negations flip the sign bits of ``a``
    and ``c``).

    Parameters
    ----------
    cfg : TatamiConfig
        Latency is ``cfg.node.fpu.fma_stages`` cycles.

    Attributes
    ----------
    i : In(stream.Signature(fma_op()))
        ``a``, ``b``, ``c`` (FP32 encodings), ``negate_product``, ``negate_addend``.
    o, flags, flags_clear
        See :class:`~tatami.hw.fpu.arith.ArithUnit`.
    """

    def __init__(self, cfg):
        super().__init__(fma_op(), check_config(cfg, "FP32FMA").fma_stages)

    def operands(self, m, op):
        a = unpack(m, op.a, 8, 23, 127, ieee=True, name="a")
        b = unpack(m, op.b, 8, 23, 127, ieee=True, name="b")
        c = unpack(m, op.c, 8, 23, 127, ieee=True, name="c")
        a["sign"] = a["sign"] ^ op.negate_product
        c["sign"] = c["sign"] ^ op.negate_addend
        return [a, b], c
