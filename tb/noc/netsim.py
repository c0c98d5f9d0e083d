"""Drive a :class:`~tatami.hw.noc.mesh.Mesh` in Amaranth's Python simulator: credit-honouring sources
at every node, sinks with random back-pressure, and a :class:`~tatami.sim.noc.model.Scoreboard`.

For quick RTL checks while the cocotb/Verilator bench (through ``tatami.sim.harness``) is built; the
sweeps and soaks belong there.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from amaranth.sim import Simulator

from tatami.config import TatamiConfig
from tatami.hw.common import hier
from tatami.hw.common.codec import Codec
from tatami.hw.formats import TrafficImmediate, split_head_flit
from tatami.hw.noc.mesh import Mesh
from tatami.hw.noc.ports import node_index, node_xy, vc_for
from tatami.sim.noc.model import NetworkModel, Packet, Scoreboard
from tatami.sim.noc.routes import RouteTables

#: The router micro-architectures the tests run (``NocConfig`` fields): the look-past router with
#: one router stage (2 cycles per hop, the default) and the FPGA router (LUT-RAM FIFOs, registered
#: grants: 3 cycles per hop, the ``fpga-2x2`` preset's).
VARIANTS = {
    "lookpast": {"buffers": "lookpast", "router_stages": 1},
    "fifo": {"buffers": "fifo", "router_stages": 2},
}
#: The other two combinations, which no preset uses: the look-past router with registered grants
#: and the FIFO router with one stage. The formal proofs cover them in the default suite, the mesh tests
#: (``tb/noc/test_mesh.py``) in the long one.
OTHER_VARIANTS = {
    "lookpast2": {"buffers": "lookpast", "router_stages": 2},
    "fifo1": {"buffers": "fifo", "router_stages": 1},
}
ALL_VARIANTS = VARIANTS | OTHER_VARIANTS


@dataclass
class RunResult:
    scoreboard: Scoreboard
    cycles: int
    latencies: list[tuple[Packet, int]] = field(default_factory=list)  # (packet, creation -> tail out)
    drops: dict = field(default_factory=dict)  # node -> list of counters
    drop_flags: dict = field(default_factory=dict)  # node -> int
    misroutes: dict = field(default_factory=dict)  # node -> int
    max_link_flits: int = 0
    # (flits, cycles from the head to the tail on the ejection link) per packet
    spans: list[tuple[int, int]] = field(default_factory=list)


def run_mesh(
    cfg: TatamiConfig,
    packets: list[Packet],
    *,
    tables: RouteTables | None = None,
    sink_stall: float = 0.0,
    seed: int = 0,
    max_cycles: int = 20000,
    drain: int = 200,
    mutation: str | None = None,
) -> RunResult:
    """Inject ``packets`` (each at its ``cycle`` or later, per node in list order), run until every
    admitted packet is out (or ``max_cycles``), and score the ejections against the golden model."""
    model = NetworkModel(cfg, tables)
    model.inject_all(packets)
    mesh_cfg = cfg.mesh
    nodes = mesh_cfg.nodes
    vcs, depth = cfg.noc.vcs, cfg.noc.vc_depth
    with hier.flat():
        dut = Mesh(cfg, _mutation=mutation)
        sim = Simulator(dut)
    sim.add_clock(1e-8)
    rng = random.Random(seed)
    sb = Scoreboard(model)
    result = RunResult(sb, 0)
    queues = {k: deque() for k in range(nodes)}
    for p in sorted(packets, key=lambda p: p.cycle):
        queues[node_index(*p.src, mesh_cfg.width)].append(p)

    async def bench(ctx):
        if cfg.noc.routing == "table" and tables is not None:
            for r in mesh_cfg.live_nodes() + list(mesh_cfg.dead_nodes):
                for addr, code in enumerate(tables.entries(r)):
                    ctx.set(dut.table_we, 1)
                    ctx.set(dut.table_router, node_index(*r, mesh_cfg.width))
                    ctx.set(dut.table_addr, addr)
                    ctx.set(dut.table_data, code)
                    await ctx.tick()
            ctx.set(dut.table_we, 0)
            ctx.set(dut.use_table, 1)
            await ctx.tick()
        credits = [[depth] * vcs for _ in range(nodes)]
        sending = [None] * nodes  # (packet, flits left, vc)
        rx = [dict() for _ in range(nodes)]  # vc -> flits so far
        rx_head = [dict() for _ in range(nodes)]  # vc -> the cycle its head flit came out
        sink_pending = [deque() for _ in range(nodes)]  # vcs of flits held by the sink
        expected = model.admitted
        done = 0
        idle = 0
        for cycle in range(max_cycles):
            for k in range(nodes):
                inj, ej = dut.inject[k], dut.eject[k]
                back = ctx.get(inj.credit)
                for v in range(vcs):
                    if back >> v & 1:
                        credits[k][v] += 1
                if ctx.get(ej.valid):
                    v = ctx.get(ej.flit.vc)
                    flits = rx[k].setdefault(v, [])
                    if ctx.get(ej.flit.head):
                        assert not flits, f"node {k}: head flit inside a packet on VC {v}"
                        rx_head[k][v] = cycle
                    flits.append(ctx.get(ej.flit.data))
                    sink_pending[k].append(v)
                    if ctx.get(ej.flit.tail):
                        pkt = rx[k].pop(v)
                        result.spans.append((len(pkt), cycle - rx_head[k].pop(v)))
                        sb.eject(node_xy(k, mesh_cfg.width), pkt, cycle)
                        done += 1
                        hdr_cycle = _stamp(pkt)
                        result.latencies.append((Packet.from_flits((0, 0), pkt), cycle - hdr_cycle))
                # Sink: consume one held flit per cycle unless stalling; return its credit.
                give = 0
                if sink_pending[k] and rng.random() >= sink_stall:
                    give = 1 << sink_pending[k].popleft()
                ctx.set(ej.credit, give)
                # Source: next flit of the current packet, if its VC has a credit.
                if sending[k] is None and queues[k] and queues[k][0].cycle <= cycle:
                    p = queues[k].popleft()
                    sending[k] = [p, deque(p.flits()), vc_for(vcs, p.mclass, p.dst)]
                valid = 0
                if sending[k] is not None:
                    p, flits, v = sending[k]
                    if credits[k][v] > 0:
                        total = 1 + len(p.body)
                        word = flits.popleft()
                        ctx.set(inj.flit.data, word)
                        ctx.set(inj.flit.head, len(flits) == total - 1)
                        ctx.set(inj.flit.tail, not flits)
                        ctx.set(inj.flit.vc, v)
                        credits[k][v] -= 1
                        valid = 1
                        if not flits:
                            sending[k] = None
                ctx.set(inj.valid, valid)
            await ctx.tick()
            busy = done < expected or any(queues.values()) or any(s is not None for s in sending)
            idle = 0 if busy else idle + 1
            if idle > drain:
                break
        result.cycles = cycle
        for k in range(nodes):
            result.drops[k] = [ctx.get(dut.drops[k][r]) for r in range(dut.drops[k].shape().length)]
            result.drop_flags[k] = ctx.get(dut.drop_flags[k])
            result.misroutes[k] = ctx.get(dut.misroutes[k])

    sim.add_testbench(bench)
    sim.run()
    sb.finish()
    return result


def _stamp(flits: list[int]) -> int:
    """Creation cycle from a TRAFFIC immediate."""
    return _IMM.unpack(split_head_flit(flits[0])[1])["stamp"]


_IMM = Codec(TrafficImmediate)
