"""hw/common/select.py: a Mux chain equal to Array indexing, and no always @* block in its Verilog."""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from tatami.hw.common.select import select


@pytest.mark.parametrize("default", [None, 0x55])
def test_select_matches_indexing(default):
    m = Module()
    index = Signal(3)
    values = [Signal(8, init=10 * k + 1) for k in range(5)]
    out = Signal(8)
    m.d.comb += out.eq(select(index, values, default=default))
    sim = Simulator(m)
    seen = []

    async def bench(ctx):
        for i in range(8):
            ctx.set(index, i)
            seen.append(ctx.get(out))

    sim.add_testbench(bench)
    sim.run()
    fallback = values[-1].init if default is None else default
    assert seen == [v.init for v in values] + [fallback] * 3


def test_select_is_continuous():
    m = Module()
    index, out = Signal(2), Signal(4)
    m.d.comb += out.eq(select(index, [Signal(4, name=f"v{k}") for k in range(4)]))
    text = rtlil.convert(m, ports=[index, out])
    assert "switch" not in text  # a Mux chain, never a case statement (an always @* in Verilog)


def test_select_needs_values():
    with pytest.raises(ValueError, match="at least one"):
        select(Signal(2), [])
