"""The whole mesh-bridge FPGA top, through its UART pins, on both simulators: a host session
(routing tables, memory, registers, loopback traffic, counters) and the corrupted-frame test.

The default suite runs a 2x1 mesh of the ``tiny`` preset with table routing (two routers keep
Icarus fast); ``-m long`` runs the ``fpga-2x2`` machine that the ULX3S build uses."""

import pytest

from tatami.config import preset
from tatami.fpga.mesh_bridge import MeshBridgeTop
from tatami.sim.harness import Design

DIVISOR = 4
BENCH = "tatami.sim.benches.fpga_top"
MESH_BRIDGE_TESTS = ["host_session", "corrupted_frames"]


def top_design(cfg, divisor=DIVISOR):
    return Design(
        f"fpga_top_{cfg.name.replace('-', '_').replace('+', '_')}_{cfg.mesh.width}x{cfg.mesh.height}",
        lambda: MeshBridgeTop(cfg, divisor),
        cfg,
        {"divisor": divisor},
        internals=False,  # the bench drives the UART pins only
    )


def small_config():
    return preset("tiny").replace(**{"mesh.width": 2, "mesh.height": 1, "noc.routing": "table"})


def test_fpga_top(cocotb_run, sim):
    # Icarus is slow on this design: a quick session (the far node only) and fewer rounds.
    knobs = {"TATAMI_GARBAGE_ROUNDS": "16", "TATAMI_FULL_SESSION": "1"}
    if sim == "icarus":
        knobs = {"TATAMI_GARBAGE_ROUNDS": "5", "TATAMI_FULL_SESSION": "0"}
    cocotb_run(top_design(small_config()), BENCH, extra_env=knobs, testcase=MESH_BRIDGE_TESTS)


@pytest.mark.long
def test_fpga_top_fpga_2x2(cocotb_run, sim):
    rounds = "24" if sim == "verilator" else "8"
    knobs = {"TATAMI_GARBAGE_ROUNDS": rounds}
    cocotb_run(top_design(preset("fpga-2x2")), BENCH, extra_env=knobs, testcase=MESH_BRIDGE_TESTS)


def noc_tester_design(cfg, divisor=DIVISOR):
    from tatami.fpga.noc_tester_top import NocTesterTop

    return Design(
        f"fpga_noc_tester_{cfg.mesh.width}x{cfg.mesh.height}",
        lambda: NocTesterTop(cfg, divisor),
        cfg,
        {"divisor": divisor},
        internals=False,
    )


def test_noc_tester_top(cocotb_run, sim):
    """The noc-tester design run over the UART by the tester's own driver (Verilator only: the
    tester is too slow for Icarus)."""
    if sim != "verilator":
        pytest.skip("the network tester is too slow on Icarus")
    cocotb_run(noc_tester_design(small_config()), BENCH, testcase="noc_tester_session")


def test_top_rejects_a_host_off_the_west_edge():
    cfg = preset("tiny").replace(**{"mesh.host_x": 1})
    with pytest.raises(ValueError, match="west edge"):
        MeshBridgeTop(cfg, DIVISOR)
