"""The table of generatable units: what ``tatami verilog --unit NAME`` knows.

Each entry builds a component from a :class:`~tatami.config.TatamiConfig`; adding a unit to
Tatami means adding one row here (see docs/adding-a-unit.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amaranth.lib import wiring

from tatami.config import TatamiConfig

__all__ = ["UNITS", "Unit", "unit"]


@dataclass(frozen=True)
class Unit:
    name: str
    description: str
    build: Callable[[TatamiConfig], wiring.Component]


def _skid_buffer(cfg):
    from tatami.hw.common.stream import SkidBuffer
    from tatami.hw.formats import link_flit_layout

    return SkidBuffer(link_flit_layout(cfg))


def _fifo(cfg):
    from tatami.hw.common.fifo import StreamFIFO
    from tatami.hw.formats import link_flit_layout

    return StreamFIFO(link_flit_layout(cfg), cfg.noc.vc_depth)


def _rr_arbiter(cfg):
    from tatami.hw.common.arbiter import RoundRobinArbiter

    return RoundRobinArbiter(5)


def _matrix_arbiter(cfg):
    from tatami.hw.common.arbiter import MatrixArbiter

    return MatrixArbiter(5)


def _lfsr(cfg):
    from tatami.hw.common.lfsr import LFSR

    return LFSR(32, 16, seed=0xACE1)


def _router(cfg):
    from tatami.hw.noc.router import Router

    return Router(cfg)


def _mesh(cfg):
    from tatami.hw.noc.mesh import Mesh

    return Mesh(cfg)


UNITS: dict[str, Unit] = {
    u.name: u
    for u in (
        Unit("skid_buffer", "register slice for one link flit (stream, full throughput)", _skid_buffer),
        Unit("fifo", "stream FIFO of link flits, noc.vc_depth entries", _fifo),
        Unit("rr_arbiter", "5-way round-robin arbiter", _rr_arbiter),
        Unit("matrix_arbiter", "5-way matrix (least recently granted) arbiter", _matrix_arbiter),
        Unit("lfsr", "32-bit leap-forward LFSR, 16 fresh bits per cycle", _lfsr),
        Unit("router", "5-port mesh router (wormhole, credits, VCs, XY or table routing)", _router),
        Unit("mesh", "the mesh of routers, mesh.width x mesh.height", _mesh),
    )
}


def unit(name: str) -> Unit:
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown unit {name!r}; known units: {', '.join(UNITS)}") from None
