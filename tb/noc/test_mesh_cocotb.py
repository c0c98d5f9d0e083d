"""The mesh in Verilog on both simulators: all-pairs plus random traffic with sink back-pressure,
scored against the golden network model (tatami.sim.benches.mesh)."""

import pytest

from tatami.config import preset
from tatami.hw.units import unit
from tatami.sim.harness import Design

from .netsim import VARIANTS


def mesh_design(cfg, **params):
    # The bench drives and reads the mesh's ports only: a ports-only Verilator build is smaller, and
    # with the router as a hierarchical block Verilator compiles it once, not once per instance
    # (the 3x3 mesh: a 27 s build instead of 73 s).
    name = f"mesh_{cfg.mesh.width}x{cfg.mesh.height}"
    return Design(
        name, lambda: unit("mesh").build(cfg), cfg, params, internals=False, hier_blocks=("tatami_router_",)
    )


@pytest.mark.parametrize("preset_name", ["tiny", "fpga-2x2"])  # look-past router, FIFO router
def test_mesh_smoke(cocotb_run, sim, preset_name):
    cfg = preset(preset_name)
    cocotb_run(mesh_design(cfg, packets=200, packet_flits=2), "tatami.sim.benches.mesh")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_mesh_3x3_dead_node_table_routing(cocotb_run, sim, variant):
    cfg = preset("tiny").replace(
        **{"mesh.width": 3, "mesh.height": 3, "mesh.dead_nodes": ((1, 1),), "noc.routing": "table"},
        **{f"noc.{k}": v for k, v in VARIANTS[variant].items()},
    )
    cocotb_run(mesh_design(cfg, packets=150), "tatami.sim.benches.mesh")
