"""The core's two-step branch comparator (:class:`tatami.hw.core.branch.BranchUnit`: two 16-bit
comparisons, then their combination): every condition on corner values (signs, equal halves,
differences only in one half) and random pairs, ``partial`` fed back as ``partial_in``."""

import random

from amaranth.sim import Simulator

from tatami.hw.core.branch import BranchUnit

CORNERS = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x1_0000, 0xFFFF, 0x1_FFFF]
CORNERS += [0x8001_0000, 0x7FFF_0000, 0x8000_FFFF, 0x0001_8000]


def _s32(x: int) -> int:
    return x - (1 << 32) if x >> 31 else x


def test_branch_conditions():
    dut = BranchUnit()
    rng = random.Random(5)
    pairs = [(a, b) for a in CORNERS for b in CORNERS]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(200)]
    pairs += [(a, a ^ (1 << rng.randrange(32))) for a in (rng.getrandbits(32) for _ in range(100))]
    wrong = []

    async def bench(ctx):
        for a, b in pairs:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.partial_in, ctx.get(dut.partial))  # (the core's register in between)
            conds = (
                (0, a == b),
                (1, a != b),
                (4, _s32(a) < _s32(b)),
                (5, _s32(a) >= _s32(b)),
                (6, a < b),
                (7, a >= b),
            )
            for op, want in conds:
                ctx.set(dut.op, op)
                if ctx.get(dut.taken) != int(want):
                    wrong.append((op, hex(a), hex(b)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not wrong, f"{len(wrong)} wrong conditions, first {wrong[:5]}"
