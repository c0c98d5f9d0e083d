"""FP32FMA: the 200,000 TestFloat f32_mulAdd vectors (a sample on Icarus), edge-biased random fused
multiply-adds (with near-cancelling addends and all four sign variants) against the golden model,
under a stalling output with the latency checked, and the sticky flags."""

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.fpu.fp32_fma import FP32FMA
from tatami.sim.cocotb_env import design_config, knob
from tatami.sim.harness import Design
from tb.fpu.common import SPECS, Bench, cases, env_for, long_env


def bench(dut):
    return Bench(dut, FP32FMA(design_config()).op_layout)


@cocotb.test()
async def testfloat_vectors(dut):
    b = bench(dut)
    await b.start()
    await b.run_vectors(
        "f32_mulAdd_rne_first200k", lambda r: {"a": r[0], "b": r[1], "c": r[2]}, knob("vectors", 0)
    )


@cocotb.test()
async def random_cases(dut):
    b = bench(dut)
    await b.start()
    latency = design_config().node.fpu.fma_stages
    await b.run_spec("fma", cases(4000), latency=latency)
    await b.run_spec("fma", min(cases(4000) // 4, 20000), stall=0.3, latency=latency)


@cocotb.test()
async def sticky_flags(dut):
    b = bench(dut)
    await b.start()
    spec = SPECS["fma"]
    await b.check_sticky(spec.make(b.np_rng, 64), spec.model)


def design(config="d1"):
    cfg = preset(config)
    return Design(f"fpu_fp32_fma_{config}", lambda: FP32FMA(cfg), config=cfg, internals=False)


def test_fp32_fma(cocotb_run, sim):
    cocotb_run(design(), "tb.fpu.test_fp32_fma", extra_env=env_for(sim, vectors=2000, cases=300))


@pytest.mark.long
def test_fp32_fma_million(cocotb_run, sim):
    if sim != "verilator":
        pytest.skip("the million-case sweep runs on Verilator")
    cocotb_run(design(), "tb.fpu.test_fp32_fma", testcase="random_cases", extra_env=long_env(cases=1_000_000))
