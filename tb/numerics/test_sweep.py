"""Long sweeps (``-m long``): every CFloat bias in every mode against gfloat, and FP32 arithmetic on
millions of random operands against numpy. The default suite covers the same ground on samples."""

import numpy as np
import pytest
from gfloat import RoundMode, round_ndarray

from tatami.sim.numerics import (
    RoundingMode,
    cfloat8_143,
    cfloat8_152,
    cfloat16_shp,
    cfloat16_uhp,
    convert_f32_array,
    decode_array,
    f32_add,
    f32_mul,
)

from .oracles import gfloat_format
from .stimulus import f32_around, f32_random, f32_to_float, float_to_f32

pytestmark = pytest.mark.long


@pytest.fixture(autouse=True)
def only_when_selected(request):
    if "long" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("long sweep: run with -m long")


GFLOAT = {
    RoundingMode.RNE: RoundMode.TiesToEven,
    RoundingMode.RTZ: RoundMode.TowardZero,
    RoundingMode.STOCHASTIC: RoundMode.StochasticFastest,
}


@pytest.mark.parametrize("make", [cfloat8_143, cfloat8_152, cfloat16_shp, cfloat16_uhp])
def test_every_bias_every_mode_against_gfloat(make):
    rng = np.random.default_rng(100)
    for bias in range(64):
        fmt = make(bias)
        bits = np.concatenate([f32_around(fmt, rng, 50_000), f32_random(rng, 10_000)])
        with np.errstate(invalid="ignore"):
            x = f32_to_float(bits).astype(np.float64)
        keep = np.isfinite(x) & (fmt.signed | ~np.signbit(x))
        bits, x = bits[keep], x[keep]
        rand = rng.integers(0, 1 << 16, bits.shape, dtype=np.int64)
        for mode, gmode in GFLOAT.items():
            codes, _ = convert_f32_array(bits, fmt, mode, rand)
            theirs = round_ndarray(gfloat_format(fmt), x, gmode, True, rand, 16)
            np.testing.assert_array_equal(decode_array(fmt, codes), theirs, err_msg=f"{fmt} {mode.name}")


@pytest.mark.parametrize(("model", "op"), [(f32_add, np.add), (f32_mul, np.multiply)], ids=["add", "mul"])
def test_fp32_million_operands_against_numpy(model, op):
    rng = np.random.default_rng(101)
    a, b = f32_random(rng, 1_000_000), f32_random(rng, 1_000_000)
    with np.errstate(all="ignore"):
        expected = float_to_f32(op(f32_to_float(a), f32_to_float(b)))
    for x, y, e in zip(a.tolist(), b.tolist(), expected.tolist()):
        r, _ = model(x, y)
        assert r == e or ((e & 0x7FFFFFFF) > 0x7F800000 and r == 0x7FC00000), f"{x:#010x} {y:#010x}"
