"""Router features in a small mesh (Amaranth simulator), scored against the golden model: framing
checks at admission (LENGTH_MISMATCH), routing tables loaded by CONTROL packets, and packets whose
route names no usable port in transit (dropped and counted, never a stall)."""

import pytest
from amaranth.sim import Simulator

from tatami.config import MeshConfig, preset
from tatami.hw.common import hier
from tatami.hw.common.codec import Codec
from tatami.hw.formats import AtomicImmediate, MsgClass, PacketKind
from tatami.hw.noc.ports import (
    ROUTER_CSR_CTRL,
    ROUTER_CSR_TABLE,
    DropReason,
    Port,
    node_index,
    router_csr_writes,
)
from tatami.hw.noc.router import Router
from tatami.sim.noc.model import NetworkModel, Packet
from tatami.sim.noc.routes import compile_routes
from tatami.sim.noc.traffic import generate

from .netsim import VARIANTS, run_mesh

_IMM = Codec(AtomicImmediate)


def _cfg(w, h, routing="xy", variant="lookpast", **mesh):
    cfg = preset("tiny")
    return cfg.replace(
        mesh=MeshConfig(w, h, **mesh),
        noc=cfg.noc.__class__(
            flit_bits=128, vcs=2, vc_depth=2, max_packet_flits=4, routing=routing, **VARIANTS[variant]
        ),
    )


def _pkt(src, dst, kind=PacketKind.WRITE, body=(), length=None, cycle=0, addr=0, imm=0, tag=0):
    header = {
        "dst_x": dst[0],
        "dst_y": dst[1],
        "src_x": src[0],
        "src_y": src[1],
        "mclass": MsgClass.REQUEST,
        "kind": kind,
        "length": len(body) if length is None else length,
        "addr": addr,
        "tag": tag,
    }
    return Packet(src, header, imm, tuple(body), cycle)


def _control(src, router, addr, value, cycle=0):
    return _pkt(src, router, PacketKind.CONTROL, addr=addr, imm=_IMM.pack(value=value, ack=0), cycle=cycle)


def _assert_clean(result):
    sb = result.scoreboard
    assert sb.ok, sb.summary() + "\n" + "\n".join(sb.errors[:10])


def test_local_buffer_holds_a_whole_packet():
    cfg = _cfg(2, 2)
    assert Router.input_depth(cfg, Port.LOCAL.value) == 4
    assert Router.input_depth(cfg, Port.N.value) == 2


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stall", [0.0, 0.4])
def test_length_mismatch_is_dropped_whole(stall, variant):
    cfg = _cfg(3, 2, variant=variant)
    src = (0, 0)
    packets = [
        _pkt(src, (2, 1), body=(1, 2), tag=1),
        _pkt(src, (2, 1), body=(3,), length=2, tag=2),  # tail early
        _pkt(src, (1, 1), body=(4, 5, 6), length=1, tag=3),  # tail late
        _pkt(src, (1, 1), body=(), length=3, tag=4),  # head is the tail
        _pkt(src, (1, 1), body=(7,), length=0, tag=5),  # tail late after a 0-length head
        _pkt(src, (2, 0), body=(8, 9, 10), tag=6),
        _pkt((1, 0), (0, 1), body=(11,), length=3, tag=7),  # another source
        _pkt((1, 0), (0, 1), body=(12, 13), tag=8),
    ]
    model = NetworkModel(cfg)
    model.inject_all(packets)
    result = run_mesh(cfg, packets, sink_stall=stall, seed=3)
    _assert_clean(result)
    assert result.scoreboard.delivered == 3
    for node in [(0, 0), (1, 0)]:
        expected = model.drop_counts(node)
        assert result.drops[node_index(*node, 3)] == [expected.get(r, 0) for r in DropReason]
    assert result.drops[0][DropReason.LENGTH_MISMATCH.value] == 4
    assert result.drop_flags[0] == 1 << DropReason.LENGTH_MISMATCH.value


@pytest.mark.parametrize("variant", VARIANTS)
def test_tables_load_through_control_packets(variant):
    """Every router's table arrives as CONTROL packets from its neighbour (so they cross the
    network, still routed XY), then traffic runs around the dead node by the tables."""
    cfg = _cfg(3, 3, "table", variant, dead_nodes=((1, 1),))
    tables = compile_routes(cfg.mesh)
    live = cfg.mesh.live_nodes()
    packets = []
    for k, router in enumerate(live):
        src = live[(k + 1) % len(live)]
        for addr, value in router_csr_writes(tables.entries(router)):
            packets.append(_control(src, router, addr, value))
    traffic = generate(cfg, "uniform", 0.3, 60, packet_flits=2, seed=5, classes="both")
    packets += [Packet(p.src, p.header, p.immediate, p.body, p.cycle + 200) for p in traffic]
    model = NetworkModel(cfg, tables)
    model.inject_all(packets)
    assert len(model.router_writes) == len(live) * (cfg.mesh.nodes + 1)
    result = run_mesh(cfg, packets, sink_stall=0.2, seed=2)  # no register-port loading
    _assert_clean(result)
    assert result.scoreboard.delivered == len(traffic) > 20
    assert not any(result.misroutes.values())
    assert all(result.drops[k] == [0] * len(DropReason) for k in result.drops)


@pytest.mark.parametrize("variant", VARIANTS)
def test_dead_entry_in_transit_is_dropped_and_counted(variant):
    """A corrupt table (entry DEAD at a transit router) loses only the packets that meet it; they
    are counted as misroutes and everything else is still delivered."""
    cfg = _cfg(3, 1, "table", variant)
    tables = compile_routes(cfg.mesh)
    packets = []
    for router in cfg.mesh.live_nodes():
        entries = list(tables.entries(router))
        if router == (1, 0):
            entries[node_index(2, 0, 3)] = Port.DEAD  # transit (0,0) -> (2,0) meets this
        packets += [_control(router, router, a, v) for a, v in router_csr_writes(entries)]
    victims = [_pkt((0, 0), (2, 0), body=(i,), cycle=100 + i, tag=i) for i in range(3)]
    others = [_pkt((0, 0), (1, 0), body=(i,), cycle=100 + i) for i in range(3)]
    others += [_pkt((2, 0), (0, 0), cycle=100 + i, tag=i) for i in range(3)]
    result = run_mesh(cfg, packets + victims + others)
    sb = result.scoreboard
    assert sb.delivered == len(others)
    assert sb.lost == len(victims) and not (sb.duplicated or sb.corrupted or sb.misordered)
    assert result.misroutes[node_index(1, 0, 3)] == len(victims)


def test_csr_addresses():
    assert ROUTER_CSR_TABLE - ROUTER_CSR_CTRL == 0x1000
    writes = router_csr_writes([Port.E, Port.LOCAL])
    assert writes == [(ROUTER_CSR_TABLE, 1), (ROUTER_CSR_TABLE + 4, 4), (ROUTER_CSR_CTRL, 1)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_input_sends_from_both_vcs_in_one_cycle(variant):
    """The FIFO two-stage router's per-VC switch: an input whose two VCs' front flits go to two
    free outputs sends both in the same cycle (one round robin per output over (input, VC); the
    look-past router's input arbiter lets one flit per input through). Router (1, 1) of a 3x3
    mesh; input W holds a flit on VC 0 for E and one on VC 1 for the local output, both held back
    by credits that come back together."""
    cfg = _cfg(3, 3, variant=variant)
    dut = Router(cfg)
    depth = cfg.noc.vc_depth
    to_e = _pkt((0, 1), (2, 1)).flits()[0]
    to_l = _pkt((0, 1), (1, 1)).flits()[0]
    seen = []

    async def bench(ctx):
        ctx.set(dut.x, 1)
        ctx.set(dut.y, 1)

        async def send(word, vc):
            ctx.set(dut.i_w.valid, 1)
            ctx.set(dut.i_w.flit.data, word)
            ctx.set(dut.i_w.flit.head, 1)
            ctx.set(dut.i_w.flit.tail, 1)
            ctx.set(dut.i_w.flit.vc, vc)
            await ctx.tick()
            ctx.set(dut.i_w.valid, 0)
            await ctx.tick().repeat(4)

        # Spend every credit of output E's VC 0 and the local output's VC 1 (none come back).
        for _ in range(depth):
            await send(to_e, 0)
            await send(to_l, 1)
        await send(to_e, 0)
        await send(to_l, 1)
        for _ in range(6):  # both wait at the front of their VCs
            assert not ctx.get(dut.o_e.valid) and not ctx.get(dut.o_l.valid)
            await ctx.tick()
        ctx.set(dut.o_e.credit, 0b01)
        ctx.set(dut.o_l.credit, 0b10)
        await ctx.tick()
        ctx.set(dut.o_e.credit, 0)
        ctx.set(dut.o_l.credit, 0)
        for cycle in range(8):
            for name, link in (("E", dut.o_e), ("L", dut.o_l)):
                if ctx.get(link.valid):
                    seen.append((cycle, name, ctx.get(link.flit.vc), ctx.get(link.flit.data)))
            await ctx.tick()

    with hier.flat():
        sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert sorted((n, v, d) for _, n, v, d in seen) == [("E", 0, to_e), ("L", 1, to_l)], seen
    cycles = {c for c, *_ in seen}
    if variant == "fifo":
        assert len(cycles) == 1, seen  # together
    else:
        assert len(cycles) == 2, seen  # one after the other


@pytest.mark.parametrize("mismatch", [False, True])
def test_local_input_looks_past(mismatch):
    """The look-past router's local input: a 1-flit packet passes a front flit that waits for a
    credit, a 2-flit packet does not (it waits for its turn), and a 1-flit packet to be dropped
    (its length field says 1 body flit: LENGTH_MISMATCH) never leaves ahead of the front -- it is
    dropped and counted when it reaches it. Router (1, 1) of a 3x3 mesh; output E's VC 0 has no
    credits, so the front flit (for E) waits until one comes back; output S returns credits."""
    cfg = _cfg(3, 3)
    dut = Router(cfg)
    depth = cfg.noc.vc_depth
    blocked = _pkt((1, 1), (2, 1), tag=1).flits()[0]  # to E
    single = _pkt((1, 1), (1, 2), tag=2, length=1 if mismatch else None).flits()[0]  # to S
    pair = list(_pkt((1, 1), (1, 2), body=(9,), tag=3).flits())  # to S, 2 flits
    out = {"E": [], "S": []}
    result = {}

    async def bench(ctx):
        ctx.set(dut.x, 1)
        ctx.set(dut.y, 1)
        cycle = 0

        async def tick(n=1):
            nonlocal cycle
            for _ in range(n):
                for name, link in (("E", dut.o_e), ("S", dut.o_s)):
                    if ctx.get(link.valid):
                        out[name].append((cycle, ctx.get(link.flit.data)))
                ctx.set(dut.o_s.credit, ctx.get(dut.o_s.valid))  # S: a prompt sink
                await ctx.tick()
                cycle += 1

        async def send(word, head=1, tail=1):
            ctx.set(dut.i_l.valid, 1)
            ctx.set(dut.i_l.flit.data, word)
            ctx.set(dut.i_l.flit.head, head)
            ctx.set(dut.i_l.flit.tail, tail)
            ctx.set(dut.i_l.flit.vc, 0)
            await tick()
            ctx.set(dut.i_l.valid, 0)

        for _ in range(depth):  # spend output E's VC 0 credits (none come back yet)
            await send(blocked)
            await tick()
        await tick(3)
        result["spent"] = len(out["E"])
        await send(blocked)  # waits at the front
        await send(single)  # 1-flit, behind it
        await send(pair[0], tail=0)  # 2 flits, behind both
        await send(pair[1], head=0)
        await tick(8)
        result["passed"] = [d for _, d in out["S"]]
        result["released"] = cycle
        ctx.set(dut.o_e.credit, 0b01)  # one credit back: the front flit goes, then the pair
        await tick()
        ctx.set(dut.o_e.credit, 0)
        await tick(8)
        result["mismatches"] = ctx.get(dut.drops[DropReason.LENGTH_MISMATCH.value])

    with hier.flat():
        sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert result["spent"] == depth
    assert [d for _, d in out["E"][depth:]] == [blocked]
    front_left = out["E"][depth][0]
    assert front_left > result["released"]
    s_words = [d for _, d in out["S"]]
    if mismatch:
        assert result["passed"] == []  # the bad packet did not pass the front
        assert s_words == pair  # the pair, after the front flit; the bad packet is dropped
        assert result["mismatches"] == 1
    else:
        assert result["passed"] == [single]  # it passed the waiting front flit
        assert s_words == [single, *pair]
        assert result["mismatches"] == 0
    assert min(c for c, d in out["S"] if d in pair) > front_left  # the pair waited its turn
