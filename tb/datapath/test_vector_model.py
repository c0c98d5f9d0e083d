"""Vector unit golden model against independent oracles: numpy float32 and integer arithmetic,
ml_dtypes BF16, the scalar numerics models for CFloat formats; reductions in their fixed tree
order; conversions in every rounding mode; shuffle, transpose, pad, gather; loads and stores."""

import random

import ml_dtypes
import numpy as np
import pytest

from tatami.config import preset
from tatami.isa import VecFormat, VecOp
from tatami.sim.datapath.matrix import ByteMemory
from tatami.sim.datapath.vector import VectorError, VectorModel
from tatami.sim.numerics import FP32, RoundingMode, cfloat8_143, convert, decode_array, fp_add

CFG = preset("d1")


def model():
    return VectorModel(CFG, ByteMemory(4096), seed=0x1234)


def rand_f32_reg(rng, v, n=16):
    vals = np.array([rng.uniform(-100, 100) for _ in range(n)], dtype=np.float32)
    return v.pack(vals.view(np.uint32).tolist(), VecFormat.FP32), vals


@pytest.mark.parametrize(
    "op,fn", [(VecOp.VADD, np.add), (VecOp.VSUB, np.subtract), (VecOp.VMUL, np.multiply)]
)
def test_f32_arithmetic_matches_numpy(op, fn):
    rng, v = random.Random(op), model()
    for _ in range(20):
        v.regs[1], x = rand_f32_reg(rng, v)
        v.regs[2], y = rand_f32_reg(rng, v)
        v.execute(op, VecFormat.FP32, 3, 1, 2)
        assert v.elements(v.regs[3], VecFormat.FP32) == fn(x, y).view(np.uint32).tolist()


def test_bf16_add_matches_ml_dtypes_rounding():
    rng, v = random.Random(5), model()
    for _ in range(20):
        x = np.array([rng.uniform(-8, 8) for _ in range(32)]).astype(ml_dtypes.bfloat16)
        y = np.array([rng.uniform(-8, 8) for _ in range(32)]).astype(ml_dtypes.bfloat16)
        v.regs[1] = v.pack(x.view(np.uint16).tolist(), VecFormat.BF16)
        v.regs[2] = v.pack(y.view(np.uint16).tolist(), VecFormat.BF16)
        v.execute(VecOp.VADD, VecFormat.BF16, 3, 1, 2)
        # The exact sum of two BF16 values fits float64; one rounding to BF16.
        exact = x.astype(np.float64) + y.astype(np.float64)
        assert (
            v.elements(v.regs[3], VecFormat.BF16) == exact.astype(ml_dtypes.bfloat16).view(np.uint16).tolist()
        )


def test_f32_fma_min_max_relu_compare():
    rng, v = random.Random(6), model()
    v.regs[1], x = rand_f32_reg(rng, v)
    v.regs[2], y = rand_f32_reg(rng, v)
    v.regs[3], z = rand_f32_reg(rng, v)
    v.execute(VecOp.VFMA, VecFormat.FP32, 3, 1, 2)
    exact = (x.astype(np.float64) * y + z).astype(np.float32)  # float64 product exact, one more rounding
    assert np.allclose(
        np.array(v.elements(v.regs[3], VecFormat.FP32), dtype=np.uint32).view(np.float32), exact
    )
    for op, fn in ((VecOp.VMIN, np.minimum), (VecOp.VMAX, np.maximum)):
        v.execute(op, VecFormat.FP32, 4, 1, 2)
        assert v.elements(v.regs[4], VecFormat.FP32) == fn(x, y).view(np.uint32).tolist()
    v.execute(VecOp.VRELU, VecFormat.FP32, 4, 1)
    assert v.elements(v.regs[4], VecFormat.FP32) == np.maximum(x, np.float32(0)).view(np.uint32).tolist()
    v.execute(VecOp.VCMPLT, VecFormat.FP32, 4, 1, 2)
    one = np.float32(1).view(np.uint32)
    assert v.elements(v.regs[4], VecFormat.FP32) == [int(one) if a < b else 0 for a, b in zip(x, y)]


def test_min_max_nan_and_signed_zero_rules():
    v = model()
    nan, pz, nz, one = 0x7FC00000, 0, 0x80000000, 0x3F800000
    v.regs[1] = v.pack([nan, nan, pz, nz] + [0] * 12, VecFormat.FP32)
    v.regs[2] = v.pack([one, nan, nz, pz] + [0] * 12, VecFormat.FP32)
    v.execute(VecOp.VMIN, VecFormat.FP32, 3, 1, 2)
    assert v.elements(v.regs[3], VecFormat.FP32)[:4] == [one, nan, nz, nz]
    v.execute(VecOp.VMAX, VecFormat.FP32, 3, 1, 2)
    assert v.elements(v.regs[3], VecFormat.FP32)[:4] == [one, nan, pz, pz]


@pytest.mark.parametrize(
    "fmt,dtype", [(VecFormat.INT8, np.int8), (VecFormat.INT16, np.int16), (VecFormat.INT32, np.int32)]
)
def test_integer_ops_match_numpy(fmt, dtype):
    rng, v = random.Random(int(fmt)), model()
    n = v.lanes(fmt)
    w = v.width(fmt)
    info = np.iinfo(dtype)
    x = np.array([rng.randint(info.min, info.max) for _ in range(n)], dtype=dtype)
    y = np.array([rng.randint(info.min, info.max) for _ in range(n)], dtype=dtype)
    sh = np.array([rng.randrange(w) for _ in range(n)], dtype=dtype)
    udt = np.dtype(f"uint{w}")
    v.regs[1], v.regs[2], v.regs[5] = (v.pack(a.view(udt).tolist(), fmt) for a in (x, y, sh))
    with np.errstate(over="ignore"):
        cases = {
            VecOp.VADD: (2, x + y),
            VecOp.VSUB: (2, x - y),
            VecOp.VMUL: (2, x * y),
            VecOp.VMIN: (2, np.minimum(x, y)),
            VecOp.VMAX: (2, np.maximum(x, y)),
            VecOp.VAND: (2, x & y),
            VecOp.VOR: (2, x | y),
            VecOp.VXOR: (2, x ^ y),
            VecOp.VSLL: (5, (x.view(udt) << sh.view(udt)).view(dtype)),
            VecOp.VSRL: (5, (x.view(udt) >> sh.view(udt)).view(dtype)),
            VecOp.VSRA: (5, x >> sh),
            VecOp.VCMPLT: (2, (x < y).astype(dtype)),
        }
    for op, (src2, expect) in cases.items():
        v.execute(op, fmt, 3, 1, src2)
        assert v.elements(v.regs[3], fmt) == expect.view(udt).tolist(), op.name
    v.regs[3] = v.regs[1]
    v.execute(VecOp.VFMA, fmt, 3, 1, 2)
    with np.errstate(over="ignore"):
        assert v.elements(v.regs[3], fmt) == (x + x * y).view(udt).tolist()


def test_float_only_ops_rejected_on_floats():
    v = model()
    with pytest.raises(VectorError, match="integer"):
        v.execute(VecOp.VAND, VecFormat.FP32, 1, 2, 3)


def test_reductions_in_tree_order():
    rng, v = random.Random(9), model()
    v.regs[1], x = rand_f32_reg(rng, v)
    v.execute(VecOp.VREDSUM, VecFormat.FP32, 2, 1)
    level = list(x)
    while len(level) > 1:
        level = [np.float32(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    assert v.elements(v.regs[2], VecFormat.FP32)[0] == int(np.float32(level[0]).view(np.uint32))
    assert v.elements(v.regs[2], VecFormat.FP32)[1:] == [0] * 15
    v.execute(VecOp.VREDMAX, VecFormat.FP32, 2, 1)
    assert v.elements(v.regs[2], VecFormat.FP32)[0] == int(np.max(x).view(np.uint32))
    # int8 sum wraps
    v.regs[3] = v.pack([100] * 64, VecFormat.INT8)
    v.execute(VecOp.VREDSUM, VecFormat.INT8, 4, 3)
    assert v.elements(v.regs[4], VecFormat.INT8)[0] == (6400) & 0xFF


def test_cf8_arithmetic_rounds_once_into_the_format():
    rng, v = random.Random(10), model()
    fmt = cfloat8_143(v.cf8e4_bias)
    xs = [rng.getrandbits(8) for _ in range(64)]
    ys = [rng.getrandbits(8) for _ in range(64)]
    v.regs[1], v.regs[2] = v.pack(xs, VecFormat.CF8E4), v.pack(ys, VecFormat.CF8E4)
    v.execute(VecOp.VADD, VecFormat.CF8E4, 3, 1, 2)
    for x, y, r in zip(xs, ys, v.elements(v.regs[3], VecFormat.CF8E4)):
        assert r == fp_add(fmt, x, y)[0]
        exact = fmt.to_float(x) + fmt.to_float(y)
        exact = max(-480.0, min(480.0, exact))  # saturating
        assert abs(fmt.to_float(r) - exact) <= max(abs(exact) / 16, 2.0**-9)  # half an ulp of 3 bits


@pytest.mark.parametrize("mode", [RoundingMode.RNE, RoundingMode.RTZ, RoundingMode.STOCHASTIC])
def test_conversions_every_mode(mode):
    rng, v = random.Random(int(mode)), model()
    v.regs[1], x = rand_f32_reg(rng, v)
    v.seed(77)
    v.convert(2, 1, VecFormat.FP32, VecFormat.BF16, mode)
    got = v.elements(v.regs[2], VecFormat.BF16)
    from tatami.sim.common.models import LfsrModel

    lfsr = LfsrModel(32, 16, seed=77)
    for i, xi in enumerate(x.view(np.uint32).tolist()):
        rand = lfsr.state if mode is RoundingMode.STOCHASTIC else 0
        if mode is RoundingMode.STOCHASTIC:
            lfsr.advance()
        assert got[i] == convert(xi, FP32, v.float_format(VecFormat.BF16), mode, rand)[0]
    assert got[16:] == [0] * 16
    if mode is RoundingMode.RNE:
        assert got[:16] == x.astype(ml_dtypes.bfloat16).view(np.uint16).tolist()
    # float -> int32 and back
    v.convert(3, 1, VecFormat.FP32, VecFormat.INT32, mode)
    ints = np.array(v.elements(v.regs[3], VecFormat.INT32), dtype=np.uint32).view(np.int32)
    if mode is RoundingMode.RTZ:
        assert ints.tolist() == np.trunc(x).astype(np.int32).tolist()
    if mode is RoundingMode.RNE:
        assert ints.tolist() == np.rint(x).astype(np.int32).tolist()
    v.convert(4, 3, VecFormat.INT32, VecFormat.FP32, mode)
    assert np.array(v.elements(v.regs[4], VecFormat.FP32), dtype=np.uint32).view(np.float32).tolist() == [
        float(i) for i in ints
    ]
    # int32 -> int8 saturates
    v.regs[5] = v.pack([300, (-300) & 0xFFFFFFFF, 5] + [0] * 13, VecFormat.INT32)
    v.convert(6, 5, VecFormat.INT32, VecFormat.INT8)
    assert v.elements(v.regs[6], VecFormat.INT8)[:3] == [127, 0x80, 5]


def test_shuffle_transpose_pad_bcast():
    v = model()
    xs = list(range(16))
    v.regs[1] = v.pack(xs, VecFormat.INT32)
    v.regs[2] = v.pack(list(reversed(xs)), VecFormat.INT32)
    v.shuffle(3, 1, 2, VecFormat.INT32)
    assert v.elements(v.regs[3], VecFormat.INT32) == list(reversed(xs))
    v.transpose(4, 1, VecFormat.INT32, rows=4)
    assert v.elements(v.regs[4], VecFormat.INT32) == np.arange(16).reshape(4, 4).T.ravel().tolist()
    v.pad(5, 1, VecFormat.INT32, keep=10, value=0xFF800000)
    assert v.elements(v.regs[5], VecFormat.INT32) == xs[:10] + [0xFF800000] * 6
    v.execute(VecOp.VBCAST, VecFormat.BF16, 6, 0, rs1=0x12343F80)
    assert v.elements(v.regs[6], VecFormat.BF16) == [0x3F80] * 32


@pytest.mark.parametrize("granule", [8, 16])
def test_gather_load_store(granule):
    v = model()
    payload = bytes(range(256)) * 4
    v.mem.store_bytes(0, payload)
    chunks = 64 // granule
    offs = [granule * (chunks - 1 - j) * 3 for j in range(chunks)]
    v.regs[2] = v.pack(offs + [0] * (16 - chunks), VecFormat.INT32)
    v.gather(1, 64, 2, granule)
    expect = b"".join(payload[64 + o : 64 + o + granule] for o in offs)
    assert v.regs[1].to_bytes(64, "little") == expect
    v.execute(VecOp.VST, 0, 0, 0, 1, rs1=1024)
    v.execute(VecOp.VLD, 0, 7, 0, rs1=1024)
    assert v.regs[7] == v.regs[1]
    with pytest.raises(VectorError, match="aligned"):
        v.execute(VecOp.VLD, 0, 7, 0, rs1=1025)


def test_decode_helper_consistent():
    v = model()
    codes = list(range(64))
    v.regs[1] = v.pack(codes, VecFormat.CF8E5)
    assert v.elements(v.regs[1], VecFormat.CF8E5) == codes
    assert decode_array(v.float_format(VecFormat.CF8E5), np.array(codes)).shape == (64,)
