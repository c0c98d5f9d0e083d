"""Branch comparator of the scalar core, split over two pipeline stages."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.isa import Funct3Branch

__all__ = ["PARTIAL_BITS", "BranchUnit"]

#: Bits of :attr:`BranchUnit.partial`: upper halves equal, upper half of ``a`` below ``b``'s
#: (unsigned), the same for the lower halves, the sign bits of ``a`` and ``b``.
PARTIAL_BITS = 6


class BranchUnit(wiring.Component):
    """Branch condition in two steps, so that the 32-bit comparison is split across the core's
    register-read and execute stages: ``a``, ``b`` give ``partial`` (two 16-bit comparisons in
    parallel), which the core registers and feeds back as ``partial_in``; ``op`` and
    ``partial_in`` give ``taken`` (two levels of logic).

    Attributes
    ----------
    a, b : In(32)
        x[rs1], x[rs2] (first step).
    partial : Out(6)
        Comparison of the halves and the sign bits (:data:`PARTIAL_BITS`).
    op : In(3)
        ``funct3`` of the branch (:class:`~tatami.isa.Funct3Branch`) (second step).
    partial_in : In(6)
        ``partial`` of the same operands, registered.
    taken : Out(1)
    """

    def __init__(self):
        super().__init__(
            {
                "a": In(32),
                "b": In(32),
                "partial": Out(PARTIAL_BITS),
                "op": In(3),
                "partial_in": In(PARTIAL_BITS),
                "taken": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        m.d.comb += self.partial.eq(
            Cat(
                a[16:32] == b[16:32], a[16:32] < b[16:32], a[0:16] == b[0:16], a[0:16] < b[0:16], a[31], b[31]
            )
        )
        p = self.partial_in
        hi_eq, hi_lt, lo_eq, lo_lt, a_neg, b_neg = (p[i] for i in range(PARTIAL_BITS))
        eq = hi_eq & lo_eq
        ltu = hi_lt | (hi_eq & lo_lt)
        lt = Mux(a_neg != b_neg, a_neg, ltu)  # signed: the signs decide when they differ
        with m.Switch(self.op):
            with m.Case(Funct3Branch.BEQ):
                m.d.comb += self.taken.eq(eq)
            with m.Case(Funct3Branch.BNE):
                m.d.comb += self.taken.eq(~eq)
            with m.Case(Funct3Branch.BLT):
                m.d.comb += self.taken.eq(lt)
            with m.Case(Funct3Branch.BGE):
                m.d.comb += self.taken.eq(~lt)
            with m.Case(Funct3Branch.BLTU):
                m.d.comb += self.taken.eq(ltu)
            with m.Case(Funct3Branch.BGEU):
                m.d.comb += self.taken.eq(~ltu)
        return m
