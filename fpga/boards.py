"""The boards Tatami builds for (through amaranth-boards)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["BOARDS", "DEFAULT_BOARD", "Board", "board"]


@dataclass(frozen=True)
class Board:
    """A dev board: its amaranth-boards platform, device, clock, UART, and what it costs.

    ``synth_device`` / ``synth_package`` are the names :func:`tatami.fpga.synth.synthesize` takes;
    ``programmer`` is openFPGALoader's ``-b`` board name. ``uart_pins`` (connector, number, RX pin,
    TX pin) adds the host UART on a header, for a board whose platform has none (the host then
    needs a 3.3 V USB-UART adapter).
    """

    name: str
    platform: str  # "module:Class" in amaranth_boards
    family: str
    synth_device: str
    synth_package: str
    clock_mhz: float
    luts: int
    cost_class: str
    programmer: str
    preset: str
    note: str = ""
    uart_pins: tuple[str, int, str, str] | None = None

    def platform_class(self):
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(f"amaranth_boards.{module}"), cls)

    def make_platform(self):
        """The amaranth-boards platform, with the UART on a header if the board has none."""
        platform = self.platform_class()()
        if self.uart_pins is not None:
            from amaranth.build import Attrs
            from amaranth_boards.resources import UARTResource

            conn, number, rx, tx = self.uart_pins
            platform.add_resources(
                [UARTResource(0, rx=rx, tx=tx, conn=(conn, number), attrs=Attrs(IO_TYPE="LVCMOS33"))]
            )
        return platform


BOARDS = {
    b.name: b
    for b in (
        Board(
            "ulx3s-85f",
            "ulx3s:ULX3S_85F_Platform",
            "ecp5",
            "85k",
            "CABGA381",
            25,
            83640,
            "low (~130 USD)",
            "ulx3s",
            "fpga-2x2",
            "default board; FTDI USB-UART; PLL from 25 MHz",
        ),
        Board(
            "ulx3s-45f",
            "ulx3s:ULX3S_45F_Platform",
            "ecp5",
            "45k",
            "CABGA381",
            25,
            43848,
            "low (~100 USD)",
            "ulx3s",
            "fpga-2x2",
            "the fpga-2x2 noc-tester (36k LUT4 on the 85F) would fill 83 % of it; not built",
        ),
        Board(
            "ecpix5-85",
            "ecpix5:ECPIX585Platform",
            "ecp5",
            "um5g-85k",
            "CABGA554",
            100,
            83640,
            "mid (~250 USD)",
            "ecpix5",
            "fpga-2x2",
            "FTDI USB-UART; PLL from 100 MHz",
        ),
        Board(
            "icebreaker",
            "icebreaker:ICEBreakerPlatform",
            "ice40",
            "up5k",
            "sg48",
            12,
            5280,
            "low (~70 USD)",
            "icebreaker",
            "tiny",
            "iCE40UP5K: the smallest mesh-bridge (1x1 tiny, FIFO router) synthesizes to 5390 LUT4s "
            "and 863 carries, over its 5280 cells; elaboration smoke only",
        ),
        Board(
            "orangecrab-85f",
            "orangecrab_r0_2:OrangeCrabR0_2_85FPlatform",
            "ecp5",
            "85k",
            "CSFBGA285",
            48,
            83640,
            "low (~130 USD)",
            "orangeCrab",
            "fpga-2x2",
            "no USB-UART on the board: a 3.3 V USB-UART adapter on Feather pins 0 (RX) and 1 (TX); "
            "PLL from 48 MHz; loads over DFU",
            uart_pins=("io", 0, "0", "1"),
        ),
    )
}
DEFAULT_BOARD = "ulx3s-85f"


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(
            f"unknown board {name!r}; known: {', '.join(BOARDS)} (see `tatami fpga boards`)"
        ) from None
