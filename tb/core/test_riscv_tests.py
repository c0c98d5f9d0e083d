"""An independent conformance suite on the RTL core: riscv-tests' physical-memory machine-mode
programs (``rv32ui-p-*``, ``rv32um-p-*``, ``rv32mi-p-*``), built unmodified by the user (the
project does not ship them; docs/core.md, "Conformance", has the build commands) and found
through ``TATAMI_RISCV_TESTS``, a directory of the ELF files (riscv-tests' ``isa/`` after
``make``; listings and other suites in it are ignored).

Every program runs on Verilator, in one simulator run, with every retired instruction compared
with the golden model, and must write ``tohost = 1``. The exclusions below do not apply to this
core, each for the reason given; they are reported, not run.
"""

import os
from pathlib import Path

import pytest

from tatami.sim.core_commands import expand_programs, run_elfs, verdict
from tb.core.test_cosim import CONFIGS

ENV = "TATAMI_RISCV_TESTS"
SUITES = ("rv32ui-p-", "rv32um-p-", "rv32mi-p-")
MAX_CYCLES = 200_000

#: Programs of those suites that test what the core does not have (docs/core.md, "Conformance").
EXCLUDED = {
    "rv32ui-p-ma_data": "needs misaligned loads and stores to complete (in hardware or by a trap "
    "handler that emulates them); the core takes the misaligned-address trap (cause 4/6), which "
    "the ISA allows, and the p environment has no emulating handler",
    "rv32mi-p-pmpaddr": "needs physical memory protection (pmpcfg/pmpaddr CSRs); the core has no "
    "PMP, and the test itself says it assumes PMP is available",
}


def _programs(root: Path) -> list[Path]:
    return [p for p in expand_programs([root]) if p.name.startswith(SUITES)]


@pytest.mark.skipif(
    not os.environ.get(ENV),
    reason=f"{ENV} is not set: build riscv-tests' rv32ui/rv32um/rv32mi p programs (docs/core.md, "
    f"'Conformance') and set {ENV} to the directory holding them",
)
def test_riscv_tests_pass():
    root = Path(os.environ[ENV])
    if not root.is_dir():
        pytest.fail(f"{ENV}={root} is not a directory")
    programs = _programs(root)
    if not programs:
        pytest.fail(f"{ENV}={root} holds no rv32ui-p-*, rv32um-p-* or rv32mi-p-* ELF files")
    run = [p for p in programs if p.name not in EXCLUDED]
    skipped = sorted(p.name for p in programs if p.name in EXCLUDED)
    results = run_elfs(CONFIGS["t4"], run, max_cycles=MAX_CYCLES, check=True)
    assert len(results) == len(run), "the simulator run ended early"
    failed = []
    for path, r in zip(run, results):
        passed, text = verdict(r, MAX_CYCLES)
        if not passed:
            failed.append(f"{path.name}: {text}")
    print(f"{len(run) - len(failed)} of {len(run)} riscv-tests programs passed; excluded: {skipped}")
    assert not failed, "; ".join(failed)
