"""tatami.isa: the instruction table, encode and decode. Runs without the GNU toolchain: the
reference encodings come from gnu_encodings.txt, made by GNU as (see tb/sw/gnu.py)."""

from __future__ import annotations

import itertools
import random

import pytest

from tatami import isa
from tatami.asm import assemble

from . import gnu


def test_layouts_are_32_bits_and_opcode_first():
    for fmt, layout in isa.LAYOUTS.items():
        assert layout.size == 32, fmt
        assert (layout["opcode"].offset, layout["opcode"].width) == (0, 7), fmt


def test_no_two_instructions_overlap():
    specs = list(isa.INSTRUCTIONS.values())
    for a, b in itertools.combinations(specs, 2):
        common = a.mask & b.mask
        assert (a.match ^ b.match) & common, f"{a.name} and {b.name} can match the same word"


def test_every_spec_decodes_its_own_match():
    for spec in isa.INSTRUCTIONS.values():
        assert spec.match & 3 == 3
        assert isa.decode(spec.match).spec is spec


def test_table_rows_generate_the_custom_extension():
    names = set(isa.INSTRUCTIONS)
    for name, _, _ in isa.SYNC_OPS + isa.DMA_OPS + isa.MATRIX_OPS:
        assert name in names
    for name, funct7, _, formats in isa.VECTOR_OPS:
        if not formats:
            assert isa.INSTRUCTIONS[name].fixed["funct7"] == funct7
        for fmt in formats:
            spec = isa.INSTRUCTIONS[f"{name}.{fmt.suffix}"]
            assert spec.fixed == {"opcode": isa.Opcode.VECTOR, "funct3": fmt, "funct7": funct7}
    assert "vand.f32" not in names and "vand.i8" in names
    assert len({f7 for _, f7, _, _ in isa.VECTOR_OPS}) == len(isa.VECTOR_OPS)


@pytest.mark.parametrize(
    ("name", "operands", "word"),
    [
        # worked by hand from the RISC-V spec and docs/isa.md
        ("addi", {"rd": 10, "rs1": 0, "imm": -1}, 0xFFF00513),
        ("sem.add", {"rs1": 10, "rs2": 11}, 0x00B5007B),
        ("sem.wait", {"rs1": 10, "rs2": 11}, 0x00B5107B),
        ("barrier", {"rs1": 5}, 0x0002A07B),
        ("thread.start", {"rs1": 1, "rs2": 2}, 0x0020B07B),
        ("thread.stop", {"rs1": 1}, 0x0000C07B),
        ("unit.fence", {}, 0x0000507B),
        ("dma.start", {"rd": 10, "rs1": 11}, 0x0005855B),
        ("dma.wait", {"rs1": 10}, 0x0005105B),
        ("dma.poll", {"rd": 10, "rs1": 11}, 0x0005A55B),
        ("mx.start", {"rd": 10, "rs1": 11}, 0x0005852B),
        ("mx.wait", {"rs1": 10}, 0x0005102B),
        ("mx.poll", {"rd": 10, "rs1": 11}, 0x0005A52B),
        ("vadd.f32", {"vd": 1, "vs1": 2, "vs2": 3}, 0x0031008B),
        ("vfma.bf16", {"vd": 1, "vs1": 2, "vs2": 3}, 0x0631108B),
        ("vrelu.i8", {"vd": 4, "vs1": 5}, 0x0C02C20B),
        ("vredmax.cf16", {"vd": 31, "vs1": 30}, 0x420F7F8B),
        ("vld", {"vd": 7, "rs1": 10}, 0x7005038B),
        ("vst", {"vs2": 7, "rs1": 10}, 0x7275000B),
        ("vbcast.i32", {"vd": 1, "rs1": 10}, 0x6005608B),
    ],
)
def test_known_encodings(name, operands, word):
    assert isa.encode(name, **operands) == word
    insn = isa.decode(word)
    assert insn.name == name and dict(insn.operands) == operands


def test_gnu_table_through_the_assembler():
    table = gnu.read_table()
    assert len(table) > 700
    source = "\n".join(line for line, _ in table)
    prog = assemble(source, base=gnu.TEXT_BASE)
    expected = [w for _, words in table for w in words]
    assert prog.words() == expected


def test_gnu_table_through_encode_and_decode():
    """Single-instruction lines of the table: decode the GNU word, re-encode it, and check the
    decoded operands are the ones written in the line."""
    checked = 0
    for line, words in gnu.read_table():
        name = line.split()[0]
        if name not in isa.INSTRUCTIONS or len(words) != 1:
            continue
        insn = isa.decode(words[0])
        if insn.name != name:
            continue  # an alias (e.g. `jal . + 8` written without rd)
        assert insn.encode() == words[0], line
        pc = 0x1000
        assert assemble(insn.format(pc), base=pc).words() == words, (line, insn.format(pc))
        checked += 1
    assert checked > 500


def test_random_words_round_trip():
    rng = random.Random(5)
    legal = 0
    for _ in range(20000):
        word = rng.getrandbits(32)
        if rng.random() < 0.7:  # bias towards our opcodes so most draws are legal
            spec = rng.choice(list(isa.INSTRUCTIONS.values()))
            word = (word & ~spec.mask) | spec.match
        try:
            insn = isa.decode(word)
        except isa.IllegalInstruction as e:
            assert e.word == word and f"{word:#010x}" in str(e)
            continue
        legal += 1
        assert insn.encode() == word
        assert isa.INSTRUCTIONS[insn.name].encode(**insn.operands) == word
    assert legal > 12000


def test_decode_rejects_reserved_fields():
    with pytest.raises(isa.IllegalInstruction, match="not a valid instruction"):
        isa.decode(0x00000000)
    with pytest.raises(isa.IllegalInstruction):
        isa.decode(isa.encode("add", rd=1, rs1=2, rs2=3) | (1 << 27))  # funct7 0x08
    with pytest.raises(isa.IllegalInstruction):
        isa.decode(isa.encode("barrier", rs1=1) | (5 << 7))  # barrier writes no rd
    with pytest.raises(isa.IllegalInstruction):
        isa.decode(isa.encode("vand.i8", vd=1, vs1=2, vs2=3) & ~(7 << 12))  # vand has no f32 form
    with pytest.raises(isa.IllegalInstruction, match="32-bit"):
        isa.decode(1 << 32)


def test_encode_errors_name_the_problem():
    with pytest.raises(isa.EncodingError, match=r"immediate 2048 out of range -2048\.\.2047"):
        isa.encode("addi", rd=1, rs1=1, imm=2048)
    with pytest.raises(isa.EncodingError, match="odd"):
        isa.encode("beq", rs1=1, rs2=2, offset=3)
    with pytest.raises(isa.EncodingError, match=r"register number 32 out of range 0\.\.31"):
        isa.encode("add", rd=32, rs1=0, rs2=0)
    with pytest.raises(isa.EncodingError, match="missing rs2"):
        isa.encode("add", rd=1, rs1=0)
    with pytest.raises(isa.EncodingError, match="unknown instruction"):
        isa.encode("frobnicate")
    with pytest.raises(isa.EncodingError, match=r"0\.\.1048575"):
        isa.encode("lui", rd=1, imm=-1)


def test_registers_and_csrs():
    assert isa.parse_xreg("fp") == 8 and isa.parse_xreg("X31") == 31 and isa.parse_xreg("v1") is None
    assert isa.parse_vreg("v31") == 31 and isa.parse_vreg("a0") is None
    assert isa.CSR_NAMES["mstatus"] == 0x300 and isa.CSR_NAMES["mhartid"] == 0xF14
    assert isa.CSR_NAMES["cycleh"] == 0xC80 and isa.CSR_NAMES["mhpmcounter3"] == 0xB03
    assert isa.csr_name(0x7C0) == "0x7c0"


def test_hi_lo_reassembles_every_edge():
    for value in [
        0,
        1,
        0x7FF,
        0x800,
        0xFFF,
        0x1000,
        0x7FFFF800,
        0x80000000,
        0xFFFFF800,
        0xFFFFFFFF,
        0x12345678,
    ]:
        hi, lo = isa.hi_lo(value)
        assert 0 <= hi < 1 << 20 and -2048 <= lo < 2048
        assert ((hi << 12) + lo) & 0xFFFFFFFF == value


def test_instruction_format_relative_and_absolute():
    insn = isa.decode(isa.encode("jal", rd=1, offset=-8))
    assert str(insn) == "jal ra, . - 8"
    assert insn.format(0x100) == "jal ra, 0xf8"
    assert isa.decode(isa.encode("lw", rd=10, rs1=2, imm=-4)).format(abi=False) == "lw x10, -4(x2)"
    assert str(isa.decode(isa.encode("fence", pred=0b0011, succ=0b1000))) == "fence rw, i"
