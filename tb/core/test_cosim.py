"""Random co-simulation of the scalar core: RTL vs the golden model vs unicorn.

Each seed gives one random program per hardware thread, each in its own SRAM slice
(:mod:`tatami.sim.core.randgen`). The programs are first run on the golden model and on unicorn,
comparing pc, registers, stores and traps after every instruction; then the RTL runs all threads
at once (reset, load, start by the host port) under random bus back-pressure, and every retired
instruction is compared with the golden model's record
(:func:`tatami.sim.benches.core.cosim_random`). One seed in four adds misaligned jump targets
(which unicorn, having RVC, does not trap) and custom instructions: those are compared RTL vs
golden model only.

One simulator build and one simulator run cover many seeds: the program is loaded straight into
the SRAM array and the bench compares packed retire words, so a seed costs about its own cycles.
Knobs: ``TATAMI_PROGRAMS`` (seeds), ``TATAMI_SEED_BASE``. ``tatami cosim`` runs seed ranges in
batches and records the totals.
"""

import random

import cocotb
import pytest

from tatami.sim.benches.core import cosim_random, tile_design
from tatami.sim.cocotb_env import design_config, knob
from tatami.sim.core_commands import COSIM_CONFIG, run_cosim


@cocotb.test()
async def random_cosim(dut):
    cfg = design_config()
    count = knob("programs", 40)
    base = knob("seed_base", random.getrandbits(20))
    s = await cosim_random(dut, cfg, base, count, log=dut._log.info)
    dut._log.info(
        f"seeds {base}..{base + count - 1} (loaded through the {s['loaded']}): {s['programs']} "
        f"programs ({s['unicorn_programs']} also on unicorn), {s['instructions']} instructions, "
        f"{s['cycles']} cycles, {s['seconds']} s: no divergence"
    )


def design(cfg):
    return tile_design(cfg)


def cosim_design(cfg):
    """The tile with a retire log and built-in back-pressure (a build of its own)."""
    return tile_design(cfg, trace=True)


CONFIGS = {f"t{n}": COSIM_CONFIG(n) for n in (1, 2, 4)}


#: The default suite builds one configuration per simulator: 4 threads on Verilator (the directed
#: tests run single-threaded programs on it too), 2 threads on Icarus. Seeds, each one program per
#: thread: 200 x 4 programs on Verilator, 10 x 2 on Icarus.
SUITE = {"verilator": ("t4", 200), "icarus": ("t2", 10)}


@pytest.mark.slow
def test_random_cosim(sim, cocotb_run):
    config, seeds = SUITE[sim]
    cocotb_run(
        cosim_design(CONFIGS[config]),
        "tb.core.test_cosim",
        testcase="random_cosim",
        extra_env={"TATAMI_PROGRAMS": str(seeds)},
    )


@pytest.mark.long
@pytest.mark.parametrize("config", ["t1", "t4"])
def test_random_cosim_long(config, sim):
    """100,000 seeds per configuration in batches of 5,000 (hours; ``tatami cosim`` runs
    pieces and records them). ``TATAMI_PROGRAMS`` and ``TATAMI_SEED_BASE`` override."""
    import os

    if sim != "verilator":
        pytest.skip("long runs use Verilator")
    n = int(os.environ.get("TATAMI_PROGRAMS", "100000"))
    base = int(os.environ.get("TATAMI_SEED_BASE", "1000000"))
    total = run_cosim(CONFIGS[config], base, n, batch=5000, sim=sim)
    assert total["divergences"] == 0, total["divergent_seeds"]
