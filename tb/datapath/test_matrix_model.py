"""Matrix unit golden model: the fixed accumulation order, descriptors with strides (a transposed
operand needs no copy), the vectorised path equal to the scalar reference, and results within the
error bound of a sequential FP32 accumulation against numpy float64."""

import random

import numpy as np
import pytest

from tatami.config import preset
from tatami.hw.datapath.descriptors import MATRIX_CODEC
from tatami.hw.fpu.layouts import FpFormat, RoundMode
from tatami.sim.datapath.matrix import ByteMemory, MatrixModel, float_format, fmix32, gemm, sr_word, sr_words
from tatami.sim.numerics import (
    BF16,
    FP32,
    RoundingMode,
    convert_f32_array,
    decode_array,
    f32_to_bf16,
    mac_widening,
)


def rand_codes(rng, fmt, rows, cols, lo=None, hi=None):
    """Random finite encodings; for BF16 exponents in [lo, hi] (biased)."""
    if fmt is BF16:
        lo, hi = lo or 110, hi or 140
        return [
            [rng.getrandbits(1) << 15 | rng.randint(lo, hi) << 7 | rng.getrandbits(7) for _ in range(cols)]
            for _ in range(rows)
        ]
    return [[rng.getrandbits(8) for _ in range(cols)] for _ in range(rows)]


def test_order_is_sequential_fused_macs():
    rng = random.Random(1)
    a, b = rand_codes(rng, BF16, 3, 7), rand_codes(rng, BF16, 7, 2)
    res = gemm(a, BF16, b, BF16)
    for i in range(3):
        for j in range(2):
            acc = 0
            for kk in range(7):
                acc, _ = mac_widening(acc, a[i][kk], BF16, b[kk][j], BF16, FP32)
            assert res.c[i][j] == acc


def test_splitting_k_with_accumulate_changes_nothing():
    """The order is one chain over K, so C = A[:, :K1] B[:K1] then C += A[:, K1:] B[K1:] is
    bit-identical to one GEMM over K (FP32 C)."""
    rng = random.Random(2)
    a, b = rand_codes(rng, BF16, 4, 20), rand_codes(rng, BF16, 20, 5)
    whole = gemm(a, BF16, b, BF16).c
    first = gemm([r[:9] for r in a], BF16, b[:9], BF16).c
    second = gemm([r[9:] for r in a], BF16, b[9:], BF16, first, FP32).c
    assert whole == second


@pytest.mark.parametrize(
    "fa,fb,fc,mode",
    [
        (FpFormat.BF16, FpFormat.BF16, FpFormat.FP32, RoundMode.RNE),
        (FpFormat.CF8_143, FpFormat.CF8_152, FpFormat.FP32, RoundMode.RNE),
        (FpFormat.BF16, FpFormat.BF16, FpFormat.BF16, RoundMode.STOCHASTIC),
        (FpFormat.CF8_143, FpFormat.CF8_143, FpFormat.CF8_143, RoundMode.RNE),
        (FpFormat.CF8_152, FpFormat.CF8_143, FpFormat.CF8_152, RoundMode.STOCHASTIC),
        (FpFormat.BF16, FpFormat.BF16, FpFormat.BF16, RoundMode.RTZ),
    ],
)
def test_fast_path_equals_scalar_reference(fa, fb, fc, mode):
    rng = random.Random(hash((fa, fb, fc, mode)) & 0xFFFF)
    fmt_a, fmt_b = float_format(fa, rng.randrange(4, 12)), float_format(fb, rng.randrange(4, 20))
    fmt_c = float_format(fc, 10)
    m, n, k = rng.randrange(1, 7), rng.randrange(1, 7), rng.randrange(1, 40)
    a, b = rand_codes(rng, fmt_a, m, k), rand_codes(rng, fmt_b, k, n)
    c = rand_codes(rng, fmt_c, m, n) if fmt_c is not FP32 else None
    seed = rng.getrandbits(32)
    ref = gemm(a, fmt_a, b, fmt_b, c, fmt_c, mode, seed)
    fast = gemm(a, fmt_a, b, fmt_b, c, fmt_c, mode, seed, flags=False)
    assert fast.c == ref.c


def _store(mem, addr, row_stride, col_stride, size, values):
    for r, row in enumerate(values):
        for c, v in enumerate(row):
            mem.store_bytes(addr + r * row_stride + c * col_stride, int(v).to_bytes(size, "little"))


@pytest.mark.parametrize("seed", range(6))
def test_random_shapes_against_float64(seed):
    """Ragged shapes, BF16 and CFloat8 in, FP32 out, transposed B (strides swapped); the result is
    within the bound of K sequential FP32 roundings of numpy's float64 product."""
    rng = random.Random(seed)
    cfg = preset("d1")
    model = MatrixModel(cfg)
    m, n, k = rng.randrange(1, 19), rng.randrange(1, 19), rng.randrange(1, 70)
    fa = rng.choice([FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152])
    fb = rng.choice([FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152])
    bias_a, bias_b = rng.randrange(0, 20), rng.randrange(0, 30)
    fmt_a, fmt_b = float_format(fa, bias_a), float_format(fb, bias_b)
    sa, sb = 2 if fa is FpFormat.BF16 else 1, 2 if fb is FpFormat.BF16 else 1
    a, b = rand_codes(rng, fmt_a, m, k), rand_codes(rng, fmt_b, k, n)
    mem = ByteMemory(cfg.node.sram.size_bytes)
    _store(mem, 0x0, k * sa, sa, sa, a)
    # B stored transposed (N x K, row-major): element (kk, j) at j * K + kk.
    _store(mem, 0x10000, sb, k * sb, sb, b)
    desc = {
        "a": {"addr": 0, "row_stride": k * sa, "col_stride": sa, "format": fa, "bias": bias_a},
        "b": {"addr": 0x10000, "row_stride": sb, "col_stride": k * sb, "format": fb, "bias": bias_b},
        "c": {"addr": 0x20000, "row_stride": n * 4, "col_stride": 4, "format": FpFormat.FP32},
        "m": m,
        "n": n,
        "k": k,
        "round": RoundMode.RNE,
    }
    res = model.run(MATRIX_CODEC.pack(desc), mem)
    c = np.frombuffer(mem.load_bytes(0x20000, m * n * 4), dtype=np.float32).reshape(m, n).astype(np.float64)
    a64, b64 = decode_array(fmt_a, np.array(a)), decode_array(fmt_b, np.array(b))
    exact = a64 @ b64
    bound = k * 2.0**-24 * (np.abs(a64) @ np.abs(b64)) + k * 2.0**-149
    assert np.all(np.abs(c - exact) <= bound), f"max error {np.max(np.abs(c - exact) - bound)} over the bound"
    assert res.macs == m * n * k
    assert model.ideal_cycles(MATRIX_CODEC.pack(desc)) == -(-m * n * k // 256)


def test_bf16_output_is_the_rounded_fp32_result():
    rng = random.Random(7)
    a, b = rand_codes(rng, BF16, 5, 9), rand_codes(rng, BF16, 9, 4)
    f32 = gemm(a, BF16, b, BF16).c
    out = gemm(a, BF16, b, BF16, None, BF16, RoundMode.RNE).c
    assert out == [[f32_to_bf16(x)[0] for x in row] for row in f32]
    codes, _ = convert_f32_array(np.array(f32, dtype=np.uint32), BF16)
    assert codes.tolist() == out


def test_stochastic_output_is_seeded():
    rng = random.Random(8)
    a, b = rand_codes(rng, BF16, 6, 9), rand_codes(rng, BF16, 9, 6)
    one = gemm(a, BF16, b, BF16, None, BF16, RoundMode.STOCHASTIC, seed=5).c
    assert one == gemm(a, BF16, b, BF16, None, BF16, RoundMode.STOCHASTIC, seed=5).c
    assert one != gemm(a, BF16, b, BF16, None, BF16, RoundMode.STOCHASTIC, seed=6).c


def test_stochastic_word_is_a_function_of_seed_and_position():
    """The word of C[i][j] does not depend on which elements are converted before it (so on the
    order the hardware finishes tiles in): a sub-block of C gets the words of its positions."""
    rng = random.Random(9)
    a, b = rand_codes(rng, BF16, 6, 5), rand_codes(rng, BF16, 5, 7)
    f32 = gemm(a, BF16, b, BF16).c
    out = gemm(a, BF16, b, BF16, None, BF16, RoundMode.STOCHASTIC, seed=77).c
    rand = np.array([[sr_word(77, i, j) for j in range(7)] for i in range(6)], dtype=np.int64)
    codes, _ = convert_f32_array(np.array(f32, dtype=np.uint32), BF16, RoundingMode.STOCHASTIC, rand)
    assert codes.tolist() == out
    assert (sr_words(77, 6, 7) == rand).all()
    # fmix32 test vectors (MurmurHash3's finaliser) and the zero substitute.
    assert fmix32(0) == 0 and fmix32(1) == 0x514E28B7
    assert sr_word(0, 0, 0) == 1


def test_stochastic_words_are_uniform():
    """The rounder's 16 bits of the words of a 128 x 128 C: each bit set about half the time."""
    w = sr_words(12345, 128, 128) & 0xFFFF
    for bit in range(16):
        assert abs(((w >> bit) & 1).mean() - 0.5) < 0.02, bit
    assert len(np.unique(w)) > 0.7 * w.size


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="TatamiConfig"):
        MatrixModel("d1")
