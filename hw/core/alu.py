"""Integer ALU of the scalar core (OP and OP-IMM, RV32I)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.isa import Funct3Op

__all__ = ["ALU"]


class ALU(wiring.Component):
    """Combinational ALU.

    Attributes
    ----------
    op : In(Funct3Op)
        The operation (``funct3`` of OP / OP-IMM).
    alt : In(1)
        ``sub`` instead of ``add``, ``sra`` instead of ``srl``.
    a, b : In(32)
        Operands (``b`` is the immediate for OP-IMM; shifts use ``b[0:5]``).
    result : Out(32)
    """

    def __init__(self):
        super().__init__({"op": In(Funct3Op), "alt": In(1), "a": In(32), "b": In(32), "result": Out(32)})

    def elaborate(self, platform):
        m = Module()
        a, b, sh = self.a, self.b, self.b[0:5]
        with m.Switch(self.op):
            with m.Case(Funct3Op.ADD):
                m.d.comb += self.result.eq(Mux(self.alt, a - b, a + b))
            with m.Case(Funct3Op.SLL):
                m.d.comb += self.result.eq(a << sh)
            with m.Case(Funct3Op.SLT):
                m.d.comb += self.result.eq(a.as_signed() < b.as_signed())
            with m.Case(Funct3Op.SLTU):
                m.d.comb += self.result.eq(a < b)
            with m.Case(Funct3Op.XOR):
                m.d.comb += self.result.eq(a ^ b)
            with m.Case(Funct3Op.SR):
                m.d.comb += self.result.eq(Mux(self.alt, a.as_signed() >> sh, a >> sh))
            with m.Case(Funct3Op.OR):
                m.d.comb += self.result.eq(a | b)
            with m.Case(Funct3Op.AND):
                m.d.comb += self.result.eq(a & b)
        return m
