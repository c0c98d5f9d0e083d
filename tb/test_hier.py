"""Identical units are generated once: a mesh's Verilog does not grow with its node count."""

from tatami.config import preset
from tatami.hw.noc.mesh import Mesh
from tatami.sim.harness import generate_verilog


def _modules(text):
    return [line.split()[1].split("(")[0] for line in text.splitlines() if line.startswith("module ")]


def test_router_is_generated_once_per_mesh():
    small = preset("tiny")
    big = small.replace(**{"mesh.width": 8, "mesh.height": 8})
    v_small = generate_verilog(Mesh(small), "mesh2")
    v_big = generate_verilog(Mesh(big), "mesh8")
    m_small, m_big = _modules(v_small), _modules(v_big)
    routers = [m for m in m_big if m.startswith("tatami_router_")]
    assert len(routers) == 1, routers
    assert v_big.count(f"\n  {routers[0]} ") == 64  # instantiated at every position
    assert len(m_big) == len(m_small)  # same module set: 16x the nodes, no new modules
    # The top grows with the wiring between routers, not with copies of them.
    assert len(v_big) < 8 * len(v_small)
