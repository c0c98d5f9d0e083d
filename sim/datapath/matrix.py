"""Bit-exact golden model of the matrix unit: ``C (+)= A x B`` from a matrix descriptor.

The accumulation order (docs/datapath.md, "Matrix unit: accumulation order") is that of the
hardware and does not depend on the unit's ``m x n x k`` step:

- every element ``C[i][j]`` is one FP32 accumulator, started at ``C[i][j]`` widened exactly to FP32
  (``accumulate = 1``) or at +0 (``accumulate = 0``);
- the products ``A[i][kk] * B[kk][j]`` are added to it one at a time in increasing ``kk``, each by a
  **fused** multiply-accumulate (one rounding to nearest-even per product:
  :func:`tatami.sim.numerics.mac_widening`, as the FPU's ``Bf16Mac``/``Cf8Mac`` units do);
- the final FP32 value is written as FP32 or converted with the descriptor's rounding into C's
  format (:func:`tatami.sim.numerics.convert`); for stochastic rounding the random word of element
  ``(i, j)`` is :func:`sr_word` ``(seed, i, j)``, a hash of the seed and the element's position
  (counter-based: it does not depend on the order in which elements are finished, so the RTL can
  convert tiles in its block order and every preset gives the same bits).

A hardware step computes ``k`` consecutive MACs of a chain per output element (a chain of ``k``
fused MAC units); the step changes how fast, not what, so results are the same in every preset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tatami.config import TatamiConfig
from tatami.hw.datapath.descriptors import MATRIX_CODEC, check_matrix, element_bytes
from tatami.hw.fpu.layouts import FpFormat, RoundMode
from tatami.sim.numerics import (
    BF16,
    FP32,
    FloatFormat,
    RoundingMode,
    cfloat8_143,
    cfloat8_152,
    convert,
    convert_f32_array,
    decode_array,
    mac_widening,
)

__all__ = [
    "ByteMemory",
    "MatrixModel",
    "MatrixResult",
    "float_format",
    "fmix32",
    "gemm",
    "sr_word",
    "sr_words",
]

_M32 = 0xFFFFFFFF
_FMIX = (0x85EBCA6B, 0xC2B2AE35)


def fmix32(x: int) -> int:
    """MurmurHash3's 32-bit finaliser (a bijection of 32-bit words)."""
    x ^= x >> 16
    x = (x * _FMIX[0]) & _M32
    x ^= x >> 13
    x = (x * _FMIX[1]) & _M32
    return x ^ (x >> 16)


def sr_word(seed: int, i: int, j: int) -> int:
    """The stochastic-rounding word of ``C[i][j]``: ``fmix32(key ^ fmix32(seed))`` with
    ``key = i << 16 | j`` (both below 2**16), or 1 when that is 0 (the RTL loads the word into the
    :class:`~tatami.hw.fpu.convert.Convert` unit's LFSR, which replaces a zero seed by 1). The
    rounder uses its low 16 bits."""
    w = fmix32(((i & 0xFFFF) << 16 | (j & 0xFFFF)) ^ fmix32(seed & _M32))
    return w or 1


def sr_words(seed: int, m: int, n: int) -> np.ndarray:
    """:func:`sr_word` for every element of an ``m x n`` C (int64 array), vectorised."""
    i = np.arange(m, dtype=np.uint64)[:, None]
    j = np.arange(n, dtype=np.uint64)[None, :]
    x = ((i << np.uint64(16)) | j) ^ np.uint64(fmix32(seed & _M32))
    m32 = np.uint64(_M32)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(_FMIX[0])) & m32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(_FMIX[1])) & m32
    x ^= x >> np.uint64(16)
    x = x.astype(np.int64)
    x[x == 0] = 1
    return x


def float_format(fmt, bias: int = 0) -> FloatFormat:
    """The :class:`~tatami.sim.numerics.FloatFormat` of a descriptor format field."""
    fmt = FpFormat(fmt)
    if fmt is FpFormat.FP32:
        return FP32
    if fmt is FpFormat.BF16:
        return BF16
    if fmt is FpFormat.CF8_143:
        return cfloat8_143(bias)
    if fmt is FpFormat.CF8_152:
        return cfloat8_152(bias)
    raise ValueError(f"{fmt!r} is not a matrix unit format")


_MODES = {
    RoundMode.RNE: RoundingMode.RNE,
    RoundMode.RTZ: RoundingMode.RTZ,
    RoundMode.STOCHASTIC: RoundingMode.STOCHASTIC,
}


@dataclass
class MatrixResult:
    c: list[list[int]]  #: result encodings, M x N
    flags: int  #: OR of the flags of every MAC and conversion
    macs: int


def _gemm_fast(a, fmt_a, b, fmt_b, c, fmt_c, mode, seed):
    """The same bits as the scalar model, with numpy, when it is valid: every product exact in
    FP32 (always for CFloat8; for BF16 unless a product leaves FP32's range), every value finite.
    A fused MAC of an exact FP32 product is then an IEEE FP32 addition, which numpy performs
    correctly rounded. Returns None when the fast path does not apply (no flags computed)."""
    a64 = decode_array(fmt_a, np.asarray(a, dtype=np.int64))
    b64 = decode_array(fmt_b, np.asarray(b, dtype=np.int64))
    if not (np.isfinite(a64).all() and np.isfinite(b64).all()):
        return None
    prods = a64[:, :, None] * b64[None, :, :]  # M x K x N, exact in float64
    with np.errstate(over="ignore"):
        p32 = prods.astype(np.float32)
    if not np.array_equal(p32.astype(np.float64), prods):
        return None
    if c is None:
        acc = np.zeros((len(a), len(b[0])), dtype=np.float32)
    else:
        acc = decode_array(fmt_c, np.asarray(c, dtype=np.int64)).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for kk in range(p32.shape[1]):
            acc = acc + p32[:, kk, :]
    if not np.isfinite(acc).all():
        return None
    bits = acc.view(np.uint32)
    if fmt_c is FP32:
        return bits.astype(np.int64).tolist()
    rmode = _MODES[RoundMode(mode)]
    rand = sr_words(seed, *bits.shape)
    codes, _ = convert_f32_array(bits, fmt_c, rmode, rand if rmode is RoundingMode.STOCHASTIC else None)
    return codes.astype(np.int64).tolist()


def gemm(
    a,
    fmt_a: FloatFormat,
    b,
    fmt_b: FloatFormat,
    c=None,
    fmt_c: FloatFormat = FP32,
    mode=RoundMode.RNE,
    seed=1,
    *,
    flags: bool = True,
) -> MatrixResult:
    """``C (+)= A x B`` on encodings (lists of lists of ints): ``a`` is M x K, ``b`` K x N, ``c`` M x N
    in ``fmt_c`` or None (overwrite). Returns C in ``fmt_c``. With ``flags=False`` the flags are not
    computed (-1) and a vectorised path gives the same bits much faster where it applies."""
    m_, k_ = len(a), len(a[0])
    n_ = len(b[0])
    if len(b) != k_:
        raise ValueError(f"A is {m_} x {k_} but B has {len(b)} rows")
    if not flags:
        fast = _gemm_fast(a, fmt_a, b, fmt_b, c, fmt_c, mode, seed)
        if fast is not None:
            return MatrixResult(fast, -1, m_ * n_ * k_)
    rmode = _MODES[RoundMode(mode)]
    flags = 0
    out = []
    for i in range(m_):
        row = []
        ai = a[i]
        for j in range(n_):
            if c is None:
                acc = 0
            else:
                acc, f = convert(c[i][j], fmt_c, FP32)
                flags |= f
            for kk in range(k_):
                acc, f = mac_widening(acc, ai[kk], fmt_a, b[kk][j], fmt_b, FP32, RoundingMode.RNE)
                flags |= f
            if fmt_c is FP32:
                r = acc
            else:
                rand = sr_word(seed, i, j) if rmode is RoundingMode.STOCHASTIC else 0
                r, f = convert(acc, FP32, fmt_c, rmode, rand)
                flags |= f
            row.append(r)
        out.append(row)
    return MatrixResult(out, flags, m_ * n_ * k_)


class ByteMemory:
    """A node SRAM image for the models: ``load_bytes``/``store_bytes`` on a bytearray."""

    def __init__(self, size: int):
        self.data = bytearray(size)

    def load_bytes(self, addr: int, n: int) -> bytes:
        if addr < 0 or addr + n > len(self.data):
            raise IndexError(f"access {addr:#x}+{n} outside the {len(self.data):#x}-byte memory")
        return bytes(self.data[addr : addr + n])

    def store_bytes(self, addr: int, payload: bytes):
        if addr < 0 or addr + len(payload) > len(self.data):
            raise IndexError(f"access {addr:#x}+{len(payload)} outside the {len(self.data):#x}-byte memory")
        self.data[addr : addr + len(payload)] = payload


def _read_matrix(mem, op: dict, rows: int, cols: int) -> list[list[int]]:
    size = element_bytes(op["format"])
    return [
        [
            int.from_bytes(
                mem.load_bytes(op["addr"] + r * op["row_stride"] + c * op["col_stride"], size), "little"
            )
            for c in range(cols)
        ]
        for r in range(rows)
    ]


def _write_matrix(mem, op: dict, values):
    size = element_bytes(op["format"])
    for r, row in enumerate(values):
        for c, v in enumerate(row):
            mem.store_bytes(
                op["addr"] + r * op["row_stride"] + c * op["col_stride"], v.to_bytes(size, "little")
            )


class MatrixModel:
    """The matrix unit of one node: runs descriptors against a memory image.

    ``ideal_cycles(desc)`` is the utilization denominator: ``ceil(M*N*K / (m*n*k))``.
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"MatrixModel takes a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        self.flags = 0

    def decode(self, desc) -> dict:
        """An unpacked descriptor from an int, bytes or a dict; checked."""
        if isinstance(desc, (bytes, bytearray)):
            desc = int.from_bytes(desc, "little")
        if isinstance(desc, int):
            desc = MATRIX_CODEC.unpack(desc)
        return check_matrix(desc, self.cfg)

    def run(self, desc, mem, *, flags: bool = True) -> MatrixResult:
        d = self.decode(desc)
        a_, b_, c_ = d["a"], d["b"], d["c"]
        fa, fb = float_format(a_["format"], a_["bias"]), float_format(b_["format"], b_["bias"])
        fc = float_format(c_["format"], c_["bias"])
        a = _read_matrix(mem, a_, d["m"], d["k"])
        b = _read_matrix(mem, b_, d["k"], d["n"])
        c = _read_matrix(mem, c_, d["m"], d["n"]) if d["accumulate"] else None
        mode = d["round"]
        if mode == RoundMode.STOCHASTIC and not self.cfg.node.fpu.stochastic_rounding:
            mode = RoundMode.RNE  # as the FPU's Convert without stochastic rounding
        res = gemm(a, fa, b, fb, c, fc, mode, d["seed"], flags=flags)
        _write_matrix(mem, c_, res.c)
        if flags:
            self.flags |= res.flags
        return res

    def ideal_cycles(self, desc) -> int:
        d = self.decode(desc)
        mx = self.cfg.node.matrix
        return -(-d["m"] * d["n"] * d["k"] // mx.macs_per_cycle)
