"""Random co-simulation of the scalar core: RTL vs the golden model vs unicorn.

Each program (one per hardware thread, each in its own SRAM slice) is first run on the golden
model and on unicorn, comparing pc, registers, stores and traps after every instruction; then
the RTL runs all threads at once (reset, load through the host port, start by the host port)
under random bus back-pressure, and every retired instruction is compared with the golden model
stepped on the same thread. Programs with misaligned jump targets (which unicorn, having RVC,
does not trap) are compared RTL vs golden model only.

One Verilator build per configuration runs many programs; knobs: ``TATAMI_PROGRAMS``,
``TATAMI_SEED_BASE``.
"""

import random

import cocotb
import pytest

from tatami.config import preset
from tatami.sim.benches.core import TileDriver, tile_design
from tatami.sim.cocotb_env import design_config, knob
from tatami.sim.core.cosim import random_programs, reference_traces
from tatami.sim.core.model import AccumulatorModel, CoreModel
from tatami.sim.core.randgen import GenOptions


async def run_random_program(drv: TileDriver, cfg, seed: int, opts: GenOptions, *, unicorn: bool):
    programs = random_programs(cfg, seed, opts)
    traces = reference_traces(cfg, programs, unicorn=unicorn)
    drv.model = CoreModel(cfg, custom=AccumulatorModel(cfg.node.core.threads))
    drv.ignore_threads = set()
    await drv.reset()
    for prog in programs:
        await drv.load(prog.segments)
    done = set()

    def on_retire(rec):
        if rec.thread not in done and rec.mem and rec.mem[0] == programs[rec.thread].done:
            done.add(rec.thread)
            drv.ignore_threads.add(rec.thread)

    drv.on_retire = [on_retire]
    drv.keep_records, drv.records = True, []
    for prog in programs:
        await drv.start(prog.thread, prog.entry)
    longest = max(len(t) for t in traces)
    ok = await drv.run_until(lambda: len(done) == len(programs), 60 * longest + 2000)
    if not ok:
        last = "\n  ".join(str(r) for r in drv.records[-6:])
        raise AssertionError(
            f"seed {seed}: threads {set(range(len(programs))) - done} did not finish; running "
            f"{drv.running():#b}; last retired:\n  {last}\n{drv.debug_state()}"
        )
    await drv.stop((1 << drv.threads) - 1)
    return sum(len(t) for t in traces)


@cocotb.test()
async def random_cosim(dut):
    cfg = design_config()
    count = knob("programs", 40)
    base = knob("seed_base", random.getrandbits(20))
    rng = random.Random(base)
    drv = TileDriver(dut, cfg, rng=rng)
    await drv.start_clock()
    total = 0
    for i in range(count):
        seed = base + i
        misaligned = i % 4 == 3
        drv.stall_p = rng.choice((0.0, 0.0, 0.2, 0.5))
        opts = GenOptions(misaligned_jumps=misaligned, custom=misaligned)
        try:
            total += await run_random_program(drv, cfg, seed, opts, unicorn=not misaligned)
        except AssertionError as e:
            raise AssertionError(
                f"program seed {seed} (TATAMI_SEED_BASE={seed} TATAMI_PROGRAMS=1): {e}"
            ) from e
        if (i + 1) % 500 == 0:
            dut._log.info(f"{i + 1} programs, {total} instructions: no divergence so far")
    dut._log.info(f"{count} programs, {total} instructions, {drv.cycle} cycles: no divergence")


def design(cfg):
    return tile_design(cfg)


CONFIGS = {
    "t1": preset("tiny").replace(**{"node.core.threads": 1}),
    "t2": preset("tiny"),
    "t4": preset("tiny").replace(**{"node.core.threads": 4, "node.sram.size_bytes": 16384}),
}


#: The default suite builds one configuration per simulator: 4 threads on Verilator (the directed
#: tests run single-threaded programs on it too), 2 threads on Icarus. Long runs add 1 thread.
SUITE = {"verilator": ("t4", 60), "icarus": ("t2", 5)}


def test_random_cosim(sim, cocotb_run):
    config, programs = SUITE[sim]
    cocotb_run(
        design(CONFIGS[config]),
        "tb.core.test_cosim",
        testcase="random_cosim",
        extra_env={"TATAMI_PROGRAMS": str(programs)},
    )


@pytest.mark.long
@pytest.mark.parametrize("config", ["t1", "t2", "t4"])
def test_random_cosim_long(config, sim, cocotb_run):
    """At least 100,000 programs per configuration (hours); TATAMI_PROGRAMS overrides."""
    if sim != "verilator":
        pytest.skip("long runs use Verilator")
    import os

    n = os.environ.get("TATAMI_PROGRAMS", "100000")
    cocotb_run(
        design(CONFIGS[config]),
        "tb.core.test_cosim",
        testcase="random_cosim",
        extra_env={"TATAMI_PROGRAMS": n},
    )
