"""A design on a board: clock (board oscillator or PLL), reset, UART pins, LEDs."""

from __future__ import annotations

from amaranth.build import ResourceError
from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
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
            # The design is held in reset through the ECP5's global set/reset network (SGSR), as
            # Amaranth's own ECP5 platform does: every flip-flop returns to its init value over
            # dedicated routing, so there is no reset net in general routing (one register
            # driving every flip-flop's LSR across the die was a long path of its own), and the
            # synchronous resets leave the logic. LOCK is asynchronous to the PLL's clock, so it
            # goes through two flip-flops first (primitives outside the GSR network, or the reset
            # would hold them too); SGSR releases on that clock's edge.
            locked = Signal(2)
            for i, d in enumerate((pll.locked, locked[0])):
                m.submodules[f"lock_sync{i}"] = Instance(
                    "FD1S3AX", p_GSR="DISABLED", i_CK=pll.clk_out, i_D=d, o_Q=locked[i]
                )
            m.submodules.gsr = Instance("SGSR", i_CLK=pll.clk_out, i_GSR=locked[1])  # GSR: low = reset
            m.d.comb += [
                pll.clk_in.eq(clk_buf.i),
                ClockSignal("sync").eq(pll.clk_out),
                ResetSignal("sync").eq(0),
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
