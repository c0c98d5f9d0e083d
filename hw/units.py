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


def _sram(cfg):
    from tatami.hw.mem.sram import Sram

    return Sram(cfg)


def _matrix_unit(cfg):
    from tatami.hw.datapath.matrix import MatrixUnit

    return MatrixUnit(cfg)


def _gemm_node(cfg):
    from tatami.hw.datapath.gemm_node import GemmNode

    return GemmNode(cfg)


def _vector_unit(cfg):
    from tatami.hw.datapath.vector import VectorUnit

    return VectorUnit(cfg)


def _vector_core(cfg):
    from tatami.hw.datapath.vector_core import VectorCore

    return VectorCore(cfg)


def _vector_node(cfg):
    from tatami.hw.datapath.vector_node import VectorNode

    return VectorNode(cfg)


def _core(cfg):
    from tatami.hw.core.core import Core

    return Core(cfg)


def _core_tile(cfg):
    from tatami.hw.core.tile import CoreTile

    return CoreTile(cfg)


def _traffic_generator(cfg):
    from tatami.hw.noc.traffic import TrafficGenerator

    return TrafficGenerator(cfg)


def _traffic_checker(cfg):
    from tatami.hw.noc.checker import TrafficChecker

    return TrafficChecker(cfg)


def _noc_tester(cfg):
    from tatami.hw.noc.tester import NocTester

    return NocTester(cfg)


def _host_bridge(cfg):
    from tatami.hw.bridge.bridge import HostBridge

    return HostBridge(cfg, divisor=max(4, round(cfg.clock_hz / 115200)))


def _loopback_endpoint(cfg):
    from tatami.hw.bridge.endpoint import LoopbackEndpoint

    return LoopbackEndpoint(cfg)


def _fpu(name):
    def build(cfg):
        from tatami.hw import fpu

        return fpu.build(name, cfg)

    return build


def _fpu_units():
    from tatami.hw.fpu import UNITS as FPU

    return [Unit(f"fpu_{name}", desc, _fpu(name)) for name, (desc, _) in FPU.items()]


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
        Unit("sram", "banked node SRAM, SECDED per 64-bit lane, round-robin per bank", _sram),
        Unit("matrix_unit", "matrix unit: m*n*k fused BF16 MACs in a ring, SRAM-fed, FP32 C", _matrix_unit),
        Unit("gemm_node", "matrix unit on the banked ECC SRAM (GEMM test and bench top)", _gemm_node),
        Unit("vector_unit", "vector unit: vlen-bit FP32/BF16/INT ops, reductions, conversions", _vector_unit),
        Unit(
            "vector_core",
            "vector unit with decoder, register file, scoreboard and SRAM load/store ports",
            _vector_core,
        ),
        Unit("vector_node", "vector core on the banked ECC SRAM (vector test and bench top)", _vector_node),
        Unit("core", "scalar core: RV32IM + Zicsr, M mode, node.core.threads threads", _core),
        Unit("core_tile", "scalar core on the node SRAM (banked, ECC) + example custom unit", _core_tile),
        Unit("traffic_generator", "per-node synthetic traffic source (BookSim patterns)", _traffic_generator),
        Unit("traffic_checker", "per-node traffic checker (loss, duplicates, corruption)", _traffic_checker),
        Unit("noc_tester", "mesh + generators + checkers + control registers", _noc_tester),
        Unit("host_bridge", "UART + SLIP/CRC-32 framing + request executor into the mesh", _host_bridge),
        Unit(
            "loopback_endpoint",
            "stand-in node: memory, registers, loopback (mesh-bridge)",
            _loopback_endpoint,
        ),
        *_fpu_units(),
    )
}


def unit(name: str) -> Unit:
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown unit {name!r}; known units: {', '.join(UNITS)}") from None
