"""Matrix unit on the ECC SRAM (GemmNode) against the golden model: random shapes with ragged edges,
BF16 and CFloat8 operands, bit-exact FP32 C; utilization of a K = 256 GEMM; descriptors outside
the RTL limits end with an error."""

import random

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.datapath.matrix import MatrixUnit, block_shape
from tatami.hw.fpu.layouts import FpFormat
from tatami.sim.benches.datapath_gemm import Node, check_gemm, design, make_gemm
from tatami.sim.cocotb_env import clock_and_reset, knob


@cocotb.test()
async def random_shapes_bit_exact(dut):
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED)
    mx = node.cfg.node.matrix
    bm, bn = block_shape(node.cfg)
    fmts = [FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152]
    for _ in range(knob("gemms", 6)):
        m = rng.randrange(1, 2 * bm * mx.m + 2)
        n = 2 * rng.randrange(1, bn * mx.n + 2)
        k = rng.randrange(1, 3 * node.cfg.node.sram.word_bits // 16 + 3)
        fa, fb = rng.choice(fmts), rng.choice(fmts)
        stats = await check_gemm(node, rng, m, n, k, fa, fb)
        dut._log.info(f"{m}x{n}x{k} {fa.name}x{fb.name}: {stats}")


@cocotb.test()
async def rejects_descriptor_outside_rtl_limits(dut):
    await clock_and_reset(dut)
    node = Node(dut)
    _mem, desc, _ = make_gemm(node.cfg, random.Random(1), 2, 2, 4, FpFormat.BF16, FpFormat.BF16)
    desc["accumulate"] = 1
    stats = await node.run(desc, timeout=100)
    assert stats["error"] == 1


@cocotb.test()
async def utilization(dut):
    """A K = 256 GEMM of 2 x 2 blocks runs at >= 97% of the ideal cycle count."""
    await clock_and_reset(dut)
    node = Node(dut)
    mx = node.cfg.node.matrix
    bm, bn = block_shape(node.cfg)
    m, n, k = 2 * bm * mx.m, 2 * bn * mx.n, 256
    stats = await check_gemm(node, random.Random(cocotb.RANDOM_SEED), m, n, k, FpFormat.BF16, FpFormat.BF16)
    dut._log.info(f"{m}x{n}x{k}: {stats}")
    assert stats["utilization"] >= 0.97, f"utilization {stats['utilization']:.3f} below 0.97: {stats}"


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="TatamiConfig"):
        MatrixUnit("d1")
    with pytest.raises(ValueError, match="must divide"):
        MatrixUnit(preset("fpga-2x2").replace(**{"node.matrix.k": 16}))


@pytest.mark.parametrize("name", ["fpga-2x2"])
def test_matrix(cocotb_run, name, sim):
    env = {} if sim == "verilator" else {"TATAMI_GEMMS": "2"}
    cocotb_run(design(preset(name)), "tb.datapath.test_matrix", extra_env=env)
