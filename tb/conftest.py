"""pytest options shared by every testbench.

``--sim verilator|icarus`` (repeatable; default both) picks the simulators cocotb tests run on,
``--waves`` dumps waveforms (FST on Verilator, FST on Icarus) next to the test's log, ``--seed N``
fixes the random seed (otherwise a fresh one is drawn and printed when a test fails). The same
knobs can come from the environment: ``TATAMI_SIMS=verilator,icarus``, ``TATAMI_WAVES=1``,
``TATAMI_SEED=N``.

Tests marked ``slow`` (over about half a minute each) run first, so that the suite's workers
(``pytest -n``) start the long ones together and finish together, instead of one worker taking a
five-minute proof when the other has run out of tests.
"""

from __future__ import annotations

import os

import pytest

from tatami.sim.harness import SIMULATORS, run_cocotb


def pytest_addoption(parser):
    group = parser.getgroup("tatami")
    group.addoption(
        "--sim",
        action="append",
        choices=SIMULATORS,
        default=None,
        help="simulator for cocotb tests; repeat for several (default: both)",
    )
    group.addoption("--waves", action="store_true", help="dump waveforms for cocotb tests")
    group.addoption("--seed", type=int, default=None, help="random seed for cocotb tests")


def _sims(config) -> list[str]:
    chosen = config.getoption("--sim")
    if chosen:
        return chosen
    env = os.environ.get("TATAMI_SIMS")
    if env:
        sims = [s.strip() for s in env.split(",") if s.strip()]
        bad = [s for s in sims if s not in SIMULATORS]
        if bad:
            raise pytest.UsageError(f"TATAMI_SIMS names unknown simulator(s) {bad}; known: {SIMULATORS}")
        return sims
    return list(SIMULATORS)


def pytest_collection_modifyitems(config, items):
    # Stable: the slow tests keep their order among themselves, and so do the others.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        metafunc.parametrize("sim", _sims(metafunc.config))


@pytest.fixture
def cocotb_run(sim, request):
    """``cocotb_run(design, test_module, **kwargs)``: run cocotb tests on this test's simulator."""
    seed = request.config.getoption("--seed")
    if seed is None and os.environ.get("TATAMI_SEED"):
        seed = int(os.environ["TATAMI_SEED"])
    waves = request.config.getoption("--waves") or None

    def run(design, test_module, **kwargs):
        kwargs.setdefault("seed", seed)
        kwargs.setdefault("waves", waves)
        return run_cocotb(design, test_module, sim=sim, **kwargs)

    return run
