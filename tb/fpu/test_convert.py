"""Convert: the TestFloat f32->bf16 (RNE, RTZ) and bf16->f32 vectors (a sample on Icarus); every
named conversion and random pairs of formats in every rounding mode, with run-time biases, against
the golden model fed the same LFSR words as the hardware; stochastic rounding statistics; stalls,
latency and the sticky flags.

Stochastic rounding is checked on the RTL itself: ``TATAMI_SR_COUNT`` conversions (20,000 by default,
10^6 in the long test) of one value must round up with probability equal to the discarded fraction
(within 5 sigma) and average to the value; the same statistic computed on the hardware's RNE results
must fail, so the test cannot pass with round-to-nearest.
"""

import math
import os

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.fpu.convert import Convert
from tatami.hw.fpu.layouts import FpFormat
from tatami.sim import numerics as nm
from tatami.sim.cocotb_env import design_config, knob
from tatami.sim.harness import Design
from tb.fpu.common import (
    CONVERSIONS,
    MASK32,
    SPECS,
    Bench,
    cases,
    convert_model,
    env_for,
    fmt_of,
    long_env,
    stream,
)


def bench(dut):
    return Bench(dut, Convert(design_config()).op_layout, lfsr_seed=0)


def _op(value, src, dst, mode=0, src_bias=0, dst_bias=0, saturate=0):
    return {
        "value": value,
        "src": src.value,
        "src_bias": src_bias,
        "dst": dst.value,
        "dst_bias": dst_bias,
        "mode": mode,
        "saturate": saturate,
    }


@cocotb.test()
async def testfloat_vectors(dut):
    b = bench(dut)
    await b.start()
    f32, bf16 = FpFormat.FP32, FpFormat.BF16
    limit = knob("vectors", 0)
    await b.run_vectors("f32_to_bf16_rne", lambda r: _op(r[0], f32, bf16, 0), limit)
    await b.run_vectors("f32_to_bf16_rtz", lambda r: _op(r[0], f32, bf16, 1), limit)
    await b.run_vectors("bf16_to_f32", lambda r: _op(r[0], bf16, f32), limit)


@cocotb.test()
async def random_cases(dut):
    b = bench(dut)
    await b.start()
    latency = design_config().node.fpu.convert_stages
    names = [f"cvt_{s.name}_{d.name}".lower() for s, d in CONVERSIONS] + ["cvt_any"]
    if os.environ.get("TATAMI_SPECS"):  # a subset, for the long runs
        names = os.environ["TATAMI_SPECS"].split(",")
    for name in names:
        await b.run_spec(name, cases(1000), latency=latency)
    await b.run_spec("cvt_any", min(cases(1000), 20000), stall=0.3, latency=latency)


def _sr_statistic(value, src, dst, dst_bias, results):
    """``(ok, message)``: are ``results`` (encodings) stochastic roundings of ``value``?"""
    sf, df = fmt_of(src), fmt_of(dst, dst_bias)
    x = sf.to_fraction(value)
    lo, _ = nm.convert(value, sf, df, nm.RoundingMode.RTZ)
    lo_v = df.to_fraction(lo)
    hi_v = lo_v + (df.to_fraction(lo + 1) - lo_v)  # the next code up (positive values)
    frac = float((x - lo_v) / (hi_v - lo_v))
    n = len(results)
    ups = sum(1 for r in results if r == lo + 1)
    others = sum(1 for r in results if r not in (lo, lo + 1))
    sigma = math.sqrt(n * frac * (1 - frac))
    p_hat = ups / n
    mean = float(lo_v) + p_hat * float(hi_v - lo_v)
    sigma_mean = float(hi_v - lo_v) * math.sqrt(frac * (1 - frac) / n)
    window_bias = n * 2.0**-16  # the 16-bit window may round up less often by < 2^-16
    ok = (
        others == 0
        and abs(ups - n * frac) <= 5 * sigma + window_bias
        and abs(mean - float(x)) <= (5 * sigma_mean + float(hi_v - lo_v) * 2.0**-16)
    )
    return ok, (
        f"{n} conversions of {float(x)!r}: P(up) {p_hat:.5f} vs distance {frac:.5f} (5 sigma "
        f"{5 * sigma / n:.5f}), mean {mean!r} vs value {float(x)!r}, {others} results neither neighbour"
    )


@cocotb.test()
async def stochastic_rounding_statistics(dut):
    b = bench(dut)
    await b.start()
    n = knob("sr_count", 20000)
    cases_ = [
        (0x3F805555, FpFormat.FP32, FpFormat.BF16, 0),  # 16 discarded bits: P(up) = 0x5555 / 2**16
        (0x3FB9999A, FpFormat.FP32, FpFormat.CF8_143, 7),  # 1.45 -> CFloat8 1-4-3: 20 discarded bits
        (0x3F90, FpFormat.BF16, FpFormat.CF8_152, 15),  # 1.125 -> 1-5-2: 5 bits, a tie
    ]
    for number, (value, src, dst, bias) in enumerate(cases_):
        for mode in (5, 0):
            # The first value gets the full count; RNE only has to fail the statistic.
            count = n if mode == 5 and number == 0 else min(n, 20000 if mode == 0 else 100_000)
            ops = [_op(value, src, dst, mode, dst_bias=bias)] * count
            words = [b.codec.pack(op) for op in ops]
            got = await stream(dut, words)
            rands = b.rands(count)
            results = [w & MASK32 for w in got]
            flags = [w >> 32 for w in got]
            # Bit-exact against the model with the same LFSR words (results and flags).
            for op, r, res, fl in zip(ops[:5000], rands, results, flags):
                assert (res, fl) == convert_model(op, r), f"SR conversion {op} rand {r:#x}: {res:#x} {fl:#x}"
            ok, message = _sr_statistic(value, src, dst, bias, results)
            dut._log.info(f"mode {mode}: {message}")
            if mode == 5:
                assert ok, f"stochastic rounding statistics off: {message}"
            else:
                assert not ok, f"the statistic does not tell RNE from stochastic rounding: {message}"


@cocotb.test()
async def sticky_flags(dut):
    b = bench(dut)
    await b.start()
    spec = SPECS["cvt_any"]
    await b.check_sticky(spec.make(b.np_rng, 200), spec.model)


def design(config="d1"):
    cfg = preset(config)
    return Design(f"fpu_convert_{config}", lambda: Convert(cfg), config=cfg, internals=False)


def test_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        Convert(preset("d1"), seed=1 << 40)


def test_convert(cocotb_run, sim):
    cocotb_run(
        design(), "tb.fpu.test_convert", extra_env=env_for(sim, vectors=2000, cases=150, sr_count=3000)
    )


#: Groups of the long sweep (10^6 cases per conversion): which specs each runs.
LONG_GROUPS = {
    "fp32_bf16": ["cvt_fp32_bf16", "cvt_bf16_fp32"],
    "cf8": [f"cvt_{s.name}_{d.name}".lower() for s, d in CONVERSIONS if "CF8" in s.name + d.name],
    "cf16": [f"cvt_{s.name}_{d.name}".lower() for s, d in CONVERSIONS if "CF16" in s.name + d.name],
    "other": ["cvt_other"],  # the 22 other directions, every one in each batch
}


@pytest.mark.long
def test_convert_stochastic_million(cocotb_run, sim):
    if sim != "verilator":
        pytest.skip("the million-conversion statistics run on Verilator")
    cocotb_run(
        design(),
        "tb.fpu.test_convert",
        testcase="stochastic_rounding_statistics",
        extra_env=long_env(sr_count=1_000_000),
    )


@pytest.mark.long
@pytest.mark.parametrize("group", list(LONG_GROUPS))
def test_convert_million(cocotb_run, sim, group):
    if sim != "verilator":
        pytest.skip("the million-case sweep runs on Verilator")
    cocotb_run(
        design(),
        "tb.fpu.test_convert",
        testcase="random_cases",
        extra_env=long_env(cases=1_000_000, specs=",".join(LONG_GROUPS[group])),
    )
