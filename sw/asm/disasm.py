"""Disassembler: instruction words back to text that :func:`tatami.asm.assemble` accepts.

Every line it prints re-assembles (at the same address) to the same word; words that are not
instructions become ``.word`` directives. With ``aliases=True`` common pseudo-instructions are
shown the way GNU objdump shows them (``li``, ``mv``, ``ret``, ``j``, ``csrr``...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..isa import IllegalInstruction, Instruction, csr_name, decode, reg_name

__all__ = ["disassemble", "disassemble_elf", "format_instruction"]


def _alias(insn: Instruction, pc: int | None) -> str | None:
    """The pseudo-instruction spelling of ``insn``, or None."""
    name, ops = insn.name, insn.operands
    r = reg_name

    def target():
        off = ops["offset"]
        if pc is not None:
            return f"{(pc + off) & 0xFFFFFFFF:#x}"
        return f". + {off}" if off >= 0 else f". - {-off}"

    if name == "addi":
        if ops["rd"] == 0 and ops["rs1"] == 0 and ops["imm"] == 0:
            return "nop"
        if ops["rs1"] == 0:
            return f"li {r(ops['rd'])}, {ops['imm']}"
        if ops["imm"] == 0:
            return f"mv {r(ops['rd'])}, {r(ops['rs1'])}"
    if name == "xori" and ops["imm"] == -1:
        return f"not {r(ops['rd'])}, {r(ops['rs1'])}"
    if name == "sub" and ops["rs1"] == 0:
        return f"neg {r(ops['rd'])}, {r(ops['rs2'])}"
    if name == "sltiu" and ops["imm"] == 1:
        return f"seqz {r(ops['rd'])}, {r(ops['rs1'])}"
    if name == "sltu" and ops["rs1"] == 0:
        return f"snez {r(ops['rd'])}, {r(ops['rs2'])}"
    if name == "jal" and ops["rd"] in (0, 1):
        return f"{'j' if ops['rd'] == 0 else 'jal'} {target()}"
    if name == "jalr" and ops["imm"] == 0 and ops["rd"] in (0, 1):
        if ops["rd"] == 0 and ops["rs1"] == 1:
            return "ret"
        return f"{'jr' if ops['rd'] == 0 else 'jalr'} {r(ops['rs1'])}"
    if name in ("beq", "bne", "bge", "blt") and ops["rs2"] == 0:
        return f"{name}z {r(ops['rs1'])}, {target()}"
    if name == "csrrs" and ops["rs1"] == 0:
        return f"csrr {r(ops['rd'])}, {csr_name(ops['csr'])}"
    if name in ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci") and ops["rd"] == 0:
        src = r(ops["rs1"]) if "rs1" in ops else str(ops["zimm"])
        return f"csr{name[4:]} {csr_name(ops['csr'])}, {src}"
    if name == "fence" and ops["pred"] == 15 and ops["succ"] == 15:
        return "fence"
    return None


def format_instruction(
    insn: Instruction, pc: int | None = None, *, aliases: bool = False, abi: bool = True
) -> str:
    """Assembly text of one instruction (see :meth:`tatami.isa.Instruction.format`)."""
    if aliases and abi:
        text = _alias(insn, pc)
        if text is not None:
            return text
    return insn.format(pc, abi=abi)


def disassemble(
    data: bytes,
    base: int = 0,
    *,
    symbols: Mapping[str, int] | None = None,
    aliases: bool = False,
    abi: bool = True,
) -> list[str]:
    """One line per 32-bit word: ``address:  word  text``. Labels from ``symbols`` (name ->
    address) are printed on their own line before the word at that address."""
    labels: dict[int, list[str]] = {}
    for name, addr in (symbols or {}).items():
        labels.setdefault(addr, []).append(name)
    lines = []
    for i in range(0, len(data) - len(data) % 4, 4):
        pc = base + i
        for name in sorted(labels.get(pc, ())):
            lines.append(f"{name}:")
        word = int.from_bytes(data[i : i + 4], "little")
        try:
            text = format_instruction(decode(word), pc, aliases=aliases, abi=abi)
        except IllegalInstruction:
            text = f".word {word:#010x}"
        lines.append(f"{pc:08x}:  {word:08x}  {text}")
    return lines


def disassemble_elf(path: str | os.PathLike, *, aliases: bool = True) -> list[str]:
    """Disassemble every executable segment of an ELF file (see :func:`tatami.asm.load_elf`)."""
    from .elf import load_elf

    segments, symbols, _ = load_elf(path)
    lines = []
    for seg in segments:
        if "x" in seg.flags:
            lines += disassemble(seg.data, seg.address, symbols=symbols, aliases=aliases)
    return lines
