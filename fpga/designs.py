"""The designs ``tatami fpga build --design`` knows: each makes the FPGA-internal top (UART pins
``uart_rx``/``uart_tx`` and an ``activity`` output) from a config and a UART divisor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DESIGNS", "FpgaDesign", "design"]


@dataclass(frozen=True)
class FpgaDesign:
    name: str
    description: str
    build: Callable  # (cfg, divisor) -> wiring.Component
    #: nextpnr arguments this design is built with unless the user passes ``--pnr-opt`` (which
    #: replace them all)
    pnr_opts: tuple[str, ...] = ()


def _mesh_bridge(cfg, divisor):
    from .mesh_bridge import MeshBridgeTop

    return MeshBridgeTop(cfg, divisor)


def _noc_tester(cfg, divisor):
    try:
        from .noc_tester_top import NocTesterTop
    except ImportError as e:
        raise ValueError(
            f"design 'noc-tester' needs tatami.hw.noc.tester.NocTester, which does not import ({e}); "
            "build --design mesh-bridge"
        ) from None
    return NocTesterTop(cfg, divisor)


DESIGNS = {
    d.name: d
    for d in (
        FpgaDesign(
            "mesh-bridge", "the mesh, a loopback/memory endpoint per node, the host bridge", _mesh_bridge
        ),
        FpgaDesign(
            "noc-tester",
            "the mesh with traffic generators and checkers, over the bridge",
            _noc_tester,
            # nextpnr's electrostatic placer: on the full top it keeps each unit's cells closer
            # together than HeAP (56.3 against 38.6 MHz after routing at 75 MHz, same hardware)
            # and router2 converges in about 40-60 iterations (docs/fpga.md, "Measured").
            pnr_opts=("--placer", "static"),
        ),
    )
}


def design(name: str) -> FpgaDesign:
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(f"unknown design {name!r}; known: {', '.join(DESIGNS)}") from None
