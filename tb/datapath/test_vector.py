"""VectorUnit against the golden model (:class:`tatami.sim.datapath.vector.VectorModel`):
edge-biased random operations of every group (element-wise FP32/BF16 and INT8/16/32, reductions,
broadcast/shuffle/transpose/pad) in random rounding modes, back to back and under a stalling
output, with the fixed latency checked for every result; sticky flags and LFSR seeding. Each
cocotb test runs on Verilator and Icarus; the Amaranth simulator runs a short check of every
group on the ``tiny`` preset."""

import random

import cocotb
import numpy as np
import pytest

from tatami.config import preset
from tatami.hw.common import hier
from tatami.hw.datapath.vector import VectorUnit, vector_latency, vector_passes
from tatami.isa import VecFormat, VecOp
from tatami.sim.benches.datapath_vector import design as unit_design
from tatami.sim.cocotb_env import clock_and_reset, design_config, knob
from tatami.sim.numerics import RoundingMode
from tb.datapath.vector_common import Codecs, Golden, compare, groups, make_ops, passes_of, stream_ops


def all_pairs(cfg):
    return [p for g in groups(cfg).values() for p in g]


def multi_pass_pairs(cfg):
    """The operations that hold the unit's input for more than one cycle: float ``vredsum``
    (through the FMA lanes) and conversions between 8-bit formats (two passes)."""
    return [p for p in all_pairs(cfg) if vector_passes(cfg, *p) > 1]


async def _start(dut):
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.flags_clear.value = 0
    dut.seed_load.value = 0
    await clock_and_reset(dut)


def _rng():
    seed = random.getrandbits(32)
    return np.random.default_rng(seed), random.Random(seed)


@cocotb.test()
async def random_ops(dut):
    """Every group mixed, back to back, then with the output stalled 30 % of cycles."""
    cfg = design_config()
    codecs, golden = Codecs(cfg), Golden(cfg)
    await _start(dut)
    nrng, rng = _rng()
    n = knob("cases", 300)
    mixed = multi_pass_pairs(cfg) + groups(cfg)["elementwise"][:18]
    for label, pairs, stall in (
        ("back to back", all_pairs(cfg), 0.0),
        ("stalled", all_pairs(cfg), 0.3),
        ("multi-pass among float arithmetic, stalled", mixed, 0.2),
    ):
        ops = make_ops(cfg, nrng, pairs, n // 2 if pairs is mixed else n)
        expected = [golden(op) for op in ops]
        got, _ = await stream_ops(
            dut,
            [codecs.pack(op) for op in ops],
            passes=passes_of(cfg, ops),
            stall=stall,
            rng=rng,
            latency=vector_latency(cfg),
        )
        compare(ops, expected, [codecs.unpack(w) for w in got], label)


@cocotb.test()
async def sticky_flags_and_seed(dut):
    """Sticky flags are the OR of the delivered flags and clear; a seed load restarts the
    stochastic-rounding sequence where the model's ``seed`` does."""
    from cocotb.triggers import FallingEdge

    cfg = design_config()
    codecs, golden = Codecs(cfg), Golden(cfg)
    await _start(dut)
    nrng, rng = _rng()
    ops = make_ops(cfg, nrng, groups(cfg)["elementwise"], 40)
    expected = [golden(op) for op in ops]
    got, _ = await stream_ops(dut, [codecs.pack(op) for op in ops], passes=passes_of(cfg, ops), rng=rng)
    compare(ops, expected, [codecs.unpack(w) for w in got], "flags run")
    want = 0
    for _, f in expected:
        want |= f
    await FallingEdge(dut.clk)
    assert int(dut.flags.value) == want, f"sticky flags {int(dut.flags.value):02x}, expected {want:02x}"
    dut.flags_clear.value = 1
    seed = rng.getrandbits(32)
    dut.seed.value = seed
    dut.seed_load.value = 1
    await FallingEdge(dut.clk)
    dut.flags_clear.value = 0
    dut.seed_load.value = 0
    await FallingEdge(dut.clk)
    assert int(dut.flags.value) == 0, "flags_clear did not clear"
    golden.model.seed(seed)
    sr = [op for op in make_ops(cfg, nrng, [(VecOp.VADD, VecFormat.BF16), (VecOp.VFMA, VecFormat.FP32)], 20)]
    for op in sr:
        op["mode"] = int(RoundingMode.STOCHASTIC)
    expected = [golden(op) for op in sr]
    got, _ = await stream_ops(dut, [codecs.pack(op) for op in sr], passes=passes_of(cfg, sr), rng=rng)
    compare(sr, expected, [codecs.unpack(w) for w in got], "after a seed load")


def design(config="fpga-2x2"):
    return unit_design(preset(config))  # (the bench's: one build for both)


@pytest.mark.slow
def test_vector_unit(cocotb_run, sim):
    cases = 300 if sim == "verilator" else 80
    cocotb_run(design(), "tb.datapath.test_vector", extra_env={"TATAMI_CASES": str(cases)})


@pytest.mark.long
def test_vector_unit_d1(cocotb_run, sim):
    if sim != "verilator":
        pytest.skip("the d1 (512-bit) unit runs on Verilator")
    cocotb_run(design("d1"), "tb.datapath.test_vector", extra_env={"TATAMI_CASES": "2000"})


@pytest.mark.long
def test_vector_unit_soak(cocotb_run, sim):
    if sim != "verilator":
        pytest.skip("the soak runs on Verilator")
    cocotb_run(
        design(), "tb.datapath.test_vector", testcase="random_ops", extra_env={"TATAMI_CASES": "50000"}
    )


# -- Amaranth simulator and constructor checks -----------------------------------------------------


def _amaranth_run(cfg, ops):
    from amaranth.sim import Simulator

    dut = VectorUnit(cfg)
    codecs = Codecs(cfg)
    passes = passes_of(cfg, ops)
    got = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        idx, held = 0, 0
        for _ in range(sum(passes) + dut.latency + 1):
            ctx.set(dut.i.valid, idx < len(ops))
            if idx < len(ops):
                ctx.set(dut.i.payload.as_value(), codecs.pack(ops[idx]))
                assert ctx.get(dut.i.ready) == (held == passes[idx] - 1), f"operation {idx}, pass {held}"
            await ctx.tick()
            if idx < len(ops):
                held += 1
                if held == passes[idx]:
                    idx, held = idx + 1, 0
            if ctx.get(dut.o.valid):
                got.append(codecs.unpack(ctx.get(dut.o.payload.as_value())))

    with hier.flat():  # the Amaranth simulator elaborates shared lanes in place
        sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_every_group_in_the_amaranth_simulator():
    cfg = preset("tiny")
    ops = make_ops(cfg, np.random.default_rng(6), all_pairs(cfg), 160)
    golden = Golden(cfg)
    compare(ops, [golden(op) for op in ops], _amaranth_run(cfg, ops), "tiny")


def test_multi_pass_operations_in_the_amaranth_simulator():
    """Float ``vredsum`` (levels fed back through the FMA lanes) and 8-bit conversions (two
    passes) among single-pass float arithmetic that uses the same lanes."""
    cfg = preset("tiny")
    pairs = multi_pass_pairs(cfg)
    assert {(VecOp.VREDSUM, VecFormat.FP32), (VecOp.VREDSUM, VecFormat.BF16)} <= set(pairs)
    assert len(pairs) == 11  # + the 9 pairs of CF8E4, CF8E5 and INT8
    ops = make_ops(cfg, np.random.default_rng(9), pairs + groups(cfg)["elementwise"][:18], 120)
    golden = Golden(cfg)
    compare(ops, [golden(op) for op in ops], _amaranth_run(cfg, ops), "tiny, multi-pass")


def test_cfloat_compares_with_cf16_in_the_amaranth_simulator():
    """min/max/relu/compares/vredmax of CFloat8 (both layouts) and CFloat16 on a ``tiny`` variant
    with CFloat16, every bias."""
    from dataclasses import replace

    tiny = preset("tiny")
    cfg = replace(tiny, node=replace(tiny.node, fpu=replace(tiny.node.fpu, cf16=True)))
    ops = make_ops(cfg, np.random.default_rng(8), groups(cfg)["cfloat"], 120)
    golden = Golden(cfg)
    compare(ops, [golden(op) for op in ops], _amaranth_run(cfg, ops), "tiny + cf16, CFloat")


def test_latency_follows_the_config():
    for name, lat in (("tiny", 2), ("fpga-2x2", 3), ("d1", 4)):
        assert vector_latency(preset(name)) == lat


def test_rejects_bad_parameters():
    with pytest.raises(TypeError, match="TatamiConfig"):
        VectorUnit("d1")
    with pytest.raises(ValueError, match="seed"):
        VectorUnit(preset("tiny"), seed=-1)
