"""cocotb bench for one FPU unit: latency and throughput in cycles.

Streams ``ops`` random operations back to back (``o.ready`` high throughout) and records the cycle
each operation is accepted and each result leaves. Design parameters (``Design.params``): ``unit``
(a key of :data:`tatami.hw.fpu.UNITS`), ``ops``. The figures are written as JSON to the path in
``TATAMI_FPU_BENCH_OUT``.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.triggers import FallingEdge

from tatami.hw import fpu
from tatami.hw.common.codec import Codec
from tatami.sim.cocotb_env import clock_and_reset, design_config, design_params

__all__ = ["measure"]


@cocotb.test()
async def measure(dut):
    params = design_params()
    unit = fpu.build(params["unit"], design_config())
    n = params["ops"]
    width = Codec(unit.op_layout).width
    dut.i__valid.value = 0
    dut.o__ready.value = 1
    dut.flags_clear.value = 0
    await clock_and_reset(dut)
    cycle, accepted, delivered = 0, [], []
    while len(delivered) < n and cycle < 10 * n + 100:
        await FallingEdge(dut.clk)
        if dut.o__valid.value:
            delivered.append(cycle)
        if len(accepted) < n:
            dut.i__valid.value = 1
            dut.i__payload.value = random.getrandbits(width)
            accepted.append(cycle)
        else:
            dut.i__valid.value = 0
        cycle += 1
    assert len(delivered) == n, f"{len(delivered)} of {n} results"
    latencies = {d - a for a, d in zip(accepted, delivered)}
    assert len(latencies) == 1, f"latency varies: {sorted(latencies)}"
    figures = {
        "latency_cycles": latencies.pop(),
        "ops": n,
        "cycles": delivered[-1] - accepted[0] + 1,
        "throughput_ops_per_cycle": round(n / (delivered[-1] - delivered[0] + 1), 4),
    }
    dut._log.info(f"{params['unit']}: {figures}")
    with open(os.environ["TATAMI_FPU_BENCH_OUT"], "w") as f:
        json.dump(figures, f)
