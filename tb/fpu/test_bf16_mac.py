"""Bf16Mac: BF16 x BF16 products in FP32 and the fused FP32 accumulate ``acc + a * b``, edge-biased
random cases (with near-cancelling accumulators and products leaving FP32's range) against the
golden model, on the FPGA preset's pipeline depths, under a stalling output, and the sticky flags."""

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.fpu.bf16_mac import Bf16Mac
from tatami.sim.cocotb_env import design_config, design_params
from tatami.sim.harness import Design
from tb.fpu.common import SPECS, Bench, cases, env_for, long_env


def bench(dut):
    return Bench(dut, Bf16Mac(design_config(), design_params()["accumulate"]).op_layout)


def _spec():
    return "bf16_mac" if design_params()["accumulate"] else "bf16_mul"


@cocotb.test()
async def random_cases(dut):
    b = bench(dut)
    await b.start()
    fpu = design_config().node.fpu
    latency = fpu.fma_stages if design_params()["accumulate"] else fpu.mul_stages
    await b.run_spec(_spec(), cases(4000), latency=latency)
    await b.run_spec(_spec(), min(cases(4000) // 4, 20000), stall=0.3, latency=latency)


@cocotb.test()
async def sticky_flags(dut):
    b = bench(dut)
    await b.start()
    spec = SPECS[_spec()]
    await b.check_sticky(spec.make(b.np_rng, 64), spec.model)


def design(accumulate, config="fpga-2x2"):
    cfg = preset(config)
    kind = "mac" if accumulate else "mul"
    return Design(
        f"fpu_bf16_{kind}_{config.replace('-', '_')}",
        lambda: Bf16Mac(cfg, accumulate),
        config=cfg,
        params={"accumulate": accumulate},
        internals=False,
    )


def test_rejects_bad_parameters():
    with pytest.raises(TypeError, match="accumulate"):
        Bf16Mac(preset("d1"), accumulate=1)


@pytest.mark.parametrize("accumulate", [True, False], ids=["mac", "mul"])
def test_bf16_mac(cocotb_run, sim, accumulate):
    cocotb_run(design(accumulate), "tb.fpu.test_bf16_mac", extra_env=env_for(sim, cases=300))


@pytest.mark.long
@pytest.mark.parametrize("accumulate", [True, False], ids=["mac", "mul"])
def test_bf16_mac_million(cocotb_run, sim, accumulate):
    if sim != "verilator":
        pytest.skip("the million-case sweep runs on Verilator")
    cocotb_run(
        design(accumulate),
        "tb.fpu.test_bf16_mac",
        testcase="random_cases",
        extra_env=long_env(cases=1_000_000),
    )
