"""Format conversions with round to nearest-even, toward zero, and stochastic rounding."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.hw.common.lfsr import LFSR

from .arith import check_config
from .datapath import EXP, DstFormat, Pipeline, round_stage1, round_stage2, unpack
from .flags import StickyFlags
from .layouts import FLAGS, RESULT, FpFormat, RoundMode, convert_op

__all__ = ["DEFAULT_SEED", "Convert"]

#: Reset value of the stochastic-rounding LFSR.
DEFAULT_SEED = 0xACE1

#: Destination formats: (exp_bits, man_bits, ieee, signed, bias or None for the run-time bias).
_DST = {
    FpFormat.FP32: (DstFormat(8, 23, ieee=True), 127),
    FpFormat.BF16: (DstFormat(8, 7, ieee=True), 127),
    FpFormat.CF8_143: (DstFormat(4, 3), None),
    FpFormat.CF8_152: (DstFormat(5, 2), None),
    FpFormat.CF16_SHP: (DstFormat(5, 10), None),
    FpFormat.CF16_UHP: (DstFormat(6, 10, signed=False), None),
}

SIG = 24  # every source significand is widened to FP32's


class Convert(wiring.Component):
    """Converts between FP32, BF16, CFloat8 (1-4-3 and 1-5-2, any bias) and, when
    ``cfg.node.fpu.cf16``, CFloat16 (SHP and UHP, any bias): any source to any destination,
    bit-exact with :func:`tatami.sim.numerics.convert`.

    Rounding: ``mode`` RNE, RTZ or STOCHASTIC (only when ``cfg.node.fpu.stochastic_rounding``;
    otherwise, like every undefined mode code, it rounds to nearest-even). The random word of a
    conversion is the value of a 32-bit LFSR (:class:`~tatami.hw.common.lfsr.LFSR`, 16 fresh bits
    per step) at the cycle the conversion is accepted; the LFSR steps once per accepted conversion,
    whatever its mode, so conversion number ``k`` after a seed load (or reset) uses the LFSR state
    after ``k`` steps. The rounder uses the word's low 16 bits (``docs/numerics.md``).

    Parameters
    ----------
    cfg : TatamiConfig
        Latency is ``cfg.node.fpu.convert_stages`` cycles.
    seed : int
        LFSR reset value (32 bits).

    Attributes
    ----------
    i : In(stream.Signature(convert_op()))
        Conversions (``value``, ``src``, ``src_bias``, ``dst``, ``dst_bias``, ``mode``, ``saturate``).
        ``i.ready`` is ``o.ready`` (global stall, as in :class:`~tatami.hw.fpu.arith.ArithUnit`).
    o : Out(stream.Signature(RESULT))
        Results: the encoding in the low bits of ``result``, and flags. A source or destination
        format the unit lacks (CFloat16 without ``cf16``, codes 6 and 7) gives 0 and INVALID.
    flags : Out(FLAGS)
        Sticky flags.
    flags_clear : In(1)
        Clear the sticky flags.
    seed : In(32)
        Seed for ``seed_load``.
    seed_load : In(1)
        Load ``seed`` into the LFSR (0 loads 1).
    """

    def __init__(self, cfg, seed: int = DEFAULT_SEED):
        fpu = check_config(cfg, "Convert")
        if not isinstance(seed, int) or not 0 <= seed < 1 << 32:
            raise ValueError(f"seed must be a 32-bit unsigned int, not {seed!r}")
        self.latency, self.cf16, self.sr, self.seed_value = (
            fpu.convert_stages,
            fpu.cf16,
            fpu.stochastic_rounding,
            seed,
        )
        self.op_layout = convert_op()
        self.formats = [f for f in FpFormat if self.cf16 or f not in (FpFormat.CF16_SHP, FpFormat.CF16_UHP)]
        super().__init__(
            {
                "i": In(stream.Signature(self.op_layout)),
                "o": Out(stream.Signature(RESULT)),
                "flags": Out(FLAGS),
                "flags_clear": In(1),
                "seed": In(32),
                "seed_load": In(1),
            }
        )

    def _unpack_source(self, m, op):
        v, bias = op.value, op.src_bias
        units = {
            FpFormat.FP32: unpack(m, v, 8, 23, 127, ieee=True, name="s32"),
            FpFormat.BF16: unpack(m, v[:16], 8, 7, 127, ieee=True, name="s16"),
            FpFormat.CF8_143: unpack(m, v[:8], 4, 3, bias, name="s143"),
            FpFormat.CF8_152: unpack(m, v[:8], 5, 2, bias, name="s152"),
        }
        if self.cf16:
            units[FpFormat.CF16_SHP] = unpack(m, v[:16], 5, 10, bias, name="sshp")
            units[FpFormat.CF16_UHP] = unpack(m, v[:16], 6, 10, bias, has_sign=False, name="suhp")
        u = {
            "sign": Signal(name="src_sign"),
            "sig": Signal(SIG, name="src_sig"),
            "exp": Signal(EXP, name="src_exp"),
            "zero": Signal(name="src_zero"),
            "sub": Signal(name="src_sub"),
            "inf": Signal(name="src_inf"),
            "nan": Signal(name="src_nan"),
            "snan": Signal(name="src_snan"),
            "src_ok": Signal(name="src_ok"),
        }
        with m.Switch(op.src):
            for fmt, x in units.items():
                with m.Case(fmt):
                    m.d.comb += [u[k].eq(x[k]) for k in x if k != "sig"]
                    m.d.comb += [u["sig"].eq(x["sig"] << (SIG - len(x["sig"]))), u["src_ok"].eq(1)]
        return u

    def elaborate(self, platform):
        m = Module()
        m.submodules.sticky = sticky = StickyFlags()
        enable = self.o.ready
        accept = self.i.valid & self.i.ready
        m.d.comb += self.i.ready.eq(enable)
        op = self.i.payload
        # Steps: unpack and decode; the rounders' alignment shifts; round, specials and select
        # (relative delays for the register placement, as in ``arith.STEP_DELAYS``).
        pipe = Pipeline(m, enable, self.latency, [3, 3, 4])

        # Step 1: unpack the source, decode the operation, sample the random word.
        u = self._unpack_source(m, op)
        s = dict(u)
        s.update(
            valid=self.i.valid,
            dst=op.dst.as_value(),
            dst_bias=op.dst_bias,
            rtz=op.mode == RoundMode.RTZ,
            sr=(op.mode == RoundMode.STOCHASTIC) if self.sr else Const(0, 1),
            saturate=op.saturate,
        )
        if self.sr:
            m.submodules.lfsr = lfsr = LFSR(32, 16, seed=self.seed_value)
            m.d.comb += [lfsr.enable.eq(accept), lfsr.load.eq(self.seed_load), lfsr.seed_in.eq(self.seed)]
            s["rand"] = lfsr.value[:16]
        else:
            s["rand"] = Const(0, 16)
        s = pipe.boundary(s)

        # Step 2: the alignment shift of one rounder per destination format.
        for fmt in self.formats:
            dst, bias = _DST[fmt]
            st = round_stage1(m, s["sig"], s["exp"], s["dst_bias"] if bias is None else bias, dst, fmt.name)
            s.update({f"{fmt.name}_{k}": v for k, v in st.items()})
        s = pipe.boundary(s)

        # Step 3: round, pack, special values, select the destination.
        result = Signal(32, name="result")
        flags = Signal(6, name="flags")
        mode = {"rtz": s["rtz"], "sr": s["sr"]}
        rounded = {}
        for fmt in self.formats:
            dst, _ = _DST[fmt]
            st = {k[len(fmt.name) + 1 :]: v for k, v in s.items() if k.startswith(f"{fmt.name}_")}
            rounded[fmt] = round_stage2(
                m,
                st,
                sign=s["sign"],
                zero=s["zero"],
                sticky=Const(0, 1),
                mode=mode,
                rand=s["rand"],
                saturate=s["saturate"],
                fmt=dst,
                name=f"{fmt.name}_rnd",
            )
        with m.Switch(s["dst"]):
            for fmt in self.formats:
                dst, _ = _DST[fmt]
                code, fl = rounded[fmt]
                max_code = Cat(Const(dst.max_mag, dst.exp_bits + dst.man_bits), s["sign"] & dst.signed)
                with m.Case(fmt):
                    with m.If(~s["src_ok"]):
                        m.d.comb += [result.eq(0), flags.eq(0b10000)]
                    with m.Elif(s["nan"]):
                        if dst.ieee:
                            nan = ((1 << (dst.exp_bits + 1)) - 1) << (dst.man_bits - 1)
                            m.d.comb += [result.eq(nan), flags.eq(s["snan"] << 4)]
                        else:
                            m.d.comb += [result.eq(max_code), flags.eq(0b10000)]
                    with m.Elif(s["inf"]):
                        inf = Cat(Const(((1 << dst.exp_bits) - 1) << dst.man_bits, dst.width - 1), s["sign"])
                        if dst.ieee:
                            m.d.comb += [
                                result.eq(Mux(s["saturate"], max_code, inf)),
                                flags.eq(Mux(s["saturate"], 0b00101, 0)),
                            ]
                        elif not dst.signed:
                            m.d.comb += [
                                result.eq(Mux(s["sign"], 0, max_code)),
                                flags.eq(Mux(s["sign"], 0b10000, 0b00101)),
                            ]
                        else:
                            m.d.comb += [result.eq(max_code), flags.eq(0b00101)]
                    with m.Else():
                        m.d.comb += [result.eq(code), flags.eq(fl)]
            with m.Default():
                m.d.comb += [result.eq(0), flags.eq(0b10000)]
        out = {"valid": s["valid"], "result": result, "flags": flags | (s["sub"] << 5)}
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
