"""UART transmitter: 8N1, a fixed number of clock cycles per bit."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UartTx"]


class UartTx(wiring.Component):
    """Sends each byte from ``i`` as 8N1 on ``tx``: start bit, 8 data bits LSB first, stop bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes to send; taken when the previous byte's stop bit is done.
    tx : Out(1)
        The serial line (idle high, registered).
    """

    def __init__(self, divisor: int):
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"UART divisor (clock cycles per bit) must be an integer >= 4, not {divisor!r}")
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        shreg = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += self.i.ready.eq(left == 0)
        with m.If(left == 0), m.If(self.i.valid):
            frame = Cat(Const(0, 1), self.i.payload, Const(1, 1))
            m.d.sync += [shreg.eq(frame), left.eq(10), timer.eq(d - 1), self.tx.eq(0)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [left.eq(left - 1), timer.eq(d - 1)]
            with m.If(left != 1):
                m.d.sync += [shreg.eq(shreg >> 1), self.tx.eq(shreg[1])]
            with m.Else():
                m.d.sync += self.tx.eq(1)
        return m
