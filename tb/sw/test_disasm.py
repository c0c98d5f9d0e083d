"""tatami.asm.disasm: disassembled text assembles back to the same words."""

from __future__ import annotations

import random

import pytest

from tatami import isa
from tatami.asm import assemble, disassemble


def _random_program(rng: random.Random, n: int) -> bytes:
    specs = list(isa.INSTRUCTIONS.values())
    out = bytearray()
    while len(out) < 4 * n:
        spec = rng.choice(specs)
        word = (rng.getrandbits(32) & ~spec.mask) | spec.match
        if isa.decode(word).operands.get("offset", 0) % 4:
            continue  # the assembler rejects targets that are not 4-byte aligned (no RVC)
        out += word.to_bytes(4, "little")
    return bytes(out)


@pytest.mark.parametrize("aliases", [False, True])
def test_disassembly_reassembles(aliases):
    rng = random.Random(11)
    base = 0x40000000
    data = _random_program(rng, 3000)
    lines = disassemble(data, base, aliases=aliases)
    source = "\n".join(line.split("  ", 2)[2] for line in lines)
    assert assemble(source, base=base).section(".text").data == data


def test_illegal_words_become_word_directives_and_labels_are_shown():
    data = (0).to_bytes(4, "little") + isa.encode("ecall").to_bytes(4, "little")
    lines = disassemble(data, 0x100, symbols={"start": 0x100})
    assert lines == ["start:", "00000100:  00000000  .word 0x00000000", "00000104:  00000073  ecall"]
    source = "\n".join(line.split("  ", 2)[2] for line in lines[1:])
    assert assemble(source, base=0x100).section(".text").data == data


def test_aliases_read_like_objdump():
    src = "nop\nli a0, 5\nmv a1, a2\nret\nj .\ncsrr t0, mhartid\ncsrw mtvec, t0\nbnez a0, .\nfence"
    text = assemble(src).section(".text").data
    assert [line.split("  ", 2)[2] for line in disassemble(text, aliases=True)] == [
        "nop",
        "li a0, 5",
        "mv a1, a2",
        "ret",
        "j 0x10",
        "csrr t0, mhartid",
        "csrw mtvec, t0",
        "bnez a0, 0x1c",
        "fence",
    ]
