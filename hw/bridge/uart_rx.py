"""UART receiver: 8N1, a fixed number of clock cycles per bit."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx"]


class UartRx(wiring.Component):
    """Receives 8N1 bytes on ``rx``: start bit (low), 8 data bits LSB first, stop bit (high).

    ``rx`` passes a two-flop synchronizer. A falling edge starts a byte; each bit is sampled in
    the middle of its period. A byte whose stop bit is low is dropped and counted in
    ``framing_errors``; a byte that arrives while ``o`` is still full is dropped and counted in
    ``overruns`` (a UART cannot be held off).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock frequency / baud rate), at least 4.

    Attributes
    ----------
    rx : In(1)
        The serial line (idle high).
    o : Out(stream.Signature(8))
        Received bytes. ``valid`` stays high until taken.
    overruns, framing_errors : Out(16)
        Wrapping counts of dropped bytes.
    """

    def __init__(self, divisor: int):
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"UART divisor (clock cycles per bit) must be an integer >= 4, not {divisor!r}")
        self.divisor = divisor
        super().__init__(
            {
                "rx": In(1, init=1),
                "o": Out(stream.Signature(8)),
                "overruns": Out(16),
                "framing_errors": Out(16),
            }
        )

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(d + d // 2 + 1))
        bits = Signal(range(9))
        shreg = Signal(8)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"), m.If(~rx):
                # Wait to the middle of the first data bit: 1.5 bit periods.
                m.d.sync += [timer.eq(d + d // 2 - 1), bits.eq(0)]
                m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bits.eq(bits + 1)]
                    m.d.sync += timer.eq(d - 1)
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(~rx):
                        m.d.sync += self.framing_errors.eq(self.framing_errors + 1)
                        m.next = "BREAK"
                    with m.Elif(self.o.valid & ~self.o.ready):
                        m.d.sync += self.overruns.eq(self.overruns + 1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                        m.next = "IDLE"
            with m.State("BREAK"), m.If(rx):  # wait for the line to go idle again
                m.next = "IDLE"
        return m
