"""FP32Add: every TestFloat f32_add vector (a sample on Icarus), edge-biased random additions and
subtractions against the golden model, under a stalling output, with the latency checked, and the
sticky flags."""

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.fpu.fp32_add import FP32Add
from tatami.sim.cocotb_env import design_config, knob
from tatami.sim.harness import Design
from tb.fpu.common import SPECS, Bench, cases, env_for, long_env


def bench(dut):
    return Bench(dut, FP32Add(design_config()).op_layout)


@cocotb.test()
async def testfloat_vectors(dut):
    b = bench(dut)
    await b.start()
    await b.run_vectors("f32_add_rne", lambda r: {"a": r[0], "b": r[1]}, knob("vectors", 0))


@cocotb.test()
async def random_cases(dut):
    b = bench(dut)
    await b.start()
    latency = design_config().node.fpu.add_stages
    for name in ("add", "sub"):
        await b.run_spec(name, cases(2000), latency=latency)
        await b.run_spec(name, min(cases(2000) // 4, 20000), stall=0.3, latency=latency)


@cocotb.test()
async def sticky_flags(dut):
    b = bench(dut)
    await b.start()
    spec = SPECS["add"]
    await b.check_sticky(spec.make(b.np_rng, 64), spec.model)


def design(config="d1"):
    cfg = preset(config)
    return Design(f"fpu_fp32_add_{config}", lambda: FP32Add(cfg), config=cfg, internals=False)


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="TatamiConfig"):
        FP32Add("d1")


def test_fp32_add(cocotb_run, sim):
    cocotb_run(design(), "tb.fpu.test_fp32_add", extra_env=env_for(sim, vectors=2000, cases=300))


@pytest.mark.long
def test_fp32_add_million(cocotb_run, sim):
    if sim != "verilator":
        pytest.skip("the million-case sweep runs on Verilator")
    cocotb_run(design(), "tb.fpu.test_fp32_add", testcase="random_cases", extra_env=long_env(cases=1_000_000))
