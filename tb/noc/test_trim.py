"""A trimmed mesh (``Mesh(trim_edges=True)``: each router built without the ports off the mesh
edge, as the FPGA tops build it) is cycle-for-cycle the mesh of identical routers: both run side by
side in Amaranth's simulator on the same inputs -- random routing tables (any entry, so routes off the
edge and to DEAD and NONE), traffic with random destinations, classes, VCs
and lengths, some headers corrupted, sinks that stall -- and every output (ejected flits, credits
back to the sources, drop and misroute counters) is compared every cycle."""

import random

import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from tatami.config import MeshConfig, preset
from tatami.hw.common import hier
from tatami.hw.noc.mesh import Mesh
from tatami.hw.noc.ports import Port, node_xy, vc_for
from tatami.sim.noc.traffic import generate

from .netsim import ALL_VARIANTS, OTHER_VARIANTS


class _Pair(Elaboratable):
    def __init__(self, cfg):
        self.full = Mesh(cfg)
        self.trim = Mesh(cfg, trim_edges=True)

    def elaborate(self, platform):
        m = Module()
        m.submodules.full, m.submodules.trim = self.full, self.trim
        return m


def _outputs(ctx, mesh, nodes):
    out = []
    for k in range(nodes):
        ej = mesh.eject[k]
        out += [ctx.get(ej.valid), ctx.get(ej.flit.as_value()), ctx.get(mesh.inject[k].credit)]
        out += [ctx.get(mesh.drops[k].as_value()), ctx.get(mesh.drop_flags[k]), ctx.get(mesh.misroutes[k])]
    return out


def _run(cfg, cycles, seed):
    rng = random.Random(seed)
    mesh_cfg, noc = cfg.mesh, cfg.noc
    nodes, vcs = mesh_cfg.nodes, noc.vcs
    with hier.flat():
        pair = _Pair(cfg)
        sim = Simulator(pair)
    sim.add_clock(1e-8)
    packets = generate(cfg, "uniform", 0.6, cycles, packet_flits=3, seed=seed, classes="both")
    queues = [[p for p in packets if p.src == node_xy(k, mesh_cfg.width)] for k in range(nodes)]
    seen = {"flits": 0, "misroutes": 0, "drops": 0}

    def drive(ctx, signal, value):
        ctx.set(getattr(pair.full, signal) if isinstance(signal, str) else signal[0], value)
        ctx.set(getattr(pair.trim, signal) if isinstance(signal, str) else signal[1], value)

    async def bench(ctx):
        # Random tables (every entry of every router, any code), then switch to them.
        for r in range(nodes):
            for addr in range(nodes):
                drive(ctx, "table_we", 1)
                drive(ctx, "table_router", r)
                drive(ctx, "table_addr", addr)
                drive(ctx, "table_data", rng.choice(list(Port)))
                await ctx.tick()
        drive(ctx, "table_we", 0)
        drive(ctx, "use_table", 1)
        credits = [[noc.vc_depth] * vcs for _ in range(nodes)]
        sending = [None] * nodes
        held = [[] for _ in range(nodes)]
        for cycle in range(cycles):
            full, trim = _outputs(ctx, pair.full, nodes), _outputs(ctx, pair.trim, nodes)
            assert full == trim, f"cycle {cycle}: the trimmed mesh's outputs differ"
            for k in range(nodes):
                pf, pt = pair.full, pair.trim
                back = ctx.get(pf.inject[k].credit)
                for v in range(vcs):
                    credits[k][v] += back >> v & 1
                if ctx.get(pf.eject[k].valid):
                    held[k].append(ctx.get(pf.eject[k].flit.vc))
                    seen["flits"] += 1
                give = 0
                if held[k] and rng.random() < 0.7:
                    give = 1 << held[k].pop(0)
                drive(ctx, (pf.eject[k].credit, pt.eject[k].credit), give)
                if sending[k] is None and queues[k] and rng.random() < 0.8:
                    p = queues[k].pop(0)
                    flits = p.flits()
                    if rng.random() < 0.15:  # a corrupted header: bad class, length, destination...
                        flits[0] ^= 1 << rng.randrange(64)
                    if rng.random() < 0.05:  # a packet cut short or padded: LENGTH_MISMATCH
                        flits = flits[:-1] if len(flits) > 1 else [*flits, 0]
                    v = vc_for(vcs, p.mclass, p.dst) if rng.random() < 0.9 else rng.randrange(vcs)
                    sending[k] = [flits, 0, v]
                valid = 0
                if sending[k] is not None and credits[k][sending[k][2]] > 0:
                    flits, i, v = sending[k]
                    for link in (pf.inject[k], pt.inject[k]):
                        ctx.set(link.flit.data, flits[i])
                        ctx.set(link.flit.head, i == 0)
                        ctx.set(link.flit.tail, i == len(flits) - 1)
                        ctx.set(link.flit.vc, v)
                    credits[k][v] -= 1
                    valid = 1
                    sending[k][1] += 1
                    if sending[k][1] == len(flits):
                        sending[k] = None
                drive(ctx, (pf.inject[k].valid, pt.inject[k].valid), valid)
            await ctx.tick()
        for k in range(nodes):
            seen["misroutes"] += ctx.get(pair.full.misroutes[k])
            seen["drops"] += sum(ctx.get(pair.full.drops[k][r]) for r in range(len(pair.full.drops[k])))

    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "width"),
    [("lookpast", 2), ("fifo", 3)]
    + [pytest.param(v, 3, marks=pytest.mark.long) for v in ("lookpast", *OTHER_VARIANTS)],
)
def test_trimmed_mesh_is_the_same_network(variant, width):
    # 2 x 2: the four corners; 3 x 2: and two edge routers, six router kinds (a middle router has
    # every port: it is the full router).
    cfg = preset("tiny").replace(
        mesh=MeshConfig(width, 2),
        **{"noc.routing": "table"},
        **{f"noc.{k}": v for k, v in ALL_VARIANTS[variant].items()},
    )
    seen = _run(cfg, 200, seed=11)
    # (not void: flits delivered, packets misrouted by the random tables and dropped at admission)
    assert seen["flits"] > 60 and seen["misroutes"] > 0 and seen["drops"] > 0, seen


@pytest.mark.slow
def test_trimmed_fpga_mesh_is_the_same_network():
    seen = _run(preset("fpga-2x2"), 300, seed=3)
    assert seen["flits"] > 60 and seen["misroutes"] > 0 and seen["drops"] > 0, seen


def test_router_ports_are_checked():
    from tatami.hw.noc.router import Router

    with pytest.raises(ValueError, match="distinct letters of 'nesw'"):
        Router(preset("tiny"), inputs="nx")
    with pytest.raises(ValueError, match="distinct letters"):
        Router(preset("tiny"), outputs="ee")
