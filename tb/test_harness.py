"""sim/harness.py outside pytest: a script that calls run_cocotb with a testbench under tb/ works
from any directory (cocotb's runner hands the simulator ``sys.path``, not our PYTHONPATH)."""

import subprocess
import sys

import pytest

from tatami.sim.harness import Design

SCRIPT = """
import sys
from tatami.hw.common.stream import SkidBuffer
from tatami.sim.harness import run_cocotb, Design
import tatami.sim.harness as h
assert str(h.REPO_ROOT) not in sys.path  # as for any user script run from elsewhere
design = Design('skid_buffer', lambda: SkidBuffer(16), params={'width': 16})
env = {'TATAMI_ITEMS': '40'}
results = run_cocotb(design, 'tb.common.test_skid_buffer', sim='icarus', seed=3, extra_env=env)
print('RESULTS', results)
"""


def test_run_cocotb_from_a_plain_script(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "RESULTS" in done.stdout


def test_suite_stamps_lists_the_slowest_builds(tmp_path):
    from tatami.sim.bench_harness import suite_stamps

    for top, sim, secs, mb in (("mesh_3x3-abc", "verilator", 300.5, 354), ("fifo-def", "icarus", 2.0, 90)):
        d = tmp_path / "sim" / top / sim
        d.mkdir(parents=True)
        (d / "build.stamp").write_text(f"key build_seconds={secs} peak_child_rss_mb={mb}\n")
    rows = suite_stamps(tmp_path, most=1)
    assert rows == [
        {"design": "mesh_3x3", "simulator": "verilator", "build_seconds": 300.5, "worker_peak_rss_mb": 354}
    ]


def test_public_signals_need_a_ports_only_build():
    with pytest.raises(ValueError, match="ports-only"):
        Design("x", lambda: None, public=(("*.matrix", "wq_*"),))
    assert Design("x", lambda: None, internals=False, public=(("*.m", "a"),)).public == (("*.m", "a"),)
