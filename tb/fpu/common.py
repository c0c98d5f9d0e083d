"""Shared parts of the FPU testbenches: operation specs (stimulus + golden model), the TestFloat
vector reader, and a cocotb driver that streams operations through a unit at one per cycle.

A *spec* names one operation and format: ``make(rng, n)`` draws ``n`` edge-biased operations (dicts
of the unit's op layout fields) and ``model(op, rand)`` gives the golden ``(result, flags)`` from
:mod:`tatami.sim.numerics`. ``rand`` is the random word the unit used (conversions only).
"""

from __future__ import annotations

import functools
import gzip
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tatami.hw.common.codec import Codec
from tatami.hw.fpu.layouts import RESULT, FpFormat
from tatami.sim import numerics as nm
from tb.numerics.stimulus import f32_around, f32_random

VECTORS = Path(__file__).resolve().parent.parent / "data" / "testvectors" / "softfloat-riscv"
RESULT_CODEC = Codec(RESULT)
MASK32 = 0xFFFFFFFF


# -- formats ------------------------------------------------------------------------------------------


@functools.cache
def fmt_of(code: int, bias: int = 0) -> nm.FloatFormat:
    """The golden model's format for an :class:`FpFormat` code and a bias."""
    code = code if isinstance(code, FpFormat) else FpFormat(code)
    if code is FpFormat.FP32:
        return nm.FP32
    if code is FpFormat.BF16:
        return nm.BF16
    return {
        FpFormat.CF8_143: nm.cfloat8_143,
        FpFormat.CF8_152: nm.cfloat8_152,
        FpFormat.CF16_SHP: nm.cfloat16_shp,
        FpFormat.CF16_UHP: nm.cfloat16_uhp,
    }[code](bias)


def cf8_fmt(layout: int, bias: int) -> nm.FloatFormat:
    return fmt_of(FpFormat.CF8_152 if layout else FpFormat.CF8_143, bias)


# -- stimulus -----------------------------------------------------------------------------------------


def _u(a):
    return [int(x) for x in a]


def f32_pairs(rng: np.random.Generator, n):
    """Edge-biased FP32 pairs: independent draws, plus ``b`` derived from ``a`` (near-cancellation,
    exponent gaps around the precision for ties and sticky bits)."""
    a = f32_random(rng, n).astype(np.int64)
    b = f32_random(rng, n).astype(np.int64)
    kind = rng.integers(0, 8, n)
    flip = a ^ (1 << 31)
    near = flip ^ rng.integers(0, 8, n)  # -a with a few low bits changed: massive cancellation
    exp_a = (a >> 23) & 0xFF
    gap = rng.integers(22, 28, n)
    shifted = (a & (1 << 31)) ^ (rng.integers(0, 2, n) << 31) | (np.clip(exp_a - gap, 0, 254) << 23)
    shifted |= rng.integers(0, 1 << 23, n) & np.where(rng.integers(0, 2, n) == 1, 0, 0x7FFFFF)
    b = np.select([kind == 1, kind == 2, kind == 3], [near, shifted, flip], b)
    return _u(a), _u(b & MASK32)


def bf16_codes(rng: np.random.Generator, n):
    """Edge-biased BF16 codes (the upper halves of edge-biased FP32 codes, plus uniform codes)."""
    hi = f32_random(rng, n).astype(np.int64) >> 16
    uni = rng.integers(0, 1 << 16, n)
    return _u(np.where(rng.integers(0, 4, n) == 0, uni, hi))


def biases(rng: np.random.Generator, n):
    """Biases in 0..63, with the extremes and the common 7/15 over-represented."""
    pick = rng.integers(0, 6, n)
    return _u(np.select([pick == 0, pick == 1, pick == 2, pick == 3], [0, 63, 7, 15], rng.integers(0, 64, n)))


def _product_bits(a, b, fa=nm.FP32, fb=nm.FP32):
    """FP32 encoding of ``a * b`` (nearest), for building addends that cancel the product."""
    x = fa.to_float(a) * fb.to_float(b)
    with np.errstate(over="ignore", invalid="ignore"):
        return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def _cancelling(rng, products, n, acc):
    """Accumulators: mostly ``acc``, else ``-product`` perturbed in its last bits."""
    kind = rng.integers(0, 4, n)
    tweak = rng.integers(0, 16, n)
    out = []
    for i in range(n):
        if kind[i] == 0 and (products[i] >> 23) & 0xFF != 0xFF:
            out.append((products[i] ^ (1 << 31)) ^ int(tweak[i]))
        else:
            out.append(acc[i])
    return out


# -- specs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    name: str
    make: Callable  # (np.random.Generator, n) -> list of op dicts
    model: Callable  # (op dict, rand) -> (result, flags)


def _add_ops(sub):
    def make(rng, n):
        a, b = f32_pairs(rng, n)
        return [{"a": x, "b": y, "sub": sub} for x, y in zip(a, b)]

    return make


def _mul_ops(rng, n):
    a, b = f32_pairs(rng, n)
    return [{"a": x, "b": y} for x, y in zip(a, b)]


def _fma_ops(rng, n):
    a, b = f32_pairs(rng, n)
    c = _u(f32_random(rng, n))
    c = _cancelling(rng, [_product_bits(x, y) for x, y in zip(a, b)], n, c)
    neg = rng.integers(0, 4, (n, 2))
    return [
        {"a": x, "b": y, "c": z, "negate_product": int(p == 1), "negate_addend": int(q == 1)}
        for x, y, z, (p, q) in zip(a, b, c, neg)
    ]


def _fma_model(op, rand):
    a = op["a"] ^ (op["negate_product"] << 31)
    c = op["c"] ^ (op["negate_addend"] << 31)
    return nm.f32_fma(a, op["b"], c)


def _bf16_ops(accumulate):
    def make(rng, n):
        a, b = bf16_codes(rng, n), bf16_codes(rng, n)
        ops = [{"a": x, "b": y} for x, y in zip(a, b)]
        if accumulate:
            acc = _u(f32_random(rng, n))
            acc = _cancelling(rng, [_product_bits(x, y, nm.BF16, nm.BF16) for x, y in zip(a, b)], n, acc)
            for op, z in zip(ops, acc):
                op["acc"] = z
        return ops

    return make


def _cf8_ops(accumulate, layouts=None):
    def make(rng, n):
        a, b = _u(rng.integers(0, 256, n)), _u(rng.integers(0, 256, n))
        la = _u(rng.integers(0, 2, n)) if layouts is None else [layouts[0]] * n
        lb = _u(rng.integers(0, 2, n)) if layouts is None else [layouts[1]] * n
        ba, bb = biases(rng, n), biases(rng, n)
        ops = [
            {"a": a[i], "b": b[i], "layout_a": la[i], "layout_b": lb[i], "bias_a": ba[i], "bias_b": bb[i]}
            for i in range(n)
        ]
        if accumulate:
            prods = [
                _product_bits(
                    o["a"], o["b"], cf8_fmt(o["layout_a"], o["bias_a"]), cf8_fmt(o["layout_b"], o["bias_b"])
                )
                for o in ops
            ]
            # Small accumulators too, so that products and sums land in FP32's subnormal range.
            acc = _u(f32_random(rng, n))
            acc = _cancelling(rng, prods, n, acc)
            for op, z in zip(ops, acc):
                op["acc"] = z
        return ops

    return make


def _cf8_model(accumulate):
    def model(op, rand):
        fa, fb = cf8_fmt(op["layout_a"], op["bias_a"]), cf8_fmt(op["layout_b"], op["bias_b"])
        if accumulate:
            return nm.cf8_mac_f32(op["acc"], op["a"], fa, op["b"], fb)
        return nm.cf8_mul_f32(op["a"], fa, op["b"], fb)

    return model


def source_codes(rng, src, n, dst=None, dst_bias=None):
    """Edge-biased encodings of format ``src`` (for FP32: around the destination's range too)."""
    src = FpFormat(src)
    if src is FpFormat.FP32:
        wide = f32_random(rng, n)
        if dst is None:
            return _u(wide)
        around = f32_around(fmt_of(dst, dst_bias if dst_bias is not None else 0), rng, n)
        return _u(np.where(rng.integers(0, 2, n) == 1, wide, around))
    if src is FpFormat.BF16:
        return bf16_codes(rng, n)
    return _u(rng.integers(0, 1 << fmt_of(src, 0).width, n))


def _convert_ops(src, dst):
    def make(rng, n):
        sb, db = biases(rng, n), biases(rng, n)
        modes = rng.choice([0, 1, 5], n)
        sat = rng.integers(0, 2, n)
        if src == FpFormat.FP32 and dst not in (FpFormat.FP32, FpFormat.BF16):
            # Values around the destination's range need one bias per batch; use a few batches.
            values = []
            for chunk in range(8):
                lo, hi = chunk * n // 8, (chunk + 1) * n // 8
                if hi == lo:
                    continue
                db[lo:hi] = [db[lo]] * (hi - lo)
                values += source_codes(rng, src, hi - lo, dst, db[lo])
        else:
            values = source_codes(rng, src, n, dst, 127)
        return [
            {
                "value": values[i],
                "src": src.value,
                "src_bias": sb[i],
                "dst": dst.value,
                "dst_bias": db[i],
                "mode": int(modes[i]),
                "saturate": int(sat[i]),
            }
            for i in range(n)
        ]

    return make


def convert_model(op, rand):
    src, dst = fmt_of(op["src"], op["src_bias"]), fmt_of(op["dst"], op["dst_bias"])
    return nm.convert(op["value"], src, dst, nm.RoundingMode(op["mode"]), rand, bool(op["saturate"]))


F = FpFormat
LAYOUT_PAIRS = [(0, 0), (0, 1), (1, 0), (1, 1)]
#: The conversions the issue asks for (any pair works; these are the ones tested by name).
CONVERSIONS = [
    (F.FP32, F.BF16),
    (F.BF16, F.FP32),
    (F.FP32, F.CF8_143),
    (F.FP32, F.CF8_152),
    (F.CF8_143, F.FP32),
    (F.CF8_152, F.FP32),
    (F.BF16, F.CF8_143),
    (F.BF16, F.CF8_152),
    (F.CF8_143, F.BF16),
    (F.CF8_152, F.BF16),
    (F.FP32, F.CF16_SHP),
    (F.FP32, F.CF16_UHP),
    (F.CF16_SHP, F.FP32),
    (F.CF16_UHP, F.FP32),
]


def _convert_any(rng, n):
    """Random pairs of any source and destination (also those not named in CONVERSIONS)."""
    ops = []
    for k in range(4):
        s, d = FpFormat(int(rng.integers(0, 6))), FpFormat(int(rng.integers(0, 6)))
        ops += _convert_ops(s, d)(rng, n // 4 + (n % 4 if k == 3 else 0))  # exactly n in all
    return ops


#: Every other ordered pair of formats (including a format into itself with another bias): the
#: directions CONVERSIONS does not name, e.g. CFloat8 <-> CFloat16, BF16 <-> CFloat16, SHP <-> UHP.
OTHER_CONVERSIONS = [(s, d) for s in FpFormat for d in FpFormat if (s, d) not in CONVERSIONS]


def _convert_each(pairs):
    """Every pair in ``pairs`` in each batch (``n // len(pairs)`` cases each, the rest to the first)."""

    def make(rng, n):
        ops = []
        for k, (s, d) in enumerate(pairs):
            ops += _convert_ops(s, d)(rng, n // len(pairs) + (n % len(pairs) if k == 0 else 0))
        return ops

    return make


SPECS = {
    s.name: s
    for s in [
        Spec("add", _add_ops(0), lambda op, r: nm.f32_add(op["a"], op["b"])),
        Spec("sub", _add_ops(1), lambda op, r: nm.f32_sub(op["a"], op["b"])),
        Spec("mul", _mul_ops, lambda op, r: nm.f32_mul(op["a"], op["b"])),
        Spec("fma", _fma_ops, _fma_model),
        Spec("bf16_mul", _bf16_ops(False), lambda op, r: nm.bf16_mul_f32(op["a"], op["b"])),
        Spec("bf16_mac", _bf16_ops(True), lambda op, r: nm.bf16_mac_f32(op["acc"], op["a"], op["b"])),
        Spec("cf8_mul", _cf8_ops(False), _cf8_model(False)),
        Spec("cf8_mac", _cf8_ops(True), _cf8_model(True)),
        *[
            Spec(f"cf8_mul_{x}{y}", _cf8_ops(False, (x, y)), _cf8_model(False))
            for x in (0, 1)
            for y in (0, 1)
        ],
        *[Spec(f"cf8_mac_{x}{y}", _cf8_ops(True, (x, y)), _cf8_model(True)) for x in (0, 1) for y in (0, 1)],
        *[Spec(f"cvt_{s.name}_{d.name}".lower(), _convert_ops(s, d), convert_model) for s, d in CONVERSIONS],
        Spec("cvt_any", _convert_any, convert_model),
        Spec("cvt_other", _convert_each(OTHER_CONVERSIONS), convert_model),
    ]
}


# -- TestFloat vectors --------------------------------------------------------------------------------


def read_vectors(stem, limit=0, seed=0):
    """Fields of every line of a vector file (or a seeded sample of ``limit`` lines)."""
    with gzip.open(VECTORS / f"{stem}.tv.gz", "rt") as f:
        rows = [[int(x, 16) for x in line.split()] for line in f if line.strip()]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


# -- cocotb driver ------------------------------------------------------------------------------------


async def stream(dut, words, *, stall=0.0, rng=None, latency=None):
    """Send packed operations ``words`` one per cycle (``o.ready`` low with probability ``stall``,
    which stalls the whole pipeline) and return the packed results in order. When ``latency`` is
    given, check that each result leaves exactly ``latency`` advancing cycles after its operation."""
    from cocotb.triggers import FallingEdge

    rng = rng or random.Random()
    n = len(words)
    out, sent_at, adv = [], [], 0
    i_valid, i_payload = dut.i__valid, dut.i__payload
    o_valid, o_payload, o_ready = dut.o__valid, dut.o__payload, dut.o__ready
    idx, cycles, limit = 0, 0, int(n / (1 - min(stall, 0.9)) * 1.5) + 200
    while len(out) < n:
        await FallingEdge(dut.clk)
        cycles += 1
        if cycles > limit:
            raise AssertionError(f"only {len(out)} of {n} results after {cycles} cycles")
        ready = 0 if stall and rng.random() < stall else 1
        if ready and o_valid.value:
            if latency is not None and adv - sent_at[len(out)] != latency:
                raise AssertionError(
                    f"result {len(out)} left {adv - sent_at[len(out)]} advancing cycles after its "
                    f"operation, expected {latency}"
                )
            out.append(int(o_payload.value))
        o_ready.value = ready
        if idx < n:
            i_valid.value = 1
            i_payload.value = words[idx]
            if ready:
                sent_at.append(adv)
                idx += 1
        else:
            i_valid.value = 0
        adv += ready
    await FallingEdge(dut.clk)
    dut.o__ready.value = 0
    return out


def mismatches(ops, expected, got, first, mask=0x3F, limit=8):
    """Number of results that differ from ``expected``; describes the first ``limit`` in ``first``."""
    count = 0
    for op, (er, ef), word in zip(ops, expected, got):
        gr, gf = word & MASK32, word >> 32
        if gr != er or (gf & mask) != (ef & mask):
            count += 1
            if len(first) < limit:
                first.append(
                    f"  {op}: expected {er:08X} flags {ef & mask:02X}, got {gr:08X} flags {gf & mask:02X}"
                )
    return count


def record(dut, **fields):
    """Append one run's counts as a JSON line to ``TATAMI_FPU_RECORD`` (when set): the long
    sweeps use it to fill the ``long_runs`` section of ``docs/results/fpu.json``."""
    import json
    import os

    path = os.environ.get("TATAMI_FPU_RECORD")
    if not path:
        return
    import cocotb

    # ``run_seed`` reruns the whole simulation (``--seed``); ``seed`` is this test's own draw.
    run_seed = os.environ.get("COCOTB_RANDOM_SEED")
    row = {"unit": dut._name, "sim": cocotb.SIM_NAME, "run_seed": run_seed and int(run_seed), **fields}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def compare(ops, expected, got, label, mask=0x3F, limit=8):
    """Raise with the first mismatches (operation, expected, got) if any result differs."""
    bad = []
    for op, (er, ef), word in zip(ops, expected, got):
        gr, gf = word & MASK32, word >> 32
        if gr != er or (gf & mask) != (ef & mask):
            bad.append((op, er, ef & mask, gr, gf & mask))
    if bad:
        lines = "\n".join(
            f"  {op}: expected {er:08X} flags {ef:02X}, got {gr:08X} flags {gf:02X}"
            for op, er, ef, gr, gf in bad[:limit]
        )
        raise AssertionError(f"{label}: {len(bad)} of {len(got)} results differ; first:\n{lines}")
    return len(got)


# -- cocotb test bodies shared by the unit testbenches ------------------------------------------------


class Bench:
    """Drives one unit: packs operations with the unit's own layout, streams them, computes the
    golden results (with the LFSR words a conversion unit used) and compares."""

    def __init__(self, dut, op_layout, *, lfsr_seed=None):
        from tatami.sim.common.models import LfsrModel

        self.dut = dut
        self.codec = Codec(op_layout)
        self.lfsr = LfsrModel(32, 16, seed=lfsr_seed) if lfsr_seed is not None else None
        self.seed = int(random.getrandbits(32))
        self.np_rng = np.random.default_rng(self.seed)
        self.rng = random.Random(self.seed)

    async def start(self):
        from cocotb.triggers import FallingEdge

        from tatami.sim.cocotb_env import clock_and_reset

        dut = self.dut
        dut.i__valid.value = 0
        dut.o__ready.value = 0
        dut.flags_clear.value = 0
        if self.lfsr is not None:
            dut.seed_load.value = 0
        await clock_and_reset(dut)
        if self.lfsr is not None:
            seed = self.rng.getrandbits(32)
            await FallingEdge(dut.clk)
            dut.seed.value = seed
            dut.seed_load.value = 1
            await FallingEdge(dut.clk)
            dut.seed_load.value = 0
            self.lfsr.load(seed)

    def rands(self, n):
        if self.lfsr is None:
            return [0] * n
        out = []
        for _ in range(n):
            out.append(self.lfsr.state)
            self.lfsr.advance()
        return out

    async def run_ops(self, ops, model, label, *, stall=0.0, latency=None, mask=0x3F):
        words = [self.codec.pack(op) for op in ops]
        got = await stream(self.dut, words, stall=stall, rng=self.rng, latency=latency)
        rands = self.rands(len(ops))
        expected = [model(op, r) for op, r in zip(ops, rands)]
        return compare(ops, expected, got, f"{label} (seed {self.seed})", mask=mask)

    async def run_spec(self, name, n, *, stall=0.0, latency=None, mask=0x3F, batch=50_000):
        """``n`` cases of spec ``name``, drawn and streamed in batches of ``batch`` (one simulation,
        bounded memory). Counts every mismatch, records the run (:func:`record`), then raises with
        the first mismatches if any."""
        import time

        spec = SPECS[name]
        start, done, bad, first, modes, pairs = time.perf_counter(), 0, 0, [], {}, {}
        while done < n:
            ops = spec.make(self.np_rng, min(batch, n - done))
            if not ops:
                raise RuntimeError(f"spec {name} made no cases for a batch of {min(batch, n - done)}")
            words = [self.codec.pack(op) for op in ops]
            got = await stream(self.dut, words, stall=stall, rng=self.rng, latency=latency)
            rands = self.rands(len(ops))
            expected = [spec.model(op, r) for op, r in zip(ops, rands)]
            bad += mismatches(ops, expected, got, first, mask=mask)
            for op in ops:
                if "mode" in op:  # a conversion: count per rounding mode and per pair of formats
                    modes[op["mode"]] = modes.get(op["mode"], 0) + 1
                    pair = f"{FpFormat(op['src']).name}->{FpFormat(op['dst']).name}"
                    pairs[pair] = pairs.get(pair, 0) + 1
            done += len(ops)
        per_mode = {nm.RoundingMode(k).name: v for k, v in sorted(modes.items())}
        record(
            self.dut,
            spec=name,
            cases=done,
            mismatches=bad,
            seed=self.seed,
            stall=stall,
            seconds=round(time.perf_counter() - start, 1),
            **({"cases_per_mode": per_mode} if modes else {}),
            **({"cases_per_pair": dict(sorted(pairs.items()))} if len(pairs) > 1 else {}),
        )
        if bad:
            head = f"{name} (seed {self.seed}): {bad} of {done} results differ; first:\n"
            raise AssertionError(head + "\n".join(first))
        return done

    async def run_vectors(self, stem, to_op, limit=0):
        """Every line (or a sample) of a TestFloat file: results and the five IEEE flags."""
        rows = read_vectors(stem, limit, self.seed)
        ops = [to_op(r) for r in rows]
        words = [self.codec.pack(op) for op in ops]
        got = await stream(self.dut, words)
        expected = [(r[-2], r[-1]) for r in rows]
        self.rands(len(ops))
        return compare(ops, expected, got, f"{stem} (seed {self.seed})", mask=nm.IEEE_FLAGS_MASK)

    async def check_sticky(self, ops, model):
        """The flag register is the OR of every delivered result's flags; a clear empties it; flags
        of a result delivered in the clearing cycle are kept."""
        from cocotb.triggers import FallingEdge, ReadOnly

        dut = self.dut
        await self.pulse_clear()
        words = [self.codec.pack(op) for op in ops]
        got = await stream(dut, words)
        rands = self.rands(len(ops))
        expected = [model(op, r) for op, r in zip(ops, rands)]
        compare(ops, expected, got, "sticky")
        want = 0
        for _, f in expected:
            want |= f
        await ReadOnly()
        assert int(dut.flags.value) == want, f"sticky flags {int(dut.flags.value):02X}, expected {want:02X}"
        await self.pulse_clear()
        await ReadOnly()
        assert int(dut.flags.value) == 0, "flags_clear did not clear the sticky flags"
        # Clear in the cycle a flagged result is delivered: that result's flags survive.
        flagged = [(op, e) for op, e in zip(ops, expected) if e[1]]
        assert flagged, "the sticky test needs an operation that raises a flag"
        op, (_, f) = flagged[0]
        await FallingEdge(dut.clk)
        dut.i__valid.value, dut.i__payload.value, dut.o__ready.value = 1, self.codec.pack(op), 1
        await FallingEdge(dut.clk)
        dut.i__valid.value = 0
        while not dut.o__valid.value:
            await FallingEdge(dut.clk)
        dut.flags_clear.value = 1
        await FallingEdge(dut.clk)
        dut.flags_clear.value = 0
        dut.o__ready.value = 0
        self.rands(1)
        await ReadOnly()
        assert int(dut.flags.value) == f, (
            f"flags {int(dut.flags.value):02X} after clear+result, expected {f:02X}"
        )

    async def pulse_clear(self):
        from cocotb.triggers import FallingEdge

        await FallingEdge(self.dut.clk)
        self.dut.flags_clear.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.flags_clear.value = 0


def long_env(**knobs):
    """Environment of a long (``-m long``) sweep: ``TATAMI_<KNOB>`` values, and every run's counts
    appended to ``build/fpu_long/records.jsonl`` (``tatami fpu long-runs`` files them in
    ``docs/results/fpu.json``)."""
    from tatami.sim.harness import build_root

    path = build_root() / "fpu_long" / "records.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return {"TATAMI_FPU_RECORD": str(path), **{f"TATAMI_{k.upper()}": str(v) for k, v in knobs.items()}}


def cases(default):
    """Random cases per spec: ``TATAMI_CASES`` or ``default``."""
    from tatami.sim.cocotb_env import knob

    return knob("cases", default)


def env_for(sim, **knobs):
    """Environment for a launcher: smaller counts on Icarus (``knobs`` give the Icarus values)."""
    if sim == "icarus":
        return {f"TATAMI_{k.upper()}": str(v) for k, v in knobs.items()}
    return {}
