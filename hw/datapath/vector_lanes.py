"""Lane datapaths of the vector unit (:mod:`tatami.hw.datapath.vector`): a fused multiply-add that
rounds directly into its element format (FP32 or BF16) with a run-time rounding mode, and a
format converter whose random word comes from outside (the unit's one LFSR).

Both are built from the FPU's datapath steps (:mod:`tatami.hw.fpu.datapath`: ``unpack``,
``sum_terms``, ``lzc``, ``round_stage1``, ``round_stage2``, ``Pipeline``), so they round exactly as
the FPU units and :func:`tatami.sim.numerics.round_pack` do. They differ from the FPU's
``FP32FMA`` and ``Convert`` in three ways the vector unit needs: the result format may be BF16
(one rounding, not FP32 then BF16), the rounding mode is an input (RNE, RTZ, stochastic), and the
stochastic word is an input, so that lane ``j`` of an instruction uses the ``j``-th word of the
unit's LFSR as the golden model does.

Every lane is a plain pipeline: ``enable`` advances it (the unit's global stall) and a result
leaves ``stages`` enabled cycles after its operands.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.hw.fpu.datapath import (
    EXP,
    DstFormat,
    Pipeline,
    lzc,
    round_stage1,
    round_stage2,
    shr_sticky,
    sum_terms,
    unpack,
)
from tatami.sim.numerics import SR_BITS

__all__ = ["BF16_LANE", "CVT_STEPS", "FMA_STEPS", "FP32_LANE", "ConvertLane", "FloatLaneFormat", "FmaLane"]

#: Logic steps of :class:`FmaLane` (unpack, product, align, add, normalise, round shift, round).
FMA_STEPS = 7


@dataclass(frozen=True)
class FloatLaneFormat:
    """An IEEE-style element format of the lanes (sign, ``exp_bits``, ``man_bits``, bias
    ``2**(exp_bits-1) - 1``)."""

    name: str
    exp_bits: int
    man_bits: int

    @property
    def width(self):
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self):
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def dst(self) -> DstFormat:
        return DstFormat(self.exp_bits, self.man_bits, ieee=True)

    @property
    def canonical_nan(self):
        return ((1 << (self.exp_bits + 1)) - 1) << (self.man_bits - 1)

    @property
    def one(self):
        return self.bias << self.man_bits

    @property
    def sign_bit(self):
        return 1 << (self.width - 1)


FP32_LANE = FloatLaneFormat("fp32", 8, 23)
BF16_LANE = FloatLaneFormat("bf16", 8, 7)


class FmaLane(wiring.Component):
    """``a * b + c`` in one IEEE-style format, one rounding, RISC-V NaN rules, subnormals, flags;
    bit-exact with :func:`tatami.sim.numerics.fp_fma` (and so with ``fp_add`` = ``a * 1 + b``,
    ``fp_sub`` = ``a * 1 + (-b)`` and ``fp_mul`` = ``a * b + (-0)``, which is how the vector unit
    uses it).

    The sum is formed in a window of ``max(2 p + 2, p + 19)`` bits (``p`` the precision) with the
    bits shifted out jammed into its last bit: the jammed sum is the exact sum rounded to odd at
    ``p + 17`` or more bits, so the 16 bits below the result's last bit (the stochastic window) are
    exact and every mode rounds as ``round_pack`` does.

    Parameters
    ----------
    fmt : FloatLaneFormat
        :data:`FP32_LANE` or :data:`BF16_LANE`.
    stages : int
        Pipeline registers (latency in enabled cycles), at least 1.

    Attributes
    ----------
    enable : In(1)
        Advance the pipeline.
    a, b, c : In(fmt.width)
        Operands (encodings).
    rtz, sr : In(1)
        Rounding mode: round toward zero, stochastic; neither: nearest-even.
    rand_word : In(16)
        Random word of a stochastic rounding.
    result : Out(fmt.width)
        The rounded result, ``stages`` enabled cycles later.
    flags : Out(6)
        Its flags (:class:`tatami.sim.numerics.Flags` order).
    """

    def __init__(self, fmt: FloatLaneFormat, stages: int):
        if not isinstance(fmt, FloatLaneFormat):
            raise TypeError(f"FmaLane takes a FloatLaneFormat, not {fmt!r}")
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"FmaLane needs at least one pipeline stage, not {stages!r}")
        self.fmt, self.stages = fmt, stages
        w = fmt.width
        super().__init__(
            {
                "enable": In(1),
                "a": In(w),
                "b": In(w),
                "c": In(w),
                "rtz": In(1),
                "sr": In(1),
                "rand_word": In(SR_BITS),
                "result": Out(w),
                "flags": Out(6),
            }
        )

    def elaborate(self, platform):
        m = Module()
        f = self.fmt
        eb, mb, bias = f.exp_bits, f.man_bits, f.bias
        p = mb + 1
        pipe = Pipeline(m, self.enable, self.stages, FMA_STEPS)

        # Step 1: unpack, special cases.
        a = unpack(m, self.a, eb, mb, bias, ieee=True, name="a")
        b = unpack(m, self.b, eb, mb, bias, ieee=True, name="b")
        c = unpack(m, self.c, eb, mb, bias, ieee=True, name="c")
        ps = a["sign"] ^ b["sign"]
        nan_any = a["nan"] | b["nan"] | c["nan"]
        inv_mul = (a["inf"] & b["zero"]) | (b["inf"] & a["zero"])
        prod_inf = a["inf"] | b["inf"]
        inf_minus_inf = prod_inf & c["inf"] & (ps != c["sign"])
        is_nan = nan_any | inv_mul | inf_minus_inf
        invalid = a["snan"] | b["snan"] | c["snan"] | inv_mul | (~nan_any & inf_minus_inf)
        inf_sign = Mux(prod_inf, ps, c["sign"])
        inf_code = Cat(Const(((1 << eb) - 1) << mb, eb + mb), inf_sign)
        s = {
            "special": nan_any | inv_mul | prod_inf | c["inf"],
            "special_code": Mux(is_nan, f.canonical_nan, inf_code),
            "invalid": invalid,
            "denormal_in": a["sub"] | b["sub"] | c["sub"],
            "ps": ps,
            "p_zero": a["zero"] | b["zero"],
            "a_sig": a["sig"],
            "a_exp": a["exp"],
            "b_sig": b["sig"],
            "b_exp": b["exp"],
            "c_sig": c["sig"],
            "c_exp": c["exp"],
            "c_sign": c["sign"],
            "c_zero": c["zero"],
            "rtz": self.rtz,
            "sr": self.sr,
            "rand": self.rand_word,
        }
        s = pipe.boundary(s)

        # Step 2: exact product, top bit at exponent a_exp + b_exp + 1.
        s["p_sig"] = s["a_sig"] * s["b_sig"]
        s["p_top"] = Signal(EXP, name="p_top")
        m.d.comb += s["p_top"].eq(s["a_exp"] + s["b_exp"] + 1)
        s = pipe.boundary(s)

        # Step 3: align in the window, jam what is shifted out.
        window = max(2 * p + 2, p + SR_BITS + 3)
        t1 = {"sig": s["p_sig"], "top": s["p_top"], "sign": s["ps"], "zero": s["p_zero"]}
        t2 = {"sig": s["c_sig"], "top": s["c_exp"], "sign": s["c_sign"], "zero": s["c_zero"]}
        s.update(sum_terms(m, t1, t2, window))
        s = pipe.boundary(s)

        # Step 4: add or subtract, magnitude, sign (an exact zero is -0 only from two -0 terms).
        big, small = s["big"], s["small"]
        eff_sub = s["big_sign"] ^ s["small_sign"]
        diff = Signal(window + 2, name="diff")
        m.d.comb += diff.eq(Mux(eff_sub, big - small, big + small))
        neg = eff_sub & diff[-1]
        mag = Signal(window + 1, name="mag")
        m.d.comb += mag.eq(Mux(neg, -diff, diff))
        s["mag"] = mag
        s["mag_zero"] = mag == 0
        s["sign"] = Mux(mag == 0, s["ps"] & s["c_sign"], s["big_sign"] ^ neg)
        top = Signal(EXP, name="sum_top")
        m.d.comb += top.eq(s["top"] + 1)
        s["top"] = top
        for k in ("big", "small", "big_sign", "small_sign", "p_sig", "c_sig", "a_sig", "b_sig"):
            s.pop(k, None)
        s = pipe.boundary(s)

        # Step 5: normalise.
        lz = Signal(range(len(mag) + 1), name="lz")
        m.d.comb += lz.eq(lzc(s["mag"]))
        s["norm"] = (s["mag"] << lz)[: len(mag)]
        s["exp"] = Signal(EXP, name="norm_exp")
        m.d.comb += s["exp"].eq(s["top"] - lz)
        s["zero"] = s["mag_zero"]
        s.pop("mag")
        s = pipe.boundary(s)

        # Step 6: rounding shift (subnormal results).
        s.update(round_stage1(m, s["norm"], s["exp"], bias, f.dst, "rnd"))
        s.pop("norm")
        s = pipe.boundary(s)

        # Step 7: round, pack, special results, flags.
        code, flags = round_stage2(
            m,
            s,
            sign=s["sign"],
            zero=s["zero"],
            sticky=Const(0, 1),
            mode={"rtz": s["rtz"], "sr": s["sr"]},
            rand=s["rand"],
            saturate=Const(0, 1),
            fmt=f.dst,
            name="rnd",
        )
        out = {
            "result": Mux(s["special"], s["special_code"], code),
            "flags": Mux(s["special"], s["invalid"] << 4, flags) | (s["denormal_in"] << 5),
        }
        out = pipe.boundary(out)
        m.d.comb += [self.result.eq(out["result"]), self.flags.eq(out["flags"])]
        return m


#: Float formats of the vector unit's conversions: VecFormat code -> (exp_bits, man_bits, bias
#: field name or None for IEEE's 127).
_CVT_FLOATS = {
    0: ("fp32", 8, 23, None),
    1: ("bf16", 8, 7, None),
    2: ("cf8e4", 4, 3, "cf8e4_bias"),
    3: ("cf8e5", 5, 2, "cf8e5_bias"),
    7: ("cf16", 5, 10, "cf16_bias"),
}
#: Integer formats: VecFormat code -> width.
_CVT_INTS = {4: 8, 5: 16, 6: 32}
_CVT_WIDTH = {0: 32, 1: 16, 2: 8, 3: 8, 4: 8, 5: 16, 6: 32, 7: 16}
CVT_STEPS = 3


class ConvertLane(wiring.Component):
    """One element of ``vcvt.<dst>.<src>``, bit-exact with ``VectorModel.convert``: float to float
    (:func:`tatami.sim.numerics.convert`), integer to float (rounded once), float to integer
    (rounded with the mode, saturated with INVALID, NaN gives the largest value), integer to
    integer (sign-extended or saturated, no flags).

    Formats are :class:`~tatami.isa.VecFormat` codes; CFloat formats take the run-time biases
    (CFloat16 is SHP). A lane is built for the formats of at most ``max_width`` bits (lane ``i`` of
    the unit only ever converts elements whose formats are that narrow); with ``cf16`` false,
    CFloat16 gives 0 and INVALID. Unsupported pairs give 0 and INVALID.

    Attributes
    ----------
    enable : In(1)
    value : In(32)
        The source element in the low bits.
    src, dst : In(3)
        ``VecFormat`` codes.
    cf8e4_bias, cf8e5_bias, cf16_bias : In(6)
    rtz, sr : In(1)
    rand_word : In(16)
    result : Out(32)
        The destination element in the low bits, ``stages`` enabled cycles later.
    flags : Out(6)
    """

    def __init__(self, stages: int, max_width: int = 32, cf16: bool = True):
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"ConvertLane needs at least one pipeline stage, not {stages!r}")
        if max_width not in (8, 16, 32):
            raise ValueError(f"max_width must be 8, 16 or 32, not {max_width!r}")
        self.stages, self.max_width, self.cf16 = stages, max_width, cf16
        self.formats = [f for f, w in _CVT_WIDTH.items() if w <= max_width and (cf16 or f != 7)]
        super().__init__(
            {
                "enable": In(1),
                "value": In(32),
                "src": In(3),
                "dst": In(3),
                "cf8e4_bias": In(6),
                "cf8e5_bias": In(6),
                "cf16_bias": In(6),
                "rtz": In(1),
                "sr": In(1),
                "rand_word": In(SR_BITS),
                "result": Out(32),
                "flags": Out(6),
            }
        )

    def _bias(self, name):
        return 127 if name is None else getattr(self, name)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, self.enable, self.stages, CVT_STEPS)
        v = self.value

        # Step 1: the source as sign, normalised significand of max_width bits, exponent of its top bit.
        u = {
            k: Signal(name=f"src_{k}") for k in ("sign", "zero", "sub", "inf", "nan", "snan", "ok", "is_int")
        }
        sig_bits = self.max_width  # the widest source significand of the lane (an integer's)
        sig = Signal(sig_bits, name="src_sig")
        exp = Signal(EXP, name="src_exp")
        cands = []
        for f in self.formats:
            if f in _CVT_FLOATS:
                name, eb, mb, bias = _CVT_FLOATS[f]
                w = 1 + eb + mb
                x = unpack(m, v[:w], eb, mb, self._bias(bias), ieee=bias is None, name=f"s_{name}")
                x["sig"] = x["sig"] << (sig_bits - len(x["sig"]))
                x["is_int"] = Const(0, 1)
            else:
                w = _CVT_INTS[f]
                neg = v[w - 1]
                mag = Signal(w, name=f"s_i{w}_mag")
                m.d.comb += mag.eq(Mux(neg, -v[:w], v[:w]))
                lz = Signal(range(w + 1), name=f"s_i{w}_lz")
                m.d.comb += lz.eq(lzc(mag))
                norm = Signal(w, name=f"s_i{w}_norm")
                m.d.comb += norm.eq(mag << lz)
                e = Signal(EXP, name=f"s_i{w}_exp")
                m.d.comb += e.eq(w - 1 - lz)
                zero = mag == 0
                x = {
                    "sign": neg,
                    "sig": Cat(Const(0, sig_bits - w), norm) if w < sig_bits else norm,
                    "exp": e,
                    "zero": zero,
                    "sub": Const(0, 1),
                    "inf": Const(0, 1),
                    "nan": Const(0, 1),
                    "snan": Const(0, 1),
                    "is_int": Const(1, 1),
                }
            cands.append((self.src == f, x))
        # Select the source (Mux chains: continuous assignments, see hw/common/select.py).
        for k in ("sign", "zero", "sub", "inf", "nan", "snan", "is_int"):
            val = Const(0, 1)
            for hit, x in cands:
                val = Mux(hit, x[k], val)
            m.d.comb += u[k].eq(val)
        ok = Const(0, 1)
        sig_v, exp_v = Const(0, sig_bits), Const(0, EXP)
        for hit, x in cands:
            sig_v, exp_v, ok = Mux(hit, x["sig"], sig_v), Mux(hit, x["exp"], exp_v), ok | hit
        m.d.comb += [sig.eq(sig_v), exp.eq(exp_v), u["ok"].eq(ok)]
        s = dict(u, sig=sig, exp=exp, dst=self.dst, rtz=self.rtz, sr=self.sr, rand=self.rand_word)
        s.update(cf8e4_bias=self.cf8e4_bias, cf8e5_bias=self.cf8e5_bias, cf16_bias=self.cf16_bias)
        s = pipe.boundary(s)

        # Step 2: the alignment shift of each float rounder; the integer-part shift.
        floats = [f for f in self.formats if f in _CVT_FLOATS]
        ints = [f for f in self.formats if f in _CVT_INTS]
        for f in floats:
            name, eb, mb, bias = _CVT_FLOATS[f]
            dstf = DstFormat(eb, mb, ieee=bias is None)
            st = round_stage1(m, s["sig"], s["exp"], 127 if bias is None else s[bias], dstf, f"r_{name}")
            s.update({f"r_{name}_{k}": val for k, val in st.items()})
        if ints:
            # floor(|X| * 2**16) and whether a 1 was lost: (sig << 16) shifted right so that the
            # significand's top bit (weight 2**exp) lands at bit exp + 16. |X| >= 2**W (exp >= W,
            # the lane's widest integer) overflows every integer format of the lane.
            wi = self.max_width
            big = Cat(Const(0, 16), s["sig"])
            amount = Signal(8, name="fi_amount")
            huge = s["exp"] >= wi
            low = s["exp"] < -64
            m.d.comb += amount.eq(Mux(low, 127, Mux(huge, 0, wi - 1 - s["exp"])))
            shifted, lost = shr_sticky(m, big, amount, "fi")
            s["fi_int"] = shifted[16 : 16 + wi]
            s["fi_window"] = shifted[:16]
            s["fi_lost"] = lost
            s["fi_huge"] = huge
        s = pipe.boundary(s)

        # Step 3: round, pack, special values, select the destination.
        result = Signal(32, name="result")
        flags = Signal(6, name="flags")
        mode = {"rtz": s["rtz"], "sr": s["sr"]}
        res_v, flg_v, dst_ok = Const(0, 32), Const(0b10000, 6), Const(0, 1)
        for f in floats:
            name, eb, mb, bias = _CVT_FLOATS[f]
            dstf = DstFormat(eb, mb, ieee=bias is None)
            st = {k[len(name) + 3 :]: val for k, val in s.items() if k.startswith(f"r_{name}_")}
            code, fl = round_stage2(
                m,
                st,
                sign=s["sign"],
                zero=s["zero"],
                sticky=Const(0, 1),
                mode=mode,
                rand=s["rand"],
                saturate=Const(0, 1),
                fmt=dstf,
                name=f"r_{name}_rnd",
            )
            max_code = Cat(Const(dstf.max_mag, eb + mb), s["sign"])
            inf = Cat(Const(((1 << eb) - 1) << mb, eb + mb), s["sign"])
            if dstf.ieee:
                nan_code = Const(((1 << (eb + 1)) - 1) << (mb - 1), dstf.width)
                r = Mux(s["nan"], nan_code, Mux(s["inf"], inf, code))
                fx = Mux(s["nan"], s["snan"] << 4, Mux(s["inf"], 0, fl))
            else:
                r = Mux(s["nan"], max_code, Mux(s["inf"], max_code, code))
                fx = Mux(s["nan"], 0b10000, Mux(s["inf"], 0b00101, fl))
            hit = s["dst"] == f
            res_v = Mux(hit, r, res_v)
            flg_v = Mux(hit, fx | (s["sub"] << 5), flg_v)
            dst_ok = dst_ok | hit
        if ints:
            iv = s["fi_int"]
            window = s["fi_window"]
            rest = window[:15].any() | s["fi_lost"]
            inexact = window.any() | s["fi_lost"]
            rne_up = window[15] & (rest | iv[0])
            sr_up = (window + s["rand"])[16]
            up = Mux(s["sr"], sr_up, Mux(s["rtz"], 0, rne_up))
            mag = Signal(34, name="fi_mag")
            m.d.comb += mag.eq(iv + up)
            for f in ints:
                w = _CVT_INTS[f]
                hi = (1 << (w - 1)) - 1
                over = s["fi_huge"] | Mux(s["sign"], mag > hi + 1, mag > hi)
                sat = Mux(s["sign"] & ~s["nan"], Const(1 << (w - 1), w), Const(hi, w))
                val = Mux(s["sign"], -mag, mag)[:w]
                bad = s["nan"] | s["inf"] | over
                r = Mux(bad, sat, Mux(s["zero"], 0, val))
                fx = Mux(bad, 0b10000, Mux(s["zero"], 0, inexact))
                fx = Mux(s["is_int"], 0, fx)
                hit = s["dst"] == f
                res_v = Mux(hit, r, res_v)
                flg_v = Mux(hit, fx, flg_v)
                dst_ok = dst_ok | hit
        m.d.comb += [
            result.eq(Mux(s["ok"] & dst_ok, res_v, 0)),
            flags.eq(Mux(s["ok"] & dst_ok, flg_v, 0b10000)),
        ]
        out = pipe.boundary({"result": result, "flags": flags})
        m.d.comb += [self.result.eq(out["result"]), self.flags.eq(out["flags"])]
        return m
