"""cocotb benches that ship with Tatami (the CLI runs them; tests run them too).

Each module here is a cocotb test module for :func:`tatami.sim.harness.run_cocotb`: its tests read
the config and parameters of the design they run against from the harness.
"""
