"""Linear-feedback shift register with leap-forward: ``step`` fresh bits per cycle.

Used as the seeded random source of stochastic rounding and of the traffic generators. The
register is a Fibonacci LFSR over a maximal-length polynomial (period ``2**width - 1``); each
enabled cycle it advances ``step`` single steps at once, so the ``step`` low bits of ``value`` are
new every cycle. :class:`tatami.sim.common.LfsrModel` is the bit-exact golden model.

One single step: ``feedback = XOR of state[t - 1] for t in taps``;
``state = ((state << 1) | feedback) & mask``.

Seeding: ``load`` writes ``seed`` into the register; a zero seed (the one state an XOR LFSR
never leaves) is replaced by :data:`ZERO_SEED_SUBSTITUTE`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LFSR", "MAXIMAL_TAPS", "ZERO_SEED_SUBSTITUTE", "lfsr_step_matrix"]

#: Taps (polynomial exponents) of maximal-length LFSRs, from Xilinx XAPP052 (Table 3).
MAXIMAL_TAPS = {
    3: (3, 2),
    4: (4, 3),
    5: (5, 3),
    6: (6, 5),
    7: (7, 6),
    8: (8, 6, 5, 4),
    9: (9, 5),
    10: (10, 7),
    11: (11, 9),
    12: (12, 6, 4, 1),
    13: (13, 4, 3, 1),
    14: (14, 5, 3, 1),
    15: (15, 14),
    16: (16, 15, 13, 4),
    17: (17, 14),
    18: (18, 11),
    19: (19, 6, 2, 1),
    20: (20, 17),
    21: (21, 19),
    22: (22, 21),
    23: (23, 18),
    24: (24, 23, 22, 17),
    25: (25, 22),
    28: (28, 25),
    31: (31, 28),
    32: (32, 22, 2, 1),
    33: (33, 20),
    48: (48, 47, 21, 20),
    64: (64, 63, 61, 60),
}

ZERO_SEED_SUBSTITUTE = 1


def _check(width, step, taps):
    if taps is None:
        if width not in MAXIMAL_TAPS:
            raise ValueError(
                f"no maximal-length taps known for a {width}-bit LFSR; "
                f"choose one of {sorted(MAXIMAL_TAPS)} or give taps"
            )
        taps = MAXIMAL_TAPS[width]
    taps = tuple(taps)
    if not taps or any(not 1 <= t <= width for t in taps) or width not in taps:
        raise ValueError(f"taps {taps} must lie in 1..{width} and include {width}")
    if not isinstance(step, int) or not 1 <= step <= width:
        raise ValueError(f"step must be an integer in 1..{width}, not {step!r}")
    return taps


def lfsr_step_matrix(width: int, step: int, taps) -> list[int]:
    """For each next-state bit, the mask of current-state bits it is the XOR of, after ``step``
    single steps."""
    # rows[i]: mask over current bits that state bit i equals; start as identity.
    rows = [1 << i for i in range(width)]
    for _ in range(step):
        fb = 0
        for t in taps:
            fb ^= rows[t - 1]
        rows = [fb, *rows[:-1]]
    return rows


class LFSR(wiring.Component):
    """Leap-forward LFSR.

    Parameters
    ----------
    width : int
        Register width; a width in :data:`MAXIMAL_TAPS` unless ``taps`` are given.
    step : int
        Single steps per enabled cycle (fresh bits per cycle), 1..width.
    seed : int
        Reset value.

    Attributes
    ----------
    value : Out(width)
        The register.
    enable : In(1)
        Advance this cycle.
    load : In(1)
        Load ``seed_in`` this cycle (takes precedence over ``enable``).
    seed_in : In(width)
    """

    def __init__(self, width: int = 32, step: int = 1, *, seed: int = 1, taps=None):
        self.taps = _check(width, step, taps)
        self.width, self.step = width, step
        if not 0 <= seed < (1 << width):
            raise ValueError(f"seed {seed:#x} does not fit {width} bits")
        self.seed = seed or ZERO_SEED_SUBSTITUTE
        super().__init__(
            {
                "value": Out(width, init=self.seed),
                "enable": In(1),
                "load": In(1),
                "seed_in": In(width),
            }
        )

    def elaborate(self, platform):
        m = Module()
        rows = lfsr_step_matrix(self.width, self.step, self.taps)
        state = self.value
        nxt = []
        for mask in rows:
            nxt.append(Cat(*[state[j] for j in range(self.width) if mask >> j & 1]).xor())
        with m.If(self.load):
            m.d.sync += state.eq(self.seed_in)
            with m.If(self.seed_in == 0):
                m.d.sync += state.eq(ZERO_SEED_SUBSTITUTE)
        with m.Elif(self.enable):
            m.d.sync += state.eq(Cat(*nxt))
        return m
