"""The network tester (tatami.hw.noc.tester) on both simulators, through the register driver the
sweeps use (tatami.sim.noc.sweep.TesterDriver).

* The packets a run creates are exactly the ones the generator model predicts: per node, packets
  created, received, measured, and measured per distance, with and without a dead node (tables
  around it loaded at run time); nothing lost, duplicated, corrupted or misordered.
* Each fault a generator can inject (corrupt, drop, duplicate, reorder) is caught by the checkers
  and shows in the right counter, and only there.
"""

from __future__ import annotations

import random
from collections import Counter

import cocotb
import pytest
from cocotb.triggers import ClockCycles

from tatami.hw.noc.ports import node_index
from tatami.hw.noc.tester import clear_cycles
from tatami.hw.noc.tester_regs import Ctrl, FaultKind, Reg, Status, dist_addr, max_distance
from tatami.sim.benches.noc_tester import start_driver
from tatami.sim.cocotb_env import knob
from tatami.sim.noc.generator_model import TrafficSettings, predict
from tatami.sim.noc.sweep import SweepPlan, ideal_throughput, plan_tables, sweep_config, with_dead
from tatami.sim.noc.sweep import tester_design as design_for

from .netsim import VARIANTS

MESH = (3, 3)


def _cfg(variant="lookpast"):
    return sweep_config(*MESH, vcs=2, buf=4, packet_flits=1, **VARIANTS[variant])


async def _run(driver, plan, rate):
    await driver.configure(plan, rate)
    return await driver.run(20 * (plan.warmup + plan.measure + plan.drain_limit))


@cocotb.test()
async def predicted_packets(dut):
    """Counts per node and per distance equal the model's prediction of the run's packets."""
    driver = await start_driver(dut)
    cfg = driver.cfg
    w = cfg.mesh.width
    rng = random.Random()
    measure = knob("measure", 300)
    # Offered loads stay below each case's ideal throughput (ideal_throughput: 1.0, 0.615 with the
    # centre dead, 0.5 for neighbour with (2, 0) dead, 1.0): above it the source queues fill, packets
    # are refused at creation (``overflow``) and the run no longer follows the model's prediction.
    cases = [
        ("uniform", 2, 0.5, []),
        ("uniform", 1, 0.35, [(1, 1)]),
        ("neighbor", 3, 0.3, [(2, 0)]),
        ("bitcomp", 1, 0.4, []),
    ]
    for pattern, _, rate, dead in cases:
        ideal = ideal_throughput(with_dead(cfg, dead), pattern)
        assert rate < 0.65 * ideal, f"{pattern} at {rate}: too close to its ideal {ideal:.3f} to predict"
    for pattern, pf, rate, dead in cases:
        plan = SweepPlan(
            pattern=pattern,
            packet_flits=pf,
            seed=rng.getrandbits(32),
            warmup=60,
            measure=measure,
            drain_limit=3000,
            dead_nodes=dead,
            tables=plan_tables(cfg, dead),
        )
        await driver.set_dead(dead)
        await driver.load_tables(plan.tables)
        status = await _run(driver, plan, rate)
        assert status & Status.DONE and not status & (Status.DRAIN_TIMEOUT | Status.FLUSH_TIMEOUT), hex(
            status
        )
        t = await driver.totals()
        model_cfg = cfg.replace(mesh=with_dead(cfg, dead))
        settings = TrafficSettings.for_rate(rate, pf, pattern=pattern, seed=plan.seed)
        packets = predict(model_cfg, settings, plan.warmup, measure, t["drain_cycles"], clear_cycles(cfg))
        by_src = Counter(p.src for p, _ in packets)
        by_dst = Counter(p.dst for p, _ in packets)
        measured_dst = Counter(p.dst for p, m in packets if m)
        by_dist = Counter(
            (p.dst, abs(p.src[0] - p.dst[0]) + abs(p.src[1] - p.dst[1])) for p, m in packets if m
        )
        for x, y in model_cfg.mesh.live_nodes():
            k = node_index(x, y, w)
            c = await driver.node_counters(k)
            want = {
                "created": by_src[(x, y)],
                "sent": by_src[(x, y)],
                "received": by_dst[(x, y)],
                "lat_count": measured_dst[(x, y)],
                "overflow": 0,
                "corrupted": 0,
                "duplicated": 0,
                "misordered": 0,
                "holes": 0,
                "drops": 0,
            }
            got = {n: c[n] for n in want}
            assert got == want, f"{pattern} dead {dead}, node ({x}, {y}): RTL {got}, model {want}"
            for d in range(max_distance(*MESH) + 1):
                count = await driver.bus.read(dist_addr(k, d) + 1)
                assert count == by_dist[((x, y), d)], f"node ({x}, {y}) distance {d}: {count}"
        for x, y in dead:
            c = await driver.node_counters(node_index(x, y, w))
            assert c["created"] == c["received"] == 0, f"dead node ({x}, {y}) took part: {c}"
        assert t["sent"] == len(packets) > 50
        dut._log.info(
            "%s dead %s: %d packets as predicted, latency %.2f",
            pattern,
            dead,
            len(packets),
            t["lat_sum"] / t["lat_count"],
        )


@cocotb.test()
async def faults_are_caught(dut):
    """A fault injected at a generator shows in exactly the counter it should."""
    driver = await start_driver(dut)
    cfg = driver.cfg
    await driver.load_tables(plan_tables(cfg, []))
    for pf in (1, 2)[: knob("fault_lengths", 2)]:
        plan = SweepPlan(pattern="neighbor", packet_flits=pf, warmup=20, measure=200, drain_limit=400)
        for kind in FaultKind:
            await driver.configure(plan, 0.3)
            await driver.bus.write(Reg.CTRL, Ctrl.START | Ctrl.USE_TABLE)
            await ClockCycles(dut.clk, clear_cycles(cfg) + 40)
            await driver.fault(4, kind)
            await driver.bus.wait_done(5000)
            t = await driver.totals()
            status = await driver.bus.read(Reg.STATUS)
            got = {n: t[n] for n in ("corrupted", "duplicated", "misordered")}
            lost = t["sent"] - (t["received"] - t["duplicated"]) - t["drops"]
            want = {
                "corrupted": int(kind is FaultKind.CORRUPT),
                "duplicated": int(kind is FaultKind.DUPLICATE),
                "misordered": int(kind is FaultKind.REORDER),
            }
            assert got == want, f"{kind.name}, {pf}-flit packets: {got}, expected {want}"
            assert lost == int(kind is FaultKind.DROP), f"{kind.name}: {lost} lost"
            if kind is FaultKind.DROP:
                assert status & Status.FLUSH_TIMEOUT, "a lost packet must keep the flush from finishing"
            else:
                assert not status & Status.FLUSH_TIMEOUT, hex(status)
            dut._log.info("%s, %d-flit packets: %s, lost %d, holes %d", kind.name, pf, got, lost, t["holes"])


# The tester top (mesh + a generator and checker per node + register bus) takes minutes to build on
# Verilator on a 2-core machine: it runs with -m long (and in tatami bench noc), not in the default suite.
@pytest.mark.long
@pytest.mark.parametrize("variant", VARIANTS)
def test_tester(cocotb_run, sim, variant):
    env = {
        "TATAMI_MEASURE": "300" if sim == "verilator" else "120",
        "TATAMI_FAULT_LENGTHS": "2" if sim == "verilator" else "1",
    }
    cocotb_run(design_for(_cfg(variant)), "tb.noc.test_tester", extra_env=env)
