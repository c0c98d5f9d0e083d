"""StreamFIFO: order, no loss or duplication, never more than ``depth`` held, under random
back-pressure; both the buffered (block RAM) and fall-through variants."""

import random

import cocotb
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib.fifo import SyncFIFO
from amaranth.sim import Simulator
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.fifo import HeadRegisterFIFO, StreamFIFO
from tatami.sim.cocotb_env import (
    BackPressure,
    StreamSink,
    StreamSource,
    clock_and_reset,
    design_params,
    knob,
)
from tatami.sim.common import FifoModel
from tatami.sim.harness import Design


async def _watch_level(dut, depth, stop):
    while not stop():
        await ReadOnly()
        level = int(dut.level.value)
        assert level <= depth, f"FIFO level {level} exceeds its depth {depth}"
        await RisingEdge(dut.clk)


@cocotb.test()
async def random_backpressure(dut):
    await clock_and_reset(dut)
    depth, width = design_params()["depth"], design_params()["width"]
    model = FifoModel(depth)
    done = False
    cocotb.start_soon(_watch_level(dut, depth, lambda: done))
    count = knob("items", 2000)
    for p_valid, p_ready in ((1.0, 1.0), (0.7, 0.3), (0.3, 0.7), (0.5, 0.5)):
        items = [random.getrandbits(width) for _ in range(count // 4)]
        src = StreamSource(dut, "i", BackPressure(p_valid))
        sink = StreamSink(dut, "o", BackPressure(p_ready), on_item=model.pop)
        task = cocotb.start_soon(sink.run())
        feeder = cocotb.start_soon(src.send(items))
        for item in items:  # the model learns each item when it is offered; order is checked on pop
            model.q.append(item)
        await feeder
        await sink.wait_for(len(items), timeout_cycles=30 * len(items) + 100)
        sink.stop()
        await task
        assert sink.items == items
        assert not model.q
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.level.value) == 0
    done = True


@cocotb.test()
async def fills_to_depth_then_stalls(dut):
    await clock_and_reset(dut)
    depth = design_params()["depth"]
    dut.o__ready.value = 0
    dut.i__valid.value = 1
    accepted = 0
    for i in range(depth + 4):
        dut.i__payload.value = i
        await ReadOnly()
        accepted += int(dut.i__ready.value)
        await RisingEdge(dut.clk)
    dut.i__valid.value = 0
    assert accepted == depth, f"a depth-{depth} FIFO accepted {accepted} items with its output stalled"


def design(depth, buffered, width=12, head_register=False):
    kind = "head" if head_register else "buf" if buffered else "fwft"
    return Design(
        f"fifo_d{depth}_{kind}",
        lambda: StreamFIFO(width, depth, buffered=buffered, head_register=head_register),
        params={"depth": depth, "width": width, "buffered": buffered},
    )


def test_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        StreamFIFO(8, 0)
    with pytest.raises(ValueError, match="at least 2"):
        StreamFIFO(8, 1, buffered=False, head_register=True)
    with pytest.raises(ValueError, match="at least 2"):
        HeadRegisterFIFO(width=8, depth=1)


@pytest.mark.parametrize(
    "depth,buffered,head_register", [(1, False, False), (4, True, False), (5, False, False), (2, False, True)]
)
def test_fifo(cocotb_run, depth, buffered, head_register):
    cocotb_run(design(depth, buffered, head_register=head_register), "tb.common.test_fifo")


@pytest.mark.parametrize("depth", [2, 3, 8])
def test_head_register_fifo_matches_syncfifo(depth):
    """Random writes and reads (including reads of an empty and writes to a full FIFO) on a
    HeadRegisterFIFO and a SyncFIFO side by side, in Amaranth's simulator: every cycle the same
    ``r_rdy``, ``w_rdy`` and ``level``, and the same ``r_data`` whenever ``r_rdy``."""
    dut, ref = HeadRegisterFIFO(width=8, depth=depth), SyncFIFO(width=8, depth=depth)
    m = Module()
    m.submodules.dut, m.submodules.ref = dut, ref
    w_en, r_en, w_data = Signal(), Signal(), Signal(8)
    m.d.comb += [f.w_en.eq(w_en) for f in (dut, ref)]
    m.d.comb += [f.r_en.eq(r_en) for f in (dut, ref)]
    m.d.comb += [f.w_data.eq(w_data) for f in (dut, ref)]
    rng = random.Random(depth)
    seen = {"full": 0, "read_empty": 0}

    async def bench(ctx):
        for cycle in range(3000):
            p_write = 0.8 if cycle % 600 < 300 else 0.3  # fill phases and drain phases
            ctx.set(w_en, rng.random() < p_write)
            ctx.set(r_en, rng.random() < 0.55)
            ctx.set(w_data, rng.getrandbits(8))
            got = [ctx.get(s) for s in (dut.r_rdy, dut.w_rdy, dut.level)]
            want = [ctx.get(s) for s in (ref.r_rdy, ref.w_rdy, ref.level)]
            assert got == want, f"cycle {cycle}: r_rdy, w_rdy, level {got}, SyncFIFO {want}"
            if want[0]:
                assert ctx.get(dut.r_data) == ctx.get(ref.r_data), f"cycle {cycle}: front differs"
            seen["full"] += not want[1]
            seen["read_empty"] += (not want[0]) and ctx.get(r_en)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["full"] and seen["read_empty"], f"the random run missed a case: {seen}"
