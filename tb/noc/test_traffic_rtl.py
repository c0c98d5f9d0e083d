"""Traffic generator and checker RTL (tatami.hw.noc.traffic, tatami.hw.noc.checker) against their
golden models (tatami.sim.noc.generator_model), on both simulators.

One design holds a generator and a checker side by side; the testbench sits between them. The
generator's flits are reassembled and compared packet by packet, word by word, with what the model
says it creates, while credits come back after random delays (back-pressure: packets queue at the
source and keep their creation stamps). The checker then gets those packets plus deliberately broken
ones (corrupted head or body, bad framing, duplicates, reordered and skipped sequence numbers, stray
flits) with VCs interleaved, and its counters must equal the checker model's.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque

import cocotb
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from tatami.config import MeshConfig, preset
from tatami.hw.common.codec import Codec
from tatami.hw.formats import link_flit_layout
from tatami.hw.noc.checker import PIPELINE, TrafficChecker
from tatami.hw.noc.ports import node_index, vc_for
from tatami.hw.noc.tester_regs import Classes, Pattern
from tatami.hw.noc.traffic import TrafficGenerator, node_seed
from tatami.sim.cocotb_env import clock_and_reset, design_config, design_params, knob
from tatami.sim.harness import Design
from tatami.sim.noc.generator_model import CheckerModel, GeneratorModel, TrafficSettings, make_packet


class TrafficPair(wiring.Component):
    """A generator and a checker with all their ports brought out (``gen__*``, ``chk__*``)."""

    def __init__(self, cfg, queue_depth, class_queues=True):
        self.cfg = cfg
        self._gen = TrafficGenerator(cfg, queue_depth=queue_depth, class_queues=class_queues)
        self._chk = TrafficChecker(cfg)
        super().__init__({"gen": Out(self._gen.signature), "chk": Out(self._chk.signature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.gen, m.submodules.chk = self._gen, self._chk
        wiring.connect(m, wiring.flipped(self.gen), self._gen)
        wiring.connect(m, wiring.flipped(self.chk), self._chk)
        return m


def _cfg():
    cfg = preset("tiny")
    return cfg.replace(
        mesh=MeshConfig(3, 3),
        noc=cfg.noc.__class__(flit_bits=128, vcs=4, vc_depth=2, max_packet_flits=4, routing="xy"),
    )


def _set(dut, **values):
    for name, v in values.items():
        getattr(dut, name).value = v


async def _setup(dut, cfg, settings, node):
    k = node_index(*node, cfg.mesh.width)
    live = cfg.mesh.live_nodes()
    live_list = 0
    for i, (x, y) in enumerate(live):
        live_list |= (x | y << 6) << (12 * i)
    _set(
        dut,
        gen__x=node[0],
        gen__y=node[1],
        gen__seed=node_seed(settings.seed, k),
        gen__load=0,
        gen__clear=1,
        gen__create=0,
        gen__mark=0,
        gen__threshold=settings.threshold,
        gen__pattern=Pattern.named(settings.pattern).value,
        gen__packet_flits=settings.packet_flits,
        gen__classes=Classes(settings.classes).value,
        gen__hotspot_x=settings.hotspot % cfg.mesh.width,
        gen__hotspot_y=settings.hotspot // cfg.mesh.width,
        gen__fault=0,
        gen__fault_arm=0,
        gen__enable=1,
        gen__live_count=len(live),
        gen__live_list=live_list,
        gen__live_mask=sum(1 << node_index(x, y, cfg.mesh.width) for x, y in live),
        gen__now=0,
        gen__link__credit=0,
        chk__x=node[0],
        chk__y=node[1],
        chk__now=0,
        chk__clear=1,
        chk__window=0,
        chk__packet_flits=settings.packet_flits,
        chk__dist_addr=0,
        chk__link__valid=0,
        chk__link__flit=0,
    )
    if not getattr(dut, "_tatami_clocked", False):
        await clock_and_reset(dut)
        dut._tatami_clocked = True
    await FallingEdge(dut.clk)
    # As the tester does: the seed is loaded in one cycle, the clear goes on (the generator needs
    # one cycle after the load before it may create: its draw is decoded a cycle ahead).
    dut.gen__load.value = 1
    await FallingEdge(dut.clk)
    dut.gen__load.value = 0
    for _ in range(2 * cfg.mesh.nodes - 1):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    _set(dut, gen__clear=0, chk__clear=0)


#: Cycles a run may go on after its nominal end to let the source queue empty.
DRAIN_LIMIT = 2000
#: Packets a configuration must create (a void run would check nothing).
MIN_PACKETS = 6


def _seed_with_packets(cfg, node, create_for, rng, rate, pf, **kw):
    """Settings with a random seed under which the generator model creates at least MIN_PACKETS
    packets in ``create_for`` cycles. At low packet rates a short run may create almost none: 4-flit
    packets at 0.4 flits/cycle are 10 expected in Icarus's 100 cycles, 5 or fewer one seed in 20."""
    while True:
        settings = TrafficSettings.for_rate(rate, pf, seed=rng.getrandbits(32), **kw)
        model = GeneratorModel(cfg, node, settings)
        if sum(model.step(t, t % 7 == 0) is not None for t in range(create_for)) >= MIN_PACKETS:
            return settings


@cocotb.test()
async def generator_matches_model(dut):
    """Every packet the generator sends is the model's next packet of its class, exactly; credits
    honoured; across classes, oldest first unless the older one's VC has no credit (one source
    queue, ``class_queues=False``: creation order)."""
    cfg = design_config()
    one_queue = not design_params().get("class_queues", True)
    rng = random.Random(cocotb.RANDOM_SEED)
    node = (1, 2)
    cycles = knob("gen_cycles", 400)
    create_for = cycles - 150
    for pattern, pf, rate, classes in (
        ("uniform", 1, 0.5, Classes.BOTH),
        ("uniform", 3, 0.5, Classes.REQUEST),
        ("transpose", 2, 0.4, Classes.RESPONSE),
        ("neighbor", 4, 0.4, Classes.BOTH),
        ("hotspot", 1, 0.3, Classes.BOTH),
    ):
        settings = _seed_with_packets(
            cfg, node, create_for, rng, rate, pf, pattern=pattern, classes=classes, hotspot=4
        )
        await _setup(dut, cfg, settings, node)
        model = GeneratorModel(cfg, node, settings)
        flit = Codec(link_flit_layout(cfg))
        vcs, depth = cfg.noc.vcs, cfg.noc.vc_depth
        held = [deque() for _ in range(vcs)]  # flits in the "router", per VC
        open_pkt = {}
        # The model's packets not sent yet, per message class: each class leaves in creation order;
        # a packet may go before an older one of the other class only if that one's VC had no
        # credit when the sender decided (the cycle before its head is on the link).
        pending = defaultdict(deque)
        free_before = [depth] * vcs  # the sender's credits in the last cycle, per VC
        got, overtakes = 0, 0
        t = 0
        # Creation stops 150 cycles before the end; the run then goes on until every created packet
        # is out (up to DRAIN_LIMIT more cycles): credits come back at random, and near saturation
        # (3-flit requests at 0.5, on two VCs) the source queue took more than 150 cycles to empty
        # about one run in 2000.
        while t < cycles or (any(pending.values()) and t < cycles + DRAIN_LIMIT):
            creating = t < create_for
            dut.gen__create.value = int(creating)
            dut.gen__now.value = t
            mark = int(t % 7 == 0)
            dut.gen__mark.value = mark
            # Random credit return: a held flit leaves with probability 0.5 (no overflow at these rates).
            back = 0
            for v in range(vcs):
                if held[v] and rng.random() < 0.5:
                    held[v].popleft()
                    back |= 1 << v
            dut.gen__link__credit.value = back
            made = model.step(t, bool(mark)) if creating else None
            await ReadOnly()
            if int(dut.gen__link__valid.value):
                f = flit.unpack(int(dut.gen__link__flit.value))
                v = f["vc"]
                held[v].append(f)
                assert len(held[v]) <= depth, f"VC {v}: {len(held[v])} flits sent with {depth} credits"
                if f["head"]:
                    assert v not in open_pkt, f"cycle {t}: head flit inside a packet on VC {v}"
                    fronts = {c: q[0] for c, q in pending.items() if q and q[0].flits()[0] == f["data"]}
                    assert fronts, (
                        f"cycle {t} ({pattern}): head {f['data']:#x} is no class's oldest unsent packet "
                        f"({[hex(q[0].flits()[0]) for q in pending.values() if q]})"
                    )
                    ((c, want),) = fronts.items()
                    pending[c].popleft()
                    for other in pending.values():
                        if other and other[0].cycle < want.cycle:
                            assert not one_queue, f"cycle {t} ({pattern}): sent out of creation order"
                            ov = vc_for(vcs, other[0].mclass, other[0].dst)
                            assert free_before[ov] == 0, (
                                f"cycle {t} ({pattern}): a {c.name} packet went before an older one "
                                f"whose VC {ov} had {free_before[ov]} credits"
                            )
                            overtakes += 1
                    assert v == vc_for(vcs, want.mclass, want.dst)
                    open_pkt[v] = (want, [f["data"]])
                else:
                    open_pkt[v][1].append(f["data"])
                if f["tail"]:
                    want, words = open_pkt.pop(v)
                    assert words == want.flits(), (
                        f"cycle {t} packet {got} ({pattern}): got {[hex(w) for w in words]}, "
                        f"model {[hex(w) for w in want.flits()]}"
                    )
                    got += 1
            if made is not None:  # (a candidate from this cycle on: the sender may bypass the queue)
                pending[made.mclass].append(made)
            free_before = [depth - len(held[v]) - (back >> v & 1) for v in range(vcs)]
            await FallingEdge(dut.clk)
            t += 1
        while any(held):  # give every credit back before the next configuration
            dut.gen__link__credit.value = sum(1 << v for v in range(vcs) if held[v] and held[v].popleft())
            await FallingEdge(dut.clk)
        dut.gen__link__credit.value = 0
        left = sum(map(len, pending.values()))
        assert not left, f"{pattern}: {left} packets created by the model never came out"
        assert got >= MIN_PACKETS
        await ReadOnly()
        assert int(dut.gen__sent.value) == got and int(dut.gen__created.value) == got
        assert int(dut.gen__overflow.value) == 0
        await FallingEdge(dut.clk)
        dut._log.info(
            "%s, %d-flit packets: %d packets match the model (%d sent before an older packet of the "
            "other class, which had no credit)",
            pattern,
            pf,
            got,
            overtakes,
        )


def _bad_packets(cfg, rng, me, pf):
    """(description, flit words, vc) tuples: good ones, and every kind of damage."""
    out = []
    seqs = {}
    for _ in range(60):
        src = (rng.randrange(3), rng.randrange(3))
        mclass = rng.randrange(2)
        n = seqs.get((src, mclass), 0)
        action = rng.choices(
            ["ok", "dup", "skip", "swap", "corrupt_body", "corrupt_head"], [10, 1, 1, 1, 1, 1]
        )[0]
        if action == "skip":
            n += 1
            action = "ok"
        if action == "swap":
            order = [n + 1, n]
            n += 2
        elif action == "dup":
            order = [n, n] if n else [n]
            n += 1
        else:
            order = [n]
            n += 1
        seqs[(src, mclass)] = n
        for s in order:
            p = make_packet(cfg, src, me, mclass, s, rng.randrange(1000), rng.randrange(2), pf)
            words = p.flits()
            if action == "corrupt_body" and pf > 1:
                words[-1] ^= 1 << rng.randrange(128)
            elif action == "corrupt_head":
                words[0] ^= 1 << rng.choice([3, 20, 70, 100])
            out.append((action, words, vc_for(cfg.noc.vcs, mclass, me) ^ rng.randrange(2)))
    return out


@cocotb.test()
async def checker_matches_model(dut):
    """The checker's counters equal the model's for good and broken packets, VCs interleaved."""
    cfg = design_config()
    rng = random.Random(cocotb.RANDOM_SEED + 1)
    me = (2, 1)
    flit = Codec(link_flit_layout(cfg))
    for pf in (1, 3):
        settings = TrafficSettings(packet_flits=pf)
        await _setup(dut, cfg, settings, me)
        model = CheckerModel(cfg, me, pf)
        pkts = _bad_packets(cfg, rng, me, pf)
        # Interleave packets on different VCs: up to two open at once.
        lanes: list[deque] = []
        queue = deque(pkts)
        now = 0
        finished = []
        while queue or lanes:
            while queue and len(lanes) < 2 and rng.random() < 0.5:
                action, words, vc = queue.popleft()
                if any(lane[0][2] == vc for lane in lanes):
                    queue.appendleft((action, words, vc))
                    break
                lanes.append(deque([(w, i, vc, len(words), words, action) for i, w in enumerate(words)]))
            now += 1
            dut.chk__now.value = now
            dut.chk__window.value = 1
            valid = 0
            if lanes and rng.random() < 0.8:
                lane = rng.choice(lanes)
                w, i, vc, n, words, action = lane.popleft()
                dut.chk__link__flit.value = flit.pack(data=w, head=i == 0, tail=i == n - 1, vc=vc)
                valid = 1
                if not lane:
                    lanes.remove(lane)
                    finished.append((words, now, action))
            dut.chk__link__valid.value = valid
            await FallingEdge(dut.clk)
        dut.chk__link__valid.value = 0
        for words, t, _ in finished:
            model.receive(words, t)
        # A stray body flit (no packet open on its VC) is corrupted; so is a packet cut short by a
        # new head on its VC (multi-flit packets only); the packet that cut it is fine.
        extras = [(0x1234, 0, 1)]
        if pf > 1:
            opened = make_packet(cfg, (2, 2), me, 1, 999, 5, 0, pf).flits()
            extras.append((opened[0], 1, 0))
            model.corrupted += 1
        key = ((0, 0), 1)
        seq = model.table.get(key, (0, 0))[0]
        cutter = make_packet(cfg, (0, 0), me, 1, seq, now, 0, pf).flits()
        extras += [(w, i == 0, i == pf - 1) for i, w in enumerate(cutter)]
        model.corrupted += 1
        for w, head, tail in extras:
            now += 1
            dut.chk__now.value = now
            dut.chk__link__flit.value = flit.pack(data=w, head=head, tail=tail, vc=0)
            dut.chk__link__valid.value = 1
            await FallingEdge(dut.clk)
        dut.chk__link__valid.value = 0
        assert model.receive(cutter, now) == "in order"
        for _ in range(1 + PIPELINE):  # the last flit's counters: the register and the checker's stages
            await RisingEdge(dut.clk)
        await ReadOnly()
        got = {
            n: int(getattr(dut, f"chk__{n}").value)
            for n in ("received", "corrupted", "duplicated", "misordered")
        }
        got["holes"] = int(dut.chk__holes.value)
        got["holes"] -= (1 << 32) if got["holes"] >= 1 << 31 else 0
        want = {n: getattr(model, n) for n in ("received", "corrupted", "duplicated", "misordered", "holes")}
        assert got == want, f"{pf}-flit packets: RTL {got}, model {want}"
        lat = {n: int(getattr(dut, f"chk__{n}").value) for n in ("lat_count", "lat_sum", "lat_max")}
        assert lat == {"lat_count": model.lat_count, "lat_sum": model.lat_sum, "lat_max": model.lat_max}
        kinds = {a for _, _, a in finished}
        await FallingEdge(dut.clk)
        dut._log.info("%d-flit packets: %s (actions %s)", pf, got, sorted(kinds))


@pytest.mark.parametrize("unit", ["generator", "checker", "generator_one_queue"])
def test_traffic_rtl(cocotb_run, unit, sim):
    cfg = _cfg()
    # The wrapper lives here, not in hw/: its parameters name the build. The FPGA tester's
    # generator has one source queue for both classes (``class_queues=False``).
    one = unit == "generator_one_queue"
    params = {"queue_depth": 32, "rev": 2, **({"class_queues": False} if one else {})}
    design = Design("traffic_pair", lambda: TrafficPair(cfg, 32, class_queues=not one), cfg, params)
    env = {"TATAMI_GEN_CYCLES": "400" if sim == "verilator" else "250"}
    testcase = "generator_matches_model" if one else f"{unit}_matches_model"
    cocotb_run(design, "tb.noc.test_traffic_rtl", testcase=testcase, extra_env=env)
