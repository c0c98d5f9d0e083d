"""Bit-exact golden model of the vector unit: every VECTOR operation of docs/isa.md on
``cfg.node.vector.vlen_bits``-bit registers in every element format, plus the operations the
brief asks for that have no ISA row yet (conversions, shuffle, transpose, pad, gather), which
docs/datapath.md proposes as new rows.

Conventions (docs/datapath.md, "Vector unit"):

- A register is an int of ``vlen_bits``; element ``i`` of a ``w``-bit format is bits
  ``[i*w, (i+1)*w)``, so a register stored to memory is little-endian element by element.
- Floating-point operations round once, directly into the element format, with the unit's
  rounding mode (``mode``; RNE at reset). CFloat formats take their bias from the unit state
  (``cf8e4_bias``, ``cf8e5_bias``, ``cf16_bias``; CFloat16 is SHP). Stochastic rounding draws one
  random word per rounded element, elements in increasing index, from a 32-bit LFSR (16 fresh bits
  per step) loaded by :meth:`VectorModel.seed` (the same rule as the FPU's ``Convert`` unit).
- Integers wrap (two's complement), except narrowing conversions, which saturate.
- ``vmin``/``vmax``/``vrelu`` follow RISC-V ``fmin``/``fmax``: a NaN operand gives the other one,
  two NaNs the canonical NaN, -0 < +0; ``vrelu(x) = vmax(x, +0)``.
- ``vcmplt``/``vcmpeq`` write 1 (the element format's encoding of 1, saturated for a CFloat bias
  that cannot hold 1) or 0; a NaN compares false.
- Reductions (``vredsum``, ``vredmax``) use a fixed pairwise tree: level by level,
  ``x[2i] op x[2i+1]``. Floating-point sums widen every element exactly to FP32, add in FP32
  (RNE at every node) and round the result once into the element format with ``mode``. The result
  goes to element 0; the other elements of ``vd`` become 0.
"""

from __future__ import annotations

from tatami.config import TatamiConfig
from tatami.isa import VecFormat, VecOp
from tatami.sim.common.models import LfsrModel
from tatami.sim.numerics import (
    BF16,
    FP32,
    Flags,
    FloatFormat,
    RoundingMode,
    cfloat8_143,
    cfloat8_152,
    cfloat16_shp,
    convert,
    fp_add,
    fp_fma,
    fp_mul,
    fp_sub,
    round_pack,
)

__all__ = ["VectorError", "VectorModel"]

_INT_WIDTH = {VecFormat.INT8: 8, VecFormat.INT16: 16, VecFormat.INT32: 32}


class VectorError(ValueError):
    """An operation the unit does not define (format, alignment, register)."""


class VectorModel:
    """The vector unit of one node: 32 (``cfg.node.vector.registers``) registers, a memory image
    (``load_bytes``/``store_bytes``), the unit's rounding state, sticky flags."""

    def __init__(self, cfg: TatamiConfig, mem=None, *, seed: int = 1):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"VectorModel takes a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        self.vlen = cfg.node.vector.vlen_bits
        self.regs = [0] * cfg.node.vector.registers
        self.mem = mem
        self.mode = RoundingMode.RNE
        self.cf8e4_bias, self.cf8e5_bias, self.cf16_bias = 7, 15, 15
        self.flags = 0
        self.lfsr = LfsrModel(32, 16, seed=seed)

    # ---- state ----------------------------------------------------------------------------------
    def seed(self, value: int):
        self.lfsr.load(value)

    def _rand(self) -> int:
        r = self.lfsr.state
        self.lfsr.advance()
        return r

    def float_format(self, fmt: VecFormat) -> FloatFormat | None:
        fmt = VecFormat(fmt)
        return {
            VecFormat.FP32: FP32,
            VecFormat.BF16: BF16,
            VecFormat.CF8E4: cfloat8_143(self.cf8e4_bias),
            VecFormat.CF8E5: cfloat8_152(self.cf8e5_bias),
            VecFormat.CF16: cfloat16_shp(self.cf16_bias),
        }.get(fmt)

    @staticmethod
    def width(fmt: VecFormat) -> int:
        fmt = VecFormat(fmt)
        if fmt in _INT_WIDTH:
            return _INT_WIDTH[fmt]
        return {VecFormat.FP32: 32, VecFormat.BF16: 16, VecFormat.CF16: 16}.get(fmt, 8)

    def lanes(self, fmt) -> int:
        return self.vlen // self.width(fmt)

    def elements(self, value: int, fmt) -> list[int]:
        w = self.width(fmt)
        return [value >> (i * w) & ((1 << w) - 1) for i in range(self.vlen // w)]

    def pack(self, elems, fmt) -> int:
        w = self.width(fmt)
        out = 0
        for i, e in enumerate(elems):
            out |= (e & ((1 << w) - 1)) << (i * w)
        return out

    def _reg(self, r: int) -> int:
        if not 0 <= r < len(self.regs):
            raise VectorError(f"no vector register v{r} (the unit has {len(self.regs)})")
        return r

    # ---- element operations ---------------------------------------------------------------------------
    def _fp(self, fn, fmt, *args):
        rand = self._rand() if self.mode is RoundingMode.STOCHASTIC else 0
        r, f = fn(fmt, *args, self.mode, rand)
        self.flags |= f
        return r

    def _fval(self, fmt, bits):
        return fmt.to_float(bits)

    def _is_nan(self, fmt, bits):
        return fmt.unpack(bits).cls.is_nan

    def _minmax(self, fmt, a, b, want_max):
        na, nb = self._is_nan(fmt, a), self._is_nan(fmt, b)
        if fmt.has_nan and (
            (na and fmt.unpack(a).cls.name == "SNAN") or (nb and fmt.unpack(b).cls.name == "SNAN")
        ):
            self.flags |= Flags.INVALID
        if na and nb:
            return fmt.canonical_nan
        if na:
            return b
        if nb:
            return a
        va, vb = self._fval(fmt, a), self._fval(fmt, b)
        if va == vb:  # +0 and -0: -0 is the smaller
            sa = fmt.fields(a)[0]
            return (b if sa else a) if want_max else (a if sa else b)
        return (a if va > vb else b) if want_max else (a if va < vb else b)

    def _one(self, fmt):
        r, _ = convert(0x3F800000, FP32, fmt)
        return r

    def _cmp(self, fmt, a, b, op):
        na, nb = self._is_nan(fmt, a), self._is_nan(fmt, b)
        if na or nb:
            snan = any(fmt.unpack(x).cls.name == "SNAN" for x in (a, b))
            if op is VecOp.VCMPLT or snan:
                self.flags |= Flags.INVALID
            return 0
        va, vb = self._fval(fmt, a), self._fval(fmt, b)
        true = va < vb if op is VecOp.VCMPLT else va == vb
        return self._one(fmt) if true else 0

    @staticmethod
    def _signed(x, w):
        return x - (1 << w) if x >> (w - 1) & 1 else x

    def _int_op(self, op, w, a, b, d):
        sa, sb = self._signed(a, w), self._signed(b, w)
        sh = b % w
        mask = (1 << w) - 1
        table = {
            VecOp.VADD: lambda: a + b,
            VecOp.VSUB: lambda: a - b,
            VecOp.VMUL: lambda: sa * sb,
            VecOp.VFMA: lambda: d + sa * sb,
            VecOp.VMIN: lambda: min(sa, sb),
            VecOp.VMAX: lambda: max(sa, sb),
            VecOp.VRELU: lambda: max(sa, 0),
            VecOp.VCMPLT: lambda: int(sa < sb),
            VecOp.VCMPEQ: lambda: int(a == b),
            VecOp.VAND: lambda: a & b,
            VecOp.VOR: lambda: a | b,
            VecOp.VXOR: lambda: a ^ b,
            VecOp.VSLL: lambda: a << sh,
            VecOp.VSRL: lambda: a >> sh,
            VecOp.VSRA: lambda: sa >> sh,
        }
        return table[op]() & mask

    def _float_op(self, op, fmt, a, b, d):
        if op is VecOp.VADD:
            return self._fp(fp_add, fmt, a, b)
        if op is VecOp.VSUB:
            return self._fp(fp_sub, fmt, a, b)
        if op is VecOp.VMUL:
            return self._fp(fp_mul, fmt, a, b)
        if op is VecOp.VFMA:
            return self._fp(fp_fma, fmt, a, b, d)
        if op in (VecOp.VMIN, VecOp.VMAX):
            return self._minmax(fmt, a, b, op is VecOp.VMAX)
        if op is VecOp.VRELU:
            return self._minmax(fmt, a, fmt.zero_code(0), True)
        if op in (VecOp.VCMPLT, VecOp.VCMPEQ):
            return self._cmp(fmt, a, b, op)
        raise VectorError(f"{op.name} is defined on integer formats only")

    # ---- instructions -------------------------------------------------------------------------------
    def execute(self, op: VecOp, fmt: VecFormat, vd: int, vs1: int, vs2: int = 0, rs1: int = 0):
        """One VECTOR instruction: ``funct7`` = ``op``, ``funct3`` = ``fmt``; ``rs1`` is the value
        of the scalar register (``x[rs1]`` of ``vbcast``, ``vld`` and ``vst``, ``x[rs2]`` of
        ``vtrans`` and ``vpad``). ``vcvt.<dst>`` converts from ``fmt`` into ``op - VCVT_F32``
        (:meth:`convert`) with the unit's mode."""
        op = VecOp(op)
        if op is VecOp.VLD:
            self.regs[self._reg(vd)] = self.load(rs1)
            return
        if op is VecOp.VST:
            self.store(rs1, self.regs[self._reg(vs2)])
            return
        fmt = VecFormat(fmt)
        w = self.width(fmt)
        ffmt = self.float_format(fmt)
        if op is VecOp.VBCAST:
            self.regs[self._reg(vd)] = self.pack([rs1 & ((1 << w) - 1)] * self.lanes(fmt), fmt)
            return
        if op in (VecOp.VREDSUM, VecOp.VREDMAX):
            self.regs[self._reg(vd)] = self.reduce(op, fmt, self.regs[self._reg(vs1)])
            return
        if VecOp.VCVT_F32 <= op <= VecOp.VCVT_CF16:
            self.convert(vd, vs1, fmt, VecFormat(op - VecOp.VCVT_F32))
            return
        if op is VecOp.VSHUF:
            self.shuffle(vd, vs1, vs2, fmt)
            return
        if op is VecOp.VTRANS:
            self.transpose(vd, vs1, fmt, rs1)
            return
        if op is VecOp.VPAD:
            # vd[i] = vs1[i] for i < x[rs2], else vd[i] unchanged (pad() with the old vd as value).
            keep = self.elements(self.regs[self._reg(vs1)], fmt)
            old = self.elements(self.regs[self._reg(vd)], fmt)
            self.regs[vd] = self.pack([x if i < rs1 else y for i, (x, y) in enumerate(zip(keep, old))], fmt)
            return
        if op in (VecOp.VLD, VecOp.VST, VecOp.VGATHER8, VecOp.VGATHER16):
            raise VectorError(f"{op.name} is a memory operation: use load, store or gather")
        if ffmt is not None and VecOp.VAND <= op <= VecOp.VSRA:
            raise VectorError(f"{op.name} is defined on integer formats only, not {fmt.name}")
        xs = self.elements(self.regs[self._reg(vs1)], fmt)
        ys = self.elements(self.regs[self._reg(vs2)], fmt)
        ds = self.elements(self.regs[self._reg(vd)], fmt)
        if ffmt is None:
            out = [self._int_op(op, w, a, b, d) for a, b, d in zip(xs, ys, ds)]
        else:
            out = [self._float_op(op, ffmt, a, b, d) for a, b, d in zip(xs, ys, ds)]
        self.regs[vd] = self.pack(out, fmt)

    def reduce(self, op: VecOp, fmt: VecFormat, value: int) -> int:
        """``vredsum``/``vredmax`` of a register value: the pairwise tree described above."""
        fmt = VecFormat(fmt)
        w = self.width(fmt)
        ffmt = self.float_format(fmt)
        xs = self.elements(value, fmt)
        if ffmt is None:
            if op is VecOp.VREDSUM:
                level = xs
                while len(level) > 1:
                    level = [(level[i] + level[i + 1]) & ((1 << w) - 1) for i in range(0, len(level), 2)]
            else:
                level = xs
                while len(level) > 1:
                    level = [
                        self._int_op(VecOp.VMAX, w, level[i], level[i + 1], 0)
                        for i in range(0, len(level), 2)
                    ]
            return level[0]
        if op is VecOp.VREDMAX:
            level = xs
            while len(level) > 1:
                level = [self._minmax(ffmt, level[i], level[i + 1], True) for i in range(0, len(level), 2)]
            return level[0]
        level = []
        for x in xs:
            r, f = convert(x, ffmt, FP32)
            self.flags |= f
            level.append(r)
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level), 2):
                r, f = fp_add(FP32, level[i], level[i + 1])
                self.flags |= f
                nxt.append(r)
            level = nxt
        if ffmt is FP32:
            return level[0]
        rand = self._rand() if self.mode is RoundingMode.STOCHASTIC else 0
        r, f = convert(level[0], FP32, ffmt, self.mode, rand)
        self.flags |= f
        return r

    # ---- memory -------------------------------------------------------------------------------------
    def _check_mem(self, addr, align):
        if self.mem is None:
            raise VectorError("this model has no memory image")
        if addr % align:
            raise VectorError(f"vector access at {addr:#x} is not {align}-byte aligned")

    def load(self, addr: int) -> int:
        n = self.vlen // 8
        self._check_mem(addr, n)
        return int.from_bytes(self.mem.load_bytes(addr, n), "little")

    def store(self, addr: int, value: int):
        n = self.vlen // 8
        self._check_mem(addr, n)
        self.mem.store_bytes(addr, value.to_bytes(n, "little"))

    def gather(self, vd: int, base: int, vs2: int, granule: int):
        """``vd`` chunk ``j`` (``granule`` = 8 or 16 bytes) = memory at ``base + offset[j]``, where
        ``offset[j]`` is the 32-bit element ``j`` of ``vs2`` (a byte offset, a multiple of the
        granule)."""
        if granule not in (8, 16):
            raise VectorError(f"gather granularity must be 8 or 16 bytes, not {granule}")
        chunks = self.vlen // 8 // granule
        offs = self.elements(self.regs[self._reg(vs2)], VecFormat.INT32)[:chunks]
        out = b""
        for off in offs:
            self._check_mem(base + off, granule)
            out += self.mem.load_bytes(base + off, granule)
        self.regs[self._reg(vd)] = int.from_bytes(out, "little")

    # ---- proposed instructions (no ISA row yet) ----------------------------------------------------
    def convert(self, vd: int, vs1: int, src: VecFormat, dst: VecFormat, mode: RoundingMode | None = None):
        """Element ``i`` of ``vs1`` (``src``) to element ``i`` of ``vd`` (``dst``), for the
        ``vlen / max(src, dst width)`` elements both registers hold; the rest of ``vd`` is 0.
        Float to float: :func:`~tatami.sim.numerics.convert`. Integer to float: rounded once.
        Float to integer: rounded to an integer with ``mode``, saturated (NaN gives the largest
        value, as RISC-V ``fcvt``). Integer to integer: sign-extended, or saturated when narrowing."""
        mode = self.mode if mode is None else RoundingMode(mode)
        src, dst = VecFormat(src), VecFormat(dst)
        n = self.vlen // max(self.width(src), self.width(dst))
        xs = self.elements(self.regs[self._reg(vs1)], src)[:n]
        fs, fd = self.float_format(src), self.float_format(dst)
        wd = self.width(dst)
        out = []
        for x in xs:
            rand = self._rand() if mode is RoundingMode.STOCHASTIC else 0
            if fs is not None and fd is not None:
                r, f = convert(x, fs, fd, mode, rand)
            elif fs is None and fd is not None:
                v = self._signed(x, self.width(src))
                r, f = round_pack(fd, int(v < 0), abs(v), 0, mode, rand)
            elif fs is not None:
                r, f = self._float_to_int(fs, x, wd, mode, rand)
            else:
                v = self._signed(x, self.width(src))
                lo, hi = -(1 << (wd - 1)), (1 << (wd - 1)) - 1
                r, f = min(max(v, lo), hi) & ((1 << wd) - 1), 0
            self.flags |= f
            out.append(r)
        self.regs[self._reg(vd)] = self.pack(out, dst)

    @staticmethod
    def _float_to_int(fmt, bits, w, mode, rand):
        u = fmt.unpack(bits)
        lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        if u.cls.is_nan:
            return hi & ((1 << w) - 1), int(Flags.INVALID)
        if u.cls.name == "INF":
            return (lo if u.sign else hi) & ((1 << w) - 1), int(Flags.INVALID)
        if u.cls.name == "ZERO":
            return 0, 0
        # Round sig * 2**exp to an integer with the mode (same rules as round_pack).
        sig, exp = u.sig, u.exp
        if exp >= 0:
            v = sig << exp
            inexact = 0
        else:
            v = sig >> -exp
            rem = sig & ((1 << -exp) - 1)
            inexact = int(rem != 0)
            n = -exp
            if rem:
                if mode is RoundingMode.RNE:
                    half = 1 << (n - 1)
                    v += int(rem > half or (rem == half and v & 1))
                elif mode is RoundingMode.STOCHASTIC:
                    window = rem >> (n - 16) if n >= 16 else rem << (16 - n)
                    v += int(window + (rand & 0xFFFF) >= 1 << 16)
        v = -v if u.sign else v
        if v < lo or v > hi:
            return min(max(v, lo), hi) & ((1 << w) - 1), int(Flags.INVALID)
        return v & ((1 << w) - 1), inexact * int(Flags.INEXACT)

    def shuffle(self, vd: int, vs1: int, vs2: int, fmt: VecFormat):
        """``vd[i] = vs1[vs2[i] mod lanes]`` (indices unsigned, in the element width)."""
        xs = self.elements(self.regs[self._reg(vs1)], fmt)
        idx = self.elements(self.regs[self._reg(vs2)], fmt)
        self.regs[self._reg(vd)] = self.pack([xs[i % len(xs)] for i in idx], fmt)

    def transpose(self, vd: int, vs1: int, fmt: VecFormat, rows: int):
        """``vs1`` viewed as a ``rows x (lanes / rows)`` row-major matrix, transposed into ``vd``."""
        xs = self.elements(self.regs[self._reg(vs1)], fmt)
        if rows < 1 or len(xs) % rows:
            raise VectorError(f"{len(xs)} elements do not form {rows} rows")
        cols = len(xs) // rows
        self.regs[self._reg(vd)] = self.pack(
            [xs[r * cols + c] for c in range(cols) for r in range(rows)], fmt
        )

    def pad(self, vd: int, vs1: int, fmt: VecFormat, keep: int, value: int):
        """``vd[i] = vs1[i]`` for ``i < keep``, else ``value`` (an encoding: 0, -Inf, ...)."""
        xs = self.elements(self.regs[self._reg(vs1)], fmt)
        self.regs[self._reg(vd)] = self.pack([x if i < keep else value for i, x in enumerate(xs)], fmt)
