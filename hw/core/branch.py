"""Branch comparator of the scalar core."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.isa import Funct3Branch

__all__ = ["BranchUnit"]


class BranchUnit(wiring.Component):
    """Combinational branch condition.

    Attributes
    ----------
    op : In(3)
        ``funct3`` of the branch (:class:`~tatami.isa.Funct3Branch`).
    a, b : In(32)
        x[rs1], x[rs2].
    taken : Out(1)
    """

    def __init__(self):
        super().__init__({"op": In(3), "a": In(32), "b": In(32), "taken": Out(1)})

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        with m.Switch(self.op):
            with m.Case(Funct3Branch.BEQ):
                m.d.comb += self.taken.eq(a == b)
            with m.Case(Funct3Branch.BNE):
                m.d.comb += self.taken.eq(a != b)
            with m.Case(Funct3Branch.BLT):
                m.d.comb += self.taken.eq(a.as_signed() < b.as_signed())
            with m.Case(Funct3Branch.BGE):
                m.d.comb += self.taken.eq(a.as_signed() >= b.as_signed())
            with m.Case(Funct3Branch.BLTU):
                m.d.comb += self.taken.eq(a < b)
            with m.Case(Funct3Branch.BGEU):
                m.d.comb += self.taken.eq(a >= b)
        return m
