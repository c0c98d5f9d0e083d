"""cocotb bench for the mesh fabric: credit-honouring sources at every live node, sinks with
random back-pressure, and the golden network model's scoreboard.

Design parameters (``Design.params``): ``packets`` (random packets besides the all-pairs set),
``packet_flits``, ``sink_stall`` (probability a sink holds a flit a cycle), ``max_cycles``.
"""

from __future__ import annotations

import random
from collections import deque

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.codec import Codec
from tatami.hw.formats import MsgClass, PacketKind, TrafficImmediate, link_flit_layout
from tatami.hw.noc.ports import node_index, node_xy, vc_for
from tatami.sim.cocotb_env import clock_and_reset, design_config, design_params
from tatami.sim.noc.model import NetworkModel, Packet, Scoreboard
from tatami.sim.noc.routes import compile_routes
from tatami.sim.noc.traffic import generate

__all__ = ["all_pairs", "drive_mesh"]


def all_pairs(cfg, seed: int) -> list[Packet]:
    """One packet per (live source, live destination, class), body flits random."""
    rng = random.Random(seed)
    imm = Codec(TrafficImmediate)
    out = []
    live = cfg.mesh.live_nodes()
    seq = 0
    for src in live:
        for dst in live:
            for mclass in MsgClass:
                length = rng.randrange(cfg.noc.max_packet_flits)
                header = {
                    "dst_x": dst[0],
                    "dst_y": dst[1],
                    "src_x": src[0],
                    "src_y": src[1],
                    "mclass": mclass,
                    "kind": PacketKind.TRAFFIC,
                    "length": length,
                }
                body = tuple(rng.getrandbits(cfg.noc.flit_bits) for _ in range(length))
                out.append(Packet(src, header, imm.pack(seq=seq, stamp=0), body, 0))
                seq += 1
    return out


async def drive_mesh(
    dut, cfg, packets, *, tables=None, sink_stall=0.0, max_cycles=20000, drain=100, rng=None
):
    """Inject ``packets`` at their sources (each no earlier than its ``cycle``), collect every
    ejected packet into a :class:`Scoreboard`, and return it with the cycles taken."""
    rng = rng or random.Random()
    mesh = cfg.mesh
    vcs, depth = cfg.noc.vcs, cfg.noc.vc_depth
    flit = Codec(link_flit_layout(cfg))
    model = NetworkModel(cfg, tables)
    model.inject_all(packets)
    sb = Scoreboard(model)

    if cfg.noc.routing == "table":
        tables = tables or compile_routes(mesh)
        for r in mesh.live_nodes() + list(mesh.dead_nodes):
            for addr, code in enumerate(tables.entries(r)):
                await RisingEdge(dut.clk)
                dut.table_we.value = 1
                dut.table_router.value = node_index(*r, mesh.width)
                dut.table_addr.value = addr
                dut.table_data.value = code
        await RisingEdge(dut.clk)
        dut.table_we.value = 0
        dut.use_table.value = 1

    nodes = mesh.nodes
    inj = [
        (
            getattr(dut, f"inject__{k}__valid"),
            getattr(dut, f"inject__{k}__flit"),
            getattr(dut, f"inject__{k}__credit"),
        )
        for k in range(nodes)
    ]
    ej = [
        (
            getattr(dut, f"eject__{k}__valid"),
            getattr(dut, f"eject__{k}__flit"),
            getattr(dut, f"eject__{k}__credit"),
        )
        for k in range(nodes)
    ]
    queues = {k: deque() for k in range(nodes)}
    for p in sorted(packets, key=lambda p: p.cycle):
        queues[node_index(*p.src, mesh.width)].append(p)
    credits = [[depth] * vcs for _ in range(nodes)]
    sending = [None] * nodes
    rx = [{} for _ in range(nodes)]
    held = [deque() for _ in range(nodes)]
    expected, done, idle = model.admitted, 0, 0
    cycle = 0
    for cycle in range(max_cycles):
        await RisingEdge(dut.clk)
        for k in range(nodes):
            # Sink: release one held flit (its credit goes back) unless stalling.
            give = 0
            if held[k] and rng.random() >= sink_stall:
                give = 1 << held[k].popleft()
            ej[k][2].value = give
            # Source: the next flit of the current packet, if its VC has a credit.
            if sending[k] is None and queues[k] and queues[k][0].cycle <= cycle:
                p = queues[k].popleft()
                sending[k] = [p, deque(p.flits()), vc_for(vcs, p.mclass, p.dst), True]
            valid = 0
            if sending[k] is not None:
                p, words, v, first = sending[k]
                if credits[k][v] > 0:
                    word = words.popleft()
                    inj[k][1].value = flit.pack(data=word, head=first, tail=not words, vc=v)
                    credits[k][v] -= 1
                    sending[k][3] = False
                    valid = 1
                    if not words:
                        sending[k] = None
            inj[k][0].value = valid
        await ReadOnly()
        for k in range(nodes):
            back = int(inj[k][2].value)
            for v in range(vcs):
                credits[k][v] += back >> v & 1
            if int(ej[k][0].value):
                f = flit.unpack(int(ej[k][1].value))
                words = rx[k].setdefault(f["vc"], [])
                if f["head"] and words:
                    sb.errors.append(f"node {k}: head flit inside a packet on VC {f['vc']}")
                    sb.corrupted += 1
                words.append(f["data"])
                held[k].append(f["vc"])
                if f["tail"]:
                    sb.eject(node_xy(k, mesh.width), rx[k].pop(f["vc"]), cycle)
                    done += 1
        busy = done < expected or any(queues.values()) or any(s is not None for s in sending)
        idle = 0 if busy else idle + 1
        if idle > drain:
            break
    sb.finish()
    return sb, cycle


@cocotb.test()
async def smoke(dut):
    """Every live node sends to every live node in both classes, then random uniform traffic;
    nothing lost, duplicated, corrupted or misordered."""
    cfg = design_config()
    params = design_params()
    seed = random.getrandbits(32)
    packets = all_pairs(cfg, seed)
    n_random = params.get("packets", 200)
    live = len(cfg.mesh.live_nodes())
    flits, rate = params.get("packet_flits", 1), 0.3  # offered load in flits/node/cycle
    packets += generate(
        cfg,
        "uniform",
        rate=rate,
        cycles=max(1, round(n_random * flits / (live * rate))),  # about n_random packets in all
        packet_flits=flits,
        seed=seed,
        classes="both",
    )
    await clock_and_reset(dut)
    sb, cycles = await drive_mesh(
        dut,
        cfg,
        packets,
        sink_stall=params.get("sink_stall", 0.2),
        max_cycles=params.get("max_cycles", 20000),
    )
    dut._log.info("mesh smoke: %s in %d cycles", sb.summary(), cycles)
    assert sb.ok and sb.delivered == len(packets), "\n".join([sb.summary(), *sb.errors[:20]])
