"""LFSR: the RTL reproduces the golden model's sequence bit for bit (every width and step
tested), loads seeds, never sticks at zero; the model's polynomials are maximal length."""

import random

import cocotb
import pytest
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from tatami.hw.common.lfsr import LFSR, MAXIMAL_TAPS
from tatami.sim.cocotb_env import clock_and_reset, design_params, knob
from tatami.sim.common import LfsrModel
from tatami.sim.harness import Design


@cocotb.test()
async def matches_model(dut):
    p = design_params()
    model = LfsrModel(p["width"], p["step"], seed=p["seed"])
    dut.enable.value = 0
    dut.load.value = 0
    await clock_and_reset(dut)
    await ReadOnly()
    assert int(dut.value.value) == model.state, "reset value differs from the seed"
    for cycle in range(knob("cycles", 2000)):
        enable = random.random() < 0.7  # idle cycles check that it holds its value
        load = random.random() < 0.01
        seed = random.choice([0, random.getrandbits(p["width"])])
        await FallingEdge(dut.clk)
        dut.enable.value = enable
        dut.load.value = load
        dut.seed_in.value = seed
        await RisingEdge(dut.clk)
        if load:
            model.load(seed)
        elif enable:
            model.advance()
        await ReadOnly()
        got = int(dut.value.value)
        assert got == model.state, (
            f"cycle {cycle} (enable={enable}, load={load}): RTL {got:#x}, model {model.state:#x}"
        )
        assert got != 0


def design(width, step, seed=0xACE1):
    seed &= (1 << width) - 1
    return Design(
        f"lfsr_w{width}_s{step}",
        lambda: LFSR(width, step, seed=seed),
        params={"width": width, "step": step, "seed": seed},
    )


@pytest.mark.parametrize("width,step", [(16, 1), (32, 8), (24, 24)])
def test_lfsr(cocotb_run, width, step):
    cocotb_run(design(width, step), "tb.common.test_lfsr")


@pytest.mark.parametrize("width", [w for w in MAXIMAL_TAPS if w <= 18])
def test_taps_are_maximal_length(width):
    assert LfsrModel(width).period() == 2**width - 1


def test_leap_forward_equals_single_steps():
    rng = random.Random(1)
    for width in (16, 32, 64):
        for step in (1, 3, width // 2, width):
            seed = rng.getrandbits(width) or 1
            a, b = LfsrModel(width, step, seed=seed), LfsrModel(width, 1, seed=seed)
            for _ in range(50):
                a.advance()
                for _ in range(step):
                    b.advance()
                assert a.state == b.state


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="no maximal-length taps"):
        LFSR(27)
    with pytest.raises(ValueError, match="step"):
        LFSR(16, 17)
    with pytest.raises(ValueError, match="does not fit"):
        LFSR(8, seed=256)
