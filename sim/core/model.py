"""Instruction-set golden model of the Tatami scalar core (RV32IM + Zicsr + Zifencei, M mode,
hardware threads, the custom-instruction port).

The model holds the architectural state of one node's core: the SRAM, and per hardware thread
its pc, registers, CSRs and run state. :meth:`CoreModel.step` executes one instruction of one
thread and returns a :class:`Retire` record with exactly the fields of the RTL's retire trace
port, so co-simulation compares records one by one. Which thread steps next is the caller's
choice: the RTL's retire order (co-simulation) or round robin (:meth:`CoreModel.run`).

Decoding uses :func:`tatami.isa.decode` (the one place for ISA knowledge). Trap causes, ``mtval``
values and the CSR map are documented in docs/core.md; the RTL follows the same rules.

>>> from tatami.config import preset
>>> from tatami.isa import encode
>>> m = CoreModel(preset("tiny"))
>>> m.write_word(m.base, encode("addi", rd=10, rs1=0, imm=42))
>>> m.start(0, m.base)
>>> r = m.step(0)
>>> (r.rd, r.rd_value, hex(m.harts[0].pc))
(10, 42, '0x80000004')
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from tatami.config import TatamiConfig
from tatami.isa import INSTRUCTIONS, IllegalInstruction, Opcode, decode

__all__ = [
    "CSR_READ_ONLY_ZERO",
    "CUSTOM_OPCODES",
    "MISA",
    "AccumulatorModel",
    "Cause",
    "CoreModel",
    "Hart",
    "Retire",
    "csr_known",
]

MASK32 = 0xFFFF_FFFF
#: misa: MXL = 1 (32-bit), extensions I and M.
MISA = (1 << 30) | (1 << 8) | (1 << 12)
#: The major opcodes whose instructions go to the custom-instruction port.
CUSTOM_OPCODES = (Opcode.CUSTOM_0, Opcode.CUSTOM_1, Opcode.CUSTOM_2, Opcode.CUSTOM_3)
_THREAD_OPS = (INSTRUCTIONS["thread.start"], INSTRUCTIONS["thread.stop"])


class Cause:
    """``mcause`` values (exceptions; interrupts have bit 31 set)."""

    INSN_MISALIGNED = 0
    INSN_ACCESS = 1
    ILLEGAL = 2
    BREAKPOINT = 3
    LOAD_MISALIGNED = 4
    LOAD_ACCESS = 5
    STORE_MISALIGNED = 6
    STORE_ACCESS = 7
    ECALL_M = 11
    IRQ_SOFT = (1 << 31) | 3
    IRQ_TIMER = (1 << 31) | 7
    IRQ_EXT = (1 << 31) | 11


#: mip/mie bits: machine software, timer and external interrupt.
MSI, MTI, MEI = 1 << 3, 1 << 7, 1 << 11
IRQ_BITS = MSI | MTI | MEI


def _ranges():
    zero_rw = {0x310, 0x320} | set(range(0x323, 0x340)) | set(range(0xB03, 0xB20)) | set(range(0xB83, 0xBA0))
    zero_rw |= set(range(0x7A0, 0x7A4))  # tselect, tdata1..3: no triggers
    zero_ro = set(range(0xC03, 0xC20)) | set(range(0xC83, 0xCA0)) | {0xF11, 0xF12, 0xF13, 0xF15}
    return frozenset(zero_rw), frozenset(zero_ro)


#: CSRs that read as zero: writable (writes ignored) and read-only ones.
CSR_ZERO_RW, CSR_READ_ONLY_ZERO = _ranges()
_CSR_STATE = frozenset(
    {0x300, 0x301, 0x304, 0x305, 0x340, 0x341, 0x342, 0x343, 0x344, 0xB00, 0xB02, 0xB80, 0xB82}
    | {0xC00, 0xC01, 0xC02, 0xC80, 0xC81, 0xC82, 0xF14}
)
#: Counter CSRs whose value depends on timing (the model cannot predict them).
TIMING_CSRS = frozenset({0xB00, 0xB80, 0xC00, 0xC01, 0xC80, 0xC81})


def csr_known(addr: int) -> bool:
    """Whether the core implements CSR ``addr`` (other addresses are illegal instructions)."""
    return addr in _CSR_STATE or addr in CSR_ZERO_RW or addr in CSR_READ_ONLY_ZERO


@dataclass(frozen=True)
class Retire:
    """One retired (or trapped) instruction, as the RTL's retire trace port reports it.

    ``rd`` is 0 when no register is written. ``mem`` is ``(word_address, data, byte_mask)`` of
    a store (data in its byte lanes, other lanes zero). ``trap`` is the ``mcause`` written when
    the instruction trapped (then nothing else changed but the trap CSRs and the pc), with
    ``tval`` the ``mtval`` written.
    """

    thread: int
    pc: int
    insn: int
    rd: int = 0
    rd_value: int = 0
    mem: tuple[int, int, int] | None = None
    trap: int | None = None
    tval: int = 0

    def __str__(self):
        text = f"t{self.thread} pc={self.pc:08x} insn={self.insn:08x}"
        if self.trap is not None:
            return f"{text} TRAP cause={self.trap:#x} tval={self.tval:#010x}"
        if self.rd:
            text += f" x{self.rd}={self.rd_value:08x}"
        if self.mem:
            text += f" mem[{self.mem[0]:08x}]={self.mem[1]:08x}/{self.mem[2]:04b}"
        return text


@dataclass
class Hart:
    """Architectural state of one hardware thread."""

    index: int
    hartid: int
    pc: int = 0
    x: list[int] = field(default_factory=lambda: [0] * 32)
    running: bool = False
    sleeping: bool = False
    mie_bit: int = 0  # mstatus.MIE
    mpie: int = 0  # mstatus.MPIE
    mtvec: int = 0
    mepc: int = 0
    mcause: int = 0
    mtval: int = 0
    mscratch: int = 0
    mie: int = 0
    mip: int = 0  # driven from outside (interrupt inputs)
    mcycle: int = 0
    minstret: int = 0

    @property
    def mstatus(self) -> int:
        return (self.mie_bit << 3) | (self.mpie << 7) | (3 << 11)


class _Trap(Exception):
    def __init__(self, cause: int, tval: int = 0):
        self.cause, self.tval = cause, tval


@functools.lru_cache(maxsize=65536)
def _decode(word: int):
    try:
        return decode(word)
    except IllegalInstruction:
        return None


def _s32(v: int) -> int:
    v &= MASK32
    return v - (1 << 32) if v >> 31 else v


#: ``custom(thread, insn, a, b) -> (value | None, err)``: the accelerator behind the port.
CustomUnit = Callable[[int, int, int, int], tuple[int | None, bool]]


class CoreModel:
    """The scalar core of one node: SRAM plus ``cfg.node.core.threads`` harts.

    Parameters
    ----------
    cfg : TatamiConfig
        ``node.core`` (threads, reset_pc = SRAM base) and ``node.sram.size_bytes``.
    node : int
        The node's index (``mhartid = node * threads + thread``).
    custom : callable, optional
        Model of the unit behind the custom-instruction port (see :data:`CustomUnit`); without
        one, custom instructions are illegal.
    """

    def __init__(self, cfg: TatamiConfig, *, node: int = 0, custom: CustomUnit | None = None):
        self.cfg = cfg
        self.threads = cfg.node.core.threads
        self.base = cfg.node.core.reset_pc
        self.size = cfg.node.sram.size_bytes
        self.mem = bytearray(self.size)
        self.custom = custom
        self.harts = [Hart(t, node * self.threads + t) for t in range(self.threads)]

    # ----- memory ------------------------------------------------------------------------
    def in_sram(self, addr: int, size: int = 1) -> bool:
        return self.base <= addr and addr + size <= self.base + self.size

    def write(self, addr: int, data: bytes):
        if not self.in_sram(addr, max(len(data), 1)):
            raise ValueError(f"{len(data)} bytes at {addr:#x} do not fit the SRAM")
        off = addr - self.base
        self.mem[off : off + len(data)] = data

    def write_word(self, addr: int, value: int):
        self.write(addr, (value & MASK32).to_bytes(4, "little"))

    def read(self, addr: int, size: int) -> bytes:
        off = addr - self.base
        return bytes(self.mem[off : off + size])

    def read_word(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    # ----- thread control ----------------------------------------------------------------
    def start(self, t: int, pc: int):
        """Start thread ``t`` at ``pc`` (bits 1..0 cleared); no effect if it is running."""
        h = self.harts[t]
        if not h.running:
            h.running, h.sleeping, h.pc = True, False, pc & ~3 & MASK32

    def stop(self, t: int):
        self.harts[t].running = False

    def run(self, max_steps: int, *, until: Callable[[Retire], bool] | None = None) -> list[Retire]:
        """Step the running, awake threads round robin until ``until(record)`` or ``max_steps``."""
        out = []
        t = 0
        while len(out) < max_steps:
            ready = [i for i in range(self.threads) if self.harts[i].running and not self.harts[i].sleeping]
            if not ready:
                break
            t = min((i for i in ready if i >= t), default=ready[0])
            r = self.step(t)
            out.append(r)
            t += 1
            if until and until(r):
                break
        return out

    # ----- CSRs --------------------------------------------------------------------------
    def csr_read(self, h: Hart, addr: int) -> int:
        if addr in CSR_ZERO_RW or addr in CSR_READ_ONLY_ZERO:
            return 0
        return {
            0x300: lambda: h.mstatus,
            0x301: lambda: MISA,
            0x304: lambda: h.mie,
            0x305: lambda: h.mtvec,
            0x340: lambda: h.mscratch,
            0x341: lambda: h.mepc,
            0x342: lambda: h.mcause,
            0x343: lambda: h.mtval,
            0x344: lambda: h.mip & IRQ_BITS,
            0xB00: lambda: h.mcycle & MASK32,
            0xB80: lambda: h.mcycle >> 32,
            0xB02: lambda: h.minstret & MASK32,
            0xB82: lambda: h.minstret >> 32,
            0xC00: lambda: h.mcycle & MASK32,
            0xC01: lambda: h.mcycle & MASK32,
            0xC80: lambda: h.mcycle >> 32,
            0xC81: lambda: h.mcycle >> 32,
            0xC02: lambda: h.minstret & MASK32,
            0xC82: lambda: h.minstret >> 32,
            0xF14: lambda: h.hartid,
        }[addr]()

    def csr_write(self, h: Hart, addr: int, v: int) -> bool:
        """Write a CSR; returns True if it was minstret(h) (the instruction does not count)."""
        if addr == 0x300:
            h.mie_bit, h.mpie = (v >> 3) & 1, (v >> 7) & 1
        elif addr == 0x304:
            h.mie = v & IRQ_BITS
        elif addr == 0x305:
            h.mtvec = v & ~3 & MASK32
        elif addr == 0x340:
            h.mscratch = v
        elif addr == 0x341:
            h.mepc = v & ~3 & MASK32
        elif addr == 0x342:
            h.mcause = v
        elif addr == 0x343:
            h.mtval = v
        elif addr == 0xB00:
            h.mcycle = (h.mcycle & ~MASK32) | v
        elif addr == 0xB80:
            h.mcycle = (h.mcycle & MASK32) | (v << 32)
        elif addr == 0xB02:
            h.minstret = (h.minstret & ~MASK32) | v
            return True
        elif addr == 0xB82:
            h.minstret = (h.minstret & MASK32) | (v << 32)
            return True
        return False

    # ----- execution ---------------------------------------------------------------------
    def take_trap(self, h: Hart, cause: int, tval: int, pc: int):
        h.mepc, h.mcause, h.mtval = pc, cause, tval & MASK32
        h.mpie, h.mie_bit = h.mie_bit, 0
        h.pc = h.mtvec

    def pending_interrupt(self, h: Hart) -> int | None:
        """The interrupt cause thread ``h`` takes before its next instruction, if any."""
        if not h.mie_bit:
            return None
        pend = h.mie & h.mip
        for bit, cause in ((MEI, Cause.IRQ_EXT), (MSI, Cause.IRQ_SOFT), (MTI, Cause.IRQ_TIMER)):
            if pend & bit:
                return cause
        return None

    def step(self, t: int, *, rd_override: int | None = None) -> Retire:
        """Execute thread ``t``'s next instruction (or take its pending interrupt).

        ``rd_override`` supplies the value of a timing-dependent CSR read (mcycle, cycle, time
        and their h halves), which the model cannot predict: co-simulation passes the RTL's.
        """
        h = self.harts[t]
        pc = h.pc
        h.mcycle = (h.mcycle + 1) & ((1 << 64) - 1)
        irq = self.pending_interrupt(h)
        if irq is not None:
            self.take_trap(h, irq, 0, pc)
            return Retire(t, pc, 0, trap=irq, tval=0)
        if not self.in_sram(pc, 4):
            self.take_trap(h, Cause.INSN_ACCESS, pc, pc)
            return Retire(t, pc, 0, trap=Cause.INSN_ACCESS, tval=pc)
        word = self.read_word(pc)
        try:
            rd, value, mem, counts = self._execute(h, pc, word, rd_override)
        except _Trap as e:
            self.take_trap(h, e.cause, e.tval, pc)
            return Retire(t, pc, word, trap=e.cause, tval=e.tval & MASK32)
        if rd:
            h.x[rd] = value & MASK32
        if counts:
            h.minstret = (h.minstret + 1) & ((1 << 64) - 1)
        return Retire(t, pc, word, rd, value & MASK32 if rd else 0, mem)

    def _target(self, target: int) -> int:
        target &= MASK32
        if target & 3:
            raise _Trap(Cause.INSN_MISALIGNED, target)
        return target

    def _execute(self, h: Hart, pc: int, word: int, rd_override):
        x = h.x
        ins = _decode(word)
        opcode = word & 0x7F
        nxt = (pc + 4) & MASK32
        if opcode in CUSTOM_OPCODES and (ins is None or ins.spec not in _THREAD_OPS):
            return self._custom(h, word, nxt)
        if ins is None:
            raise _Trap(Cause.ILLEGAL, word)
        op = ins.operands
        name = ins.name
        rd = op.get("rd", 0)
        a = x[op["rs1"]] if "rs1" in op else 0
        b = x[op["rs2"]] if "rs2" in op else 0
        imm = op.get("imm", op.get("offset", 0))
        mem = None
        counts = True
        value = 0
        if name in _ALU:
            value = _ALU[name](a, b if ins.spec.fmt.name == "R" else imm)
        elif name in ("slli", "srli", "srai"):
            value = _ALU[name[:-1]](a, op["shamt"])
        elif name == "lui":
            value = imm << 12
        elif name == "auipc":
            value = pc + (imm << 12)
        elif name == "jal":
            nxt, value = self._target(pc + imm), pc + 4
        elif name == "jalr":
            nxt, value = self._target((a + imm) & ~1), pc + 4
        elif name in _BRANCH:
            rd = 0
            if _BRANCH[name](a, b):
                nxt = self._target(pc + imm)
        elif name in _LOADS:
            size, signed = _LOADS[name]
            addr = (a + imm) & MASK32
            if addr % size:
                raise _Trap(Cause.LOAD_MISALIGNED, addr)
            if not self.in_sram(addr, size):
                raise _Trap(Cause.LOAD_ACCESS, addr)
            value = int.from_bytes(self.read(addr, size), "little", signed=signed)
        elif name in _STORES:
            rd = 0
            size = _STORES[name]
            addr = (a + imm) & MASK32
            if addr % size:
                raise _Trap(Cause.STORE_MISALIGNED, addr)
            if not self.in_sram(addr, size):
                raise _Trap(Cause.STORE_ACCESS, addr)
            self.write(addr, (b & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            lane = addr & 3
            mem = (
                addr & ~3,
                ((b & ((1 << (8 * size)) - 1)) << (8 * lane)) & MASK32,
                ((1 << size) - 1) << lane,
            )
        elif name in _MULDIV:
            value = _MULDIV[name](a, b)
        elif name.startswith("csr"):
            rd, value, counts = self._csr(h, ins, word, rd_override)
        elif name in ("fence", "fence.i"):
            rd = 0
        elif name == "ecall":
            raise _Trap(Cause.ECALL_M, 0)
        elif name == "ebreak":
            raise _Trap(Cause.BREAKPOINT, pc)
        elif name == "mret":
            nxt = h.mepc
            h.mie_bit, h.mpie = h.mpie, 1
        elif name == "wfi":
            if not (h.mie & h.mip & IRQ_BITS):
                h.sleeping = True
        elif name == "thread.start":
            rd = 0
            if a >= self.threads:
                raise _Trap(Cause.ILLEGAL, word)
            self.start(a, b)
        elif name == "thread.stop":
            rd = 0
            if a >= self.threads:
                raise _Trap(Cause.ILLEGAL, word)
            self.stop(a)
        else:  # pragma: no cover - every base instruction is handled above
            raise AssertionError(f"model does not implement {name}")
        h.pc = nxt
        return rd, value, mem, counts

    def _csr(self, h: Hart, ins, word: int, rd_override):
        op = ins.operands
        name, rd, addr = ins.name, op["rd"], op["csr"]
        imm_form = name.endswith("i")
        src = op["zimm"] if imm_form else h.x[op["rs1"]]
        field_nonzero = (op["zimm"] if imm_form else op["rs1"]) != 0
        writes = name.startswith("csrrw") or field_nonzero
        if not csr_known(addr) or (writes and addr >> 10 == 3):
            raise _Trap(Cause.ILLEGAL, word)
        old = self.csr_read(h, addr)
        if addr in TIMING_CSRS and rd_override is not None:
            old = rd_override
        counts = True
        if writes:
            base = name[:5]
            new = {"csrrw": src, "csrrs": old | src, "csrrc": old & ~src}[base] & MASK32
            if self.csr_write(h, addr, new):
                counts = False
        return rd, old, counts

    def _custom(self, h: Hart, word: int, nxt: int):
        if self.custom is None:
            raise _Trap(Cause.ILLEGAL, word)
        a, b = h.x[(word >> 15) & 31], h.x[(word >> 20) & 31]
        value, err = self.custom(h.index, word, a, b)
        if err:
            raise _Trap(Cause.ILLEGAL, word)
        h.pc = nxt
        rd = (word >> 7) & 31 if value is not None else 0
        return rd, value or 0, None, True


class AccumulatorModel:
    """Model of :class:`tatami.hw.core.accumulator.Accumulator`, the example custom unit: one
    accumulator per thread. Instructions with ``funct7 == 0x7F`` on any custom opcode:
    ``funct3 = 0`` adds ``a + b`` and returns the sum, ``funct3 = 1`` returns the accumulator and
    sets it to ``a``; anything else is illegal."""

    FUNCT7 = 0x7F

    def __init__(self, threads: int):
        self.acc = [0] * threads

    def __call__(self, thread: int, insn: int, a: int, b: int) -> tuple[int | None, bool]:
        funct3, funct7 = (insn >> 12) & 7, insn >> 25
        if funct7 != self.FUNCT7 or funct3 > 1:
            return None, True
        old = self.acc[thread]
        if funct3 == 0:
            self.acc[thread] = (old + a + b) & MASK32
            return self.acc[thread], False
        self.acc[thread] = a
        return old, False


def _div(a, b):
    a, b = _s32(a), _s32(b)
    if b == 0:
        return MASK32
    if a == -(1 << 31) and b == -1:
        return a & MASK32
    q = abs(a) // abs(b)
    return (-q if (a < 0) != (b < 0) else q) & MASK32


def _rem(a, b):
    a, b = _s32(a), _s32(b)
    if b == 0:
        return a & MASK32
    if a == -(1 << 31) and b == -1:
        return 0
    r = abs(a) % abs(b)
    return (-r if a < 0 else r) & MASK32


_ALU = {
    "add": lambda a, b: a + b,
    "addi": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "sll": lambda a, b: a << (b & 31),
    "slt": lambda a, b: int(_s32(a) < _s32(b)),
    "slti": lambda a, b: int(_s32(a) < _s32(b)),
    "sltu": lambda a, b: int((a & MASK32) < (b & MASK32)),
    "sltiu": lambda a, b: int((a & MASK32) < (b & MASK32)),
    "xor": lambda a, b: a ^ b,
    "xori": lambda a, b: a ^ b,
    "srl": lambda a, b: (a & MASK32) >> (b & 31),
    "sra": lambda a, b: _s32(a) >> (b & 31),
    "or": lambda a, b: a | b,
    "ori": lambda a, b: a | b,
    "and": lambda a, b: a & b,
    "andi": lambda a, b: a & b,
}
_BRANCH = {
    "beq": lambda a, b: a == b,
    "bne": lambda a, b: a != b,
    "blt": lambda a, b: _s32(a) < _s32(b),
    "bge": lambda a, b: _s32(a) >= _s32(b),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
}
_LOADS = {"lb": (1, True), "lh": (2, True), "lw": (4, False), "lbu": (1, False), "lhu": (2, False)}
_STORES = {"sb": 1, "sh": 2, "sw": 4}
_MULDIV = {
    "mul": lambda a, b: a * b,
    "mulh": lambda a, b: (_s32(a) * _s32(b)) >> 32,
    "mulhsu": lambda a, b: (_s32(a) * b) >> 32,
    "mulhu": lambda a, b: (a * b) >> 32,
    "div": _div,
    "divu": lambda a, b: MASK32 if b == 0 else a // b,
    "rem": _rem,
    "remu": lambda a, b: a if b == 0 else a % b,
}
