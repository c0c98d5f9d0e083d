"""Iterative divider of the scalar core (DIV, DIVU, REM, REMU): one bit per cycle, one
operation at a time, shared by the threads."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import THREAD_BITS

__all__ = ["Divider"]


class Divider(wiring.Component):
    """Restoring divider on magnitudes with the RISC-V special cases (division by zero gives
    quotient -1 and remainder = dividend; ``-2**31 / -1`` gives ``-2**31`` remainder 0).

    Attributes
    ----------
    i_valid : In(1)
        Start an operation (only while ``busy`` is low).
    i_thread : In(2)
    i_op : In(2)
        ``funct3[1:0]``: 0 DIV, 1 DIVU, 2 REM, 3 REMU.
    i_a, i_b : In(32)
        Dividend and divisor.
    busy : Out(1)
        An operation is in progress (34 cycles from start to ``o_valid``).
    o_valid : Out(1)
        One cycle: ``o_result`` holds the result for ``o_thread``.
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
                "busy": Out(1),
                "o_valid": Out(1),
                "o_thread": Out(THREAD_BITS),
                "o_result": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(34))
        quot, rem, divisor = Signal(32), Signal(33), Signal(32)
        neg_q, neg_r, want_rem, by_zero = Signal(), Signal(), Signal(), Signal()
        dividend = Signal(32)
        signed = ~self.i_op[0]
        a_neg = signed & self.i_a[31]
        b_neg = signed & self.i_b[31]
        m.d.sync += self.o_valid.eq(0)
        with m.If(self.i_valid & ~self.busy):
            m.d.sync += [
                self.busy.eq(1),
                self.o_thread.eq(self.i_thread),
                count.eq(32),
                quot.eq(Mux(a_neg, -self.i_a, self.i_a)),
                rem.eq(0),
                divisor.eq(Mux(b_neg, -self.i_b, self.i_b)),
                neg_q.eq(a_neg ^ b_neg),
                neg_r.eq(a_neg),
                want_rem.eq(self.i_op[1]),
                by_zero.eq(self.i_b == 0),
                dividend.eq(self.i_a),
            ]
        with m.Elif(self.busy):
            with m.If(count != 0):
                shifted = Cat(quot[31], rem[0:32])
                diff = Signal(34)
                m.d.comb += diff.eq(shifted - divisor)
                with m.If(diff[33]):  # negative: restore
                    m.d.sync += [rem.eq(shifted), quot.eq(Cat(0, quot[0:31]))]
                with m.Else():
                    m.d.sync += [rem.eq(diff[0:33]), quot.eq(Cat(1, quot[0:31]))]
                m.d.sync += count.eq(count - 1)
            with m.Else():
                q = Mux(neg_q & ~by_zero, -quot, quot)
                r = Mux(neg_r, -rem[0:32], rem[0:32])
                m.d.sync += [
                    self.busy.eq(0),
                    self.o_valid.eq(1),
                    self.o_result.eq(Mux(want_rem, Mux(by_zero, dividend, r), Mux(by_zero, -1, q))),
                ]
        return m
