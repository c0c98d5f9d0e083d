"""A design on a board: clock (board oscillator or PLL), reset, UART pins, LEDs."""

from __future__ import annotations

from amaranth.build import ResourceError
from amaranth.hdl import Cat, ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal, Signal
from amaranth.lib import io

from .pll import Ecp5Pll

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """Wraps an FPGA design (``uart_rx``, ``uart_tx``, ``activity``) for a platform.

    Parameters
    ----------
    inner : wiring.Component
        The design, built for ``freq_mhz``.
    board : Board
    freq_mhz : float
        The design clock: the board's oscillator, or (ECP5) a PLL output.
    """

    def __init__(self, inner, board, freq_mhz: float):
        self.inner, self.board, self.freq_mhz = inner, board, freq_mhz

    def elaborate(self, platform):
        m = Module()
        b = self.board
        clk_port = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_port)
        if abs(self.freq_mhz - b.clock_mhz) < 1e-6:
            m.domains.sync = ClockDomain("sync")
            por = Signal(4)  # power-on reset
            m.domains.por = ClockDomain("por", reset_less=True)
            m.d.comb += [ClockSignal("sync").eq(clk_buf.i), ClockSignal("por").eq(clk_buf.i)]
            with m.If(por != 15):
                m.d.por += por.eq(por + 1)
            m.d.comb += ResetSignal("sync").eq(por != 15)
        elif b.family == "ecp5":
            m.submodules.pll = pll = Ecp5Pll(b.clock_mhz, self.freq_mhz)
            m.domains.sync = ClockDomain("sync")
            # The reset comes from a register of the PLL's own clock: LOCK is asynchronous to it,
            # so it goes through two flip-flops (the second one drives the design's reset net, a
            # timed path from one register instead of an untimed one from the PLL's pin).
            m.domains.rst_sync = ClockDomain("rst_sync", reset_less=True)
            locked = Signal(2)
            m.d.rst_sync += locked.eq(Cat(pll.locked, locked[0]))
            m.d.comb += [
                pll.clk_in.eq(clk_buf.i),
                ClockSignal("sync").eq(pll.clk_out),
                ClockSignal("rst_sync").eq(pll.clk_out),
                ResetSignal("sync").eq(~locked[1]),
            ]
        else:
            raise ValueError(
                f"{b.name} builds run at the board clock ({b.clock_mhz:g} MHz), not {self.freq_mhz} MHz"
            )

        m.submodules.design = d = self.inner
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [d.uart_rx.eq(rx.i), tx.o.eq(d.uart_tx)]
        heartbeat = Signal(27)
        m.d.sync += heartbeat.eq(heartbeat + 1)
        stretch = Signal(22)
        with m.If(d.activity):
            m.d.sync += stretch.eq(~0)
        with m.Elif(stretch != 0):
            m.d.sync += stretch.eq(stretch - 1)
        for i, value in enumerate((heartbeat[-1], stretch != 0)):
            try:
                led = platform.request("led", i, dir="-")
            except ResourceError:  # a board without plain LEDs (ECPIX-5 has RGB ones)
                break
            m.submodules[f"led{i}"] = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(value)
        return m
