"""Shared parts of the vector unit tests: edge-biased operations (register operands, scalar, mode)
and the golden results from :class:`tatami.sim.datapath.vector.VectorModel`, used by the Amaranth
simulator test and the cocotb bench alike.

An *operation* is a dict of :func:`tatami.hw.datapath.vector.vector_op_layout` fields. The model
runs the operations in order on one :class:`VectorModel` (so the stochastic-rounding words follow
the same LFSR sequence as the unit's): ``a``, ``b``, ``c`` go to ``v1``, ``v2``, ``v3`` and the
instruction is ``op.fmt v3, v1, v2`` with the scalar ``x``.
"""

from __future__ import annotations

import numpy as np

from tatami.hw.common.codec import Codec
from tatami.hw.datapath.vector import vector_op_layout, vector_passes, vector_result_layout
from tatami.isa import VecFormat, VecOp
from tatami.sim.datapath.vector import VectorModel
from tatami.sim.numerics import RoundingMode
from tb.numerics.stimulus import f32_random

F = VecFormat
FLOATS = (F.FP32, F.BF16)
INTS = (F.INT8, F.INT16, F.INT32)
WIDTH = {F.FP32: 32, F.BF16: 16, F.CF8E4: 8, F.CF8E5: 8, F.INT8: 8, F.INT16: 16, F.INT32: 32, F.CF16: 16}
MODES = (RoundingMode.RNE, RoundingMode.RTZ, RoundingMode.STOCHASTIC)

FLOAT_OPS = (
    VecOp.VADD,
    VecOp.VSUB,
    VecOp.VMUL,
    VecOp.VFMA,
    VecOp.VMIN,
    VecOp.VMAX,
    VecOp.VRELU,
    VecOp.VCMPLT,
    VecOp.VCMPEQ,
)
INT_OPS = (*FLOAT_OPS, VecOp.VAND, VecOp.VOR, VecOp.VXOR, VecOp.VSLL, VecOp.VSRL, VecOp.VSRA)
REDUCTIONS = (VecOp.VREDSUM, VecOp.VREDMAX)
PERMUTES = (VecOp.VBCAST, VecOp.VSHUF, VecOp.VTRANS, VecOp.VPAD)

#: The (op, format) pairs of each group the tests cover.
GROUPS = {
    "elementwise": [(o, f) for f in FLOATS for o in FLOAT_OPS] + [(o, f) for f in INTS for o in INT_OPS],
    "reduce": [(o, f) for f in FLOATS + INTS for o in REDUCTIONS],
    "permute": [(o, f) for f in VecFormat for o in PERMUTES],
    "cfloat": [
        (o, f)
        for f in (F.CF8E4, F.CF8E5, F.CF16)
        for o in (VecOp.VMIN, VecOp.VMAX, VecOp.VRELU, VecOp.VCMPLT, VecOp.VCMPEQ, VecOp.VREDMAX)
    ],
    "convert": [(VecOp(VecOp.VCVT_F32 + d), s) for s in VecFormat for d in VecFormat],
}


def groups(cfg) -> dict:
    """:data:`GROUPS` without the CFloat16 conversions when the config has no CFloat16."""
    if cfg.node.fpu.cf16:
        return GROUPS
    out = dict(GROUPS)
    out["convert"] = [(o, s) for o, s in GROUPS["convert"] if s is not F.CF16 and o is not VecOp.VCVT_CF16]
    out["cfloat"] = [(o, s) for o, s in GROUPS["cfloat"] if s is not F.CF16]
    return out


def _elements(rng: np.random.Generator, fmt: VecFormat, n: int) -> list[int]:
    w = WIDTH[fmt]
    if fmt is F.FP32:
        return [int(x) for x in f32_random(rng, n)]
    if fmt is F.BF16:
        hi = f32_random(rng, n).astype(np.int64) >> 16
        uni = rng.integers(0, 1 << 16, n)
        return [int(x) for x in np.where(rng.integers(0, 4, n) == 0, uni, hi)]
    if fmt in INTS:
        edge = np.array([0, 1, (1 << w) - 1, 1 << (w - 1), (1 << (w - 1)) - 1, 2, w - 1, w], dtype=np.int64)
        uni = rng.integers(0, 1 << w, n, dtype=np.int64)
        return [int(x) for x in np.where(rng.integers(0, 3, n) == 0, rng.choice(edge, n), uni)]
    # CFloat: uniform codes, with +-0 and equal pairs often enough to matter
    uni = rng.integers(0, 1 << w, n)
    edge = np.array([0, 1 << (w - 1), 1, (1 << (w - 1)) | 1, (1 << (w - 1)) - 1, (1 << w) - 1])
    return [int(x) for x in np.where(rng.integers(0, 4, n) == 0, rng.choice(edge, n), uni)]


def _pack(elems, w):
    out = 0
    for i, e in enumerate(elems):
        out |= (e & ((1 << w) - 1)) << (i * w)
    return out


def make_ops(cfg, rng: np.random.Generator, pairs, n: int) -> list[dict]:
    """``n`` operations drawn from ``pairs`` ((op, fmt)), with edge-biased registers: for float
    formats, some lanes of ``b`` are ``-a`` or ``a`` with low bits changed (cancellation, ties,
    equal and signed-zero compares), some lanes of ``c`` cancel the product."""
    vlen = cfg.node.vector.vlen_bits
    ops = []
    for _ in range(n):
        op, fmt = pairs[int(rng.integers(0, len(pairs)))]
        w = WIDTH[fmt]
        lanes = vlen // w
        a, b, c = (_elements(rng, fmt, lanes) for _ in range(3))
        if fmt in FLOATS:
            sign = 1 << (w - 1)
            for i in range(lanes):
                kind = int(rng.integers(0, 6))
                if kind == 0:
                    b[i] = a[i] ^ sign ^ int(rng.integers(0, 4))
                elif kind == 1:
                    b[i] = a[i] ^ int(rng.integers(0, 2)) * sign
                elif kind == 2:
                    c[i] = a[i] ^ sign
                    b[i] = (127 << (w - 9)) | int(rng.integers(0, 2))  # 1.0 or just above
        x = int(rng.integers(0, 1 << 32))
        if op is VecOp.VTRANS:
            x = 1 << int(rng.integers(0, lanes.bit_length()))
        elif op is VecOp.VPAD:
            x = int(rng.integers(0, lanes + 2))
        elif op is VecOp.VSHUF:
            b = [int(v) % lanes if rng.integers(0, 2) else int(v) for v in b]
        ops.append(
            {
                "op": op,
                "fmt": fmt,
                "mode": int(MODES[int(rng.integers(0, 3))]),
                "cf8e4_bias": int(rng.integers(0, 64)),
                "cf8e5_bias": int(rng.integers(0, 64)),
                "cf16_bias": int(rng.integers(0, 64)),
                "x": x,
                "a": _pack(a, w),
                "b": _pack(b, w),
                "c": _pack(c, w),
            }
        )
    return ops


class Golden:
    """The model run in operation order: :meth:`__call__` gives ``(vd, flags)``."""

    def __init__(self, cfg, seed: int = 1):
        self.model = VectorModel(cfg, seed=seed)

    def __call__(self, op: dict) -> tuple[int, int]:
        v = self.model
        v.mode = RoundingMode(int(op["mode"]))
        v.cf8e4_bias, v.cf8e5_bias, v.cf16_bias = op["cf8e4_bias"], op["cf8e5_bias"], op["cf16_bias"]
        v.regs[1], v.regs[2], v.regs[3] = op["a"], op["b"], op["c"]
        v.flags = 0
        v.execute(VecOp(op["op"]), VecFormat(op["fmt"]), 3, 1, 2, op["x"])
        return v.regs[3], int(v.flags)


class Codecs:
    def __init__(self, cfg):
        self.op = Codec(vector_op_layout(cfg))
        self.result = Codec(vector_result_layout(cfg))

    def pack(self, op: dict) -> int:
        return self.op.pack(op)

    def unpack(self, word: int) -> tuple[int, int]:
        r = self.result.unpack(word)
        return r["result"], _flags_int(r["flags"])


def _flags_int(flags) -> int:
    if isinstance(flags, int):
        return flags
    names = ("inexact", "underflow", "overflow", "infinite", "invalid", "denormal")
    return sum(int(flags[n]) << i for i, n in enumerate(names))


def describe(op: dict, expected, got) -> str:
    w = WIDTH[VecFormat(op["fmt"])]
    digits = w // 4
    fields = ", ".join(
        f"{k}={op[k].name if hasattr(op[k], 'name') else op[k]}" for k in ("op", "fmt", "mode", "x")
    )

    def els(v):
        return " ".join(f"{(v >> (i * w)) & ((1 << w) - 1):0{digits}x}" for i in range(128 // w))

    return (
        f"  {fields}\n    a {els(op['a'])}\n    b {els(op['b'])}\n    c {els(op['c'])}\n"
        f"    expected {els(expected[0])} flags {expected[1]:02x}\n"
        f"    got      {els(got[0])} flags {got[1]:02x}"
    )


def compare(ops, expected, got, label, limit=4):
    bad = [(op, e, g) for op, e, g in zip(ops, expected, got) if e != g]
    if bad:
        text = "\n".join(describe(*b) for b in bad[:limit])
        raise AssertionError(f"{label}: {len(bad)} of {len(got)} results differ; first:\n{text}")
    return len(got)


# -- cocotb driver ------------------------------------------------------------------------------------


def passes_of(cfg, ops) -> list[int]:
    """The cycles each operation holds the unit's input (:func:`vector_passes`)."""
    return [vector_passes(cfg, op["op"], op["fmt"]) for op in ops]


async def stream_ops(dut, words, *, passes=None, stall=0.0, rng=None, latency=None):
    """Send packed operations back to back (``o.ready`` low with probability ``stall``, which
    stalls the whole unit), each held for its ``passes`` advancing cycles (default 1), and return
    the packed results in order. Checks that ``i.ready`` is high exactly in an operation's last
    pass; with ``latency``, also that each result leaves exactly ``latency`` advancing cycles after
    its last pass. Returns ``(results, cycles)``."""
    import random

    from cocotb.triggers import FallingEdge, ReadOnly

    rng = rng or random.Random()
    n = len(words)
    passes = passes or [1] * n
    out, sent_at, adv = [], [], 0
    total = sum(passes)
    idx, held, cycles, limit = 0, 0, 0, int(total / (1 - min(stall, 0.9)) * 1.5) + 200
    while len(out) < n:
        await FallingEdge(dut.clk)
        cycles += 1
        if cycles > limit:
            raise AssertionError(f"only {len(out)} of {n} results after {cycles} cycles")
        ready = 0 if stall and rng.random() < stall else 1
        if ready and dut.o__valid.value:
            if latency is not None and adv - sent_at[len(out)] != latency:
                raise AssertionError(
                    f"result {len(out)} left {adv - sent_at[len(out)]} advancing cycles after its "
                    f"operation, expected {latency}"
                )
            out.append(int(dut.o__payload.value))
        dut.o__ready.value = ready
        if idx < n:
            dut.i__valid.value = 1
            dut.i__payload.value = words[idx]
            await ReadOnly()
            want = ready and held == passes[idx] - 1
            if int(dut.i__ready.value) != want:
                raise AssertionError(
                    f"operation {idx}: i.ready {int(dut.i__ready.value)} in pass {held} of "
                    f"{passes[idx]} (o.ready {ready})"
                )
            if ready:
                held += 1
                if held == passes[idx]:
                    sent_at.append(adv)
                    idx, held = idx + 1, 0
        else:
            dut.i__valid.value = 0
        adv += ready
    await FallingEdge(dut.clk)
    dut.o__ready.value = 0
    return out, cycles
