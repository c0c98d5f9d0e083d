"""FP32 adder/subtractor."""

from __future__ import annotations

from .arith import ArithUnit, check_config
from .datapath import unpack
from .layouts import add_op

__all__ = ["FP32Add"]


class FP32Add(ArithUnit):
    """FP32 ``a + b`` or ``a - b`` (``sub``), IEEE 754 with RISC-V NaN rules, round to nearest-even,
    subnormals, flags; bit-exact with :func:`tatami.sim.numerics.f32_add` / ``f32_sub``.

    Parameters
    ----------
    cfg : TatamiConfig
        Latency is ``cfg.node.fpu.add_stages`` cycles.

    Attributes
    ----------
    i : In(stream.Signature(add_op()))
        ``a``, ``b`` (FP32 encodings), ``sub``.
    o, flags, flags_clear
        See :class:`~tatami.hw.fpu.arith.ArithUnit`.
    """

    def __init__(self, cfg):
        super().__init__(add_op(), check_config(cfg, "FP32Add").add_stages)

    def operands(self, m, op):
        a = unpack(m, op.a, 8, 23, 127, ieee=True, name="a")
        b = unpack(m, op.b, 8, 23, 127, ieee=True, name="b")
        b["sign"] = b["sign"] ^ op.sub
        return [a], b
