"""ECP5 PLL (EHXPLLL): a clock of the requested frequency from the board's oscillator."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Instance, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Ecp5Pll", "PllParams", "ecp5_pll_params"]


@dataclass(frozen=True)
class PllParams:
    clki_div: int
    clkfb_div: int
    clkop_div: int
    fin_mhz: float

    @property
    def vco_mhz(self) -> float:
        return self.fin_mhz / self.clki_div * self.clkfb_div * self.clkop_div

    @property
    def fout_mhz(self) -> float:
        return self.fin_mhz / self.clki_div * self.clkfb_div


def ecp5_pll_params(fin_mhz: float, fout_mhz: float) -> PllParams:
    """The divider settings whose output is closest to ``fout_mhz`` (as ecppll searches): PFD
    3.125-400 MHz, VCO 400-800 MHz, feedback from CLKOP."""
    if not 3.125 <= fout_mhz <= 400:
        raise ValueError(f"an ECP5 PLL makes 3.125-400 MHz, not {fout_mhz} MHz")
    best = None
    for clki in range(1, 129):
        pfd = fin_mhz / clki
        if not 3.125 <= pfd <= 400:
            continue
        for fb in range(1, 81):
            out = pfd * fb
            for op in range(1, 129):
                vco = out * op
                if 400 <= vco <= 800:
                    err = abs(out - fout_mhz)
                    if best is None or err < best[0] - 1e-9:
                        best = (err, PllParams(clki, fb, op, fin_mhz))
                    break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting makes {fout_mhz} MHz from {fin_mhz} MHz")
    return best[1]


class Ecp5Pll(wiring.Component):
    """An EHXPLLL with feedback from CLKOP.

    Attributes
    ----------
    clk_in : In(1)
        The board oscillator.
    clk_out : Out(1)
        The output clock (``fout_mhz``).
    locked : Out(1)
    """

    def __init__(self, fin_mhz: float, fout_mhz: float):
        self.params = ecp5_pll_params(fin_mhz, fout_mhz)
        super().__init__({"clk_in": In(1), "clk_out": Out(1), "locked": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        clk = self.clk_out
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{p.fin_mhz:g}",
            a_FREQUENCY_PIN_CLKOP=f"{p.fout_mhz:g}",
            a_ICP_CURRENT="12",
            a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED",
            p_INTFB_WAKE="DISABLED",
            p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA",
            p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC",
            p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=p.clki_div,
            p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=p.clkop_div,
            p_CLKOP_CPHASE=p.clkop_div - 1,
            p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=p.clkfb_div,
            i_RST=0,
            i_STDBY=0,
            i_CLKI=self.clk_in,
            o_CLKOP=clk,
            i_CLKFB=clk,
            i_PHASESEL0=0,
            i_PHASESEL1=0,
            i_PHASEDIR=1,
            i_PHASESTEP=1,
            i_PHASELOADREG=1,
            i_PLLWAKESYNC=0,
            i_ENCLKOP=0,
            o_LOCK=self.locked,
        )
        return m
