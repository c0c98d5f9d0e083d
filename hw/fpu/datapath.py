"""Datapath building blocks shared by the floating-point units (functions, not components).

Every function adds combinational logic to a :class:`~amaranth.hdl.Module` and returns Amaranth
values. The units chain them into steps and let :class:`Pipeline` put registers between steps.

The arithmetic follows one scheme (see ``docs/numerics.md``, "Hardware units"):

1. unpack every operand into sign, a *normalised* significand (most significant bit set, subnormals
   shifted up by a leading-zero count) and the exponent of that bit;
2. multiply significands exactly; align the smaller term of a sum into a window ``W`` bits wide,
   OR-ing ("jamming") every bit shifted out of the window into its least significant bit;
3. add or subtract, take the magnitude, normalise with a leading-zero count;
4. round once with :func:`round_stage1` / :func:`round_stage2`, which mirror
   :func:`tatami.sim.numerics.round_pack` step by step.

The window is at least two bits wider than either term and four bits wider than the result
precision, so the jammed sum is the exact sum rounded to odd at ``p + 2`` or more bits: rounding it
once more gives the correctly rounded result, the exact flags and after-rounding tininess.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed

from tatami.sim.numerics import SR_BITS

__all__ = [
    "EXP",
    "DstFormat",
    "Pipeline",
    "jam",
    "lzc",
    "round_stage1",
    "round_stage2",
    "shr_sticky",
    "sum_terms",
    "unpack",
    "unpack_cf8",
]

#: Shape of every internal exponent (exponent of a significand's most significant bit).
EXP = signed(14)


class Pipeline:
    """Places ``stages`` register stages between the steps of a datapath.

    A unit calls :meth:`boundary` after each step with a dict of everything later steps need; the
    call returns the dict unchanged or registered (``Signal`` copies loaded when ``enable`` is
    high). The last boundary (after the last step) always holds at least one register, so every
    output comes from a flip-flop; the other ``stages - 1`` registers go on inner boundaries, at
    most one each; stages beyond the number of steps are added at the output.

    ``steps`` is the number of steps (the inner registers are then spread evenly) or a list of
    the steps' relative delays: the inner registers then go where they make the slowest stage
    (the largest sum of delays between two registers) as fast as possible.
    """

    def __init__(self, m: Module, enable, stages: int, steps):
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"a pipeline needs at least one stage, not {stages!r}")
        delays = None
        if not isinstance(steps, int):
            delays = list(steps)
            if not delays or any(not isinstance(d, int | float) or d <= 0 for d in delays):
                raise ValueError(f"step delays must be positive numbers, not {steps!r}")
            steps = len(delays)
        self.m, self.enable, self.steps = m, enable, steps
        inner = min(stages - 1, steps - 1)
        self.regs = dict.fromkeys(range(1, steps + 1), 0)
        if delays:
            cuts = _balanced_cuts(delays, inner)
        else:
            cuts = [(j + 1) * steps // (inner + 1) for j in range(inner)]
        for cut in cuts:
            self.regs[cut] += 1
        self.regs[steps] += stages - inner
        self.index = 0

    def boundary(self, values: dict) -> dict:
        self.index += 1
        if self.index > self.steps:
            raise RuntimeError(f"more than the declared {self.steps} pipeline steps")
        for n in range(self.regs[self.index]):
            out = {}
            for name, v in values.items():
                r = Signal(v.shape(), name=f"p{self.index}_{n}_{name}")
                with self.m.If(self.enable):
                    self.m.d.sync += r.eq(v)
                out[name] = r
            values = out
        return values


def _balanced_cuts(delays, cuts):
    """``cuts`` distinct inner boundaries (1 .. len(delays) - 1) that minimise the largest sum of
    delays between consecutive boundaries (dynamic programming)."""
    n = len(delays)
    prefix = [0]
    for d in delays:
        prefix.append(prefix[-1] + d)
    # best[k][i]: the least possible slowest segment covering steps 0..i-1 with k cuts inside.
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(cuts + 1)]
    last = [[0] * (n + 1) for _ in range(cuts + 1)]
    for i in range(1, n + 1):
        best[0][i] = prefix[i]
    for k in range(1, cuts + 1):
        for i in range(k + 1, n + 1):
            for j in range(k, i):  # the last cut is after step j
                cost = max(best[k - 1][j], prefix[i] - prefix[j])
                if cost < best[k][i]:
                    best[k][i], last[k][i] = cost, j
    out, i = [], n
    for k in range(cuts, 0, -1):
        i = last[k][i]
        out.append(i)
    return sorted(out)


def lzc(v):
    """Leading-zero count of ``v`` (a tree of muxes); ``len(v)`` when ``v`` is zero."""
    w = len(v)
    n = 1
    while n < w:
        n *= 2
    padded = Cat(Const((1 << (n - w)) - 1, n - w), v) if n > w else v

    def tree(x):
        if len(x) == 1:
            return ~x[0], Cat()
        half = len(x) // 2
        zl, cl = tree(x[:half])
        zh, ch = tree(x[half:])
        return zh & zl, Mux(zh, Cat(cl, Const(1, 1)), Cat(ch, Const(0, 1)))

    zero, count = tree(padded)
    return Mux(zero, w, count) if n == w else count


def shr_sticky(m: Module, v, amount, name):
    """``v >> amount`` (``amount`` unsigned, any size) and whether a 1 was shifted out."""
    w = len(v)
    amt = Signal(range(w + 1), name=f"{name}_amt")
    m.d.comb += amt.eq(Mux(amount > w, w, amount))
    shifted = (v >> amt)[:w]
    lost_mask = ~(Const((1 << w) - 1, w) << amt)[:w]
    return shifted, (v & lost_mask).any()


def unpack(m: Module, code, exp_bits, man_bits, bias, *, ieee=False, has_sign=True, name="x"):
    """Split an encoding into a dict: ``sign``, ``sig`` (``man_bits + 1`` bits, most significant
    bit set unless zero), ``exp`` (:data:`EXP`, exponent of ``sig``'s top bit), and the class bits
    ``zero``, ``sub``, ``inf``, ``nan``, ``snan``. ``bias`` is an int or a 6-bit value."""
    e = code[man_bits : man_bits + exp_bits]
    f = code[:man_bits]
    top = (1 << exp_bits) - 1
    special = (e == top) if ieee else Const(0, 1)
    zero = (e == 0) & (f == 0)
    sub = (e == 0) & (f != 0)
    lz = Signal(range(man_bits + 1), name=f"{name}_lz")
    m.d.comb += lz.eq(lzc(f))
    sig = Signal(man_bits + 1, name=f"{name}_sig")
    exp = Signal(EXP, name=f"{name}_exp")
    with m.If(sub):
        m.d.comb += [sig.eq(Cat((f << (lz + 1))[:man_bits], Const(1, 1))), exp.eq(-bias - lz)]
    with m.Else():
        m.d.comb += [sig.eq(Cat(f, ~zero)), exp.eq(e - bias)]
    return {
        "sign": code[man_bits + exp_bits] if has_sign else Const(0, 1),
        "sig": sig,
        "exp": exp,
        "zero": zero,
        "sub": sub,
        "inf": special & (f == 0),
        "nan": special & (f != 0),
        "snan": special & (f != 0) & ~f[man_bits - 1],
    }


def sum_terms(m: Module, t1: dict, t2: dict, window: int, name="sum"):
    """Align two terms for a sum. Each term is a dict with ``sig`` (top bit set unless zero), ``top``
    (exponent of ``sig``'s top bit position), ``sign`` and ``zero``. Returns a dict with the two
    aligned ``window``-bit operands ``big`` and ``small`` (jammed), their signs, and ``top``, the
    exponent of the window's top bit."""
    w1, w2 = len(t1["sig"]), len(t2["sig"])
    x1 = Cat(Const(0, window - w1), t1["sig"]) if window > w1 else t1["sig"]
    x2 = Cat(Const(0, window - w2), t2["sig"]) if window > w2 else t2["sig"]
    one_big = Signal(name=f"{name}_one_big")
    m.d.comb += one_big.eq(t2["zero"] | (~t1["zero"] & (t1["top"] >= t2["top"])))
    d = Signal(range(1 << 13), name=f"{name}_d")
    m.d.comb += d.eq(Mux(one_big, t1["top"] - t2["top"], t2["top"] - t1["top"]))
    small, lost = shr_sticky(m, Mux(one_big, x2, x1), d, name)
    return {
        "big": Mux(one_big, x1, x2),
        "small": small | lost,
        "big_sign": Mux(one_big, t1["sign"], t2["sign"]),
        "small_sign": Mux(one_big, t2["sign"], t1["sign"]),
        "top": Mux(one_big, t1["top"], t2["top"]),
    }


def unpack_cf8(m: Module, code, layout, bias, name="x"):
    """Unpack a CFloat8 encoding whose layout (0: 1-4-3, 1: 1-5-2) and bias are run-time values.
    The significand is always 4 bits (a 1-5-2 significand gets a zero appended)."""
    u143 = unpack(m, code, 4, 3, bias, name=f"{name}_143")
    u152 = unpack(m, code, 5, 2, bias, name=f"{name}_152")
    u152["sig"] = Cat(Const(0, 1), u152["sig"])
    return {k: Mux(layout, u152[k], u143[k]) for k in u143}


@dataclass(frozen=True)
class DstFormat:
    """A destination format for the rounder: field widths fixed, bias an int or a value."""

    exp_bits: int
    man_bits: int
    ieee: bool = False
    signed: bool = True

    @property
    def precision(self):
        return self.man_bits + 1

    @property
    def max_exp_field(self):
        return (1 << self.exp_bits) - (2 if self.ieee else 1)

    @property
    def max_mag(self):
        return (self.max_exp_field << self.man_bits) | ((1 << self.man_bits) - 1)

    @property
    def width(self):
        return int(self.signed) + self.exp_bits + self.man_bits


def jam(sig, width):
    """``sig`` narrowed to ``width`` bits: its top ``width - 1`` bits and, below them, the OR of
    the rest (round to odd). Rounding the result once more to ``width - 2`` or fewer bits, at any
    position (also a subnormal one), gives the same result and flags as rounding ``sig``."""
    if len(sig) <= width:
        return sig
    return Cat(sig[: len(sig) - width + 1].any(), sig[len(sig) - width + 1 :])


def round_stage1(m: Module, sig, exp, bias, fmt: DstFormat, name, *, sr_bits=SR_BITS):
    """First half of rounding: the alignment shift for a subnormal result. ``sig`` is normalised
    (top bit set, or zero), ``exp`` the exponent of its top bit. Returns a dict for
    :func:`round_stage2` (``field``: ``sig`` followed by ``sr_bits`` zeros, shifted; ``lost``:
    a 1 was shifted out of it; ``subnormal``; ``carry_p``: rounding ``sig`` to ``p`` bits at an
    unbounded exponent carries into a new binade under RNE). ``sr_bits`` is the width of the
    stochastic-rounding window (:data:`SR_BITS`); a rounder without stochastic rounding needs 2
    (give :func:`round_stage2` the same value)."""
    wi, p = len(sig), fmt.precision
    if wi < p:
        raise ValueError(f"{name}: a {wi}-bit significand is narrower than the {p}-bit result")
    emin = Signal(EXP, name=f"{name}_emin")
    m.d.comb += emin.eq(1 - bias)
    sh_raw = Signal(EXP, name=f"{name}_sh")
    m.d.comb += sh_raw.eq(emin - exp)
    if sr_bits < 2:
        raise ValueError(f"{name}: the rounding window needs at least 2 bits, not {sr_bits!r}")
    cap = wi + sr_bits + 1
    sh = Mux(sh_raw <= 0, 0, Mux(sh_raw > cap, cap, sh_raw[:8]))
    field, lost = shr_sticky(m, Cat(Const(0, sr_bits), sig), sh, name)
    carry_p = sig[wi - p :].all() & sig[wi - p - 1] if wi > p else Const(0, 1)
    return {
        "field": field,
        "lost": lost,
        "subnormal": sh_raw > 0,
        "carry_p": carry_p,
        "tiny_rne": (exp < emin - 1) | ((exp == emin - 1) & ~carry_p),
        "below": exp < emin,
        "exp_part": Mux(sh_raw > 0, 0, (exp + bias - 1)[:12]),
    }


def round_stage2(
    m: Module, st: dict, *, sign, zero, sticky, mode, rand, saturate, fmt: DstFormat, name, sr_bits=SR_BITS
):
    """Second half: decide the increment (RNE, RTZ or stochastic), pack, detect overflow and set the
    flags. ``st`` comes from :func:`round_stage1`; ``mode`` is a dict of 1-bit values ``rtz`` and
    ``sr`` (neither: RNE); ``rand`` the random word (low :data:`SR_BITS` bits used). Returns
    ``(code, flags)`` with flags as a 6-bit value in :class:`tatami.sim.numerics.Flags` order."""
    p, mb, eb = fmt.precision, fmt.man_bits, fmt.exp_bits
    field = st["field"]
    wf = len(field)
    kept = field[wf - p :]
    window = field[wf - p - sr_bits : wf - p]
    below_window = field[: wf - p - sr_bits].any() if wf - p > sr_bits else Const(0, 1)
    low = below_window | st["lost"] | sticky
    inexact = window.any() | low
    rne_up = window[-1] & (window[:-1].any() | low | kept[0])
    sr_up = (window + rand[:sr_bits])[sr_bits]
    up = Mux(mode["sr"], sr_up, Mux(mode["rtz"], 0, rne_up))

    mag = Signal(12 + mb + 2, name=f"{name}_mag")
    m.d.comb += mag.eq((st["exp_part"] << mb) + kept + up)
    overflow = mag > fmt.max_mag
    tiny = st["below"] & Mux(mode["sr"], mag < (1 << mb), st["tiny_rne"] | mode["rtz"])
    denormal = (mag[mb:] == 0) & (mag[:mb] != 0)

    code = Signal(fmt.width, name=f"{name}_code")
    flags = Signal(6, name=f"{name}_flags")
    inf_mag = ((1 << eb) - 1) << mb
    over_mag = Signal(eb + mb, name=f"{name}_over")
    if fmt.ieee:
        m.d.comb += over_mag.eq(Mux(~saturate & ~mode["rtz"], inf_mag, fmt.max_mag))
    else:
        m.d.comb += over_mag.eq(fmt.max_mag)
    sign_bit = sign if fmt.signed else Const(0, 1)
    with m.If(zero):
        m.d.comb += [code.eq(sign_bit << (eb + mb)), flags.eq(0)]
    if not fmt.signed:
        with m.Elif(sign):
            m.d.comb += [code.eq(0), flags.eq(0b10000)]  # negative into an unsigned format: invalid
    with m.Elif(overflow):
        m.d.comb += [code.eq(Cat(over_mag, sign_bit)), flags.eq(0b00101)]
    with m.Else():
        m.d.comb += [
            code.eq(Cat(mag[: eb + mb], sign_bit)),
            flags.eq(Cat(inexact, tiny & inexact, Const(0, 3), denormal)),
        ]
    return code, flags
