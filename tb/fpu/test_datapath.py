"""Pipeline placement and configuration variants of the FPU units, in Amaranth's simulator (small
counts): every depth 1..8 keeps one operation per cycle with the configured latency, and the
presets without CFloat16 or without stochastic rounding behave as documented."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from tatami.config import preset
from tatami.hw.common.codec import Codec
from tatami.hw.fpu import UNITS, build
from tatami.hw.fpu.convert import Convert
from tatami.hw.fpu.datapath import Pipeline
from tatami.hw.fpu.fp32_fma import FP32FMA
from tatami.hw.fpu.layouts import FpFormat
from tatami.sim import numerics as nm
from tb.fpu.common import SPECS, convert_model


@pytest.mark.parametrize("steps", [3, 5, 7])
@pytest.mark.parametrize("stages", range(1, 9))
def test_pipeline_places_every_stage(stages, steps):
    p = Pipeline(Module(), Signal(), stages, steps)
    assert sum(p.regs.values()) == stages
    assert p.regs[steps] >= 1, "the output must come from a register"
    assert all(v <= 1 for k, v in p.regs.items() if k != steps), "inner boundaries hold one register"


@pytest.mark.parametrize("stages", range(1, 10))
def test_pipeline_balances_step_delays(stages):
    """With step delays, the registers go where the slowest stage is fastest (checked against
    every placement), keeping the same invariants as the even placement."""
    from itertools import combinations, pairwise

    delays = [3, 5, 2, 2, 4, 1, 3]
    p = Pipeline(Module(), Signal(), stages, delays)
    assert sum(p.regs.values()) == stages and p.regs[len(delays)] >= 1
    assert all(v <= 1 for k, v in p.regs.items() if k != len(delays))

    def slowest(cuts):
        edges = [0, *cuts, len(delays)]
        return max(sum(delays[a:b]) for a, b in pairwise(edges))

    inner = min(stages - 1, len(delays) - 1)
    placed = [k for k, v in p.regs.items() if v and k != len(delays)]
    assert slowest(placed) == min(slowest(c) for c in combinations(range(1, len(delays)), inner))


def test_pipeline_rejects_bad_delays():
    with pytest.raises(ValueError, match="positive"):
        Pipeline(Module(), Signal(), 2, [1, 0, 2])


def test_pipeline_rejects_zero_stages():
    with pytest.raises(ValueError, match="at least one stage"):
        Pipeline(Module(), Signal(), 0, 3)


def run(dut, ops, model, rands=None):
    """Stream ``ops`` one per cycle; check every result against ``model`` and the latency."""
    codec, results = Codec(dut.op_layout), []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        sent = []
        for cycle, op in enumerate([*ops, *[None] * (dut.latency + 2)]):
            ctx.set(dut.i.valid, op is not None)
            if op is not None:
                ctx.set(dut.i.payload.as_value(), codec.pack(op))
                sent.append(cycle)
            await ctx.tick()
            if ctx.get(dut.o.valid):
                assert cycle + 1 - sent[len(results)] == dut.latency, "latency differs from the config"
                results.append(ctx.get(dut.o.payload.as_value()))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert len(results) == len(ops)
    rands = rands or [0] * len(ops)
    for op, r, word in zip(ops, rands, results):
        assert (word & 0xFFFFFFFF, word >> 32) == model(op, r), f"{op}: got {word:#x}"


@pytest.mark.parametrize("stages", [1, 2, 5, 8])
def test_fma_depths(stages):
    cfg = preset("tiny").replace(**{"node.fpu.fma_stages": stages})
    spec = SPECS["fma"]
    run(FP32FMA(cfg), spec.make(np.random.default_rng(stages), 60), spec.model)


@pytest.mark.parametrize("name", list(UNITS))
def test_every_unit_on_the_tiny_preset(name):
    spec = {"fp32_add": "sub", "fp32_mul": "mul", "fp32_fma": "fma", "convert": "cvt_any"}.get(name, name)
    spec = SPECS[spec]
    dut = build(name, preset("tiny"))
    ops = spec.make(np.random.default_rng(1), 40)
    if name == "convert":  # tiny has no CFloat16: keep to the other formats
        ops = [op for op in ops if op["src"] < 4 and op["dst"] < 4]
        from tatami.sim.common.models import LfsrModel

        lfsr, rands = LfsrModel(32, 16, seed=dut.seed_value), []
        for _ in ops:
            rands.append(lfsr.state)
            lfsr.advance()
        run(dut, ops, spec.model, rands)
    else:
        run(dut, ops, spec.model)


def _cvt(value, src, dst, mode=0, bias=0):
    return {
        "value": value,
        "src": src.value,
        "src_bias": bias,
        "dst": dst.value,
        "dst_bias": bias,
        "mode": mode,
        "saturate": 0,
    }


def test_convert_without_cf16_flags_invalid():
    """Without ``cf16`` (the FPGA preset) a CFloat16 source or destination gives 0 and INVALID."""
    dut = Convert(preset("fpga-2x2"))
    ops = [
        _cvt(0x3F800000, FpFormat.FP32, FpFormat.CF16_SHP),
        _cvt(0x3C00, FpFormat.CF16_UHP, FpFormat.FP32, bias=15),
        _cvt(0x3F800000, FpFormat.FP32, FpFormat.BF16),
    ]
    expected = {0: (0, int(nm.Flags.INVALID)), 1: (0, int(nm.Flags.INVALID)), 2: (0x3F80, 0)}
    run(dut, ops, lambda op, r: expected[ops.index(op)])


def test_convert_without_stochastic_rounding_rounds_to_nearest():
    cfg = preset("tiny").replace(**{"node.fpu.stochastic_rounding": False})
    dut = Convert(cfg)
    ops = [_cvt(0x3F80C000 + k, FpFormat.FP32, FpFormat.BF16, mode=5) for k in range(8)]
    run(dut, ops, lambda op, r: convert_model({**op, "mode": 0}, 0))


@pytest.mark.parametrize("stages", [1, 4])
def test_convert_depth_is_convert_stages(stages):
    """``Convert`` takes its depth from ``node.fpu.convert_stages``, not from ``add_stages``."""
    cfg = preset("tiny").replace(**{"node.fpu.convert_stages": stages, "node.fpu.add_stages": 3})
    dut = Convert(cfg)
    assert dut.latency == stages
    ops = [_cvt(0x3F80C000 + k, FpFormat.FP32, FpFormat.BF16, mode=k % 2) for k in range(8)]
    run(dut, ops, convert_model)


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="TatamiConfig"):
        FP32FMA(None)
