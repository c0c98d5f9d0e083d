"""The assembler, disassembler and ELF loader against the GNU toolchain (an independent oracle).

Needs the Debian packages binutils-riscv64-unknown-elf and gcc-riscv64-unknown-elf; each test
skips, saying how to install them, when they are absent. Random choices are seeded:
``TATAMI_SEED=N`` picks the seed (printed in the failure message).
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tatami import isa
from tatami.asm import assemble, assemble_file, disassemble, load_elf

from . import gnu

PROGRAMS = Path(__file__).with_name("programs")


@pytest.fixture
def seed():
    return int(os.environ.get("TATAMI_SEED", random.randrange(1 << 30)))


def test_every_instruction_matches_gnu_as(seed):
    gnu.require("as", "ld")
    pairs = gnu.instruction_lines(seed, per_spec=12)
    pseudo = gnu.pseudo_lines(seed)
    ours = [t for t, _ in pairs] + pseudo
    expected = gnu.gnu_line_words([g for _, g in pairs] + pseudo)
    bad = []
    for line, words in zip(ours, expected):
        got = assemble(line, base=gnu.TEXT_BASE).words()
        if got != words:
            bad.append(f"{line}: GNU {[hex(w) for w in words]}, ours {[hex(w) for w in got]}")
    assert not bad, f"seed {seed}:\n" + "\n".join(bad[:20])


def _gnu_program(src: Path, tmp_path: Path):
    """Our program, and GNU's ELF linked with the same section addresses."""
    prog = assemble_file(src, base=gnu.TEXT_BASE)
    script = (
        "SECTIONS {\n"
        + "".join(f"  {s.name} {s.address:#x} : {{ *({s.name}) }}\n" for s in prog.sections)
        + "}\n"
    )
    return prog, gnu.gnu_link(src.read_text(), tmp_path, script=script)


WEAK_AND_UNIMP = """
    .weak never_defined, handler
    .globl _start
_start:
    la t0, never_defined        # 0: an undefined weak symbol, as in a static link
    beqz t0, 1f
    jr t0
1:  la t1, handler
    lui t2, %hi(never_defined)
    addi t2, t2, %lo(never_defined)
    unimp
handler:
    unimp
    .word never_defined, handler
"""


@pytest.mark.parametrize(
    "source", ["riscv_style.S", "rvtest.S", "weak_unimp.S"], ids=["riscv_style", "rvtest", "weak_unimp"]
)
def test_program_matches_gnu_as_and_ld(source, tmp_path):
    """Sections, symbol values and bindings (local, global, weak) as GNU as + ld give them; rvtest.S
    is the riscv-tests M-mode environment the core runs (``.weak`` handlers, ``unimp``)."""
    gnu.require("as", "ld")
    if source == "weak_unimp.S":
        src = tmp_path / source
        src.write_text(WEAK_AND_UNIMP)
    elif source == "rvtest.S":
        src = PROGRAMS.parent.parent / "core" / "programs" / source
    else:
        src = PROGRAMS / source
    prog, elf_path = _gnu_program(src, tmp_path)
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        for sec in prog.sections:
            theirs = elf.get_section_by_name(sec.name)
            assert theirs["sh_addr"] == sec.address, sec.name
            assert theirs["sh_size"] == sec.size, sec.name
            if not sec.nobits:
                assert theirs.data() == sec.data, sec.name
        syms = {
            s.name: (s["st_value"], s["st_info"]["bind"])
            for s in elf.get_section_by_name(".symtab").iter_symbols()
            if s.name and s["st_shndx"] != "SHN_UNDEF"
        }
    bind = {(False, False): "STB_LOCAL", (True, False): "STB_GLOBAL", (True, True): "STB_WEAK"}
    for name, sym in prog.symbols.items():
        assert syms[name] == (sym.value, bind[sym.is_global, sym.is_weak]), name


def _objdump(path: Path, *sections: str) -> dict[int, str]:
    """address -> instruction text, from ``objdump -d -M no-aliases``."""
    args = [gnu.tool("objdump"), "-d", "-M", "no-aliases", *(f"-j{s}" for s in sections), str(path)]
    out = {}
    for line in gnu.run(args).stdout.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$", line)
        if m:
            out[int(m.group(1), 16)] = m.group(3)
    return out


def _normal(text: str) -> list[str]:
    """objdump's and our spelling made comparable: no comments or symbols, numbers as ints
    (objdump writes shift amounts in hex and branch targets in hex without 0x)."""
    text = re.sub(r"\s*(#|<).*$", "", text.strip())
    name, _, ops = text.replace("\t", " ").partition(" ")
    name, ops = name.strip(), [o.strip() for o in ops.split(",") if o.strip()]
    out = [name]
    for i, op in enumerate(ops):
        if isa.INSTRUCTIONS[name].fmt in (isa.Format.B, isa.Format.J) and i == len(ops) - 1:
            out.append(str(int(op, 16)))
        elif op in isa.CSR_NAMES:  # objdump names only the CSRs of its default privileged spec
            out.append(str(isa.CSR_NAMES[op]))
        elif re.fullmatch(r"-?0x[0-9a-f]+", op):
            out.append(str(int(op, 16)))
        else:
            out.append(op)
    return out


def _compare_disassembly(data: bytes, base: int, theirs: dict[int, str]):
    checked = 0
    for line in disassemble(data, base):
        addr_text, word_text, ours = line.split(None, 2)
        addr = int(addr_text.rstrip(":"), 16)
        insn = isa.decode(int(word_text, 16))
        if insn.spec.ext == "Xtatami":
            continue  # objdump does not know the Tatami extension
        assert _normal(ours) == _normal(theirs[addr]), f"{addr:#x}: ours {ours!r}, objdump {theirs[addr]!r}"
        checked += 1
    return checked


def test_disassembler_matches_objdump(tmp_path, seed):
    gnu.require("as", "ld", "objdump")
    rng = random.Random(seed)
    lines = [
        gnu.operand_text(spec, rng)[0]
        for spec in isa.INSTRUCTIONS.values()
        for _ in range(4)
        if spec.ext != "Xtatami"
    ]
    source = "\n".join(lines) + "\n"
    prog = assemble(source, base=gnu.TEXT_BASE)
    elf = gnu.gnu_link(source, tmp_path)
    text = prog.section(".text")
    assert _compare_disassembly(text.data, text.address, _objdump(elf, ".text")) == len(lines), seed


@pytest.fixture
def gcc_elf(tmp_path):
    gnu.require("gcc", "objdump", "objcopy", "nm")
    out = tmp_path / "fib.elf"
    gnu.run(
        [
            gnu.tool("gcc"),
            "-march=rv32im_zicsr",
            "-mabi=ilp32",
            "-O2",
            "-nostdlib",
            "-ffreestanding",
            "-Wl,--no-relax",
            "-Wl,-Ttext=0x80000000",
            str(PROGRAMS / "fib.c"),
            "-o",
            str(out),
            "-lgcc",
        ]
    )
    return out


def test_gcc_elf_loads(gcc_elf, tmp_path):
    segments, symbols, entry = load_elf(gcc_elf)
    nm = {}
    for line in gnu.run([gnu.tool("nm"), str(gcc_elf)]).stdout.splitlines():
        value, _, name = line.split()
        nm[name] = int(value, 16)
    assert entry == nm["_start"]
    for name in ("tohost", "main", "data_arr", "bss_arr"):
        assert symbols[name] == nm[name]

    def read(addr: int, size: int) -> bytes:
        for seg in segments:
            if seg.address <= addr and addr + size <= seg.address + seg.size:
                return seg.padded()[addr - seg.address : addr - seg.address + size]
        raise AssertionError(f"{addr:#x}+{size} is in no segment")

    with open(gcc_elf, "rb") as f:
        sections = [
            (s.name, s["sh_addr"], s["sh_size"], s["sh_type"])
            for s in ELFFile(f).iter_sections()
            if s["sh_flags"] & 2 and s["sh_size"]
        ]
    for name, addr, size, kind in sections:
        binary = tmp_path / f"{name.strip('.')}.bin"
        gnu.run([gnu.tool("objcopy"), "-O", "binary", f"--only-section={name}", str(gcc_elf), str(binary)])
        expected = bytes(size) if kind == "SHT_NOBITS" else binary.read_bytes()
        assert read(addr, size) == expected, name


def test_gcc_code_decodes_and_disassembles_like_objdump(gcc_elf):
    with open(gcc_elf, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        data, base = text.data(), text["sh_addr"]
    for i in range(0, len(data), 4):
        word = int.from_bytes(data[i : i + 4], "little")
        assert isa.decode(word).encode() == word
    assert _compare_disassembly(data, base, _objdump(gcc_elf, ".text")) == len(data) // 4
