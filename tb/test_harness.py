"""sim/harness.py outside pytest: a script that calls run_cocotb with a testbench under tb/ works
from any directory (cocotb's runner hands the simulator ``sys.path``, not our PYTHONPATH)."""

import subprocess
import sys

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
