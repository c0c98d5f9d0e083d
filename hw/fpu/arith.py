"""The arithmetic datapath shared by the FP32, BF16 and CFloat8 units (a base class, not a unit).

A unit subclass gives its operation layout, its pipeline depth and :meth:`ArithUnit.operands`,
which unpacks the payload into one or two factors and an optional addend; this class builds the
rest: special cases (NaN, Inf, invalid), exact product, alignment, sum, normalisation and one
rounding into FP32 (round to nearest-even), and the stream ports and sticky flags.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig

from .datapath import EXP, DstFormat, Pipeline, jam, lzc, round_stage1, round_stage2, sum_terms
from .flags import StickyFlags
from .layouts import FLAGS, RESULT

__all__ = ["FP32_OUT", "STEP_DELAYS", "ArithUnit", "check_config"]

FP32_OUT = DstFormat(exp_bits=8, man_bits=23, ieee=True)
CANONICAL_NAN = 0x7FC00000
RESULT_PRECISION = 24


#: Relative delays of the datapath's steps (estimated logic levels on a 4-input-LUT FPGA), from
#: which :class:`~tatami.hw.fpu.datapath.Pipeline` places the registers: a leading-zero count or a
#: barrel shift of ~30-50 bits is 2, a step with a shift and a compare or a wide add is 3.
STEP_DELAYS = {
    "unpack": 3,  # leading-zero count and shift of a subnormal mantissa, class bits, specials
    "multiply": 3,  # significand product (DSP blocks plus a fabric adder for 24 x 24)
    "align": 3,  # exponent difference and the jamming right shift
    "add": 2,  # big + small, big - small and small - big in parallel, select
    "lzc": 2,  # leading-zero count of the sum
    "shift": 2,  # normalising left shift, jam to 26 bits
    "normalise": 1,  # products only: a one-bit shift
    "round_shift": 3,  # exponent compare and the subnormal right shift
    "round": 3,  # increment, overflow compare, flags, special results
}


def check_config(cfg, unit):
    if not isinstance(cfg, TatamiConfig):
        raise TypeError(f"{unit} takes a TatamiConfig, not {cfg!r}")
    return cfg.node.fpu


class ArithUnit(wiring.Component):
    """Base of the arithmetic units: fixed-latency pipeline, one operation per cycle.

    Attributes
    ----------
    i : In(stream.Signature(op_layout))
        Operations. ``i.ready`` is ``o.ready``: the whole pipeline advances in every cycle where
        ``o.ready`` is high (a global stall) and an operation accepted in cycle ``t`` leaves in the
        ``latency``-th advancing cycle after it.
    o : Out(stream.Signature(RESULT))
        Results (registered): ``result`` (FP32 encoding) and ``flags``.
    flags : Out(FLAGS)
        Sticky flags: OR of the flags of every result delivered since the last ``flags_clear``.
    flags_clear : In(1)
        Clear the sticky flags.
    """

    def __init__(self, op_layout, latency: int):
        self.latency = latency
        self.op_layout = op_layout
        super().__init__(
            {
                "i": In(stream.Signature(op_layout)),
                "o": Out(stream.Signature(RESULT)),
                "flags": Out(FLAGS),
                "flags_clear": In(1),
            }
        )

    def operands(self, m: Module, op):
        """Return ``(factors, addend)``: a list of one or two unpacked operands (dicts from
        :func:`~tatami.hw.fpu.datapath.unpack`) whose product is the first term, and the unpacked
        addend or None."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        m.submodules.sticky = sticky = StickyFlags()
        enable = self.o.ready
        m.d.comb += self.i.ready.eq(enable)
        factors, addend = self.operands(m, self.i.payload)
        names = ["unpack", *(["multiply"] if len(factors) == 2 else [])]
        names += ["align", "add", "lzc", "shift"] if addend is not None else ["normalise"]
        names += ["round_shift", "round"]
        pipe = Pipeline(m, enable, self.latency, [STEP_DELAYS[n] for n in names])

        # Step 1: unpacked operands, special cases, operand DENORMAL flag.
        a = factors[0]
        b = factors[1] if len(factors) == 2 else None
        c = addend
        zero = Const(0, 1)
        b_nan, b_inf, b_zero, b_snan = (b["nan"], b["inf"], b["zero"], b["snan"]) if b else (zero,) * 4
        c_nan, c_inf, c_snan = (c["nan"], c["inf"], c["snan"]) if c else (zero,) * 3
        ps = a["sign"] ^ b["sign"] if b else a["sign"]
        nan_ab = a["nan"] | b_nan
        nan_any = nan_ab | c_nan
        inv_mul = (a["inf"] & b_zero) | (b_inf & a["zero"])
        prod_inf = a["inf"] | b_inf
        inf_minus_inf = prod_inf & c_inf & (ps != (c["sign"] if c else 0))
        is_nan = nan_any | inv_mul | inf_minus_inf
        invalid = a["snan"] | b_snan | c_snan | inv_mul | (~nan_any & inf_minus_inf)
        inf_sign = Mux(prod_inf, ps, c["sign"] if c else 0)
        s = {
            "valid": self.i.valid,
            "special": nan_any | inv_mul | prod_inf | c_inf,
            "special_code": Mux(is_nan, CANONICAL_NAN, Cat(Const(0xFF << 23, 31), inf_sign)),
            "invalid": invalid,
            "denormal_in": a["sub"] | (b["sub"] if b else 0) | (c["sub"] if c else 0),
            "ps": ps,
            "p_zero": a["zero"] | b_zero,
            "a_sig": a["sig"],
            "a_exp": a["exp"],
        }
        if b:
            s.update(b_sig=b["sig"], b_exp=b["exp"])
        if c:
            s.update(c_sig=c["sig"], c_exp=c["exp"], c_sign=c["sign"], c_zero=c["zero"])
        s = pipe.boundary(s)

        # Step 2: exact product; its top bit position has exponent a_exp + b_exp + 1.
        if b:
            s["p_sig"] = s["a_sig"] * s["b_sig"]
            s["p_top"] = Signal(EXP, name="p_top")
            m.d.comb += s["p_top"].eq(s["a_exp"] + s["b_exp"] + 1)
            s = pipe.boundary(s)
        else:
            s["p_sig"], s["p_top"] = s["a_sig"], s["a_exp"]

        if c:
            # Step 3: align the smaller term in the window, jam the bits shifted out.
            window = max(len(s["p_sig"]), len(s["c_sig"])) + 2
            window = max(window, RESULT_PRECISION + 4)
            t1 = {"sig": s["p_sig"], "top": s["p_top"], "sign": s["ps"], "zero": s["p_zero"]}
            t2 = {"sig": s["c_sig"], "top": s["c_exp"], "sign": s["c_sign"], "zero": s["c_zero"]}
            s.update(sum_terms(m, t1, t2, window))
            s = pipe.boundary(s)

            # Step 4: add or subtract, magnitude and sign. ``small - big`` is computed beside
            # ``big - small`` (two carry chains in parallel) rather than negating the difference.
            big, small = s["big"], s["small"]
            eff_sub = s["big_sign"] ^ s["small_sign"]
            diff = Signal(window + 2, name="diff")
            rdiff = Signal(window + 2, name="rdiff")
            m.d.comb += [diff.eq(Mux(eff_sub, big - small, big + small)), rdiff.eq(small - big)]
            neg = eff_sub & diff[-1]
            mag = Signal(window + 1, name="mag")
            m.d.comb += mag.eq(Mux(neg, rdiff, diff))
            s["mag"] = mag
            s["mag_zero"] = mag == 0
            s["sign"] = Mux(mag == 0, s["ps"] & s["c_sign"], s["big_sign"] ^ neg)
            top = Signal(EXP, name="sum_top")
            m.d.comb += top.eq(s["top"] + 1)
            s["top"] = top
            s = pipe.boundary(s)

            # Step 5: leading-zero count of the magnitude.
            lz = Signal(range(len(mag) + 1), name="lz")
            m.d.comb += lz.eq(lzc(s["mag"]))
            s["lz"] = lz
            s = pipe.boundary(s)

            # Step 6: normalising shift.
            lz = s["lz"]
            s["norm"] = (s["mag"] << lz)[: len(mag)]
            s["exp"] = Signal(EXP, name="norm_exp")
            m.d.comb += s["exp"].eq(s["top"] - lz)
            s["zero"] = s["mag_zero"]
        else:
            # Steps 5-6 (products only, one step): the product of two normalised significands
            # needs at most a one-bit shift.
            p = s["p_sig"]
            hi = p[-1]
            norm = Mux(hi, p, p << 1)[: len(p)]
            pad = max(0, RESULT_PRECISION - len(p))  # narrow products (BF16, CFloat8): exact
            s["norm"] = Cat(Const(0, pad), norm) if pad else norm
            s["exp"] = Signal(EXP, name="norm_exp")
            m.d.comb += s["exp"].eq(s["p_top"] - ~hi)
            s["zero"], s["sign"] = s["p_zero"], s["ps"]
        # Only the top 25 bits and a sticky bit matter to the rounding (round to odd at 26 bits):
        # narrower registers and a narrower rounding shift.
        s["norm"] = jam(s["norm"], RESULT_PRECISION + 2)
        s = pipe.boundary(s)

        # Step 7: rounding shift (subnormal results).
        s.update(round_stage1(m, s["norm"], s["exp"], 127, FP32_OUT, "rnd", sr_bits=2))
        s = pipe.boundary(s)

        # Step 8: round, pack, select special results, flags.
        code, flags = round_stage2(
            m,
            s,
            sign=s["sign"],
            zero=s["zero"],
            sticky=Const(0, 1),
            mode={"rtz": Const(0, 1), "sr": Const(0, 1)},
            rand=Const(0, 2),
            saturate=Const(0, 1),
            fmt=FP32_OUT,
            name="rnd",
            sr_bits=2,
        )
        out = {
            "valid": s["valid"],
            "result": Mux(s["special"], s["special_code"], code),
            "flags": Mux(s["special"], s["invalid"] << 4, flags) | (s["denormal_in"] << 5),
        }
        out = pipe.boundary(out)
        m.d.comb += [
            self.o.valid.eq(out["valid"]),
            self.o.payload.result.eq(out["result"]),
            self.o.payload.flags.eq(out["flags"]),
            sticky.set.eq(self.o.payload.flags),
            sticky.update.eq(self.o.valid & self.o.ready),
            sticky.clear.eq(self.flags_clear),
            self.flags.eq(sticky.flags),
        ]
        return m
