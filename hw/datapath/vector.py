"""The vector unit: one ``vlen``-bit VECTOR operation per cycle, fixed latency, lane-parallel.

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

Paths, each padded with registers to the unit's one latency :attr:`VectorUnit.latency`:

- ``fma``: ``vlen / 32`` FP32 and ``vlen / 16`` BF16 :class:`FmaLane` s (``vadd`` = ``a * 1 + b``,
  ``vsub`` = ``a * 1 + (-b)``, ``vmul`` = ``a * b + (-0)``, ``vfma`` = ``a * b + vd``), one rounding
  into the element format with the mode; latency ``node.fpu.fma_stages``;
- ``red``: ``vredsum`` of FP32/BF16: a tree of the FPU's :class:`~tatami.hw.fpu.fp32_add.FP32Add`
  (``vlen / 16`` FP32 leaves: BF16 elements widened exactly, or each FP32 element paired with -0,
  which changes neither its value nor its flags), then one rounding into BF16 with the mode;
  latency ``log2(vlen / 16) * node.fpu.add_stages + 1``;
- ``cvt``: ``vcvt`` between every pair of formats, ``vlen / 8`` :class:`ConvertLane` s; latency
  ``node.fpu.convert_stages``;
- ``simple``: everything else, computed in the first cycle: min, max, relu, compares and
  ``vredmax`` (FP32, BF16, CFloat8 and CFloat16), integer arithmetic, logic and shifts, integer
  ``vredsum``, ``vbcast``, ``vshuf``, ``vtrans``, ``vpad``.

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
from tatami.hw.fpu.fp32_add import FP32Add
from tatami.hw.fpu.layouts import FLAGS, RoundMode
from tatami.isa import VecFormat, VecOp

from .vector_lanes import BF16_LANE, FP32_LANE, ConvertLane, FloatLaneFormat, FmaLane

__all__ = ["DEFAULT_SEED", "VectorUnit", "vector_latency", "vector_op_layout", "vector_result_layout"]

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
    longest path, the ``vredsum`` tree (``log2(vlen / 16)`` adders deep, then one rounding)."""
    fpu = cfg.node.fpu
    levels = (cfg.node.vector.vlen_bits // 16).bit_length() - 1
    return max(fpu.fma_stages, levels * fpu.add_stages + 1, fpu.convert_stages, 1)


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
        ``node.vector.vlen_bits`` sets the width; ``node.fpu.fma_stages`` and ``add_stages`` the
        depth of the FMA lanes and of the reduction tree's adders.
    seed : int
        Reset value of the stochastic-rounding LFSR.

    Attributes
    ----------
    i : In(stream.Signature(vector_op_layout(cfg)))
        Operations. ``i.ready`` is ``o.ready``: the whole pipeline advances when ``o.ready`` is high
        (a global stall), and an operation leaves :attr:`latency` advancing cycles after it enters.
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
        if self.vlen < 32:
            raise ValueError(f"node.vector.vlen_bits must be at least 32, not {self.vlen}")
        self.seed_value = seed or ZERO_SEED_SUBSTITUTE
        fpu = cfg.node.fpu
        self.fma_latency = fpu.fma_stages
        self.tree_levels = (self.vlen // 16).bit_length() - 1
        self.red_latency = self.tree_levels * fpu.add_stages + 1
        self.cvt_latency = fpu.convert_stages
        self.cf16 = fpu.cf16
        #: Cycles from an operation's acceptance to its result (advancing cycles).
        self.latency = max(self.fma_latency, self.red_latency, self.cvt_latency, 1)
        assert self.latency == vector_latency(cfg)
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
        """Every integer operation in width ``w``: a dict ``VecOp -> (vd, flags)``."""
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
                VecOp.VAND,
                VecOp.VOR,
                VecOp.VXOR,
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
            ops[VecOp.VAND].append(x & y)
            ops[VecOp.VOR].append(x | y)
            ops[VecOp.VXOR].append(x ^ y)
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
        """``vbcast``, ``vshuf``, ``vtrans``, ``vpad`` in element width ``w`` (any format)."""
        lanes = self.vlen // w
        xs = _elements(a, w)
        out = {VecOp.VBCAST: (x[:w].replicate(lanes), Const(0, 6))}
        idx_bits = lanes.bit_length() - 1
        shuf = [select(y[:idx_bits], xs) if lanes > 1 else xs[0] for y in _elements(b, w)]
        out[VecOp.VSHUF] = (Cat(*shuf), Const(0, 6))
        # vtrans: rows = x, a power of two dividing the element count; otherwise 0 and INVALID.
        options = []
        for k in range(idx_bits + 1):
            rows = 1 << k
            cols = lanes // rows
            options.append(Cat(*[xs[r * cols + col] for col in range(cols) for r in range(rows)]))
        valid_rows = Const(0, 1)
        trans = Const(0, self.vlen)
        for k in reversed(range(idx_bits + 1)):
            hit = x == (1 << k)
            trans = Mux(hit, options[k], trans)
            valid_rows = valid_rows | hit
        out[VecOp.VTRANS] = (trans, Mux(valid_rows, 0, 0b10000))
        # vpad: vd[i] = vs1[i] for i < x, else the old vd[i].
        cs = _elements(c, w)
        out[VecOp.VPAD] = (Cat(*[Mux(x > i, xs[i], cs[i]) for i in range(lanes)]), Const(0, 6))
        return out

    def _cfloat_simple(self, m, vf: VecFormat, a, b, bias):
        """min, max, relu, compares and ``vredmax`` of a CFloat format (every code finite, sign
        and magnitude, so the order-preserving key of the IEEE formats without NaN; -0 below +0;
        no flags). ``vcmplt``/``vcmpeq`` write the format's 1 for the current ``bias`` (saturated
        when the bias cannot hold 1), from a table of the 64 biases."""
        w = _width(vf)
        sign = 1 << (w - 1)
        name = vf.name.lower()
        ones = [_cfloat_one(vf, k) for k in range(64)]
        level = [Const(v, w) for v in ones]  # a balanced tree of constants (continuous assignments)
        for bit in range(6):
            level = [Mux(bias[bit], level[i + 1], level[i]) for i in range(0, len(level), 2)]
        one = _named(m, level[0], f"{name}_one")

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
        m.d.comb += self.i.ready.eq(enable)
        accept = self.i.valid & enable
        p = self.i.payload
        op, fmt = p.op, p.fmt
        rtz = p.mode == RoundMode.RTZ
        sr = p.mode == RoundMode.STOCHASTIC

        # ---- LFSR: word j of an operation is the state after j leaps of 16 steps ----------------
        max_draws = vlen // 8
        state = Signal(32, init=self.seed_value, name="lfsr")
        taps = MAXIMAL_TAPS[32]
        words = []
        for j in range(max_draws + 1):
            rows = lfsr_step_matrix(32, 16 * j, taps)
            word = Cat(*[Cat(*[state[b] for b in range(32) if mask >> b & 1]).xor() for mask in rows])
            words.append(_named(m, word, f"lfsr_word{j}"))
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
                Mux(
                    fp_fmt & is_float_arith,
                    PATH_FMA,
                    Mux(fp_fmt & (op == VecOp.VREDSUM), PATH_RED, PATH_SIMPLE),
                ),
            )
        )

        # ---- conversion path: lane i converts element i (vlen / 8 lanes; the lanes beyond
        # vlen / 32 and vlen / 16 only handle 16- and 8-bit formats) --------------------------------
        src_w32 = (fmt == VecFormat.FP32) | (fmt == VecFormat.INT32)
        src_w16 = (fmt == VecFormat.BF16) | (fmt == VecFormat.INT16) | (fmt == VecFormat.CF16)
        cvt_res, cvt_flags = [], []
        for i in range(vlen // 8):
            width = 32 if i < vlen // 32 else 16 if i < vlen // 16 else 8
            lane = hier.shared(ConvertLane, self.cvt_latency, width, self.cf16)
            m.submodules[f"cvt_{i}"] = lane
            value = p.a[8 * i : 8 * i + 8]
            if i < vlen // 16:
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
                lane.rand_word.eq(words[i][:16]),
            ]
            cvt_res.append(lane.result)
            cvt_flags.append(lane.flags)
        active = Cat(*[cvt_n > i for i in range(vlen // 8)])
        dst_w32 = (dst == VecFormat.FP32) | (dst == VecFormat.INT32)
        dst_w16 = (dst == VecFormat.BF16) | (dst == VecFormat.INT16) | (dst == VecFormat.CF16)
        cvt_ctl = _delay(m, enable, Cat(active, dst_w32, dst_w16), self.cvt_latency, "cvt_ctl")
        c_active, c_w32, c_w16 = cvt_ctl[: vlen // 8], cvt_ctl[vlen // 8], cvt_ctl[vlen // 8 + 1]
        packed = {}
        for wd in (8, 16, 32):
            packed[wd] = Cat(*[Mux(c_active[i], cvt_res[i][:wd], 0) for i in range(vlen // wd)])
        cvt_out = Mux(c_w32, packed[32], Mux(c_w16, packed[16], packed[8]))
        cvt_fl = Const(0, 6)
        for i in range(vlen // 8):
            cvt_fl = cvt_fl | Mux(c_active[i], cvt_flags[i], 0)
        cvt_out = _delay(m, enable, cvt_out, L - self.cvt_latency, "cvt_res")
        cvt_fl = _delay(m, enable, cvt_fl, L - self.cvt_latency, "cvt_flags")

        # ---- fma path ------------------------------------------------------------------------------
        fma_out = {}
        for vf, lf in _FLOAT_LANES.items():
            w = lf.width
            res, flg = [], []
            for j, (x, y, z) in enumerate(zip(_elements(p.a, w), _elements(p.b, w), _elements(p.c, w))):
                lane = hier.shared(FmaLane, lf, self.fma_latency)  # one module, instantiated per lane
                m.submodules[f"fma_{lf.name}_{j}"] = lane
                one_b = (op == VecOp.VADD) | (op == VecOp.VSUB)
                addend = Mux(
                    op == VecOp.VADD,
                    y,
                    Mux(op == VecOp.VSUB, y ^ lf.sign_bit, Mux(op == VecOp.VMUL, lf.sign_bit, z)),
                )
                m.d.comb += [
                    lane.enable.eq(enable),
                    lane.a.eq(x),
                    lane.b.eq(Mux(one_b, lf.one, y)),
                    lane.c.eq(addend),
                    lane.rtz.eq(rtz),
                    lane.sr.eq(sr),
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

        # ---- reduction path: FP32 adder tree, then one rounding into BF16 -----------------------
        n_leaves = vlen // 16
        f32 = _elements(p.a, 32)
        bf = _elements(p.a, 16)
        leaves = []
        for i in range(n_leaves):
            pair = f32[i // 2] if i % 2 == 0 else Const(0x80000000, 32)
            leaves.append(Mux(fmt == VecFormat.FP32, pair, Cat(Const(0, 16), bf[i])))
        level, acc_flags = leaves, None
        for lv in range(self.tree_levels):
            nxt, lv_flags = [], Const(0, 6)
            for i in range(0, len(level), 2):
                add = hier.shared(FP32Add, self.cfg)
                m.submodules[f"red_add_{lv}_{i // 2}"] = add
                m.d.comb += [
                    add.i.valid.eq(1),
                    add.i.payload.a.eq(level[i]),
                    add.i.payload.b.eq(level[i + 1]),
                    add.o.ready.eq(enable),
                ]
                nxt.append(add.o.payload.result)
                lv_flags = lv_flags | add.o.payload.flags.as_value()
            level = nxt
            if acc_flags is None:
                acc_flags = lv_flags
            else:
                acc_flags = (
                    _delay(m, enable, acc_flags, self.cfg.node.fpu.add_stages, f"red_flags{lv}") | lv_flags
                )
        tree_latency = self.red_latency - 1
        red_ctl = _delay(m, enable, Cat(fmt, p.mode.as_value(), words[0][:16]), tree_latency, "red_ctl")
        r_fmt, r_mode, r_rand = red_ctl[:3], red_ctl[3:6], red_ctl[6:22]
        total = level[0]
        u = unpack(m, total, 8, 23, 127, ieee=True, name="red_sum")
        bf_dst = DstFormat(8, 7, ieee=True)
        st = round_stage1(m, u["sig"], u["exp"], 127, bf_dst, "red_rnd")
        code, rflags = round_stage2(
            m,
            st,
            sign=u["sign"],
            zero=u["zero"],
            sticky=Const(0, 1),
            mode={"rtz": r_mode == RoundMode.RTZ, "sr": r_mode == RoundMode.STOCHASTIC},
            rand=r_rand,
            saturate=Const(0, 1),
            fmt=bf_dst,
            name="red_rnd",
        )
        bf_code = Mux(
            u["nan"], BF16_LANE.canonical_nan, Mux(u["inf"], Cat(Const(0x7F80, 15), u["sign"]), code)
        )
        bf_flags = Mux(u["nan"] | u["inf"], 0, rflags) | (u["sub"] << 5)
        red_res = Mux(
            r_fmt == VecFormat.FP32, Cat(total, Const(0, vlen - 32)), Cat(bf_code, Const(0, vlen - 16))
        )
        red_flags = acc_flags | Mux(r_fmt == VecFormat.FP32, 0, bf_flags)
        red_res = _delay(m, enable, red_res, L - tree_latency, "red_res")
        red_flags = _delay(m, enable, red_flags, L - tree_latency, "red_flags")

        # ---- simple path ---------------------------------------------------------------------------
        cands = []  # (condition, result, flags)
        for vf, lf in _FLOAT_LANES.items():
            for k, (r, fl) in self._float_simple(m, lf, p.a, p.b).items():
                cands.append(((fmt == vf) & (op == k), r, fl))
        cf_bias = {VecFormat.CF8E4: p.cf8e4_bias, VecFormat.CF8E5: p.cf8e5_bias, VecFormat.CF16: p.cf16_bias}
        for vf, bias in cf_bias.items():
            if vf is VecFormat.CF16 and not self.cf16:
                continue
            for k, (r, fl) in self._cfloat_simple(m, vf, p.a, p.b, bias).items():
                cands.append(((fmt == vf) & (op == k), r, fl))
        for vf, w in _INT_WIDTHS.items():
            for k, (r, fl) in self._int_simple(m, w, p.a, p.b, p.c).items():
                cands.append(((fmt == vf) & (op == k), r, fl))
        for w in (8, 16, 32):  # broadcast and permutations depend only on the element width
            of_width = Cat(*[fmt == vf for vf in VecFormat if _width(vf) == w]).any()
            for k, (r, fl) in self._any_format_simple(w, p.a, p.b, p.c, p.x).items():
                cands.append((of_width & (op == k), r, fl))
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
        ctl = _delay(m, enable, Cat(self.i.valid, path), L, "ctl")
        o_path = ctl[1:3]
        result = select(o_path, [simple_res, fma_res, red_res, cvt_out])
        flags = select(o_path, [simple_flags, fma_flags, red_flags, cvt_fl])
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
