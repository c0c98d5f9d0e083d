"""SkidBuffer: every item through, in order, one per cycle when unstalled, under random
back-pressure on both sides."""

import random

import cocotb
import pytest
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.stream import SkidBuffer
from tatami.sim.cocotb_env import (
    BackPressure,
    StreamSink,
    StreamSource,
    clock_and_reset,
    design_params,
    knob,
)
from tatami.sim.harness import Design

WIDTH = 16


@cocotb.test()
async def random_backpressure(dut):
    await clock_and_reset(dut)
    count = knob("items", 2000)
    for p_valid, p_ready in ((1.0, 1.0), (0.5, 0.5), (0.9, 0.3), (0.3, 0.9)):
        items = [random.getrandbits(design_params()["width"]) for _ in range(count // 4)]
        src = StreamSource(dut, "i", BackPressure(p_valid))
        sink = StreamSink(dut, "o", BackPressure(p_ready))
        task = cocotb.start_soon(sink.run())
        await src.send(items)
        await sink.wait_for(len(items), timeout_cycles=20 * len(items) + 100)
        sink.stop()
        await task
        assert sink.items == items, f"p_valid={p_valid} p_ready={p_ready}: data differs"


@cocotb.test()
async def full_throughput_and_registered_outputs(dut):
    await clock_and_reset(dut)
    n = 100
    src = StreamSource(dut, "i")
    sink = StreamSink(dut, "o")
    task = cocotb.start_soon(sink.run())
    start = cocotb.utils.get_sim_time("ns")
    await src.send(range(n))
    await sink.wait_for(n, timeout_cycles=n + 10)
    cycles = (cocotb.utils.get_sim_time("ns") - start) / 10
    sink.stop()
    await task
    assert sink.items == list(range(n))
    assert cycles <= n + 3, f"{n} items took {cycles} cycles: the buffer does not stream one per cycle"
    # o.valid must not depend on o.ready combinationally: toggle ready with valid held.
    dut.i__valid.value = 1
    dut.i__payload.value = 7
    dut.o__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.i__valid.value = 0
    await ReadOnly()
    v0 = int(dut.o__valid.value)
    await RisingEdge(dut.clk)
    dut.o__ready.value = 1
    await ReadOnly()
    assert int(dut.o__valid.value) == v0 == 1, "o.valid changed with o.ready in the same cycle"


def design(width=WIDTH):
    return Design("skid_buffer", lambda: SkidBuffer(width), params={"width": width})


def test_rejects_bad_shape():
    with pytest.raises(TypeError):
        SkidBuffer("not a shape")


def test_skid_buffer(cocotb_run):
    cocotb_run(design(), "tb.common.test_skid_buffer")
