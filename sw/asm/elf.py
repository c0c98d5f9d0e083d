"""ELF32 executables for Tatami: writing what the assembler produced, loading what GCC produced.

:func:`write_elf` makes an ``ET_EXEC`` file for ``EM_RISCV``, little endian, with ``e_flags`` 0
(ilp32 soft-float ABI, no compressed instructions), one ``PT_LOAD`` program header per allocated
section, section headers and a symbol table (labels, ``.equ`` constants as absolute symbols).

:func:`load_elf` reads any such executable (ours or one linked by GNU ld) with pyelftools and
returns what a loader needs: the loadable segments, the symbols (``tohost``, ``_start``...) and
the entry point. A file Tatami cannot run raises :class:`ElfError` saying why.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .assembler import Program

__all__ = [
    "EF_RISCV_FLOAT_ABI_SOFT",
    "EM_RISCV",
    "ElfError",
    "ElfImage",
    "Segment",
    "load_elf",
    "uses_rvc",
    "write_elf",
]

EM_RISCV = 243
ET_EXEC = 2
EF_RISCV_RVC = 0x0001
EF_RISCV_FLOAT_ABI = 0x0006
EF_RISCV_FLOAT_ABI_SOFT = 0x0000
EF_RISCV_RVE = 0x0008
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_ABS = 0xFFF1
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE = 0

_EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR = struct.Struct("<IIIIIIII")
_SHDR = struct.Struct("<IIIIIIIIII")
_SYM = struct.Struct("<IIIBBH")


class ElfError(ValueError):
    """An ELF file that Tatami cannot load; the message says what is wrong and what to do."""


class Segment(NamedTuple):
    """A loadable segment: ``data`` is the initialised part (``p_filesz`` bytes) at ``address``;
    the segment occupies ``size`` (``p_memsz``) bytes, the rest zero."""

    address: int
    data: bytes
    size: int
    flags: str  # subset of "rwx"

    def padded(self) -> bytes:
        """The whole segment as it is in memory (``data`` then zeroes up to ``size``)."""
        return self.data + bytes(self.size - len(self.data))


class ElfImage(NamedTuple):
    segments: list[Segment]
    symbols: dict[str, int]
    entry: int


class _StrTab:
    def __init__(self):
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def write_elf(program: Program) -> bytes:
    """The ELF32 executable for an assembled :class:`~tatami.asm.Program`."""
    sections = list(program.sections)
    loaded = [s for s in sections if s.alloc and s.size]
    phoff = _EHDR.size
    offset = phoff + _PHDR.size * len(loaded)
    body = bytearray()
    shstr = _StrTab()
    shdrs = [_SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    phdrs = []
    sec_index = {}
    for s in sections:
        align = max(s.align, 1)
        if s.nobits:
            file_off = offset + len(body)
        else:
            # file offset congruent to the address modulo the alignment, as loaders expect
            file_off = offset + len(body)
            file_off += (s.address - file_off) % align
            body += bytes(file_off - offset - len(body))
            body += s.data
        flags = (
            (SHF_ALLOC if s.alloc else 0)
            | (SHF_WRITE if "w" in s.flags else 0)
            | (SHF_EXECINSTR if "x" in s.flags else 0)
        )
        sec_index[s.name] = len(shdrs)
        shdrs.append(
            _SHDR.pack(
                shstr.add(s.name),
                SHT_NOBITS if s.nobits else SHT_PROGBITS,
                flags,
                s.address if s.alloc else 0,
                file_off,
                s.size,
                0,
                0,
                align,
                0,
            )
        )
        if s.alloc and s.size:
            pflags = PF_R | (PF_W if "w" in s.flags else 0) | (PF_X if "x" in s.flags else 0)
            phdrs.append(
                _PHDR.pack(
                    PT_LOAD, file_off, s.address, s.address, 0 if s.nobits else s.size, s.size, pflags, align
                )
            )
    # symbol table: locals first
    strtab = _StrTab()
    syms = [_SYM.pack(0, 0, 0, 0, 0, 0)]
    ordered = sorted(program.symbols.values(), key=lambda sym: sym.is_global)
    first_global = 1 + sum(1 for sym in ordered if not sym.is_global)
    for sym in ordered:
        if sym.name.startswith(".L"):
            first_global -= not sym.is_global
            continue
        shndx = sec_index.get(sym.section, SHN_ABS) if sym.section is not None else SHN_ABS
        bind = (STB_WEAK if sym.is_weak else STB_GLOBAL) if sym.is_global else STB_LOCAL
        syms.append(_SYM.pack(strtab.add(sym.name), sym.value, 0, (bind << 4) | STT_NOTYPE, 0, shndx))
    symtab_index = len(shdrs)
    for name, data, kind, link, info, align, entsize in [
        (".symtab", b"".join(syms), SHT_SYMTAB, symtab_index + 1, first_global, 4, _SYM.size),
        (".strtab", bytes(strtab.data), SHT_STRTAB, 0, 0, 1, 0),
        (".shstrtab", None, SHT_STRTAB, 0, 0, 1, 0),
    ]:
        name_off = shstr.add(name)
        if data is None:
            data = bytes(shstr.data)
        file_off = _align(offset + len(body), align)
        body += bytes(file_off - offset - len(body)) + data
        shdrs.append(_SHDR.pack(name_off, kind, 0, 0, file_off, len(data), link, info, align, entsize))
    shoff = _align(offset + len(body), 4)
    body += bytes(shoff - offset - len(body))
    ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)  # ELFCLASS32, ELFDATA2LSB, EV_CURRENT, SYSV
    header = _EHDR.pack(
        ident,
        ET_EXEC,
        EM_RISCV,
        1,
        program.entry,
        phoff if phdrs else 0,
        shoff,
        EF_RISCV_FLOAT_ABI_SOFT,
        _EHDR.size,
        _PHDR.size,
        len(phdrs),
        _SHDR.size,
        len(shdrs),
        len(shdrs) - 1,
    )
    return header + b"".join(phdrs) + bytes(body) + b"".join(shdrs)


def load_elf(source: str | os.PathLike | bytes, *, allow_rvc: bool = False) -> ElfImage:
    """Read an RV32 executable: ``segments, symbols, entry = load_elf("prog.elf")``.

    ``source`` is a path or the file's bytes. Raises :class:`ElfError` if the file is not an
    ELF32 little-endian RISC-V executable with the ilp32 soft-float ABI and, unless
    ``allow_rvc``, no compressed code (``EF_RISCV_RVC``). ``allow_rvc`` is for programs that carry
    the flag for code they never execute on a core without C, such as riscv-tests'
    ``rv32mi-p-ma_fetch``: a compressed instruction that Tatami's core does reach traps as an
    illegal instruction (see :func:`uses_rvc`).
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    if isinstance(source, (bytes, bytearray)):
        name, raw = "<bytes>", bytes(source)
    else:
        name = str(source)
        try:
            raw = Path(source).read_bytes()
        except OSError as e:
            raise ElfError(f"{name}: cannot read: {e.strerror}") from None
    if raw[:4] != b"\x7fELF":
        raise ElfError(f"{name}: not an ELF file (it does not start with \\x7fELF)")
    if len(raw) < 16 or raw[4] != 1:
        raise ElfError(
            f"{name}: is a 64-bit ELF (ELFCLASS64); Tatami runs RV32 programs: build with "
            "-march=rv32im -mabi=ilp32"
            if len(raw) > 4 and raw[4] == 2
            else f"{name}: bad ELF class byte; expected ELFCLASS32"
        )
    if raw[5] != 1:
        raise ElfError(f"{name}: is big-endian; RISC-V executables are little-endian (ELFDATA2LSB)")
    try:
        elf = ELFFile(io.BytesIO(raw))
        header = elf.header
        machine = header["e_machine"]
        if machine != "EM_RISCV":
            raise ElfError(f"{name}: is for machine {machine}, not EM_RISCV")
        if header["e_type"] != "ET_EXEC":
            hint = " (a relocatable object: link it first)" if header["e_type"] == "ET_REL" else ""
            raise ElfError(f"{name}: is of type {header['e_type']}, not an executable (ET_EXEC){hint}")
        flags = header["e_flags"]
        if flags & EF_RISCV_RVC and not allow_rvc:
            raise ElfError(
                f"{name}: contains compressed instructions (EF_RISCV_RVC), which Tatami does "
                "not implement: build with -march=rv32im_zicsr (no 'c'), or run it knowing that a "
                "compressed instruction the core reaches traps as an illegal instruction"
            )
        if flags & EF_RISCV_FLOAT_ABI != EF_RISCV_FLOAT_ABI_SOFT:
            raise ElfError(
                f"{name}: uses a hardware floating-point ABI (e_flags {flags:#x}); Tatami's "
                "scalar core has no FPU: build with -mabi=ilp32"
            )
        if flags & EF_RISCV_RVE:
            raise ElfError(f"{name}: uses the RV32E ABI (e_flags {flags:#x}); build with -mabi=ilp32")
        segments = []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            pf = seg["p_flags"]
            perms = ("r" if pf & PF_R else "") + ("w" if pf & PF_W else "") + ("x" if pf & PF_X else "")
            segments.append(Segment(seg["p_vaddr"], seg.data()[: seg["p_filesz"]], seg["p_memsz"], perms))
        if not segments:
            raise ElfError(f"{name}: has no loadable (PT_LOAD) segments")
        symbols = {}
        for sec in elf.iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    if sym.name and sym["st_info"]["type"] not in ("STT_SECTION", "STT_FILE"):
                        if sym["st_shndx"] == "SHN_UNDEF":
                            continue
                        # a global wins over a local of the same name
                        if sym.name not in symbols or sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"):
                            symbols[sym.name] = sym["st_value"]
        return ElfImage(sorted(segments), symbols, header["e_entry"])
    except ELFError as e:
        raise ElfError(f"{name}: malformed ELF: {e}") from None


def uses_rvc(source: str | os.PathLike | bytes) -> bool:
    """Whether an ELF file that :func:`load_elf` accepts with ``allow_rvc`` is flagged as
    containing compressed instructions (``EF_RISCV_RVC``)."""
    raw = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    return bool(struct.unpack_from("<I", raw, 36)[0] & EF_RISCV_RVC)
