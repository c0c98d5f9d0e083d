"""A two-pass assembler for RV32IM + Zicsr + Zifencei + the Tatami extension.

It reads GNU-as style sources (the subset hand-written tests and riscv-tests-style sources use, see
docs/isa.md) and produces a linked :class:`Program`: sections at absolute addresses and a symbol
table, ready to be written as an ELF32 executable (:meth:`Program.to_elf`) or a flat image
(:meth:`Program.image`). There are no relocatable objects: every expression is resolved here.

Pass 1 reads the lines (expanding ``.include``, ``.macro``, ``.rept`` and ``.if``), assigns each
statement its section and offset, and defines labels; sections are then laid out; pass 2 evaluates
operands and encodes. The size of every statement is fixed in pass 1, so ``li`` with an operand
that is not yet a known constant always takes two instructions.

Errors are collected and raised together as one :class:`AsmError`, one ``file:line: message``
per problem.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import isa
from ..isa import INSTRUCTIONS, EncodingError, Format, hi_lo, parse_csr, parse_vreg, parse_xreg
from .expr import Env, ExprError, Node, Unresolved, evaluate, parse_expr, relocs_in

__all__ = ["AsmError", "Diagnostic", "Program", "Section", "Symbol", "assemble", "assemble_file"]

NOP = 0x00000013
#: ``unimp``: ``csrrw x0, cycle, x0``, a write to a read-only CSR, so always an illegal instruction
#: (the encoding GNU as gives it).
UNIMP = 0xC0001073
_MAX_ERRORS = 50


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    message: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.message}"


class AsmError(Exception):
    """Assembly failed. ``diagnostics`` lists every problem found; ``str()`` shows them one per
    line as ``file:line: message``."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class _LineError(Exception):
    """An error on the current line (the assembler adds the location)."""


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass
class Section:
    """An output section. ``data`` is empty for NOBITS sections (``.bss``); ``size`` is always the
    size in memory."""

    name: str
    flags: str  # subset of "awx": allocated, writable, executable
    nobits: bool = False
    align: int = 4
    address: int = 0
    size: int = 0
    data: bytes = b""

    @property
    def alloc(self) -> bool:
        return "a" in self.flags

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    section: str | None  # None: an absolute symbol (.equ)
    is_global: bool = False
    is_weak: bool = False  # .weak: global, and 0 when never defined (as in a static link)


@dataclass
class Program:
    """An assembled, linked program."""

    sections: list[Section]
    symbols: dict[str, Symbol]
    entry: int

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(f"no section {name!r}; sections are {[s.name for s in self.sections]}")

    def image(self, fill: int = 0) -> tuple[int, bytes]:
        """The loadable contents as one flat image: ``(base address, bytes)`` from the lowest to
        the highest initialised byte, gaps filled with ``fill``. NOBITS sections are left out
        (the loader zeroes them), as ``objcopy -O binary`` does."""
        loaded = [s for s in self.sections if s.alloc and not s.nobits and s.size]
        if not loaded:
            return 0, b""
        base = min(s.address for s in loaded)
        out = bytearray([fill]) * (max(s.end for s in loaded) - base)
        for s in loaded:
            out[s.address - base : s.end - base] = s.data
        return base, bytes(out)

    def to_elf(self) -> bytes:
        from .elf import write_elf

        return write_elf(self)

    def write_elf(self, path: str | os.PathLike) -> None:
        Path(path).write_bytes(self.to_elf())

    def write_bin(self, path: str | os.PathLike, fill: int = 0) -> int:
        """Write the flat image; returns its base address."""
        base, data = self.image(fill)
        Path(path).write_bytes(data)
        return base

    def words(self, section: str = ".text") -> list[int]:
        """The 32-bit little-endian words of a section (``.text`` by default)."""
        data = self.section(section).data
        return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data) - 3, 4)]


# --------------------------------------------------------------------------------------------------
# Source handling
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loc:
    file: str
    line: int


def _strip_comment(line: str, in_block: bool) -> tuple[str, bool]:
    """Remove ``#``, ``//`` and ``/* */`` comments outside string and character literals."""
    out, i, quote = [], 0, None
    while i < len(line):
        c = line[i]
        if in_block:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 2, False
            out.append(" ")
            continue
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(line):
                out.append(line[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c == '"':
            quote = c
            out.append(c)
        elif c == "'":
            # a character literal: 'x' or '\x'
            m = re.match(r"'(\\.|[^\\])'?", line[i:])
            if m:
                out.append(m.group(0))
                i += len(m.group(0))
                continue
            out.append(c)
        elif c == "#" or line.startswith("//", i):
            break
        elif line.startswith("/*", i):
            in_block = True
            i += 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out), in_block


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses and quotes."""
    parts, depth, quote, cur, i = [], 0, None, [], 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c == '"':
            quote = c
            cur.append(c)
        elif c == "'" and (m := re.match(r"'(\\.|[^\\])'?", text[i:])):
            cur.append(m.group(0))
            i += len(m.group(0))
            continue
        elif c == "(":
            depth += 1
            cur.append(c)
        elif c == ")":
            depth -= 1
            cur.append(c)
        elif c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _operands(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    return [p.strip() for p in _split_top(text, ",")]


def _parse_string(text: str) -> bytes:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise _LineError(f"expected a string in double quotes, got {text!r}")
    body, out, i = text[1:-1], bytearray(), 0
    simple = {"n": 10, "t": 9, "r": 13, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8, "f": 12, "v": 11, "e": 27}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise _LineError("string ends with a lone backslash")
        c = body[i]
        if c in simple:
            out.append(simple[c])
            i += 1
        elif c in "xX":
            m = re.match(r"[0-9a-fA-F]+", body[i + 1 :])
            if not m:
                raise _LineError("\\x escape needs hex digits")
            out.append(int(m.group(0), 16) & 0xFF)
            i += 1 + len(m.group(0))
        elif c.isdigit():
            m = re.match(r"[0-7]{1,3}", body[i:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += len(m.group(0))
        else:
            raise _LineError(f"unknown escape '\\{c}' in string")
    return bytes(out)


_LABEL = re.compile(r"\s*([A-Za-z_.$][\w.$]*|\d+)\s*:(?!=)")
_ASSIGN = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*=(?!=)(.*)$")
_MNEMONIC = re.compile(r"\s*([A-Za-z_.][\w.]*)(?:\s+|$)(.*)$")

_ALU_IMM = {
    "add": "addi",
    "and": "andi",
    "or": "ori",
    "xor": "xori",
    "slt": "slti",
    "sltu": "sltiu",
    "sll": "slli",
    "srl": "srli",
    "sra": "srai",
}
_BRANCH_ZERO = {
    "beqz": ("beq", False),
    "bnez": ("bne", False),
    "bgez": ("bge", False),
    "bltz": ("blt", False),
    "blez": ("bge", True),
    "bgtz": ("blt", True),
}
_BRANCH_SWAP = {"bgt": "blt", "ble": "bge", "bgtu": "bltu", "bleu": "bgeu"}
_COUNTERS = {
    "rdcycle": "cycle",
    "rdcycleh": "cycleh",
    "rdinstret": "instret",
    "rdinstreth": "instreth",
    "rdtime": "time",
    "rdtimeh": "timeh",
}
_CSR_PSEUDO = {
    "csrw": "csrrw",
    "csrs": "csrrs",
    "csrc": "csrrc",
    "csrwi": "csrrwi",
    "csrsi": "csrrsi",
    "csrci": "csrrci",
}
_IGNORED_DIRECTIVES = {
    ".file",
    ".ident",
    ".type",
    ".size",
    ".attribute",
    ".option",
    ".loc",
    ".addrsig",
    ".addrsig_sym",
    ".hidden",
    ".protected",
    ".internal",
    ".end",
    ".func",
    ".endfunc",
}
_DATA_SIZES = {
    ".byte": 1,
    ".half": 2,
    ".short": 2,
    ".2byte": 2,
    ".hword": 2,
    ".word": 4,
    ".long": 4,
    ".4byte": 4,
    ".int": 4,
    ".dword": 8,
    ".quad": 8,
    ".8byte": 8,
}
_SECTION_DEFAULTS = [
    (".text", "ax", False),
    (".rodata", "a", False),
    (".srodata", "a", False),
    (".data", "aw", False),
    (".sdata", "aw", False),
    (".bss", "aw", True),
    (".sbss", "aw", True),
    (".tohost", "aw", False),
]


def _section_defaults(name: str) -> tuple[str, bool]:
    for prefix, flags, nobits in _SECTION_DEFAULTS:
        if name == prefix or name.startswith(prefix + "."):
            return flags, nobits
    return "", False


@dataclass
class _Item:
    """A statement placed in pass 1: ``emit(ctx)`` returns its ``size`` bytes in pass 2."""

    loc: _Loc
    section: _SecState
    offset: int
    size: int
    emit: Callable[[_Ctx], bytes]


@dataclass
class _SecState:
    name: str
    flags: str
    nobits: bool
    offset: int = 0
    align: int = 4
    address: int = 0
    items: list[_Item] = field(default_factory=list)
    first_use: int | None = None  # sections are laid out in order of first use


@dataclass
class _Macro:
    name: str
    params: list[tuple[str, str | None]]
    body: list[tuple[_Loc, str]]


class _Ctx:
    """Pass-2 view of one statement: evaluate operands at its address."""

    def __init__(self, asm: _Assembler, item: _Item):
        self.asm, self.item = asm, item
        self.pc = item.section.address + item.offset

    def env(self, pc: int | None = None) -> Env:
        return Env(self.asm.symbol_value, self.pc if pc is None else pc, self.asm.reloc)

    def value(self, node: Node, pc: int | None = None) -> int:
        return evaluate(node, self.env(pc))


# --------------------------------------------------------------------------------------------------
# The assembler
# --------------------------------------------------------------------------------------------------


class _Assembler:
    def __init__(
        self,
        base: int,
        section_addresses: Mapping[str, int],
        include_dirs: Iterable[str],
        defines: Mapping[str, int],
    ):
        self.base = base
        self.section_addresses = dict(section_addresses)
        self.include_dirs = [Path(d) for d in include_dirs]
        self.errors: list[Diagnostic] = []
        self.sections: dict[str, _SecState] = {}
        self.section_stack: list[tuple[_SecState, _SecState | None]] = []
        self.current = self._section(".text")
        self.previous: _SecState | None = None
        self.labels: dict[str, tuple[_SecState, int, _Loc]] = {}
        self.constants: dict[str, int] = dict(defines)  # .equ values known in pass 1
        self.lazy_equ: dict[str, tuple[Node, _Loc]] = {}  # .equ of expressions with labels
        self.globals: set[str] = set()
        self.weak: set[str] = set()
        self.local_counts: dict[str, int] = {}
        self.macros: dict[str, _Macro] = {}
        self.auipc_hi: dict[tuple[str, int], Node] = {}  # (section, offset) of auipc -> %pcrel_hi arg
        self.auipc_by_addr: dict[int, Node] = {}
        self.cond_stack: list[tuple[bool, bool]] = []  # (active, some branch taken)
        self.loc = _Loc("<input>", 0)
        self.evaluating: set[str] = set()
        self.macro_depth = 0
        self.uses = 0

    # -- diagnostics ------------------------------------------------------------------------------

    def error(self, loc: _Loc, message: str):
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(Diagnostic(loc.file, loc.line, message))

    # -- sections ---------------------------------------------------------------------------------

    def _section(self, name: str, flags: str | None = None, nobits: bool | None = None) -> _SecState:
        sec = self.sections.get(name)
        if sec is None:
            default_flags, default_nobits = _section_defaults(name)
            sec = _SecState(
                name, default_flags if flags is None else flags, default_nobits if nobits is None else nobits
            )
            self.sections[name] = sec
        return sec

    def switch(self, sec: _SecState):
        self.previous, self.current = self.current, sec
        self.use(sec)

    def use(self, sec: _SecState):
        if sec.first_use is None:
            sec.first_use = self.uses
            self.uses += 1

    # -- pass 1: lines ----------------------------------------------------------------------------

    def lines_of(self, text: str, filename: str) -> Iterator[tuple[_Loc, str]]:
        in_block = False
        for n, raw in enumerate(text.splitlines(), 1):
            line, in_block = _strip_comment(raw, in_block)
            for stmt in _split_top(line, ";"):
                if stmt.strip():
                    yield _Loc(filename, n), stmt

    def run(self, lines: Iterator[tuple[_Loc, str]]):
        lines = iter(lines)
        for loc, line in lines:
            self.loc = loc
            try:
                self.statement(line, lines)
            except _LineError as e:
                self.error(loc, str(e))
            except (ExprError, EncodingError) as e:
                self.error(loc, str(e))

    def _collect_block(self, lines, start: str, end_names: tuple[str, ...]) -> list[tuple[_Loc, str]]:
        """Lines up to the matching end directive (nesting counted) for .macro/.rept/.irp."""
        body, depth = [], 0
        open_names = (".macro", ".rept", ".irp", ".irpc")
        for loc, line in lines:
            word = line.split(None, 1)[0].lower() if line.split() else ""
            if word in open_names:
                depth += 1
            elif word in end_names:
                if depth == 0:
                    return body
                depth -= 1
            body.append((loc, line))
        raise _LineError(f"{start} without a matching {end_names[0]}")

    def statement(self, line: str, lines):
        # conditional assembly first: skipped lines are only scanned for nesting
        head = line.strip().split(None, 1)
        word = head[0].lower() if head else ""
        if word in (
            ".if",
            ".ifdef",
            ".ifndef",
            ".ifeq",
            ".ifne",
            ".ifc",
            ".ifnc",
            ".else",
            ".elseif",
            ".endif",
        ):
            self.conditional(word, head[1] if len(head) > 1 else "")
            return
        if self.cond_stack and not self.cond_stack[-1][0]:
            return
        while True:
            m = _LABEL.match(line)
            if not m:
                break
            self.define_label(m.group(1))
            line = line[m.end() :]
        if not line.strip():
            return
        m = _ASSIGN.match(line)
        if m and not line.strip().startswith("."):
            self.define_equ(m.group(1), m.group(2))
            return
        m = _MNEMONIC.match(line)
        if not m:
            raise _LineError(f"cannot parse {line.strip()!r}")
        name, rest = m.group(1), m.group(2)
        lname = name.lower()
        if lname in self.macros:
            self.expand_macro(self.macros[lname], rest)
        elif lname.startswith("."):
            self.directive(lname, rest, lines)
        else:
            self.instruction(lname, _operands(rest))

    def conditional(self, word: str, arg: str):
        parent_active = all(active for active, _ in self.cond_stack)
        if word in (".else", ".elseif", ".endif") and not self.cond_stack:
            raise _LineError(f"{word} without .if")
        if word == ".endif":
            self.cond_stack.pop()
            return
        if word == ".else":
            _, taken = self.cond_stack.pop()
            parent_active = all(active for active, _ in self.cond_stack)
            self.cond_stack.append((parent_active and not taken, True))
            return
        if word == ".elseif":
            _, taken = self.cond_stack.pop()
            parent_active = all(active for active, _ in self.cond_stack)
            cond = parent_active and not taken and bool(self.const(arg, ".elseif"))
            self.cond_stack.append((cond, taken or cond))
            return
        if not parent_active:
            self.cond_stack.append((False, True))
            return
        if word in (".ifdef", ".ifndef"):
            name = arg.strip()
            defined = name in self.labels or name in self.constants or name in self.lazy_equ
            cond = defined == (word == ".ifdef")
        elif word in (".ifc", ".ifnc"):
            parts = _operands(arg)
            if len(parts) != 2:
                raise _LineError(f"{word} needs two strings to compare")
            cond = (parts[0].strip("'\"") == parts[1].strip("'\"")) == (word == ".ifc")
        else:
            value = self.const(arg, word)
            cond = {".if": value != 0, ".ifne": value != 0, ".ifeq": value == 0}[word]
        self.cond_stack.append((cond, cond))

    # -- symbols ----------------------------------------------------------------------------------

    def local_ref(self, text: str) -> str:
        """``1f``/``1b`` to the internal name of the definition it means."""
        num, direction = text[:-1], text[-1]
        count = self.local_counts.get(num, 0)
        if direction == "b":
            if count == 0:
                raise ExprError(f"local label {text} refers back to '{num}:' but there is none before")
            return f".L{num}\x02{count - 1}"
        return f".L{num}\x02{count}"

    def define_label(self, name: str):
        if name.isdigit():
            count = self.local_counts.get(name, 0)
            self.local_counts[name] = count + 1
            name = f".L{name}\x02{count}"
        if name in self.labels or name in self.constants or name in self.lazy_equ:
            prev = self.labels.get(name)
            where = f" (first defined at {prev[2].file}:{prev[2].line})" if prev else ""
            raise _LineError(f"symbol '{name}' is already defined{where}")
        self.labels[name] = (self.current, self.current.offset, self.loc)
        self.use(self.current)

    def define_equ(self, name: str, text: str):
        if name in self.labels:
            raise _LineError(f"symbol '{name}' is already defined as a label")
        node = self.parse(text)
        try:
            self.constants[name] = evaluate(node, Env(self.const_symbol, None))
            self.lazy_equ.pop(name, None)
        except Unresolved:
            self.constants.pop(name, None)
            self.lazy_equ[name] = (node, self.loc)

    def const_symbol(self, name: str) -> int:
        if name in self.constants:
            return self.constants[name]
        raise Unresolved(name)

    def parse(self, text: str) -> Node:
        return parse_expr(text, self.local_ref)

    def const(self, text: str, what: str) -> int:
        """An expression whose value must be known in pass 1."""
        node = self.parse(text)
        try:
            return evaluate(node, Env(self.const_symbol, None))
        except Unresolved as e:
            raise _LineError(
                f"{what} needs a constant known at this point, but '{e.name}' is "
                "not (define it with .equ before this line)"
            ) from None

    def symbol_value(self, name: str) -> int:
        if name in self.constants:
            return self.constants[name]
        if name in self.labels:
            sec, offset, _ = self.labels[name]
            return sec.address + offset
        if name in self.lazy_equ:
            if name in self.evaluating:
                raise ExprError(f"symbol '{name}' is defined in terms of itself")
            self.evaluating.add(name)
            try:
                node, _ = self.lazy_equ[name]
                return evaluate(node, Env(self.symbol_value, None))
            finally:
                self.evaluating.discard(name)
        if "\x02" in name:
            num = name[2:].split("\x02")[0]
            raise Unresolved(f"{num}f (no '{num}:' label follows)")
        if name in self.weak:
            return 0  # an undefined weak symbol, as GNU ld resolves it in a static link
        raise Unresolved(name)

    def reloc(self, func: str, node: Node, env: Env) -> int:
        if func == "hi":
            return hi_lo(evaluate(node, env) & 0xFFFFFFFF)[0]
        if func == "lo":
            return hi_lo(evaluate(node, env) & 0xFFFFFFFF)[1]
        if func == "pcrel_hi":
            return hi_lo((evaluate(node, env) - env.dot) & 0xFFFFFFFF)[0]
        # pcrel_lo: the argument labels an auipc whose %pcrel_hi gives the target
        addr = evaluate(node, env) & 0xFFFFFFFF
        target = self.auipc_by_addr.get(addr)
        if target is None:
            raise ExprError(
                f"%pcrel_lo argument {addr:#x} is not the address of an auipc with a %pcrel_hi operand"
            )
        return hi_lo((evaluate(target, Env(self.symbol_value, addr, self.reloc)) - addr) & 0xFFFFFFFF)[1]

    # -- emitting ---------------------------------------------------------------------------------

    def add(self, size: int, emit: Callable[[_Ctx], bytes]):
        sec = self.current
        if sec.nobits and emit is not None:
            raise _LineError(
                f"section {sec.name} holds no data (NOBITS); only .space/.zero/.align belong there"
            )
        self.use(sec)
        sec.items.append(_Item(self.loc, sec, sec.offset, size, emit))
        sec.offset += size

    def reserve(self, size: int, fill: int = 0, code_fill: bool = False):
        """``size`` bytes of padding or zeroes (allowed in NOBITS sections)."""
        sec = self.current
        if size < 0:
            raise _LineError(f"negative size {size}")
        if sec.nobits:
            if fill:
                raise _LineError(f"section {sec.name} holds no data; cannot fill with {fill}")
            self.use(sec)
            sec.offset += size
            return
        if code_fill and size:
            pad = (-sec.offset) % 4
            data = bytes(pad) + NOP.to_bytes(4, "little") * ((size - pad) // 4) + bytes((size - pad) % 4)
        else:
            data = bytes([fill & 0xFF]) * size
        self.add(size, lambda ctx: data)

    def emit_words(self, builders: list[Callable[[_Ctx], int]]):
        """Instructions: each builder returns the 32-bit word given the statement's context; the
        pc of instruction ``i`` is ``ctx.pc + 4 * i``."""
        if self.current.offset % 4:
            raise _LineError(
                f"instruction at offset {self.current.offset:#x} in {self.current.name} "
                "is not 4-byte aligned (add .align 2 before it)"
            )

        def emit(ctx: _Ctx) -> bytes:
            out = bytearray()
            base = ctx.pc
            for i, build in enumerate(builders):
                ctx.pc = base + 4 * i
                out += build(ctx).to_bytes(4, "little")
            ctx.pc = base
            return bytes(out)

        self.add(4 * len(builders), emit)

    # -- directives -------------------------------------------------------------------------------

    def directive(self, name: str, rest: str, lines):
        args = _operands(rest)
        if name in _IGNORED_DIRECTIVES or name.startswith(".cfi_"):
            return
        if name in (".text", ".data", ".rodata", ".bss"):
            self.switch(self._section(name))
        elif name in (".section", ".pushsection"):
            if not args:
                raise _LineError(f"{name} needs a section name")
            sec_name = args[0].strip('"')
            flags = nobits = None
            if len(args) > 1:
                flags = "".join(c for c in args[1].strip('"') if c in "awx")
            if len(args) > 2:
                nobits = args[2].strip() in ("@nobits", "%nobits")
            sec = self._section(sec_name, flags, nobits)
            if name == ".pushsection":
                self.section_stack.append((self.current, self.previous))
            self.switch(sec)
        elif name == ".popsection":
            if not self.section_stack:
                raise _LineError(".popsection without .pushsection")
            self.current, self.previous = self.section_stack.pop()
        elif name == ".previous":
            if self.previous is not None:
                self.switch(self.previous)
        elif name in (".globl", ".global", ".weak"):
            for a in args:
                self.globals.add(a)
                if name == ".weak":
                    self.weak.add(a)
        elif name == ".local":
            for a in args:
                self.globals.discard(a)
        elif name in (".equ", ".set", ".equiv"):
            if len(args) != 2:
                raise _LineError(f"{name} takes a name and a value: {name} NAME, VALUE")
            if name == ".equiv" and (args[0] in self.constants or args[0] in self.labels):
                raise _LineError(f"symbol '{args[0]}' is already defined")
            self.define_equ(args[0], args[1])
        elif name in _DATA_SIZES:
            self.data(_DATA_SIZES[name], args, name)
        elif name in (".string", ".asciz", ".ascii"):
            for a in _operands(rest):
                data = _parse_string(a) + (b"" if name == ".ascii" else b"\0")
                self.add(len(data), lambda ctx, d=data: d)
        elif name in (".space", ".skip", ".zero"):
            if not args or len(args) > (1 if name == ".zero" else 2):
                fill = "" if name == ".zero" else " and an optional fill"
                raise _LineError(f"{name} takes a size{fill}")
            size = self.const(args[0], name)
            self.reserve(size, self.const(args[1], name) if len(args) > 1 else 0)
        elif name == ".fill":
            if not 1 <= len(args) <= 3:
                raise _LineError(".fill takes repeat[, size[, value]]")
            repeat = self.const(args[0], name)
            size = self.const(args[1], name) if len(args) > 1 else 1
            if size not in (1, 2, 4, 8):
                raise _LineError(f".fill size must be 1, 2, 4 or 8, not {size}")
            value = self.const(args[2], name) if len(args) > 2 else 0
            data = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little") * repeat
            self.add(len(data), lambda ctx: data)
        elif name in (".align", ".p2align", ".balign"):
            self.align(name, args)
        elif name == ".org":
            target = self.const(args[0], name)
            if target < self.current.offset:
                raise _LineError(
                    f".org {target:#x} moves backwards (section offset is {self.current.offset:#x})"
                )
            self.reserve(target - self.current.offset, self.const(args[1], name) if len(args) > 1 else 0)
        elif name == ".include":
            self.include(rest.strip())
        elif name == ".macro":
            parts = [p for p in re.split(r"[\s,]+", rest.strip()) if p]
            if not parts:
                raise _LineError(".macro needs a name")
            params = []
            for p in parts[1:]:
                pname, _, default = p.partition("=")
                params.append((pname.split(":")[0], default or None))
            self.macros[parts[0].lower()] = _Macro(
                parts[0], params, self._collect_block(lines, ".macro", (".endm",))
            )
        elif name in (".rept", ".irp"):
            self.repeat(name, rest, self._collect_block(lines, name, (".endr",)))
        elif name in (".endm", ".endr"):
            raise _LineError(f"{name} without an opening directive")
        elif name == ".insn":
            self.insn_directive(args)
        elif name in (".error", ".err"):
            raise _LineError(_parse_string(rest).decode() if rest.strip() else ".error")
        else:
            raise _LineError(f"unknown directive '{name}'")

    def data(self, size: int, args: list[str], what: str):
        lo, hi = -(1 << (8 * size - 1)), (1 << (8 * size)) - 1
        for a in args:
            node = self.parse(a)
            loc = self.loc

            def emit(ctx, node=node, loc=loc):
                value = ctx.value(node)
                if not lo <= value <= hi:
                    raise _LineError(f"value {value} does not fit in {what} ({lo}..{hi})")
                return (value & hi).to_bytes(size, "little")

            self.add(size, emit)

    def align(self, name: str, args: list[str]):
        if not args:
            raise _LineError(f"{name} needs an alignment")
        n = self.const(args[0], name)
        if name == ".balign":
            if n <= 0 or n & (n - 1):
                raise _LineError(f".balign {n}: the alignment must be a power of 2")
            align = n
        else:
            if not 0 <= n <= 16:
                raise _LineError(
                    f"{name} {n}: the alignment is a power of 2 exponent, 0..16 (.align 2 aligns to 4 bytes)"
                )
            align = 1 << n
        fill = self.const(args[1], name) if len(args) > 1 and args[1] else None
        max_skip = self.const(args[2], name) if len(args) > 2 and args[2] else None
        sec = self.current
        sec.align = max(sec.align, align)
        pad = (-sec.offset) % align
        if max_skip is not None and pad > max_skip:
            return
        self.reserve(pad, fill or 0, code_fill=fill is None and "x" in sec.flags)

    def include(self, arg: str):
        name = arg.strip('"')
        here = Path(self.loc.file).parent
        for d in [here, *self.include_dirs]:
            path = d / name
            if path.is_file():
                break
        else:
            raise _LineError(
                f".include: cannot find {name!r} (looked in "
                f"{', '.join(str(d) for d in [here, *self.include_dirs])})"
            )
        saved = self.loc
        self.run(self.lines_of(path.read_text(), str(path)))
        self.loc = saved

    def expand_macro(self, macro: _Macro, rest: str):
        args = _operands(rest) if "," in rest else [a for a in rest.split() if a]
        values = {}
        for i, (pname, default) in enumerate(macro.params):
            if i < len(args):
                a = args[i]
                if "=" in a and a.split("=", 1)[0].strip() in dict(macro.params):
                    k, v = a.split("=", 1)
                    values[k.strip()] = v.strip()
                    continue
                values[pname] = a
            elif pname not in values:
                values[pname] = default or ""
        if len(args) > len(macro.params):
            raise _LineError(f"macro {macro.name} takes {len(macro.params)} arguments, got {len(args)}")
        self.macro_depth += 1
        if self.macro_depth > 100:
            raise _LineError(f"macro {macro.name} nests more than 100 deep")
        try:
            body = []
            for loc, line in macro.body:
                for pname, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
                    line = line.replace("\\" + pname, value)
                line = line.replace("\\()", "")
                body.append((loc, line))
            self.run(iter(body))
        finally:
            self.macro_depth -= 1

    def repeat(self, name: str, rest: str, body: list[tuple[_Loc, str]]):
        if name == ".rept":
            count = self.const(rest, ".rept")
            for _ in range(count):
                self.run(iter(body))
            return
        parts = _operands(rest)
        if not parts:
            raise _LineError(".irp needs a symbol")
        sym, values = parts[0].split()[0] if " " in parts[0] else parts[0], parts[1:]
        if " " in parts[0]:
            values = [parts[0].split(None, 1)[1], *values]
        for v in values:
            self.run(iter([(loc, line.replace("\\" + sym, v.strip())) for loc, line in body]))

    def insn_directive(self, args: list[str]):
        """``.insn r opcode, funct3, funct7, rd, rs1, rs2`` (R-type only)."""
        if not args or not args[0].lower().startswith("r "):
            raise _LineError(
                ".insn: only the R form is supported: .insn r opcode, funct3, funct7, rd, rs1, rs2"
            )
        fields = [args[0][2:].strip(), *args[1:]]
        if len(fields) != 6:
            raise _LineError(".insn r takes opcode, funct3, funct7, rd, rs1, rs2")
        opcode, f3, f7 = (self.const(f, ".insn") for f in fields[:3])
        regs = [self.reg(f, "x") for f in fields[3:]]
        if not (0 <= opcode < 128 and opcode & 3 == 3 and 0 <= f3 < 8 and 0 <= f7 < 128):
            raise _LineError(".insn r: opcode (7 bits, low bits 11), funct3 (3 bits) or funct7 out of range")
        word = opcode | regs[0] << 7 | f3 << 12 | regs[1] << 15 | regs[2] << 20 | f7 << 25
        self.emit_words([lambda ctx: word])

    # -- instructions -----------------------------------------------------------------------------

    def reg(self, text: str, kind: str = "x") -> int:
        if kind == "v":
            n = parse_vreg(text)
            if n is None:
                hint = " (that is a scalar register)" if parse_xreg(text) is not None else ""
                raise _LineError(f"expected a vector register v0..v31, got '{text}'{hint}")
            return n
        n = parse_xreg(text)
        if n is None:
            hint = " (that is a vector register)" if parse_vreg(text) is not None else ""
            raise _LineError(f"expected a register (x0..x31 or an ABI name), got '{text}'{hint}")
        return n

    def is_reg(self, text: str) -> bool:
        return parse_xreg(text) is not None

    def split_mem(self, text: str) -> tuple[str, str] | None:
        """``imm(reg)`` -> ("imm", "reg"); None if ``text`` does not end in ``(register)``."""
        text = text.strip()
        if not text.endswith(")"):
            return None
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            if text[i] == ")":
                depth += 1
            elif text[i] == "(":
                depth -= 1
                if depth == 0:
                    inner = text[i + 1 : -1].strip()
                    if parse_xreg(inner) is None:
                        return None
                    return text[:i].strip(), inner
        return None

    def instruction(self, name: str, ops: list[str]):
        handler = getattr(self, "pseudo_" + name.replace(".", "_"), None)
        if name in INSTRUCTIONS:
            spec = INSTRUCTIONS[name]
            if handler is not None and handler(ops) is not False:
                return
            self.real(spec, ops)
        elif handler is not None and name in _PSEUDOS:
            if handler(ops) is False:
                raise _LineError(f"wrong operands for {name}: {', '.join(ops) or 'none'}")
        elif name in _BRANCH_ZERO:
            self.need(name, ops, 2, "rs, target")
            base, swap = _BRANCH_ZERO[name]
            rs1, rs2 = ("zero", ops[0]) if swap else (ops[0], "zero")
            self.real(INSTRUCTIONS[base], [rs1, rs2, ops[1]])
        elif name in _BRANCH_SWAP:
            self.need(name, ops, 3, "rs, rt, target")
            self.real(INSTRUCTIONS[_BRANCH_SWAP[name]], [ops[1], ops[0], ops[2]])
        elif name in _COUNTERS:
            self.need(name, ops, 1, "rd")
            self.real(INSTRUCTIONS["csrrs"], [ops[0], _COUNTERS[name], "zero"])
        elif name in _CSR_PSEUDO:
            self.need(name, ops, 2, "csr, rs" if not name.endswith("i") else "csr, imm")
            base = _CSR_PSEUDO[name]
            if not base.endswith("i") and not self.is_reg(ops[1]):
                base += "i"
            self.real(INSTRUCTIONS[base], ["zero", ops[0], ops[1]])
        else:
            raise _LineError(f"unknown instruction '{name}'" + _suggest(name))

    def need(self, name: str, ops: list[str], n: int | tuple[int, ...], syntax: str):
        counts = (n,) if isinstance(n, int) else n
        if len(ops) not in counts:
            raise _LineError(
                f"{name} takes {' or '.join(map(str, counts))} operand"
                f"{'s' if counts != (1,) else ''} ({name} {syntax}), got {len(ops)}"
            )

    def real(self, spec: isa.InsnSpec, ops: list[str]):
        """A machine instruction written with the spec's syntax."""
        name = spec.name
        items = list(spec.items)
        if len(items) != len(ops):
            raise _LineError(
                f"{name} takes {len(items)} operand{'s' if len(items) != 1 else ''} "
                f"({name} {spec.syntax}), got {len(ops)}"
                if items
                else f"{name} takes no operands, got {len(ops)}"
            )
        fixed: dict[str, int] = {}
        imm_node: Node | None = None
        imm_op = None
        for item, text in zip(items, ops):
            if "(" in item:
                imm_name, base = item[:-1].split("(")
                mem = self.split_mem(text)
                if mem is None:
                    raise _LineError(f"{name}: expected a memory operand like 8({'a0'}), got '{text}'")
                imm_text, reg_text = mem
                fixed[base] = self.reg(reg_text)
                if imm_name:
                    imm_node, imm_op = (self.parse(imm_text) if imm_text else ("num", 0)), imm_name
                elif imm_text and self.const(imm_text, name) != 0:
                    raise _LineError(f"{name} takes no offset: write ({reg_text})")
                continue
            kind = isa.OPERANDS[item][1]
            if kind in ("x", "v"):
                fixed[item] = self.reg(text, kind)
            elif kind == "csr":
                addr = parse_csr(text)
                fixed[item] = addr if addr is not None else self.csr_number(text)
            elif kind == "fence":
                fixed[item] = _fence_set(text)
            elif kind == "u":
                fixed[item] = self.const(text, f"{name} {item}")
                lo, hi = 0, 31
                if not lo <= fixed[item] <= hi:
                    raise _LineError(f"{name}: {item} {fixed[item]} out of range {lo}..{hi}")
            else:
                imm_node, imm_op = self.parse(text), item
        self.check_relocs(spec, imm_node)
        if imm_op is None:
            word = spec.encode(**fixed)
            self.emit_words([lambda ctx: word])
            return
        if spec.fmt is Format.U and imm_node[0] == "mod" and imm_node[1] == "pcrel_hi":
            self.auipc_hi[(self.current.name, self.current.offset)] = imm_node[2]
        self.emit_words([self.imm_builder(spec, fixed, imm_op, imm_node)])

    def csr_number(self, text: str) -> int:
        try:
            value = self.const(text, "CSR")
        except (ExprError, _LineError):
            raise _LineError(f"unknown CSR '{text}' (use a name such as mstatus or a number)") from None
        if not 0 <= value < 4096:
            raise _LineError(f"CSR address {value} out of range 0..4095")
        return value

    def check_relocs(self, spec: isa.InsnSpec, node: Node | None):
        if node is None:
            return
        used = relocs_in(node)
        if not used:
            return
        allowed = (
            {"hi", "pcrel_hi"}
            if spec.fmt is Format.U
            else ({"lo", "pcrel_lo"} if spec.fmt in (Format.I, Format.S) else set())
        )
        bad = used - allowed
        if bad:
            where = "lui/auipc" if bad & {"hi", "pcrel_hi"} else "I/S-type immediates (addi, lw, sw...)"
            raise _LineError(f"%{sorted(bad)[0]} cannot be used in {spec.name}; it belongs in {where}")

    def imm_builder(self, spec: isa.InsnSpec, fixed: dict[str, int], imm_op: str, node: Node):
        relative = spec.fmt in (Format.B, Format.J)

        def build(ctx: _Ctx) -> int:
            value = ctx.value(node)
            if relative:
                value = _signed32(value - ctx.pc)
                if value % 4:
                    raise _LineError(
                        f"{spec.name}: target {(ctx.pc + value) & 0xFFFFFFFF:#x} is not "
                        "4-byte aligned (Tatami has no compressed instructions)"
                    )
                lo, hi = spec.imm_range()
                if not lo <= value <= hi:
                    raise _LineError(
                        f"{spec.name}: target {(ctx.pc + value) & 0xFFFFFFFF:#x} is "
                        f"{value:+d} bytes away; the range is {lo}..{hi}"
                    )
            elif spec.fmt is Format.U and not 0 <= value < (1 << 20):
                raise _LineError(
                    f"{spec.name}: immediate {value:#x} out of range 0..0xfffff "
                    "(the upper 20 bits; use %hi(...) or li for a full value)"
                )
            try:
                return spec.encode(**fixed, **{imm_op: value})
            except EncodingError as e:
                raise _LineError(str(e)) from None

        return build

    # -- pseudo-instructions ----------------------------------------------------------------------
    # A handler returns False when the operands are not its form (then the real instruction is
    # tried); it may raise _LineError.

    def pseudo_nop(self, ops):
        self.need("nop", ops, 0, "")
        self.emit_words([lambda ctx: NOP])

    def pseudo_unimp(self, ops):
        self.need("unimp", ops, 0, "")
        self.emit_words([lambda ctx: UNIMP])

    def pseudo_mv(self, ops):
        self.need("mv", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["addi"], [ops[0], ops[1], "0"])

    def pseudo_not(self, ops):
        self.need("not", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["xori"], [ops[0], ops[1], "-1"])

    def pseudo_neg(self, ops):
        self.need("neg", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["sub"], [ops[0], "zero", ops[1]])

    def pseudo_seqz(self, ops):
        self.need("seqz", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["sltiu"], [ops[0], ops[1], "1"])

    def pseudo_snez(self, ops):
        self.need("snez", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["sltu"], [ops[0], "zero", ops[1]])

    def pseudo_sltz(self, ops):
        self.need("sltz", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["slt"], [ops[0], ops[1], "zero"])

    def pseudo_sgtz(self, ops):
        self.need("sgtz", ops, 2, "rd, rs")
        self.real(INSTRUCTIONS["slt"], [ops[0], "zero", ops[1]])

    def pseudo_j(self, ops):
        self.need("j", ops, 1, "target")
        self.real(INSTRUCTIONS["jal"], ["zero", ops[0]])

    def pseudo_jr(self, ops):
        self.need("jr", ops, (1, 2), "rs[, offset]")
        self.real(INSTRUCTIONS["jalr"], ["zero", f"{ops[1] if len(ops) > 1 else 0}({ops[0]})"])

    def pseudo_ret(self, ops):
        self.need("ret", ops, 0, "")
        self.real(INSTRUCTIONS["jalr"], ["zero", "0(ra)"])

    def pseudo_jal(self, ops):
        if len(ops) == 1:
            self.real(INSTRUCTIONS["jal"], ["ra", ops[0]])
            return None
        return False

    def pseudo_jalr(self, ops):
        if len(ops) == 1:  # jalr rs
            self.real(INSTRUCTIONS["jalr"], ["ra", f"0({ops[0]})"])
        elif len(ops) == 2 and self.is_reg(ops[1]):  # jalr rd, rs
            self.real(INSTRUCTIONS["jalr"], [ops[0], f"0({ops[1]})"])
        elif len(ops) == 3:  # jalr rd, rs, imm
            self.real(INSTRUCTIONS["jalr"], [ops[0], f"({ops[2]})({ops[1]})"])
        else:
            return False
        return None

    def pseudo_fence(self, ops):
        if not ops:
            self.real(INSTRUCTIONS["fence"], ["iorw", "iorw"])
            return None
        return False

    def alu_imm_alias(self, name, ops):
        """``add rd, rs, imm`` and friends: GNU as turns them into the immediate form."""
        if len(ops) == 3 and not self.is_reg(ops[2]) and parse_vreg(ops[2]) is None:
            self.real(INSTRUCTIONS[_ALU_IMM[name]], ops)
            return None
        return False

    def pseudo_li(self, ops):
        self.need("li", ops, 2, "rd, value")
        rd = self.reg(ops[0])
        node = self.parse(ops[1])
        try:
            value = evaluate(node, Env(self.const_symbol, None))
        except Unresolved:
            value = None
        if value is not None:
            if not -(1 << 31) <= value < (1 << 32):
                raise _LineError(f"li: value {value:#x} does not fit in 32 bits")
            hi, lo = hi_lo(value & 0xFFFFFFFF)
            words = []
            if hi:
                words.append(isa.encode("lui", rd=rd, imm=hi))
            if lo or not hi or rd == 0:  # (GNU as emits the addi for rd = x0 too)
                words.append(isa.encode("addi", rd=rd, rs1=rd if hi else 0, imm=lo))
            self.emit_words([lambda ctx, w=w: w for w in words])
            return
        # a label or a later .equ: always lui + addi

        def part(which):
            def build(ctx):
                value = ctx.value(node)
                if not -(1 << 31) <= value < (1 << 32):
                    raise _LineError(f"li: value {value:#x} does not fit in 32 bits")
                hi, lo = hi_lo(value & 0xFFFFFFFF)
                if which == "hi":
                    return isa.encode("lui", rd=rd, imm=hi)
                return isa.encode("addi", rd=rd, rs1=rd, imm=lo)

            return build

        self.emit_words([part("hi"), part("lo")])

    def pcrel_pair(self, rd: int, target: Node, second: Callable[[int], int]):
        """``auipc rd, %pcrel_hi(target)`` then ``second(lo12)`` for the next instruction."""

        def hi(ctx):
            return isa.encode("auipc", rd=rd, imm=hi_lo((ctx.value(target) - ctx.pc) & 0xFFFFFFFF)[0])

        def lo(ctx):
            return second(hi_lo((ctx.value(target) - (ctx.pc - 4)) & 0xFFFFFFFF)[1])

        self.auipc_hi[(self.current.name, self.current.offset)] = target
        self.emit_words([hi, lo])

    def pseudo_la(self, ops):
        self.need("la", ops, 2, "rd, symbol")
        rd = self.reg(ops[0])
        self.pcrel_pair(rd, self.parse(ops[1]), lambda lo: isa.encode("addi", rd=rd, rs1=rd, imm=lo))

    pseudo_lla = pseudo_la

    def pseudo_call(self, ops):
        self.need("call", ops, (1, 2), "[rd,] symbol")
        rd = self.reg(ops[0]) if len(ops) == 2 else 1
        self.pcrel_pair(rd, self.parse(ops[-1]), lambda lo: isa.encode("jalr", rd=rd, rs1=rd, imm=lo))

    def pseudo_tail(self, ops):
        self.need("tail", ops, 1, "symbol")
        self.pcrel_pair(6, self.parse(ops[0]), lambda lo: isa.encode("jalr", rd=0, rs1=6, imm=lo))

    def load_store_symbol(self, name, ops):
        """``lw rd, symbol`` / ``sw rs, symbol, rt``: auipc + the access with %pcrel_lo."""
        spec = INSTRUCTIONS[name]
        if spec.fmt is Format.I and len(ops) == 2 and self.split_mem(ops[1]) is None:
            rd = self.reg(ops[0])
            self.pcrel_pair(rd, self.parse(ops[1]), lambda lo: spec.encode(rd=rd, rs1=rd, imm=lo))
            return None
        if spec.fmt is Format.S and len(ops) == 3:
            rs2, rt = self.reg(ops[0]), self.reg(ops[2])
            self.pcrel_pair(rt, self.parse(ops[1]), lambda lo: spec.encode(rs2=rs2, rs1=rt, imm=lo))
            return None
        return False


_PSEUDOS = {
    "nop",
    "unimp",
    "mv",
    "not",
    "neg",
    "seqz",
    "snez",
    "sltz",
    "sgtz",
    "j",
    "jr",
    "ret",
    "li",
    "la",
    "lla",
    "call",
    "tail",
}


def _install_aliases():
    for name in _ALU_IMM:
        setattr(_Assembler, f"pseudo_{name}", lambda self, ops, n=name: self.alu_imm_alias(n, ops))
    for name in ("lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw"):
        setattr(_Assembler, f"pseudo_{name}", lambda self, ops, n=name: self.load_store_symbol(n, ops))


_install_aliases()


def _fence_set(text: str) -> int:
    text = text.strip().lower()
    if text == "0":
        return 0
    if not text or any(c not in "iorw" for c in text) or len(set(text)) != len(text):
        raise _LineError(f"bad fence set '{text}': use letters from 'iorw', e.g. 'rw'")
    return sum(8 >> "iorw".index(c) for c in text)


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def _suggest(name: str) -> str:
    import difflib

    known = list(INSTRUCTIONS) + sorted(
        _PSEUDOS | set(_BRANCH_ZERO) | set(_BRANCH_SWAP) | set(_COUNTERS) | set(_CSR_PSEUDO) | {"csrr"}
    )
    close = difflib.get_close_matches(name, known, n=3)
    if "." in name and name.split(".")[0] in {n for n, *_ in isa.VECTOR_OPS}:
        base = name.split(".")[0]
        formats = [n.split(".", 1)[1] for n in INSTRUCTIONS if n.startswith(base + ".")]
        return f"; {base} takes the element formats {', '.join(formats)}"
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _csrr(self, ops):
    self.need("csrr", ops, 2, "rd, csr")
    self.real(INSTRUCTIONS["csrrs"], [ops[0], ops[1], "zero"])


_Assembler.pseudo_csrr = _csrr
_PSEUDOS.add("csrr")


# --------------------------------------------------------------------------------------------------
# Layout and pass 2
# --------------------------------------------------------------------------------------------------


def _layout(asm: _Assembler) -> None:
    used = [s for s in asm.sections.values() if s.offset or s.name in asm.section_addresses]

    def rank(s: _SecState):
        if "x" in s.flags:
            return 0
        if "w" not in s.flags:
            return 1
        return 3 if s.nobits else 2

    placed: list[_SecState] = []
    cursor = asm.base
    for s in sorted(used, key=lambda s: (rank(s), s.first_use if s.first_use is not None else 1 << 30)):
        if not s.flags:
            continue  # not allocated: kept in the ELF, not loaded
        if s.name in asm.section_addresses:
            s.address = asm.section_addresses[s.name]
            if s.address % s.align:
                asm.error(
                    _Loc("<layout>", 0),
                    f"section {s.name} at {s.address:#x} is not aligned to its alignment {s.align}",
                )
        else:
            cursor = max([cursor] + [p.address + p.offset for p in placed])
            s.address = (cursor + s.align - 1) // s.align * s.align
        placed.append(s)
    placed.sort(key=lambda s: s.address)
    for a, b in itertools.pairwise(placed):
        if a.address + a.offset > b.address and a.offset and b.offset:
            asm.error(
                _Loc("<layout>", 0),
                f"sections {a.name} ({a.address:#x}..{a.address + a.offset:#x}) "
                f"and {b.name} (from {b.address:#x}) overlap",
            )
    for s in placed:
        if s.address + s.offset > 1 << 32:
            asm.error(_Loc("<layout>", 0), f"section {s.name} ends beyond the 32-bit address space")


def _pass2(asm: _Assembler) -> list[Section]:
    for (secname, offset), node in asm.auipc_hi.items():
        asm.auipc_by_addr[asm.sections[secname].address + offset] = node
    out = []
    for s in asm.sections.values():
        if not s.offset:
            continue
        data = bytearray()
        for item in s.items:
            ctx = _Ctx(asm, item)
            try:
                chunk = item.emit(ctx)
                assert len(chunk) == item.size, (item, len(chunk))
            except (_LineError, ExprError, EncodingError) as e:
                asm.error(item.loc, str(e))
                chunk = bytes(item.size)
            if len(data) < item.offset:
                data += bytes(item.offset - len(data))
            data += chunk
        if not s.nobits and len(data) < s.offset:
            data += bytes(s.offset - len(data))
        out.append(
            Section(s.name, s.flags, s.nobits, s.align, s.address, s.offset, b"" if s.nobits else bytes(data))
        )
    return sorted(out, key=lambda s: (not s.alloc, s.address))


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    files = list(dict.fromkeys(d.file for d in diagnostics))
    return sorted(diagnostics, key=lambda d: (files.index(d.file), d.line))


def assemble(
    source: str,
    *,
    filename: str = "<input>",
    base: int = 0,
    sections: Mapping[str, int] | None = None,
    include_dirs: Iterable[str | os.PathLike] = (),
    defines: Mapping[str, int] | None = None,
) -> Program:
    """Assemble ``source`` into a linked :class:`Program`.

    Parameters
    ----------
    source : str
        Assembly text.
    filename : str
        Name used in error messages (and to find ``.include`` files).
    base : int
        Address of the first section. Executable sections come first, then read-only data, data,
        and NOBITS sections, each aligned to its largest ``.align``.
    sections : mapping of str to int
        Fixed addresses for named sections (``{".data": 0x10000}``); the others follow ``base``.
    include_dirs : iterable of paths
        Where ``.include`` looks after the including file's folder.
    defines : mapping of str to int
        Symbols defined as if by ``.equ`` before the first line.

    Raises
    ------
    AsmError
        Listing every problem as ``file:line: message``.
    """
    if not 0 <= base < 1 << 32:
        raise ValueError(f"base address {base:#x} is not a 32-bit address")
    asm = _Assembler(base, sections or {}, [str(d) for d in include_dirs], defines or {})
    asm.run(asm.lines_of(source, filename))
    if asm.cond_stack:
        asm.error(asm.loc, ".if without .endif")
    for name in asm.globals - asm.weak:
        if name not in asm.labels and name not in asm.constants and name not in asm.lazy_equ:
            asm.error(_Loc(filename, 0), f"symbol '{name}' is declared global but never defined")
    for sec in asm.sections.values():  # like GNU as, pad code sections to their alignment
        if sec.offset % sec.align and "x" in sec.flags:
            asm.current = sec
            asm.reserve((-sec.offset) % sec.align, code_fill="x" in sec.flags)
    _layout(asm)  # even after errors: pass 2 finds the rest (bad operands, undefined symbols)
    sections_out = _pass2(asm)
    if asm.errors:
        raise AsmError(_sorted(asm.errors))
    symbols = {}
    for name in asm.labels:
        if "\x02" in name:
            continue
        sec, _, _ = asm.labels[name]
        symbols[name] = Symbol(
            name, asm.symbol_value(name) & 0xFFFFFFFF, sec.name, name in asm.globals, name in asm.weak
        )
    for name in list(asm.constants) + list(asm.lazy_equ):
        if defines and name in defines:
            continue
        try:
            value = asm.symbol_value(name)
        except ExprError as e:
            _, loc = asm.lazy_equ[name]
            asm.error(loc, str(e))
            continue
        symbols[name] = Symbol(name, value & 0xFFFFFFFF, None, name in asm.globals, name in asm.weak)
    if asm.errors:
        raise AsmError(asm.errors)
    if "_start" in symbols:
        entry = symbols["_start"].value
    else:
        code = [s for s in sections_out if "x" in s.flags and s.size]
        entry = min((s.address for s in code), default=base)
    return Program(sections_out, symbols, entry)


def assemble_file(path: str | os.PathLike, **kwargs) -> Program:
    """Assemble the file at ``path`` (see :func:`assemble` for the keyword arguments)."""
    path = Path(path)
    return assemble(path.read_text(), filename=str(path), **kwargs)
