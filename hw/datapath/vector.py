"""The vector unit: one ``vlen``-bit VECTOR operation per cycle (a few take several), fixed latency.

The unit computes; it holds no registers. Its input stream carries one operation with its register
operands already read (``a`` = ``vs1``, ``b`` = ``vs2``, ``c`` = the old ``vd``, ``x`` = the scalar
operand) and the unit's state that the operation uses (rounding mode, CFloat biases); the output
stream carries the new ``vd`` and the operation's flags. The register file, the decoder and the
memory side (``vld``, ``vst``, gather) are outside (docs/datapath.md, "Vector unit").

Bit-exact with :class:`tatami.sim.datapath.vector.VectorModel` (``execute``, ``reduce``,
``shuffle``, ``transpose``, ``pad``), including the stochastic-rounding words: the unit owns one
32-bit LFSR (16 fresh bits per step) and a rounding operation in STOCHASTIC mode gives lane ``j``
the state after ``j`` steps and then advances by as many steps as it rounded elements, exactly as
the model draws one word per rounded element in increasing element order.

Paths, each padded with registers to the unit's one latency :attr:`VectorUnit.latency` (the
deeper of the FMA and conversion lanes):

- ``fma``: ``vlen / 32`` FP32 and ``vlen / 16`` BF16 :class:`FmaLane` s (``vadd`` = ``a * 1 + b``,
  ``vsub`` = ``a * 1 + (-b)``, ``vmul`` = ``a * b + (-0)``, ``vfma`` = ``a * b + vd``), one rounding
  into the element format with the mode; latency ``node.fpu.fma_stages``;
- ``red``: ``vredsum`` of FP32/BF16 runs its pairwise tree through the FP32 FMA lanes (``x + y`` =
  ``x * 1 + y``, RNE, which is the model's ``fp_add``): the first pass puts the leaves in (BF16
  elements widened exactly), and a tag that travels alongside the lanes feeds each level's sums
  back in until one is left, which is then rounded once into BF16 with the mode. The operation
  holds the unit's input meanwhile (:func:`vector_passes`);
- ``cvt``: ``vcvt`` between every pair of formats, ``vlen / 16`` :class:`ConvertLane` s, lane ``i``
  converting element ``i``; a conversion between two 8-bit formats (16 elements per 128 bits)
  takes two passes, its first half waiting at the output; latency ``node.fpu.convert_stages``;
- ``simple``: everything else, computed in the first cycle: min, max, relu, compares and
  ``vredmax`` (FP32, BF16, CFloat8 and CFloat16), integer arithmetic, logic and shifts, integer
  ``vredsum``, ``vbcast``, ``vshuf``, ``vtrans``, ``vpad``.

Most operations take one cycle at the input; those of :func:`vector_passes` more than one (the
input's ``ready`` is high in their last pass). Results leave in order, ``latency`` advancing cycles
after their operation's last pass.

An operation the unit does not implement (CFloat arithmetic and ``vredsum``, bitwise operations on
float formats, memory operations, which are :class:`~tatami.hw.datapath.vector_core.VectorCore`'s)
returns 0 with INVALID; the model raises an error for the ones it does not
define.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common import hier
from tatami.hw.common.lfsr import MAXIMAL_TAPS, ZERO_SEED_SUBSTITUTE, lfsr_step_matrix
from tatami.hw.common.select import select
from tatami.hw.fpu.datapath import DstFormat, round_stage1, round_stage2, unpack
from tatami.hw.fpu.flags import StickyFlags
from tatami.hw.fpu.layouts import FLAGS, RoundMode
from tatami.isa import VecFormat, VecOp

from .vector_lanes import BF16_LANE, FP32_LANE, ConvertLane, FloatLaneFormat, FmaLane

__all__ = [
    "DEFAULT_SEED",
    "VectorUnit",
    "vector_latency",
    "vector_op_layout",
    "vector_passes",
    "vector_result_layout",
]

#: Reset value of the unit's LFSR (the golden model's default seed).
DEFAULT_SEED = 1

_FLOAT_LANES = {VecFormat.FP32: FP32_LANE, VecFormat.BF16: BF16_LANE}
_INT_WIDTHS = {VecFormat.INT8: 8, VecFormat.INT16: 16, VecFormat.INT32: 32}
_FP_ARITH = (VecOp.VADD, VecOp.VSUB, VecOp.VMUL, VecOp.VFMA)


def vector_op_layout(cfg: TatamiConfig) -> data.StructLayout:
    """One operation: ``op`` (``funct7``), ``fmt`` (``funct3``), the unit's rounding ``mode`` and
    CFloat biases, the scalar operand ``x`` and the register operands ``a`` (``vs1``), ``b``
    (``vs2``), ``c`` (the old ``vd``), ``vlen`` bits each."""
    vlen = cfg.node.vector.vlen_bits
    return data.StructLayout(
        {
            "op": VecOp,
            "fmt": VecFormat,
            "mode": RoundMode,
            "cf8e4_bias": 6,
            "cf8e5_bias": 6,
            "cf16_bias": 6,
            "x": 32,
            "a": vlen,
            "b": vlen,
            "c": vlen,
        }
    )


def vector_latency(cfg: TatamiConfig) -> int:
    """The unit's latency for ``cfg`` (:attr:`VectorUnit.latency`), without building it: the
    deeper of the FMA lanes and the conversion lanes. An operation's result leaves this many
    advancing cycles after its last pass (:func:`vector_passes`)."""
    fpu = cfg.node.fpu
    return max(fpu.fma_stages, fpu.convert_stages, 1)


def _red_levels(cfg: TatamiConfig, fmt: VecFormat) -> int:
    """Levels of the float ``vredsum`` tree: ``log2`` of the FP32 values summed (every BF16
    element is widened, so ``vlen / 16`` of them, or ``vlen / 32`` FP32 elements)."""
    vlen = cfg.node.vector.vlen_bits
    return (vlen // (32 if fmt == VecFormat.FP32 else 16)).bit_length() - 1


def _red_passes(cfg: TatamiConfig, fmt: VecFormat) -> int:
    """Cycles a float ``vredsum`` holds the unit's input: its tree runs level by level through
    the FP32 FMA lanes (``fma_stages`` cycles a level, then a cycle to round), and nothing else
    may enter the lanes until its last level has."""
    s, lat, levels = cfg.node.fpu.fma_stages, vector_latency(cfg), _red_levels(cfg, fmt)
    return max(levels * s + 2 - lat, (levels - 1) * s + 1, 1)


def vector_passes(cfg: TatamiConfig, op, fmt) -> int:
    """Cycles operation ``op`` (a :class:`VecOp`) in format ``fmt`` holds the unit's input (it is
    accepted in the last one): 1 for most; 2 for a conversion between two 8-bit formats (the unit
    has ``vlen / 16`` conversion lanes, so 16 elements take two passes); a float ``vredsum``
    (FP32, BF16) runs its tree through the FMA lanes, ``levels * fma_stages + 2 - latency`` cycles
    (8 for BF16 and 5 for FP32 on ``fpga-2x2``)."""
    op, fmt = VecOp(op), VecFormat(fmt)
    if op is VecOp.VREDSUM and fmt in (VecFormat.FP32, VecFormat.BF16):
        return _red_passes(cfg, fmt)
    if VecOp.VCVT_F32 <= op <= VecOp.VCVT_CF16:
        dst = VecFormat(op - VecOp.VCVT_F32)
        if _width(fmt) == 8 and _width(dst) == 8:
            return 2
    return 1


def vector_result_layout(cfg: TatamiConfig) -> data.StructLayout:
    """One result: the new ``vd`` and the operation's flags."""
    return data.StructLayout({"result": cfg.node.vector.vlen_bits, "flags": FLAGS})


def _width(fmt: VecFormat) -> int:
    if fmt in _INT_WIDTHS:
        return _INT_WIDTHS[fmt]
    return {VecFormat.FP32: 32, VecFormat.BF16: 16, VecFormat.CF16: 16}.get(fmt, 8)


def _delay(m, enable, value, n, name):
    """``value`` delayed by ``n`` enabled cycles."""
    for k in range(n):
        r = Signal(value.shape(), name=f"{name}_d{k}")
        with m.If(enable):
            m.d.sync += r.eq(value)
        value = r
    return value


def _or_tree(m, terms, name):
    """OR of ``terms`` as a balanced tree of named signals."""
    level = list(terms)
    depth = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            if i + 1 == len(level):
                nxt.append(level[i])
                continue
            s = Signal(len(level[i]), name=f"{name}{depth}_{i // 2}")
            m.d.comb += s.eq(level[i] | level[i + 1])
            nxt.append(s)
        level, depth = nxt, depth + 1
    return level[0]


def _elements(v, w):
    return [v[i * w : (i + 1) * w] for i in range(len(v) // w)]


def _fp_classes(f: FloatLaneFormat, x):
    e = x[f.man_bits : f.man_bits + f.exp_bits]
    man = x[: f.man_bits]
    nan = (e == (1 << f.exp_bits) - 1) & (man != 0)
    snan = nan & ~man[-1]
    zero = x[: f.width - 1] == 0
    key = Mux(x[-1], ~x, x | f.sign_bit)  # unsigned order of the values, -0 below +0
    return nan, snan, zero, key


def _cfloat_one(vf: VecFormat, bias: int) -> int:
    """The encoding of 1 in CFloat format ``vf`` with ``bias`` (the golden model's ``_one``)."""
    from tatami.sim.numerics import FP32, cfloat8_143, cfloat8_152, cfloat16_shp, convert

    fmt = {VecFormat.CF8E4: cfloat8_143, VecFormat.CF8E5: cfloat8_152, VecFormat.CF16: cfloat16_shp}[vf](bias)
    return convert(0x3F800000, FP32, fmt)[0]


def _named(m, value, name):
    """``value`` through a named signal: a value used more than once is then generated once
    (an expression object reused in several places is written out at every use)."""
    s = Signal(len(value), name=name)
    m.d.comb += s.eq(value)
    return s


def _fp_max(m, f, a, b, want_max, name):
    """RISC-V ``fmax``/``fmin`` of two encodings: (result, invalid), as named signals."""
    na, sa, _, ka = _fp_classes(f, a)
    nb, sb, _, kb = _fp_classes(f, b)
    a_first = (ka < kb) ^ want_max  # max: a when not (a < b); min: a when a < b
    pick = Mux(ka == kb, a, Mux(a_first, a, b))
    res = Mux(na & nb, f.canonical_nan, Mux(na, b, Mux(nb, a, pick)))
    return _named(m, res, name), _named(m, sa | sb, f"{name}_inv")


class VectorUnit(wiring.Component):
    """The vector unit of one node (see the module docstring).

    Parameters
    ----------
    cfg : TatamiConfig
        ``node.vector.vlen_bits`` sets the width; ``node.fpu.fma_stages`` and ``convert_stages``
        the depth of the FMA and conversion lanes.
    seed : int
        Reset value of the stochastic-rounding LFSR.

    Attributes
    ----------
    i : In(stream.Signature(vector_op_layout(cfg)))
        Operations. The whole pipeline advances when ``o.ready`` is high (a global stall);
        ``i.ready`` is ``o.ready`` in an operation's last pass (:func:`vector_passes`: one for
        most), and its result leaves :attr:`latency` advancing cycles after that pass.
    o : Out(stream.Signature(vector_result_layout(cfg)))
        Results, in order.
    flags : Out(FLAGS)
        Sticky flags: the OR of the flags of every result delivered since the last clear.
    flags_clear : In(1)
        Clear the sticky flags.
    seed : In(32)
        Seed for ``seed_load``.
    seed_load : In(1)
        Load ``seed`` into the LFSR (0 loads 1); an operation accepted in the same cycle uses the
        old state.
    """

    def __init__(self, cfg: TatamiConfig, seed: int = DEFAULT_SEED):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"VectorUnit takes a TatamiConfig, not {cfg!r}")
        if not isinstance(seed, int) or not 0 <= seed < 1 << 32:
            raise ValueError(f"seed must be a 32-bit unsigned int, not {seed!r}")
        self.cfg = cfg
        self.vlen = cfg.node.vector.vlen_bits
        if self.vlen < 64:
            raise ValueError(f"node.vector.vlen_bits must be at least 64, not {self.vlen}")
        self.seed_value = seed or ZERO_SEED_SUBSTITUTE
        fpu = cfg.node.fpu
        self.fma_latency = fpu.fma_stages
        self.cvt_latency = fpu.convert_stages
        self.cf16 = fpu.cf16
        #: Cycles from an operation's acceptance (its last pass) to its result (advancing cycles).
        self.latency = vector_latency(cfg)
        #: Cycles a float ``vredsum`` holds the input, by format (:func:`vector_passes`).
        self.red_passes = {f: _red_passes(cfg, f) for f in (VecFormat.FP32, VecFormat.BF16)}
        super().__init__(
            {
                "i": In(stream.Signature(vector_op_layout(cfg))),
                "o": Out(stream.Signature(vector_result_layout(cfg))),
                "flags": Out(FLAGS),
                "flags_clear": In(1),
                "seed": In(32),
                "seed_load": In(1),
            }
        )

    # -- the simple path -------------------------------------------------------------------------
    def _float_simple(self, m, f: FloatLaneFormat, a, b):
        """Element-wise min/max/relu/compares and ``vredmax`` in one float format: a dict
        ``VecOp -> (vd, flags)``."""
        w = f.width
        kinds = (VecOp.VMIN, VecOp.VMAX, VecOp.VRELU, VecOp.VCMPLT, VecOp.VCMPEQ)
        res_el = {k: [] for k in kinds}
        inv_el = {k: [] for k in kinds}
        for i, (x, y) in enumerate(zip(_elements(a, w), _elements(b, w))):
            for k, want in ((VecOp.VMIN, False), (VecOp.VMAX, True)):
                r, inv = _fp_max(m, f, x, y, want, f"{f.name}_{k.name.lower()}{i}")
                res_el[k].append(r)
                inv_el[k].append(inv)
            r, inv = _fp_max(m, f, x, Const(0, w), True, f"{f.name}_relu{i}")
            res_el[VecOp.VRELU].append(r)
            inv_el[VecOp.VRELU].append(inv)
            nx, sx, zx, kx = _fp_classes(f, x)
            ny, sy, zy, ky = _fp_classes(f, y)
            lt = (kx < ky) & ~(zx & zy)
            eq = (x == y) | (zx & zy)
            anynan = nx | ny
            res_el[VecOp.VCMPLT].append(Mux(~anynan & lt, Const(f.one, w), Const(0, w)))
            inv_el[VecOp.VCMPLT].append(anynan)
            res_el[VecOp.VCMPEQ].append(Mux(~anynan & eq, Const(f.one, w), Const(0, w)))
            inv_el[VecOp.VCMPEQ].append(sx | sy)
        out = {k: (Cat(*v), Cat(*inv_el[k]).any() << 4) for k, v in res_el.items()}
        # vredmax: the pairwise tree of fmax.
        level = _elements(a, w)
        inv = Const(0, 1)
        depth = 0
        while len(level) > 1:
            nxt = []
            depth += 1
            for i in range(0, len(level), 2):
                r, iv = _fp_max(m, f, level[i], level[i + 1], True, f"{f.name}_redmax{depth}_{i // 2}")
                nxt.append(r)
                inv = inv | iv
            level = nxt
        out[VecOp.VREDMAX] = (Cat(level[0], Const(0, self.vlen - w)), inv << 4)
        return out

    def _int_simple(self, m, w, a, b, c):
        """The integer operations in width ``w`` (the bitwise ones are width-independent: built
        once, in ``elaborate``): a dict ``VecOp -> (vd, flags)``."""
        ops = {
            k: []
            for k in (
                VecOp.VADD,
                VecOp.VSUB,
                VecOp.VMUL,
                VecOp.VFMA,
                VecOp.VMIN,
                VecOp.VMAX,
                VecOp.VRELU,
                VecOp.VCMPLT,
                VecOp.VCMPEQ,
                VecOp.VSLL,
                VecOp.VSRL,
                VecOp.VSRA,
            )
        }
        sh_bits = w.bit_length() - 1
        for i, (x, y, z) in enumerate(zip(_elements(a, w), _elements(b, w), _elements(c, w))):
            xs, ys = x.as_signed(), y.as_signed()
            sh = y[:sh_bits]
            lt = _named(m, xs < ys, f"i{w}_lt{i}")
            ops[VecOp.VADD].append((x + y)[:w])
            ops[VecOp.VSUB].append((x - y)[:w])
            ops[VecOp.VMUL].append((x * y)[:w])
            ops[VecOp.VFMA].append((z + x * y)[:w])
            ops[VecOp.VMIN].append(Mux(lt, x, y))
            ops[VecOp.VMAX].append(Mux(lt, y, x))
            ops[VecOp.VRELU].append(Mux(x[-1], Const(0, w), x))
            ops[VecOp.VCMPLT].append(Mux(lt, Const(1, w), Const(0, w)))
            ops[VecOp.VCMPEQ].append(Mux(x == y, Const(1, w), Const(0, w)))
            ops[VecOp.VSLL].append((x << sh)[:w])
            ops[VecOp.VSRL].append((x >> sh)[:w])
            ops[VecOp.VSRA].append((xs >> sh)[:w])
        out = {k: (Cat(*v), Const(0, 6)) for k, v in ops.items()}
        level = _elements(a, w)
        total = level[0]
        for x in level[1:]:
            total = (total + x)[:w]
        out[VecOp.VREDSUM] = (Cat(total, Const(0, self.vlen - w)), Const(0, 6))
        depth = 0
        while len(level) > 1:
            depth += 1
            level = [
                _named(
                    m,
                    Mux(level[i].as_signed() < level[i + 1].as_signed(), level[i + 1], level[i]),
                    f"i{w}_redmax{depth}_{i // 2}",
                )
                for i in range(0, len(level), 2)
            ]
        out[VecOp.VREDMAX] = (Cat(level[0], Const(0, self.vlen - w)), Const(0, 6))
        return out

    def _any_format_simple(self, w, a, b, c, x):
        """``vbcast`` and ``vpad`` in element width ``w`` (any format)."""
        lanes = self.vlen // w
        xs = _elements(a, w)
        out = {VecOp.VBCAST: (x[:w].replicate(lanes), Const(0, 6))}
        # vpad: vd[i] = vs1[i] for i < x, else the old vd[i].
        cs = _elements(c, w)
        out[VecOp.VPAD] = (Cat(*[Mux(x > i, xs[i], cs[i]) for i in range(lanes)]), Const(0, 6))
        return out

    def _permute(self, m, fmt, op, a, b, x):
        """``vshuf`` and ``vtrans`` of every element width through one byte crossbar: each result
        byte is byte ``index`` of ``vs1``, the index coming from ``vs2``'s element (``vshuf``) or
        from a constant of the width and row count (``vtrans``; a row count that is not a power
        of two dividing the element count gives 0 and INVALID). Returns ``(vd, flags)``."""
        nb = self.vlen // 8
        ib = nb.bit_length() - 1
        a_bytes = _elements(a, 8)
        shuf, trans = op == VecOp.VSHUF, op == VecOp.VTRANS
        rows_ok = Const(0, 1)
        conds = {}  # (w, rows or None) -> named condition
        for w in (8, 16, 32):
            of_width = Cat(*[fmt == vf for vf in VecFormat if _width(vf) == w]).any()
            conds[w, None] = _named(m, of_width & shuf, f"perm_shuf{w}")
            lanes = self.vlen // w
            for r in range(lanes.bit_length()):
                hit = _named(m, of_width & (x == (1 << r)), f"perm_trans{w}_{r}")
                conds[w, 1 << r] = hit
                rows_ok = rows_ok | hit
        out = []
        for k in range(nb):
            idx = Const(0, ib)
            for w in (8, 16, 32):
                nbw = w // 8
                lanes = self.vlen // w
                ebits = lanes.bit_length() - 1
                e, q = divmod(k, nbw)
                sidx = b[w * e : w * e + ebits]
                idx = Mux(conds[w, None], Cat(Const(q, nbw.bit_length() - 1), sidx) if nbw > 1 else sidx, idx)
                for r in range(ebits + 1):
                    rows = 1 << r
                    cols = lanes // rows
                    col, row = divmod(e, rows)  # result element e = col * rows + row
                    src = row * cols + col
                    idx = Mux(trans & conds[w, rows], Const(src * nbw + q, ib), idx)
            index = _named(m, idx, f"perm_idx{k}")
            level = a_bytes
            for bit in range(ib):
                level = [
                    _named(m, Mux(index[bit], level[i + 1], level[i]), f"perm{k}_l{bit}_{i // 2}")
                    for i in range(0, len(level), 2)
                ]
            out.append(level[0])
        bad = trans & ~rows_ok
        return Mux(bad, 0, Cat(*out)), Mux(bad, 0b10000, 0)

    def _cfloat_simple(self, m, formats, fmt, a, b, biases):
        """min, max, relu, compares and ``vredmax`` of CFloat formats of one width (every code
        finite, sign and magnitude, so the order-preserving key of the IEEE formats without NaN;
        -0 below +0; no flags). The order does not depend on the layout, so CF8 1-4-3 and 1-5-2
        share everything but the 1 that ``vcmplt``/``vcmpeq`` write: the format's 1 for its
        current bias (saturated when the bias cannot hold 1), from a table of the 64 biases."""
        w = _width(formats[0])
        sign = 1 << (w - 1)
        name = "_".join(vf.name.lower() for vf in formats)
        one = None
        for vf in formats:
            ones = [_cfloat_one(vf, k) for k in range(64)]
            level = [Const(v, w) for v in ones]  # a balanced tree of constants (continuous assignments)
            for bit in range(6):
                level = [Mux(biases[vf][bit], level[i + 1], level[i]) for i in range(0, len(level), 2)]
            one = level[0] if one is None else Mux(fmt == vf, level[0], one)
        one = _named(m, one, f"{name}_one")

        def key(x):
            return Mux(x[-1], ~x, x | sign)

        def is_zero(x):
            return x[: w - 1] == 0

        res = {k: [] for k in (VecOp.VMIN, VecOp.VMAX, VecOp.VRELU, VecOp.VCMPLT, VecOp.VCMPEQ)}
        for i, (x, y) in enumerate(zip(_elements(a, w), _elements(b, w))):
            kx = _named(m, key(x), f"{name}_kx{i}")
            ky = _named(m, key(y), f"{name}_ky{i}")
            lt = _named(m, kx < ky, f"{name}_lt{i}")
            res[VecOp.VMIN].append(Mux(lt, x, y))
            res[VecOp.VMAX].append(Mux(lt, y, x))
            res[VecOp.VRELU].append(Mux(x[-1], Const(0, w), x))
            both_zero = is_zero(x) & is_zero(y)
            res[VecOp.VCMPLT].append(Mux(lt & ~both_zero, one, Const(0, w)))
            res[VecOp.VCMPEQ].append(Mux((x == y) | both_zero, one, Const(0, w)))
        out = {k: (Cat(*v), Const(0, 6)) for k, v in res.items()}
        level = _elements(a, w)
        depth = 0
        while len(level) > 1:
            depth += 1
            level = [
                _named(
                    m,
                    Mux(key(level[i]) < key(level[i + 1]), level[i + 1], level[i]),
                    f"{name}_redmax{depth}_{i // 2}",
                )
                for i in range(0, len(level), 2)
            ]
        out[VecOp.VREDMAX] = (Cat(level[0], Const(0, self.vlen - w)), Const(0, 6))
        return out

    # -- the unit --------------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        vlen, L = self.vlen, self.latency
        m.submodules.sticky = sticky = StickyFlags()
        enable = self.o.ready
        p = self.i.payload
        op, fmt = p.op, p.fmt
        rtz = p.mode == RoundMode.RTZ
        sr = p.mode == RoundMode.STOCHASTIC
        is_float_arith = Cat(*[op == o for o in _FP_ARITH]).any()
        fp_fmt = (fmt == VecFormat.FP32) | (fmt == VecFormat.BF16)
        # vcvt.<dst>.<src>: funct7 = 0x28 + dst; elements: vlen / the wider of the two formats.
        op_bits = Value.cast(op)
        is_cvt = op_bits[3:] == VecOp.VCVT_F32 >> 3
        dst = op_bits[:3]
        w32 = Cat(*[(x == VecFormat.FP32) | (x == VecFormat.INT32) for x in (fmt, dst)]).any()
        w16 = Cat(
            *[(x == VecFormat.BF16) | (x == VecFormat.INT16) | (x == VecFormat.CF16) for x in (fmt, dst)]
        ).any()
        is_red = fp_fmt & (op == VecOp.VREDSUM)
        cvt8 = is_cvt & ~w32 & ~w16  # both formats 8-bit: 16 elements, two passes

        # ---- passes: an operation holds the input for vector_passes() cycles ---------------------
        n_pass = max(*self.red_passes.values(), 2)
        pc = Signal(range(n_pass), name="pass")
        last_pass = Signal()
        red_last = Mux(
            fmt == VecFormat.FP32, self.red_passes[VecFormat.FP32] - 1, self.red_passes[VecFormat.BF16] - 1
        )
        m.d.comb += last_pass.eq(Mux(is_red, pc == red_last, Mux(cvt8, pc == 1, 1)))
        m.d.comb += self.i.ready.eq(enable & last_pass)
        with m.If(enable & self.i.valid):
            m.d.sync += pc.eq(Mux(last_pass, 0, pc + 1))
        accept = self.i.valid & self.i.ready

        # ---- LFSR: word j of an operation is the state after j leaps of 16 steps ----------------
        # The state moves on when the operation is accepted (its last pass), so every pass sees
        # the operation's own words.
        max_draws = vlen // 8
        state = Signal(32, init=self.seed_value, name="lfsr")
        taps = MAXIMAL_TAPS[32]
        words = []
        for j in range(max_draws + 1):
            rows = lfsr_step_matrix(32, 16 * j, taps)
            word = Cat(*[Cat(*[state[b] for b in range(32) if mask >> b & 1]).xor() for mask in rows])
            words.append(_named(m, word, f"lfsr_word{j}"))
        cvt_n = Signal(range(vlen // 8 + 1), name="cvt_n")
        m.d.comb += cvt_n.eq(Mux(w32, vlen // 32, Mux(w16, vlen // 16, vlen // 8)))
        n_draws = Signal(range(max_draws + 1), name="n_draws")
        m.d.comb += n_draws.eq(
            Mux(
                sr & fp_fmt & is_float_arith,
                Mux(fmt == VecFormat.FP32, vlen // 32, vlen // 16),
                Mux(
                    sr & is_cvt,
                    cvt_n,
                    Mux(sr & (fmt == VecFormat.BF16) & (op == VecOp.VREDSUM), 1, 0),
                ),
            )
        )
        next_state = select(n_draws, words)
        with m.If(self.seed_load):
            m.d.sync += state.eq(Mux(self.seed == 0, ZERO_SEED_SUBSTITUTE, self.seed))
        with m.Elif(accept):
            m.d.sync += state.eq(next_state)

        # ---- path select -------------------------------------------------------------------------
        PATH_SIMPLE, PATH_FMA, PATH_RED, PATH_CVT = 0, 1, 2, 3
        path = Signal(2, name="path")
        m.d.comb += path.eq(
            Mux(
                is_cvt,
                PATH_CVT,
                Mux(fp_fmt & is_float_arith, PATH_FMA, Mux(is_red, PATH_RED, PATH_SIMPLE)),
            )
        )

        # ---- conversion path: vlen / 16 lanes; lane i converts element i, or element
        # vlen / 16 * pass + i of a conversion between 8-bit formats (two passes). Lanes
        # vlen / 32 and up only handle 16- and 8-bit formats. -------------------------------------
        n_cvt = vlen // 16
        src_w32 = (fmt == VecFormat.FP32) | (fmt == VecFormat.INT32)
        src_w16 = (fmt == VecFormat.BF16) | (fmt == VecFormat.INT16) | (fmt == VecFormat.CF16)
        second = pc[0] & cvt8
        cvt_res, cvt_flags = [], []
        for i in range(n_cvt):
            width = 32 if i < vlen // 32 else 16
            lane = hier.shared(ConvertLane, self.cvt_latency, width, self.cf16)
            m.submodules[f"cvt_{i}"] = lane
            el8 = i + n_cvt
            value = Mux(second, p.a[8 * el8 : 8 * el8 + 8], p.a[8 * i : 8 * i + 8])
            value = Mux(src_w16, p.a[16 * i : 16 * i + 16], value)
            if i < vlen // 32:
                value = Mux(src_w32, p.a[32 * i : 32 * i + 32], value)
            m.d.comb += [
                lane.enable.eq(enable),
                lane.value.eq(value),
                lane.src.eq(fmt),
                lane.dst.eq(dst),
                lane.cf8e4_bias.eq(p.cf8e4_bias),
                lane.cf8e5_bias.eq(p.cf8e5_bias),
                lane.cf16_bias.eq(p.cf16_bias),
                lane.rtz.eq(rtz),
                lane.sr.eq(sr),
                lane.rand_word.eq(Mux(second, words[el8][:16], words[i][:16])),
            ]
            cvt_res.append(lane.result)
            cvt_flags.append(lane.flags)
        active = Cat(*[cvt_n > i for i in range(n_cvt)])
        dst_w32 = (dst == VecFormat.FP32) | (dst == VecFormat.INT32)
        dst_w16 = (dst == VecFormat.BF16) | (dst == VecFormat.INT16) | (dst == VecFormat.CF16)
        cvt_ctl = _delay(m, enable, Cat(active, dst_w32, dst_w16), self.cvt_latency, "cvt_ctl")
        c_active, c_w32, c_w16 = cvt_ctl[:n_cvt], cvt_ctl[n_cvt], cvt_ctl[n_cvt + 1]
        packed = {}
        for wd in (8, 16, 32):
            packed[wd] = Cat(*[Mux(c_active[i], cvt_res[i][:wd], 0) for i in range(vlen // max(wd, 16))])
        cvt_out = Mux(c_w32, packed[32], Mux(c_w16, packed[16], packed[8]))
        cvt_fl = Const(0, 6)
        for i in range(n_cvt):
            cvt_fl = cvt_fl | Mux(c_active[i], cvt_flags[i], 0)
        cvt_out = _delay(m, enable, cvt_out, L - self.cvt_latency, "cvt_res")
        cvt_fl = _delay(m, enable, cvt_fl, L - self.cvt_latency, "cvt_flags")

        # ---- reduction tags: a float vredsum runs its tree level by level through the FP32 FMA
        # lanes. Its first pass puts the leaves into the lanes (lane j adds leaves 2j and 2j + 1);
        # a tag travels alongside the lanes and, when the level leaves them, feeds the sums back
        # in (lane j adds sums 2j and 2j + 1) until one lane is left. ------------------------------
        n32 = vlen // 32
        one32 = FP32_LANE.one
        red_tag = data.StructLayout({"valid": 1, "lanes": n32, "bf16": 1, "mode": 3, "rand": 16, "flags": 6})
        tag_in = Signal(red_tag, name="red_tag_in")
        tag_out = _delay(m, enable, tag_in, self.fma_latency, "red_tag")
        tag_out = red_tag(tag_out)
        lane32 = []  # the FP32 lanes (filled below): result and flags
        fb = Signal(name="red_feedback")
        final = Signal(name="red_final")
        m.d.comb += [
            fb.eq(tag_out.valid & (tag_out.lanes[1:] != 0)),
            final.eq(tag_out.valid & (tag_out.lanes == 1)),
        ]
        leaves_in = self.i.valid & is_red & (pc == 0)

        # ---- fma path ------------------------------------------------------------------------------
        fma_out = {}
        f32_el, bf_el = _elements(p.a, 32), _elements(p.a, 16)
        lanes = {}
        for vf, lf in _FLOAT_LANES.items():
            lanes[vf] = []
            for j in range(vlen // lf.width):
                lane = hier.shared(FmaLane, lf, self.fma_latency)  # one module, instantiated per lane
                m.submodules[f"fma_{lf.name}_{j}"] = lane
                lanes[vf].append(lane)
        lane32.extend(lanes[VecFormat.FP32])
        for vf, lf in _FLOAT_LANES.items():
            w = lf.width
            res, flg = [], []
            for j, (x, y, z) in enumerate(zip(_elements(p.a, w), _elements(p.b, w), _elements(p.c, w))):
                lane = lanes[vf][j]
                one_b = (op == VecOp.VADD) | (op == VecOp.VSUB)
                addend = Mux(
                    op == VecOp.VADD,
                    y,
                    Mux(op == VecOp.VSUB, y ^ lf.sign_bit, Mux(op == VecOp.VMUL, lf.sign_bit, z)),
                )
                a_in, b_in, c_in = x, Mux(one_b, lf.one, y), addend
                rtz_in, sr_in = rtz, sr
                if vf == VecFormat.FP32:
                    # Reduction inputs: the leaves (BF16 widened exactly; FP32 lanes beyond half
                    # the elements idle), or the previous level's sums.
                    leaf_a = Mux(
                        fmt == VecFormat.FP32,
                        f32_el[2 * j] if 2 * j + 1 < n32 else Const(0, 32),
                        Cat(Const(0, 16), bf_el[2 * j]),
                    )
                    leaf_c = Mux(
                        fmt == VecFormat.FP32,
                        f32_el[2 * j + 1] if 2 * j + 1 < n32 else Const(0, 32),
                        Cat(Const(0, 16), bf_el[2 * j + 1]),
                    )
                    if 2 * j + 1 < n32:
                        red_a = Mux(fb, lane32[2 * j].result, leaf_a)
                        red_c = Mux(fb, lane32[2 * j + 1].result, leaf_c)
                    else:
                        red_a = Mux(fb, 0, leaf_a)
                        red_c = Mux(fb, 0, leaf_c)
                    red_in = fb | leaves_in
                    a_in = Mux(red_in, red_a, a_in)
                    b_in = Mux(red_in, one32, b_in)
                    c_in = Mux(red_in, red_c, c_in)
                    rtz_in = ~red_in & rtz
                    sr_in = ~red_in & sr
                m.d.comb += [
                    lane.enable.eq(enable),
                    lane.a.eq(a_in),
                    lane.b.eq(b_in),
                    lane.c.eq(c_in),
                    lane.rtz.eq(rtz_in),
                    lane.sr.eq(sr_in),
                    lane.rand_word.eq(words[j][:16]),
                ]
                res.append(lane.result)
                flg.append(lane.flags)
            flags = Const(0, 6)
            for fl in flg:
                flags = flags | fl
            fma_out[vf] = (Cat(*res), flags)
        fmt_at_fma = _delay(m, enable, fmt, self.fma_latency, "fma_fmt")
        fma_res = Mux(fmt_at_fma == VecFormat.FP32, fma_out[VecFormat.FP32][0], fma_out[VecFormat.BF16][0])
        fma_flags = Mux(fmt_at_fma == VecFormat.FP32, fma_out[VecFormat.FP32][1], fma_out[VecFormat.BF16][1])
        fma_res = _delay(m, enable, fma_res, L - self.fma_latency, "fma_res")
        fma_flags = _delay(m, enable, fma_flags, L - self.fma_latency, "fma_flags")

        # ---- reduction path: the tags, the flags of each level, one rounding into BF16 -----------
        lvl_flags = Const(0, 6)
        for j, lane in enumerate(lane32):
            lvl_flags = lvl_flags | Mux(tag_out.lanes[j], lane.flags, 0)
        half = Cat(*[tag_out.lanes[2 * j + 1] for j in range(n32 // 2)])
        # (Muxes, not a comb If: continuous assignments, which Icarus evaluates from time 0.)
        m.d.comb += [
            tag_in.valid.eq(fb | leaves_in),
            tag_in.lanes.eq(Mux(fb, half, Mux(fmt == VecFormat.FP32, (1 << (n32 // 2)) - 1, (1 << n32) - 1))),
            tag_in.bf16.eq(Mux(fb, tag_out.bf16, fmt == VecFormat.BF16)),
            tag_in.mode.eq(Mux(fb, tag_out.mode, p.mode.as_value())),
            tag_in.rand.eq(Mux(fb, tag_out.rand, words[0][:16])),
            tag_in.flags.eq(Mux(fb, tag_out.flags | lvl_flags, 0)),
        ]
        total = lane32[0].result
        u = unpack(m, total, 8, 23, 127, ieee=True, name="red_sum")
        bf_dst = DstFormat(8, 7, ieee=True)
        st = round_stage1(m, u["sig"], u["exp"], 127, bf_dst, "red_rnd")
        code, rflags = round_stage2(
            m,
            st,
            sign=u["sign"],
            zero=u["zero"],
            sticky=Const(0, 1),
            mode={"rtz": tag_out.mode == RoundMode.RTZ, "sr": tag_out.mode == RoundMode.STOCHASTIC},
            rand=tag_out.rand,
            saturate=Const(0, 1),
            fmt=bf_dst,
            name="red_rnd",
        )
        bf_code = Mux(
            u["nan"], BF16_LANE.canonical_nan, Mux(u["inf"], Cat(Const(0x7F80, 15), u["sign"]), code)
        )
        bf_flags = Mux(u["nan"] | u["inf"], 0, rflags) | (u["sub"] << 5)
        red_res = Signal(vlen, name="red_res")
        red_flags = Signal(6, name="red_flags")
        red_value = Mux(tag_out.bf16, Cat(bf_code, Const(0, vlen - 16)), Cat(total, Const(0, vlen - 32)))
        with m.If(enable & final):
            m.d.sync += [
                red_res.eq(red_value),
                red_flags.eq(tag_out.flags | lvl_flags | Mux(tag_out.bf16, bf_flags, 0)),
            ]

        # ---- simple path ---------------------------------------------------------------------------
        cands = []  # (condition, result, flags)
        for vf, lf in _FLOAT_LANES.items():
            for k, (r, fl) in self._float_simple(m, lf, p.a, p.b).items():
                cands.append(((fmt == vf) & (op == k), r, fl))
        cf_bias = {VecFormat.CF8E4: p.cf8e4_bias, VecFormat.CF8E5: p.cf8e5_bias, VecFormat.CF16: p.cf16_bias}
        cf_groups = [(VecFormat.CF8E4, VecFormat.CF8E5)] + [(VecFormat.CF16,)] * self.cf16
        for group in cf_groups:
            is_group = Cat(*[fmt == vf for vf in group]).any()
            for k, (r, fl) in self._cfloat_simple(m, group, fmt, p.a, p.b, cf_bias).items():
                cands.append((is_group & (op == k), r, fl))
        for vf, w in _INT_WIDTHS.items():
            for k, (r, fl) in self._int_simple(m, w, p.a, p.b, p.c).items():
                cands.append(((fmt == vf) & (op == k), r, fl))
        is_int = Cat(*[fmt == vf for vf in _INT_WIDTHS]).any()  # bitwise operations: any width
        for k, r in ((VecOp.VAND, p.a & p.b), (VecOp.VOR, p.a | p.b), (VecOp.VXOR, p.a ^ p.b)):
            cands.append((is_int & (op == k), r, Const(0, 6)))
        for w in (8, 16, 32):  # broadcast and permutations depend only on the element width
            of_width = Cat(*[fmt == vf for vf in VecFormat if _width(vf) == w]).any()
            for k, (r, fl) in self._any_format_simple(w, p.a, p.b, p.c, p.x).items():
                cands.append((of_width & (op == k), r, fl))
        perm_res, perm_fl = self._permute(m, fmt, op, p.a, p.b, p.x)
        cands.append(((op == VecOp.VSHUF) | (op == VecOp.VTRANS), perm_res, perm_fl))
        # The conditions are one-hot: an AND-OR of named terms (flat, and cheap to simulate).
        hits, res_terms, flag_terms = [], [], []
        for n, (cond, r, fl) in enumerate(cands):
            hit = Signal(name=f"simple_hit{n}")
            term = Signal(vlen, name=f"simple_res{n}")
            fterm = Signal(6, name=f"simple_flags{n}")
            m.d.comb += [hit.eq(cond), term.eq(Mux(hit, r, 0)), fterm.eq(Mux(hit, fl, 0))]
            hits.append(hit)
            res_terms.append(term)
            flag_terms.append(fterm)
        simple_res = _or_tree(m, res_terms, "simple_res_or")
        simple_flags = _or_tree(m, flag_terms, "simple_flags_or") | (~Cat(*hits).any() << 4)
        simple_res = _delay(m, enable, simple_res, L, "simple_res")
        simple_flags = _delay(m, enable, simple_flags, L, "simple_flags")

        # ---- output ----------------------------------------------------------------------------------
        # A result leaves L cycles after its operation's last pass; the first pass of a two-pass
        # conversion leaves its half of the result (elements 0 .. vlen / 16 - 1) in ``asm``.
        ctl = _delay(m, enable, Cat(accept, path, self.i.valid & cvt8 & ~last_pass, cvt8), L, "ctl")
        o_path, o_first, o_cvt8 = ctl[1:3], ctl[3], ctl[4]
        asm = Signal(vlen // 2, name="cvt_asm")
        asm_fl = Signal(6, name="cvt_asm_flags")
        with m.If(enable & o_first):
            m.d.sync += [asm.eq(cvt_out[: vlen // 2]), asm_fl.eq(cvt_fl)]
        cvt_full = Mux(o_cvt8, Cat(asm, cvt_out[: vlen // 2]), cvt_out)
        cvt_full_fl = cvt_fl | Mux(o_cvt8, asm_fl, 0)
        result = select(o_path, [simple_res, fma_res, red_res, cvt_full])
        flags = select(o_path, [simple_flags, fma_flags, red_flags, cvt_full_fl])
        m.d.comb += [
            self.o.valid.eq(ctl[0]),
            self.o.payload.result.eq(result),
            self.o.payload.flags.eq(flags),
            sticky.set.eq(self.o.payload.flags),
            sticky.update.eq(self.o.valid & self.o.ready),
            sticky.clear.eq(self.flags_clear),
            self.flags.eq(sticky.flags),
        ]
        return m
