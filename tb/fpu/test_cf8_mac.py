"""Cf8Mac: CFloat8 x CFloat8 products in FP32 (exact, down to FP32 subnormals) and the fused FP32
accumulate, every pair of layouts with run-time biases biased to 0, 63, 7 and 15, against the
golden model, on the FPGA preset's pipeline depths, under a stalling output, and the sticky flags.
The long sweep runs a million cases per layout pair."""

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.fpu.cf8_mac import Cf8Mac
from tatami.sim.cocotb_env import design_config, design_params, knob
from tatami.sim.harness import Design
from tb.fpu.common import SPECS, Bench, cases, env_for, long_env


def bench(dut):
    return Bench(dut, Cf8Mac(design_config(), design_params()["accumulate"]).op_layout)


def _kind():
    return "cf8_mac" if design_params()["accumulate"] else "cf8_mul"


@cocotb.test()
async def random_cases(dut):
    b = bench(dut)
    await b.start()
    fpu = design_config().node.fpu
    latency = fpu.fma_stages if design_params()["accumulate"] else fpu.mul_stages
    if knob("per_layout", 0):
        for layouts in ("00", "01", "10", "11"):
            await b.run_spec(f"{_kind()}_{layouts}", cases(1000), latency=latency)
    else:
        await b.run_spec(_kind(), cases(4000), latency=latency)
        await b.run_spec(_kind(), min(cases(4000) // 4, 20000), stall=0.3, latency=latency)


@cocotb.test()
async def sticky_flags(dut):
    b = bench(dut)
    await b.start()
    spec = SPECS[_kind()]
    ops = spec.make(b.np_rng, 64)
    # CFloat8 products are exact in FP32: about 1 random product in 13 raises a flag, and 64 of them
    # raised none one run in 150. One flagged operation of the same spec goes in at a random place,
    # so every run has a flag for check_sticky's clearing-cycle check.
    extra = spec.make(b.np_rng, 1)[0]
    while not spec.model(extra, 0)[1]:
        extra = spec.make(b.np_rng, 1)[0]
    ops.insert(int(b.np_rng.integers(len(ops) + 1)), extra)
    await b.check_sticky(ops, spec.model)


def design(accumulate, config="fpga-2x2"):
    cfg = preset(config)
    kind = "mac" if accumulate else "mul"
    return Design(
        f"fpu_cf8_{kind}_{config.replace('-', '_')}",
        lambda: Cf8Mac(cfg, accumulate),
        config=cfg,
        params={"accumulate": accumulate},
        internals=False,
    )


@pytest.mark.parametrize("accumulate", [True, False], ids=["mac", "mul"])
def test_cf8_mac(cocotb_run, sim, accumulate):
    cocotb_run(design(accumulate), "tb.fpu.test_cf8_mac", extra_env=env_for(sim, cases=300))


@pytest.mark.long
@pytest.mark.parametrize("accumulate", [True, False], ids=["mac", "mul"])
def test_cf8_mac_million(cocotb_run, sim, accumulate):
    if sim != "verilator":
        pytest.skip("the million-case sweep runs on Verilator")
    cocotb_run(
        design(accumulate),
        "tb.fpu.test_cf8_mac",
        testcase="random_cases",
        extra_env=long_env(cases=1_000_000, per_layout=1),
    )
