"""Pipelined multiplier of the scalar core (MUL, MULH, MULHSU, MULHU): two stages, one
operation per cycle, results tagged with the issuing thread."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import THREAD_BITS

__all__ = ["Multiplier"]


class Multiplier(wiring.Component):
    """Two-stage multiplier: operands registered (stage 1), product registered (stage 2).

    Attributes
    ----------
    i_valid : In(1)
        Start an operation this cycle (always accepted).
    i_thread : In(2)
    i_op : In(2)
        ``funct3[1:0]`` of the M instruction: 0 MUL, 1 MULH, 2 MULHSU, 3 MULHU.
    i_a, i_b : In(32)
    o_valid : Out(1)
        The result of the operation started two cycles earlier.
    o_thread : Out(2)
    o_result : Out(32)
    """

    def __init__(self):
        super().__init__(
            {
                "i_valid": In(1),
                "i_thread": In(THREAD_BITS),
                "i_op": In(2),
                "i_a": In(32),
                "i_b": In(32),
                "o_valid": Out(1),
                "o_thread": Out(THREAD_BITS),
                "o_result": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        # stage 1: sign- or zero-extend to 33 bits
        s1_valid, s1_thread, s1_high = Signal(), Signal(THREAD_BITS), Signal()
        s1_a, s1_b = Signal(range(-(1 << 32), 1 << 32)), Signal(range(-(1 << 32), 1 << 32))
        a_signed = (self.i_op == 1) | (self.i_op == 2)
        b_signed = self.i_op == 1
        m.d.sync += [
            s1_valid.eq(self.i_valid),
            s1_thread.eq(self.i_thread),
            s1_high.eq(self.i_op != 0),
            s1_a.eq(Cat(self.i_a, a_signed & self.i_a[31]).as_signed()),
            s1_b.eq(Cat(self.i_b, b_signed & self.i_b[31]).as_signed()),
        ]
        product = Signal(66)
        m.d.comb += product.eq(s1_a * s1_b)
        m.d.sync += [
            self.o_valid.eq(s1_valid),
            self.o_thread.eq(s1_thread),
            self.o_result.eq(Mux(s1_high, product[32:64], product[0:32])),
        ]
        return m
