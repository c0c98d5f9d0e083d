"""Round-robin and matrix arbiters against their golden models, every cycle, with random requests
and random use of the grant; the models checked for fairness on their own."""

import random

import cocotb
import pytest
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.arbiter import MatrixArbiter, RoundRobinArbiter
from tatami.sim.cocotb_env import clock_and_reset, design_params, knob
from tatami.sim.common import MatrixArbiterModel, RoundRobinArbiterModel
from tatami.sim.harness import Design

MODELS = {"rr": RoundRobinArbiterModel, "matrix": MatrixArbiterModel}
UNITS = {"rr": RoundRobinArbiter, "matrix": MatrixArbiter}


@cocotb.test()
async def matches_model(dut):
    await clock_and_reset(dut)
    n, kind = design_params()["n"], design_params()["kind"]
    model = MODELS[kind](n)
    for cycle in range(knob("cycles", 3000)):
        density = (0.1, 0.5, 0.9, 1.0)[cycle // 300 % 4]
        requests = sum(1 << i for i in range(n) if random.random() < density)
        advance = random.random() < 0.8
        dut.requests.value = requests
        dut.advance.value = advance
        await ReadOnly()
        expected = model.step(requests, advance)
        valid = int(dut.valid.value)
        assert valid == (expected is not None), f"cycle {cycle}: valid={valid} for requests {requests:b}"
        if expected is not None:
            assert int(dut.grant_index.value) == expected, (
                f"cycle {cycle}: requests {requests:0{n}b} granted {int(dut.grant_index.value)}, "
                f"model {expected}"
            )
            assert int(dut.grant.value) == 1 << expected
        else:
            assert int(dut.grant.value) == 0
        await RisingEdge(dut.clk)


def design(kind, n):
    return Design(f"{kind}_arbiter_{n}", lambda: UNITS[kind](n), params={"kind": kind, "n": n})


@pytest.mark.parametrize("kind", ["rr", "matrix"])
@pytest.mark.parametrize("n", [1, 3, 5])
def test_arbiter(cocotb_run, kind, n):
    cocotb_run(design(kind, n), "tb.common.test_arbiter")


@pytest.mark.parametrize("kind", ["rr", "matrix"])
@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_model_is_starvation_free(kind, n):
    """A requester held high is granted within n - 1 other grants, whatever the others do."""
    rng = random.Random(n)
    model = MODELS[kind](n)
    waiting = [0] * n
    for _ in range(5000):
        requests = rng.getrandbits(n) | 1  # requester 0 always asks
        g = model.step(requests, advance=True)
        for i in range(n):
            if requests >> i & 1:
                waiting[i] = 0 if g == i else waiting[i] + 1
        assert waiting[0] <= n - 1, f"requester 0 waited {waiting[0]} grants"


@pytest.mark.parametrize("kind", ["rr", "matrix"])
def test_model_is_fair_under_full_load(kind):
    n = 5
    model = MODELS[kind](n)
    counts = [0] * n
    for _ in range(1000):
        counts[model.step((1 << n) - 1, advance=True)] += 1
    assert counts == [200] * n


def test_model_holds_grant_without_advance():
    model = RoundRobinArbiterModel(4)
    assert [model.step(0b1010, advance=False) for _ in range(3)] == [1, 1, 1]
    assert model.step(0b1010, advance=True) == 1
    assert model.step(0b1010, advance=True) == 3


@pytest.mark.parametrize("unit", [RoundRobinArbiter, MatrixArbiter])
def test_rejects_bad_size(unit):
    with pytest.raises(ValueError, match="positive number"):
        unit(0)
