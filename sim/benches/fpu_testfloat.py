"""cocotb bench: TestFloat vector files through one FPU unit, results and the five IEEE flags.

Design parameters (``Design.params``): ``unit`` (a key of :data:`tatami.hw.fpu.UNITS`). The files
come as a JSON list of ``{"path", "op", "mode"}`` in ``TATAMI_TESTFLOAT_JOBS`` (``op`` a key of
:data:`tatami.sim.numerics.testfloat.OPERATIONS`, ``mode`` a :class:`RoundingMode` value); the
counts go as JSON to ``TATAMI_TESTFLOAT_OUT``. Every line is streamed at one operation per cycle
(batches of 50,000) and compared with the file's own result and flags.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import FallingEdge

from tatami.hw import fpu
from tatami.hw.common.codec import Codec
from tatami.hw.fpu.layouts import FpFormat
from tatami.sim.cocotb_env import clock_and_reset, design_config, design_params
from tatami.sim.numerics import IEEE_FLAGS_MASK
from tatami.sim.numerics.testfloat import OPERATIONS, read_rows

__all__ = ["UNIT_OPS", "testfloat_files"]


def _convert(src, dst):
    def op(f, mode):
        return {"value": f[0], "src": src.value, "dst": dst.value, "mode": mode, "src_bias": 0, "dst_bias": 0}

    return op


#: TestFloat operation -> the unit's operation fields from a line's operands and the mode.
UNIT_OPS = {
    "f32_add": lambda f, mode: {"a": f[0], "b": f[1], "sub": 0},
    "f32_sub": lambda f, mode: {"a": f[0], "b": f[1], "sub": 1},
    "f32_mul": lambda f, mode: {"a": f[0], "b": f[1]},
    "f32_mulAdd": lambda f, mode: {"a": f[0], "b": f[1], "c": f[2]},
    "f32_to_bf16": _convert(FpFormat.FP32, FpFormat.BF16),
    "bf16_to_f32": _convert(FpFormat.BF16, FpFormat.FP32),
}
assert set(UNIT_OPS) == set(OPERATIONS)


async def _stream(dut, words):
    """Results of ``words``, sent one per cycle with ``o.ready`` high (no stalls)."""
    out, idx = [], 0
    dut.o__ready.value = 1
    while len(out) < len(words):
        await FallingEdge(dut.clk)
        if dut.o__valid.value:
            out.append(int(dut.o__payload.value))
        if idx < len(words):
            dut.i__valid.value, dut.i__payload.value = 1, words[idx]
            idx += 1
        else:
            dut.i__valid.value = 0
    return out


@cocotb.test()
async def testfloat_files(dut):
    unit = fpu.build(design_params()["unit"], design_config())
    codec = Codec(unit.op_layout)
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.flags_clear.value = 0
    if hasattr(dut, "seed_load"):
        dut.seed_load.value = 0
    await clock_and_reset(dut)
    report = []
    for job in json.loads(os.environ["TATAMI_TESTFLOAT_JOBS"]):
        operation, mode = OPERATIONS[job["op"]], job["mode"]
        to_op = UNIT_OPS[job["op"]]
        lines = bad = 0
        first = []
        for rows in read_rows(job["path"], operation):
            got = await _stream(dut, [codec.pack(to_op(r, mode)) for r in rows])
            for fields, word in zip(rows, got):
                want_r, want_f = fields[operation.operands :]
                res, flags = word & 0xFFFFFFFF, (word >> 32) & IEEE_FLAGS_MASK
                if res != want_r or flags != want_f:
                    bad += 1
                    if len(first) < 8:
                        first.append(" ".join(f"{x:X}" for x in fields) + f" -> RTL {res:X} {flags:02X}")
            lines += len(rows)
        dut._log.info(f"{job['path']}: {lines} lines, {bad} differ")
        report.append({**job, "lines": lines, "mismatches": bad, "first": first})
    with open(os.environ["TATAMI_TESTFLOAT_OUT"], "w") as f:
        json.dump(report, f)
