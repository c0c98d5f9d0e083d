"""An independent reference for co-simulation: one RV32 hart in `unicorn` (QEMU's RISC-V).

Unicorn executes the instructions (ALU, M extension, loads and stores, branches, CSR
instructions on the standard CSRs) and detects illegal instructions, ``ecall``, ``ebreak`` and
accesses outside the SRAM. It does not enter traps itself (it reports them to a hook and stops),
and QEMU 5 allows misaligned loads and stores, which Tatami traps. This driver therefore adds
what the privileged spec says a machine-mode trap does:

* before each step, a load or store whose effective address is misaligned raises the misaligned
  exception (address computed from unicorn's own registers and the instruction's fields);
* on any exception: ``mepc``/``mcause``/``mtval`` written, ``mstatus.MPIE <- MIE``, ``MIE <- 0``,
  ``MPP <- M``, pc <- ``mtvec``, all through unicorn's CSR registers (``mret`` is unicorn's).

Unicorn's hart has the C extension, so jump targets that are 2 mod 4 do not trap there: random
programs for three-way co-simulation have no misaligned jump targets (see
:class:`tatami.sim.core.randgen.GenOptions`).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from unicorn import (
    UC_ARCH_RISCV,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_INSN_INVALID,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_INTR,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MODE_RISCV32,
    Uc,
    UcError,
)
from unicorn import riscv_const as rc

__all__ = ["UcStep", "UnicornHart"]

MASK32 = 0xFFFF_FFFF
_XREGS = [getattr(rc, f"UC_RISCV_REG_X{i}") for i in range(1, 32)]
_EBREAK = 0x00100073
# mtval rules shared with the core (docs/core.md): illegal -> the instruction, ebreak -> pc.
_INTR_CAUSE = {2: 2, 3: 3, 8: 11, 9: 11, 11: 11}


@dataclass
class UcStep:
    """What one step did: the pc it ran, the trap taken (mcause) if any, the stores made
    (``(address, size, value)``), and the registers x1..x31 and pc afterwards."""

    pc: int
    trap: int | None
    tval: int
    stores: list[tuple[int, int, int]]
    x: list[int]
    next_pc: int


class UnicornHart:
    """A unicorn RV32 hart with ``size`` bytes of RAM at ``base``.

    ``image`` is a list of ``(address, bytes)`` loaded before the first step.
    """

    def __init__(self, base: int, size: int, image: list[tuple[int, bytes]], pc: int):
        if base % 4096 or size % 4096:
            raise ValueError(f"unicorn maps whole 4 KiB pages: base {base:#x}, size {size:#x}")
        self.base, self.size = base, size
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        self.uc.mem_map(base, size)
        for addr, data in image:
            self.uc.mem_write(addr, bytes(data))
        self.pc = pc
        self._stores: list[tuple[int, int, int]] = []
        self._intr: int | None = None
        self._fault: int | None = None
        self._batch = None
        if hasattr(self.uc, "_do_reg_read_batch"):  # unicorn 2.1's low-level batch read
            vals = (ctypes.c_uint64 * 31)()
            ptrs = (ctypes.c_void_p * 31)(*(ctypes.addressof(vals) + 8 * i for i in range(31)))
            self._batch = ((ctypes.c_int * 31)(*_XREGS), ptrs, vals)
        self.uc.hook_add(UC_HOOK_MEM_WRITE, self._on_write)
        self.uc.hook_add(UC_HOOK_INTR, self._on_intr)
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)

    def _on_write(self, uc, access, addr, size, value, _):
        self._stores.append((addr, size, value & ((1 << (8 * size)) - 1)))

    def _on_intr(self, uc, intno, _):
        self._intr = intno
        uc.emu_stop()

    def _on_unmapped(self, uc, access, addr, size, value, _):
        self._fault = addr
        return False

    def _read_x(self) -> list[int]:
        """x0..x31 in one call into unicorn (reading them one by one costs more than running
        the instruction)."""
        if self._batch is None:
            return [0, *self.uc.reg_read_batch(_XREGS)]
        ids, ptrs, vals = self._batch
        if self.uc._do_reg_read_batch(ids, ptrs, ctypes.c_int(31)) != 0:
            raise RuntimeError("unicorn could not read the registers")
        return [0, *vals[:]]  # unicorn writes 32 bits of each 64-bit slot; the rest stays 0

    def reg(self, i: int) -> int:
        return 0 if i == 0 else self.uc.reg_read(_XREGS[i - 1])

    def _trap(self, cause: int, tval: int, pc: int):
        uc = self.uc
        st = uc.reg_read(rc.UC_RISCV_REG_MSTATUS)
        mie = (st >> 3) & 1
        st = (st & ~((1 << 3) | (1 << 7) | (3 << 11))) | (mie << 7) | (3 << 11)
        uc.reg_write(rc.UC_RISCV_REG_MSTATUS, st)
        uc.reg_write(rc.UC_RISCV_REG_MEPC, pc)
        uc.reg_write(rc.UC_RISCV_REG_MCAUSE, cause)
        uc.reg_write(rc.UC_RISCV_REG_MTVAL, tval & MASK32)
        self.pc = uc.reg_read(rc.UC_RISCV_REG_MTVEC) & ~3

    def _misaligned(self, word: int) -> tuple[int, int] | None:
        opcode, funct3, rs1 = word & 0x7F, (word >> 12) & 7, (word >> 15) & 31
        if opcode == 0x03 and funct3 in (0, 1, 2, 4, 5):
            imm, cause = word >> 20, 4
        elif opcode == 0x23 and funct3 in (0, 1, 2):
            imm, cause = ((word >> 25) << 5) | ((word >> 7) & 31), 6
        else:
            return None
        imm -= (imm & 0x800) << 1
        addr = (self.reg(rs1) + imm) & MASK32
        return (cause, addr) if addr % (1 << (funct3 & 3)) else None

    def step(self) -> UcStep:
        """Execute one instruction (or take its trap)."""
        pc = self.pc
        self._stores, self._intr, self._fault = [], None, None
        trap = tval = None
        word = None
        if self.base <= pc < self.base + self.size:
            word = int.from_bytes(self.uc.mem_read(pc, 4), "little")
            mis = self._misaligned(word)
            if mis:
                trap, tval = mis
        if trap is None:
            try:
                self.uc.emu_start(pc, MASK32, count=1)
            except UcError as e:
                if e.errno == UC_ERR_FETCH_UNMAPPED and self._fault not in (None, pc):
                    pass  # the jump at pc completed; the fetch at its target faults next step
                elif e.errno == UC_ERR_FETCH_UNMAPPED:
                    trap, tval = 1, pc
                elif e.errno == UC_ERR_READ_UNMAPPED:
                    trap, tval = 5, self._fault
                elif e.errno == UC_ERR_WRITE_UNMAPPED:
                    trap, tval = 7, self._fault
                elif e.errno == UC_ERR_INSN_INVALID:
                    trap, tval = (3, pc) if word == _EBREAK else (2, word)
                else:
                    raise
            if trap is None and self._intr is not None:
                trap = _INTR_CAUSE.get(self._intr)
                if trap is None:
                    raise RuntimeError(f"unicorn raised exception {self._intr} at {pc:#x}")
                tval = {2: word, 3: pc, 11: 0}[trap]
        if trap is not None:
            self._stores = []
            self._trap(trap, tval, pc)
        else:
            self.pc = self.uc.reg_read(rc.UC_RISCV_REG_PC)
        x = self._read_x()
        return UcStep(pc, trap, tval or 0, self._stores, x, self.pc)
