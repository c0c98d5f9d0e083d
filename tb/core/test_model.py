"""The core's golden model against unicorn, the random program generator, the decoder's legality
rule against :func:`tatami.isa.decode`, and the units' parameter checks (no RTL simulator)."""

import random

import pytest
from amaranth.sim import Simulator

from tatami.config import preset
from tatami.hw.core.accumulator import Accumulator
from tatami.hw.core.core import Core
from tatami.hw.core.decoder import Decoder
from tatami.hw.core.tile import CoreTile
from tatami.isa import IllegalInstruction, decode, encode
from tatami.sim.core.cosim import Divergence, check_against_unicorn, random_programs, reference_traces
from tatami.sim.core.model import AccumulatorModel, Cause, CoreModel, csr_known
from tatami.sim.core.randgen import GenOptions, generate

TINY = preset("tiny")


@pytest.mark.parametrize("block", range(2))
def test_model_matches_unicorn(block):
    """Golden model vs unicorn, state compared after every instruction (2 threads' programs).
    (The RTL co-simulation checks each of its programs against unicorn as well.)"""
    for seed in range(block * 30, block * 30 + 30):
        reference_traces(TINY, random_programs(TINY, seed), unicorn=True)


@pytest.mark.long
def test_model_matches_unicorn_long():
    """100,000 programs (about an hour)."""
    for seed in range(10_000, 110_000):
        reference_traces(TINY, random_programs(TINY, seed), unicorn=True)


def test_divergence_is_detected():
    """A model with a wrong instruction is caught by the unicorn comparison."""
    progs = random_programs(TINY, 3)
    traces = reference_traces(TINY, progs, unicorn=False)
    model = CoreModel(TINY)
    original = CoreModel._execute

    def broken(self, h, pc, word, rd_override):
        rd, value, mem, counts = original(self, h, pc, word, rd_override)
        if decode(word).name == "xor":
            value ^= 1
        return rd, value, mem, counts

    CoreModel._execute = broken
    try:
        with pytest.raises(Divergence, match="differ"):
            for prog, recs in zip(progs, traces):
                check_against_unicorn(model, prog.thread, recs, prog)
        with pytest.raises(Divergence, match="differ"):  # the lockstep check of reference_traces
            reference_traces(TINY, progs, unicorn=True)
    finally:
        CoreModel._execute = original


def test_generator_covers_every_trap_cause_and_instruction():
    causes, names = set(), set()
    for seed in range(30):
        opts = GenOptions(misaligned_jumps=seed % 2 == 1)
        for recs in reference_traces(TINY, random_programs(TINY, seed, opts), unicorn=False):
            for r in recs:
                if r.trap is not None:
                    causes.add(r.trap)
                else:
                    names.add(decode(r.insn).name)
    assert causes >= {0, 1, 2, 3, 4, 5, 6, 7, 11}
    rv32im = {"lui", "auipc", "jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu", "lb", "lh", "lw"}
    rv32im |= {"lbu", "lhu", "sb", "sh", "sw", "addi", "slti", "sltiu", "xori", "ori", "andi", "slli"}
    rv32im |= {"srli", "srai", "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and"}
    rv32im |= {"mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu", "fence", "fence.i", "mret"}
    rv32im |= {"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"}
    assert rv32im <= names, rv32im - names


def test_generated_programs_fit_their_slices():
    cfg = TINY.replace(**{"node.core.threads": 4, "node.sram.size_bytes": 16384})
    for seed in range(20):
        for t in range(4):
            p = generate(cfg, seed, thread=t, opts=GenOptions(length=400))
            for addr, data in p.segments:
                assert cfg.node.core.reset_pc <= addr and addr + len(data) <= cfg.node.core.reset_pc + 16384


def test_model_basics():
    m = CoreModel(TINY, node=3)
    assert m.harts[1].hartid == 7
    m.write_word(m.base, encode("csrrs", rd=5, csr=0xF14, rs1=0))
    m.write_word(m.base + 4, 0)
    m.harts[1].mtvec = m.base + 0x100
    m.start(1, m.base)
    assert m.step(1).rd_value == 7
    r = m.step(1)
    assert r.trap == Cause.ILLEGAL and m.harts[1].pc == m.base + 0x100 and m.harts[1].mepc == m.base + 4
    assert not csr_known(0x302) and csr_known(0xB03) and csr_known(0x320)
    assert csr_known(0x7A0) and csr_known(0x7A3) and not csr_known(0x7A4)  # tselect, tdata1..3; tinfo


def test_accumulator_model():
    acc = AccumulatorModel(2)
    add = 0x7F << 25 | 0x0B
    assert acc(0, add, 2, 3) == (5, False)
    assert acc(1, add | 1 << 12, 9, 0) == (0, False)
    assert acc(1, add, 1, 1) == (11, False)
    assert acc(0, 0x0B, 1, 1) == (None, True)


def test_decoder_legal_matches_isa():
    """The decoder's legality rule is the ISA table's: compare on random and edge words."""
    dut = Decoder()
    rng = random.Random(5)
    words = [rng.getrandbits(32) | 3 for _ in range(1500)]
    words += [encode(n, **ops) for n, ops in [("fence.i", {}), ("ecall", {}), ("mret", {}), ("wfi", {})]]
    words += [0x0010000F | 1 << 7, 0x00000073 | 1 << 15, 0x40001013, 0x0200006B]

    def expected(w):
        opcode = w & 0x7F
        try:
            ins = decode(w)
        except IllegalInstruction:
            return False, opcode in (0x0B, 0x2B, 0x5B, 0x7B)
        if ins.spec.ext == "Xtatami":
            return ins.name in ("thread.start", "thread.stop"), ins.name not in (
                "thread.start",
                "thread.stop",
            )
        return True, False

    async def bench(ctx):
        for w in words:
            ctx.set(dut.insn, w)
            legal, custom = expected(w)
            assert (ctx.get(dut.legal), ctx.get(dut.custom)) == (legal, custom), hex(w)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_parameter_checks():
    with pytest.raises(ValueError, match="latency"):
        Accumulator(2, latency=0)
    with pytest.raises(ValueError, match="threads"):
        Accumulator(5)
    with pytest.raises(ValueError, match="trace_depth"):
        CoreTile(TINY, trace_depth=3)
    with pytest.raises(ValueError, match="address space"):
        Core(TINY.replace(**{"node.core.reset_pc": 0xFFFF_F800}))


def test_expected_retire_word():
    """The co-simulation compares packed retire words under a mask: exactly the fields the
    model's record defines (a store's fields only for a store, cause/tval only for a trap)."""
    from tatami.sim.benches.core import _CODEC, expected_word, to_retire
    from tatami.sim.core.model import Retire

    rng = random.Random(1)
    records = [
        Retire(1, 0x80000010, 0x00A00513, 10, 10),
        Retire(3, 0x80000020, 0x00112023, 0, 0, (0x80000100, 0x12345678, 0b1111)),
        Retire(0, 0x80000030, 0xFFFFFFFF, 0, 0, None, 2, 0xFFFFFFFF),
    ]
    for rec in records:
        want, mask = expected_word(rec)
        assert to_retire(_CODEC.unpack(want)) == rec
        flips = [1 << b for b in range(_CODEC.width)] + [rng.getrandbits(_CODEC.width) for _ in range(50)]
        for flip in flips:
            word = want ^ flip
            assert (word & mask == want) == (to_retire(_CODEC.unpack(word)) == rec), hex(flip)
