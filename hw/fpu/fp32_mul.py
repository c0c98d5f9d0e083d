"""FP32 multiplier."""

from __future__ import annotations

from .arith import ArithUnit, check_config
from .datapath import unpack
from .layouts import mul_op

__all__ = ["FP32Mul"]


class FP32Mul(ArithUnit):
    """FP32 ``a * b``, IEEE 754 with RISC-V NaN rules, round to nearest-even, subnormals, flags;
    bit-exact with :func:`tatami.sim.numerics.f32_mul`.

    Parameters
    ----------
    cfg : TatamiConfig
        Latency is ``cfg.node.fpu.mul_stages`` cycles.

    Attributes
    ----------
    i : In(stream.Signature(mul_op(32)))
        ``a``, ``b`` (FP32 encodings).
    o, flags, flags_clear
        See :class:`~tatami.hw.fpu.arith.ArithUnit`.
    """

    def __init__(self, cfg):
        super().__init__(mul_op(32), check_config(cfg, "FP32Mul").mul_stages)

    def operands(self, m, op):
        a = unpack(m, op.a, 8, 23, 127, ieee=True, name="a")
        b = unpack(m, op.b, 8, 23, 127, ieee=True, name="b")
        return [a, b], None
