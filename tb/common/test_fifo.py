"""StreamFIFO: order, no loss or duplication, never more than ``depth`` held, under random
back-pressure; both the buffered (block RAM) and fall-through variants."""

import random

import cocotb
import pytest
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.fifo import StreamFIFO
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


def design(depth, buffered, width=12):
    return Design(
        f"fifo_d{depth}_{'buf' if buffered else 'fwft'}",
        lambda: StreamFIFO(width, depth, buffered=buffered),
        params={"depth": depth, "width": width, "buffered": buffered},
    )


def test_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        StreamFIFO(8, 0)


@pytest.mark.parametrize("depth,buffered", [(1, False), (4, True), (5, False)])
def test_fifo(cocotb_run, depth, buffered):
    cocotb_run(design(depth, buffered), "tb.common.test_fifo")
