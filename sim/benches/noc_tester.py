"""cocotb bench for the network tester (:class:`~tatami.hw.noc.tester.NocTester`): a register bus
on the DUT's ports and the tests that drive it through :class:`~tatami.sim.noc.sweep.TesterDriver`.

Python touches only the register bus: a load point runs in hardware from START to DONE while cocotb
waits on the ``done`` port (one trigger, no Python per cycle).

``sweep``
    Runs the plan in ``TATAMI_NOC_PLAN`` (a :class:`~tatami.sim.noc.sweep.SweepPlan` as JSON) and
    writes the results to ``TATAMI_NOC_RESULT``.
``soak``
    Runs the plan's ``rates`` as long runs with the watchdog armed, and writes every counter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge, Timer

from tatami.sim.cocotb_env import clock_and_reset, design_config
from tatami.sim.noc.sweep import SweepPlan, TesterDriver

__all__ = ["CocotbBus", "start_driver"]

PERIOD_NS = 10


class CocotbBus:
    """The tester's register bus on a cocotb DUT: one register access per clock cycle."""

    def __init__(self, dut):
        self.dut = dut
        dut.we.value = 0
        dut.addr.value = 0
        dut.wdata.value = 0

    async def write(self, addr: int, value: int):
        await FallingEdge(self.dut.clk)
        self.dut.addr.value = int(addr)
        self.dut.wdata.value = int(value) & 0xFFFF_FFFF
        self.dut.we.value = 1
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.we.value = 0

    async def read(self, addr: int) -> int:
        await FallingEdge(self.dut.clk)
        self.dut.we.value = 0
        self.dut.addr.value = int(addr)
        await RisingEdge(self.dut.clk)
        await ReadOnly()
        return int(self.dut.rdata.value)

    async def wait_done(self, limit_cycles: int):
        await FallingEdge(self.dut.clk)
        if int(self.dut.done.value):
            # DONE of the previous run: START clears it on the next edge.
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
        if not int(self.dut.done.value):
            await First(RisingEdge(self.dut.done), Timer(limit_cycles * PERIOD_NS, unit="ns"))


async def start_driver(dut) -> TesterDriver:
    cfg = design_config()
    await clock_and_reset(dut, PERIOD_NS)
    driver = TesterDriver(CocotbBus(dut), cfg)
    await driver.check_id()
    return driver


def _plan() -> SweepPlan:
    return SweepPlan(**json.loads(Path(os.environ["TATAMI_NOC_PLAN"]).read_text()))


@cocotb.test()
async def sweep(dut):
    """The sweep of TATAMI_NOC_PLAN."""
    plan = _plan()
    driver = await start_driver(dut)
    await driver.prepare(plan)
    result = await driver.sweep(plan, log=dut._log.info)
    with open(os.environ["TATAMI_NOC_RESULT"], "w") as f:
        json.dump(result, f)


@cocotb.test()
async def soak(dut):
    """Long runs at each of the plan's rates; every counter of every run to TATAMI_NOC_RESULT."""
    plan = _plan()
    driver = await start_driver(dut)
    await driver.prepare(plan)
    runs = []
    for rate in plan.rates:
        p = await driver.point(plan, rate)
        nodes = {}
        for x, y in driver.cfg.mesh.live_nodes():
            k = y * driver.cfg.mesh.width + x
            nodes[k] = await driver.node_counters(k)
        dut._log.info(
            "soak %s at %.3f: %d packets sent, %d received, latency %.1f, max stall %d, status %#x",
            plan.pattern,
            rate,
            p.counters["sent"],
            p.counters["received"],
            p.latency,
            p.counters["max_stall"],
            p.counters["status"],
        )
        runs.append({"rate": rate, "point": p.__dict__, "nodes": nodes})
    with open(os.environ["TATAMI_NOC_RESULT"], "w") as f:
        json.dump(runs, f)
