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
            # A placement at most 70 % dense (HeAP's default: 90 %): with the default, router2 did
            # not converge on the full top (docs/fpga.md, "Measured"); with 0.7 it routes.
            pnr_opts=("--placer-heap-beta", "0.7"),
        ),
    )
}


def design(name: str) -> FpgaDesign:
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(f"unknown design {name!r}; known: {', '.join(DESIGNS)}") from None
