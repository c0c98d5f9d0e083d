"""Matrix unit on the ECC SRAM (GemmNode) against the golden model: random shapes with ragged edges,
BF16 and CFloat8 operands, A row- or column-major and B row-major or given as B^T (the loader's
two modes), C in FP32, BF16 or CFloat8 with every rounding, overwritten or
accumulated, bit-exact (the bytes around C's elements must survive too); edge values (NaN,
infinities, CFloat8 saturation); K split into two descriptors; utilization of K = 256 GEMMs (both
layouts, converted and accumulated C);
descriptors outside the RTL limits end with an error."""

import copy
import random

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.datapath.matrix import MatrixUnit, block_shape
from tatami.hw.fpu.layouts import FpFormat, RoundMode
from tatami.sim.benches.datapath_gemm import ESIZE, Node, check_gemm, design, make_gemm, run_checked
from tatami.sim.cocotb_env import clock_and_reset, knob

IN_FORMATS = [FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152]
OUT_FORMATS = [FpFormat.FP32, FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152]
MODES = [RoundMode.RNE, RoundMode.RTZ, RoundMode.STOCHASTIC]


def _random_options(rng, edge=0.0):
    return {
        "fc": rng.choice(OUT_FORMATS),
        "bias_c": rng.randrange(0, 24),
        "mode": rng.choice(MODES),
        "seed": rng.getrandbits(32),
        "accumulate": rng.random() < 0.5,
        "c_pad": rng.randrange(0, 2),
        "edge": edge,
        "a_major": rng.choice("km"),
        "b_major": rng.choice("kn"),
    }


@cocotb.test()
async def random_shapes_bit_exact(dut):
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED)
    mx = node.cfg.node.matrix
    bm, bn = block_shape(node.cfg)
    for _ in range(knob("gemms", 6)):
        m = rng.randrange(1, 2 * bm * mx.m + 2)
        n = rng.randrange(1, 2 * bn * mx.n + 3)
        k = rng.randrange(1, 3 * node.cfg.node.sram.word_bits // 16 + 3)
        fa, fb = rng.choice(IN_FORMATS), rng.choice(IN_FORMATS)
        opts = _random_options(rng)
        stats = await check_gemm(node, rng, m, n, k, fa, fb, **opts)
        dut._log.info(f"{m}x{n}x{k} {fa.name}x{fb.name} {opts}: {stats}")


@cocotb.test()
async def edge_values_bit_exact(dut):
    """NaN, infinities, largest values and zeros among the operands and the accumulated C: every
    output format and rounding, including CFloat8 saturation."""
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED + 1)
    for fc in OUT_FORMATS:
        for _ in range(knob("edge_gemms", 2)):
            m, n, k = rng.randrange(1, 6), rng.randrange(1, 8), rng.randrange(1, 20)
            opts = _random_options(rng, edge=0.15)
            opts["fc"] = fc
            fa, fb = rng.choice(IN_FORMATS), rng.choice(IN_FORMATS)
            await check_gemm(node, rng, m, n, k, fa, fb, **opts)


@cocotb.test()
async def splitting_k_with_accumulate_changes_nothing(dut):
    """C = A[:, :K1] B[:K1] then C += A[:, K1:] B[K1:] (FP32 C) gives the bits of one descriptor."""
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED + 2)
    w16 = node.cfg.node.sram.word_bits // 16
    for fmt in (FpFormat.BF16, FpFormat.CF8_152):
        # A and B of the second part start on whole words.
        k1 = node.cfg.node.sram.word_bytes // ESIZE[fmt] * rng.randrange(1, 3)
        m, n, k = rng.randrange(1, 9), rng.randrange(1, 13), k1 + rng.randrange(1, 2 * w16)
        mem, desc, end = make_gemm(node.cfg, rng, m, n, k, fmt, fmt, 3, 9)
        await node.load(mem, end)
        first, second = copy.deepcopy(desc), copy.deepcopy(desc)
        first["k"] = k1
        second["k"] = k - k1
        second["accumulate"] = 1
        second["a"]["addr"] += k1 * ESIZE[fmt]
        second["b"]["addr"] += k1 * ESIZE[fmt]
        for part in (first, second):
            stats = await node.run(part)
            assert not stats["error"]
        # The golden model runs the whole K in one descriptor; the node holds the split result.
        await run_checked(node, mem, desc, end, load=False, run=False)


@cocotb.test()
async def rejects_descriptor_outside_rtl_limits(dut):
    await clock_and_reset(dut)
    node = Node(dut)
    _mem, desc, _ = make_gemm(node.cfg, random.Random(1), 2, 2, 4, FpFormat.BF16, FpFormat.BF16)
    desc["c"]["col_stride"] = 8  # C with a gap between columns
    stats = await node.run(desc, timeout=100)
    assert stats["error"] == 1


@cocotb.test()
async def utilization(dut):
    """K = 256 GEMMs of 2 x 2 blocks run at >= 97% of the ideal cycle count: both operand layouts
    of A and B, FP32, BF16 (stochastic) and accumulated CFloat8 C (the issue's target)."""
    await clock_and_reset(dut)
    node = Node(dut)
    mx = node.cfg.node.matrix
    bm, bn = block_shape(node.cfg)
    m, n, k = 2 * bm * mx.m, 2 * bn * mx.n, 256
    cases = [
        (FpFormat.BF16, {}),
        (FpFormat.BF16, {"a_major": "m", "b_major": "n"}),
        (FpFormat.BF16, {"fc": FpFormat.BF16, "mode": RoundMode.STOCHASTIC}),
        (FpFormat.CF8_143, {"fc": FpFormat.CF8_143, "accumulate": True}),
    ]
    rng = random.Random(cocotb.RANDOM_SEED)
    for fmt, opts in cases[: knob("utilization_gemms", len(cases))]:
        stats = await check_gemm(node, rng, m, n, k, fmt, fmt, **opts)
        dut._log.info(f"{m}x{n}x{k} {fmt.name} {opts}: {stats}")
        assert stats["utilization"] >= 0.97, (
            f"{fmt.name} {opts}: utilization {stats['utilization']:.3f} below 0.97: {stats}"
        )


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="TatamiConfig"):
        MatrixUnit("d1")
    with pytest.raises(ValueError, match="must divide"):
        MatrixUnit(preset("fpga-2x2").replace(**{"node.matrix.k": 16}))
    with pytest.raises(ValueError, match="stochastic-rounding hash"):
        MatrixUnit(preset("tiny").replace(**{"node.matrix.k": 1}))


@pytest.mark.parametrize("name", ["fpga-2x2"])
def test_matrix(cocotb_run, name, sim):
    env = (
        {}
        if sim == "verilator"
        else {"TATAMI_GEMMS": "2", "TATAMI_EDGE_GEMMS": "1", "TATAMI_UTILIZATION_GEMMS": "2"}
    )
    cocotb_run(design(preset(name)), "tb.datapath.test_matrix", extra_env=env)
