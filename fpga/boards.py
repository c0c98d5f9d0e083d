"""The boards Tatami builds for (through amaranth-boards)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["BOARDS", "DEFAULT_BOARD", "Board", "board"]


@dataclass(frozen=True)
class Board:
    """A dev board: its amaranth-boards platform, device, clock, UART, and what it costs.

    ``synth_device`` / ``synth_package`` are the names :func:`tatami.fpga.synth.synthesize` takes;
    ``programmer`` is openFPGALoader's ``-b`` board name.
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

    def platform_class(self):
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(f"amaranth_boards.{module}"), cls)


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
            "a 2x2 mesh needs about 20k LUTs",
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
            "iCE40UP5K: too small for a router with 128-bit flits; elaboration smoke only",
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
