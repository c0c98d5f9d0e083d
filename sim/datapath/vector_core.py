"""Golden model of the vector front end (:class:`tatami.hw.datapath.vector_core.VectorCore`):
encoded VECTOR instructions (docs/isa.md) run on :class:`~tatami.sim.datapath.vector.VectorModel`
and on the node SRAM (:class:`~tatami.sim.mem.sram.SramModel`), with the memory outcomes the RTL
reports (docs/datapath.md, "Vector unit", "Memory side").

Memory semantics (``vlen`` = the SRAM word, a requirement of the RTL):

- ``vld vd, (rs1)`` / ``vst vs2, (rs1)`` move one whole register at byte address ``x[rs1]``;
  ``vgather8``/``vgather16`` read chunk ``j`` (8 or 16 bytes) of ``vd`` from ``x[rs1] +
  vs2.i32[j]`` (32-bit wrap). Each chunk (the whole register for ``vld``/``vst``) is one SRAM
  word access, in chunk order; instructions access memory in program order.
- A chunk whose address is not a multiple of its size is **misaligned**; one at or beyond the
  SRAM's size is a **bad address**: neither is sent to the SRAM. A read whose word has an
  uncorrectable lane is **uncorrectable**. Such a chunk of ``vd`` is written 0 (never the raw
  data), a faulting store writes nothing, and the instruction gets a fault record: its sequence
  number (count of legal instructions before it), the OR of the chunks' :class:`Fault` kinds and
  the byte address of its first faulting chunk. A read with a corrected lane counts in
  ``corrected``.
- Words that are not legal VECTOR instructions are dropped and counted (``illegal``); they take
  no sequence number.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tatami.config import TatamiConfig
from tatami.isa import IllegalInstruction, Opcode, VecFormat, VecOp, decode
from tatami.sim.numerics import RoundingMode

from .vector import VectorModel

__all__ = ["Fault", "FaultRecord", "VectorCoreModel", "fields"]

_MASK32 = (1 << 32) - 1


class Fault(enum.IntFlag):
    """Kinds of a memory fault (bits of ``fault_kind``)."""

    MISALIGNED = 1
    BAD_ADDR = 2
    UNCORRECTABLE = 4


@dataclass(frozen=True)
class FaultRecord:
    seq: int
    kind: Fault
    addr: int


def fields(word: int) -> dict:
    """The R-type fields of a VECTOR instruction word."""
    return {
        "funct7": word >> 25 & 0x7F,
        "funct3": word >> 12 & 7,
        "vd": word >> 7 & 31,
        "rs1": word >> 15 & 31,
        "rs2": word >> 20 & 31,
    }


class VectorCoreModel:
    """Registers, unit state and counters of the vector front end over an ``SramModel``.

    ``step(word, rs1, rs2)`` runs one instruction word with the values ``x[rs1]``, ``x[rs2]`` of
    the core's integer registers, as the core hands them over."""

    def __init__(self, cfg: TatamiConfig, sram, *, seed: int = 1):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"VectorCoreModel takes a TatamiConfig, not {cfg!r}")
        if cfg.node.vector.vlen_bits != cfg.node.sram.word_bits:
            raise ValueError(
                f"the vector memory side needs node.vector.vlen_bits ({cfg.node.vector.vlen_bits}) "
                f"= node.sram.word_bits ({cfg.node.sram.word_bits})"
            )
        self.cfg = cfg
        self.unit = VectorModel(cfg, None, seed=seed)
        self.sram = sram
        self.size = cfg.node.sram.size_bytes
        self.word_bytes = cfg.node.sram.word_bits // 8
        self.seq = 0
        self.illegal = 0
        self.corrected = 0
        self.faults: list[FaultRecord] = []

    @property
    def regs(self):
        return self.unit.regs

    def set_state(self, mode=RoundingMode.RNE, cf8e4_bias=7, cf8e5_bias=15, cf16_bias=15):
        u = self.unit
        u.mode = RoundingMode(mode)
        u.cf8e4_bias, u.cf8e5_bias, u.cf16_bias = cf8e4_bias, cf8e5_bias, cf16_bias

    # -- memory ------------------------------------------------------------------------------------
    def _check(self, addr, size) -> Fault:
        if addr % size:
            return Fault.MISALIGNED
        if addr >= self.size:
            return Fault.BAD_ADDR
        return Fault(0)

    def _read_chunk(self, addr, size) -> tuple[int, Fault]:
        kind = self._check(addr, size)
        if kind:
            return 0, kind
        r = self.sram.read(addr // self.word_bytes)
        self.corrected += int(r.corrected)
        if r.bad_addr:
            return 0, Fault.BAD_ADDR
        if r.uncorrectable:
            return 0, Fault.UNCORRECTABLE
        return r.data >> 8 * (addr % self.word_bytes) & ((1 << 8 * size) - 1), Fault(0)

    def _record(self, kinds):
        """``kinds``: (address, kind) per chunk, in chunk order."""
        total = Fault(0)
        first = None
        for addr, kind in kinds:
            if kind and first is None:
                first = addr
            total |= kind
        if total:
            self.faults.append(FaultRecord(self.seq, total, first))

    # -- instructions -----------------------------------------------------------------------------
    def step(self, word: int, rs1: int = 0, rs2: int = 0):
        """One instruction word; returns its :class:`FaultRecord` or None."""
        try:
            insn = decode(word)
        except IllegalInstruction:
            self.illegal += 1
            return None
        if insn.spec.opcode != Opcode.VECTOR:
            self.illegal += 1
            return None
        f = fields(word)
        op, fmt = VecOp(f["funct7"]), VecFormat(f["funct3"])
        rs1, rs2 = rs1 & _MASK32, rs2 & _MASK32
        nfaults = len(self.faults)
        u = self.unit
        vlen = u.vlen
        if op is VecOp.VLD:
            data, kind = self._read_chunk(rs1, vlen // 8)
            u.regs[f["vd"]] = data
            self._record([(rs1, kind)])
        elif op is VecOp.VST:
            kind = self._check(rs1, vlen // 8)
            if not kind:
                r = self.sram.write(rs1 // self.word_bytes, u.regs[f["rs2"]])
                kind = Fault.BAD_ADDR if r.bad_addr else Fault(0)
            self._record([(rs1, kind)])
        elif op in (VecOp.VGATHER8, VecOp.VGATHER16):
            g = 8 if op is VecOp.VGATHER8 else 16
            offs = u.elements(u.regs[f["rs2"]], VecFormat.INT32)
            out, kinds = 0, []
            for j in range(vlen // 8 // g):
                addr = (rs1 + offs[j]) & _MASK32
                data, kind = self._read_chunk(addr, g)
                out |= data << (8 * g * j)
                kinds.append((addr, kind))
            u.regs[f["vd"]] = out
            self._record(kinds)
        else:
            x = rs2 if op in (VecOp.VTRANS, VecOp.VPAD) else rs1
            u.execute(op, fmt, f["vd"], f["rs1"], f["rs2"], x)
        self.seq += 1
        return self.faults[-1] if len(self.faults) > nfaults else None

    def first_fault(self) -> FaultRecord | None:
        return self.faults[0] if self.faults else None
