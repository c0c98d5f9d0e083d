"""The Tatami assembler, disassembler and ELF helpers.

>>> prog = assemble('''
...     .globl _start
... _start:
...     li a0, 0x12345678
...     vadd.f32 v1, v2, v3
... 1:  j 1b
... ''')
>>> [hex(w) for w in prog.words()]
['0x12345537', '0x67850513', '0x31008b', '0x6f']
>>> disassemble(prog.section(".text").data)[-1]
'0000000c:  0000006f  jal zero, 0xc'

The instruction set itself (encodings, enums, :func:`~tatami.isa.encode`,
:func:`~tatami.isa.decode`) lives in :mod:`tatami.isa`. Run ``python -m tatami.asm --help`` for
the command line.
"""

from .assembler import AsmError, Diagnostic, Program, Section, Symbol, assemble, assemble_file
from .disasm import disassemble, disassemble_elf, format_instruction
from .elf import ElfError, ElfImage, Segment, load_elf, uses_rvc, write_elf

__all__ = [
    "AsmError",
    "Diagnostic",
    "ElfError",
    "ElfImage",
    "Program",
    "Section",
    "Segment",
    "Symbol",
    "assemble",
    "assemble_file",
    "disassemble",
    "disassemble_elf",
    "format_instruction",
    "load_elf",
    "uses_rvc",
    "write_elf",
]
