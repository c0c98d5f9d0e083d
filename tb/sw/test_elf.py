"""tatami.asm.elf: the ELF32 writer (read back with pyelftools) and load_elf's checks."""

from __future__ import annotations

import struct

import pytest
from elftools.elf.elffile import ELFFile

from tatami.asm import ElfError, assemble, load_elf, uses_rvc

SOURCE = """
    .globl _start
    .globl tohost
_start:
    la t0, tohost
    li t1, 1
    sw t1, 0(t0)
1:  j 1b
    .equ MAGIC, 0x1234
    .section .rodata
msg: .string "ok"
    .data
    .align 3
tohost: .dword 0
    .bss
scratch: .space 32
"""


@pytest.fixture
def prog():
    return assemble(SOURCE, base=0x80000000)


def test_header_and_sections_read_back_with_pyelftools(prog, tmp_path):
    path = tmp_path / "p.elf"
    prog.write_elf(path)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert elf.elfclass == 32 and elf.little_endian
        assert elf.header["e_machine"] == "EM_RISCV" and elf.header["e_type"] == "ET_EXEC"
        assert elf.header["e_flags"] == 0  # ilp32, soft-float, no RVC
        assert elf.header["e_entry"] == 0x80000000
        text = elf.get_section_by_name(".text")
        assert text["sh_addr"] == 0x80000000 and text.data() == prog.section(".text").data
        assert elf.get_section_by_name(".bss")["sh_type"] == "SHT_NOBITS"
        syms = {s.name: s for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name}
        assert syms["_start"]["st_info"]["bind"] == "STB_GLOBAL"
        assert syms["tohost"]["st_value"] == prog.symbols["tohost"].value
        assert syms["msg"]["st_info"]["bind"] == "STB_LOCAL"
        assert syms["MAGIC"]["st_shndx"] == "SHN_ABS" and syms["MAGIC"]["st_value"] == 0x1234
        assert not any(name.startswith(".L") for name in syms)  # numeric local labels stay internal
        loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
        for seg in loads:
            assert seg["p_offset"] % seg["p_align"] == seg["p_vaddr"] % seg["p_align"]
        flags = {seg["p_vaddr"]: seg["p_flags"] for seg in loads}
        assert flags[0x80000000] == 5  # R+X


def test_load_elf_round_trip(prog, tmp_path):
    path = tmp_path / "p.elf"
    prog.write_elf(path)
    segments, symbols, entry = load_elf(path)
    assert entry == 0x80000000
    assert symbols["tohost"] == prog.symbols["tohost"].value and symbols["_start"] == entry
    by_addr = {s.address: s for s in segments}
    for sec in prog.sections:
        seg = by_addr[sec.address]
        assert seg.size == sec.size and seg.padded() == (bytes(sec.size) if sec.nobits else sec.data)
    assert by_addr[prog.section(".bss").address].data == b""
    assert load_elf(path.read_bytes()).entry == entry


def test_flat_image_matches_the_segments(prog):
    base, image = prog.image()
    assert base == 0x80000000
    for sec in prog.sections:
        if not sec.nobits:
            assert image[sec.address - base : sec.end - base] == sec.data


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_load_elf_rejects_what_tatami_cannot_run(prog, tmp_path):
    good = prog.to_elf()
    cases = [
        (b"MZ" + good[2:], "not an ELF file"),
        (_patched(good, 4, "<B", 2), "64-bit ELF"),
        (_patched(good, 5, "<B", 2), "big-endian"),
        (_patched(good, 18, "<H", 62), "EM_X86_64, not EM_RISCV"),
        (_patched(good, 16, "<H", 1), "ET_REL.*link it first"),
        (_patched(good, 36, "<I", 1), "compressed instructions"),
        (_patched(good, 36, "<I", 4), "floating-point ABI"),
    ]
    for data, message in cases:
        with pytest.raises(ElfError, match=message):
            load_elf(data)
    with pytest.raises(ElfError, match="cannot read"):
        load_elf(tmp_path / "missing.elf")
    # compressed code is accepted on request (programs that never execute it without C)
    rvc = _patched(good, 36, "<I", 1)
    assert load_elf(rvc, allow_rvc=True).entry == load_elf(good).entry
    assert uses_rvc(rvc) and not uses_rvc(good)
    path = tmp_path / "bad.elf"
    path.write_bytes(cases[0][0])
    with pytest.raises(ElfError, match=f"{path}: not an ELF"):
        load_elf(path)
