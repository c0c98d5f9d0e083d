"""A traffic generator with two output registers (``out_stages=2``, the FPGA tester's) sends exactly
what one with one register sends, a cycle later: the two are driven with the same inputs every
cycle (credits from the one-register generator's link, so both see the same back-pressure), with
random credit delays, fault injections and packet lengths, and their links are compared cycle by
cycle. Amaranth's simulator."""

import random

import pytest
from amaranth.hdl import Module, Value
from amaranth.lib import wiring
from amaranth.sim import Simulator

from tatami.config import MeshConfig, preset
from tatami.hw.noc.ports import node_index
from tatami.hw.noc.tester_regs import Classes, FaultKind, Pattern
from tatami.hw.noc.traffic import TrafficGenerator, node_seed


class _Pair(wiring.Component):
    def __init__(self, cfg):
        self.one = TrafficGenerator(cfg, queue_depth=8, out_stages=1)
        self.two = TrafficGenerator(cfg, queue_depth=8, out_stages=2)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.one, m.submodules.two = self.one, self.two
        return m


@pytest.mark.parametrize("packet_flits", [1, 3])
def test_two_output_registers_send_the_same_flits_a_cycle_later(packet_flits):
    cfg = preset("tiny").replace(
        mesh=MeshConfig(3, 3),
        noc=preset("tiny").noc.__class__(flit_bits=128, vcs=2, vc_depth=2, max_packet_flits=4, routing="xy"),
    )
    dut = _Pair(cfg)
    node = (1, 1)
    k = node_index(*node, cfg.mesh.width)
    live = cfg.mesh.live_nodes()
    live_list = sum((x | y << 6) << (12 * i) for i, (x, y) in enumerate(live))
    rng = random.Random(packet_flits)
    trace = {"one": [], "two": []}

    async def bench(ctx):
        gens = (dut.one, dut.two)

        def drive(**values):
            for g in gens:
                for name, v in values.items():
                    sig = g.link.credit if name == "link.credit" else getattr(g, name)
                    ctx.set(Value.cast(sig), v)

        drive(
            x=node[0],
            y=node[1],
            seed=node_seed(7, k),
            threshold=40000,  # a high rate: queues fill, credits limit
            pattern=Pattern.UNIFORM.value,
            packet_flits=packet_flits,
            classes=Classes.BOTH.value,
            enable=1,
            live_count=len(live),
            live_list=live_list,
            live_mask=sum(1 << node_index(x, y, cfg.mesh.width) for x, y in live),
            clear=1,
            load=1,
        )
        await ctx.tick()
        drive(load=0)
        await ctx.tick().repeat(2 * cfg.mesh.nodes)
        drive(clear=0, create=1, mark=1)
        pending = []  # (cycle due, vc): credits of flits the sink holds
        for cycle in range(1500):
            drive(now=cycle)
            if cycle % 97 == 13:  # arm a fault now and then
                drive(fault=rng.choice(list(FaultKind)).value, fault_arm=1)
            else:
                drive(fault_arm=0)
            if cycle == 1200:
                drive(create=0)
            back = 0
            for due, vc in list(pending):
                if due <= cycle and not back >> vc & 1:
                    back |= 1 << vc
                    pending.remove((due, vc))
            drive(**{"link.credit": back})
            await ctx.tick()
            for name, g in (("one", dut.one), ("two", dut.two)):
                valid = ctx.get(g.link.valid)
                flit = ctx.get(Value.cast(g.link.flit)) if valid else None
                trace[name].append(flit)
            if trace["one"][-1] is not None:  # the sink frees the slot after a random delay
                pending.append((cycle + rng.choice([1, 1, 2, 5]), ctx.get(dut.one.link.flit.vc)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    sent = [f for f in trace["one"] if f is not None]
    assert len(sent) > 300, len(sent)
    assert trace["two"][1:] == trace["one"][:-1]
