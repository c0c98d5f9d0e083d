"""Instruction decoder of the scalar core (execute stage).

Legality comes straight from :data:`tatami.isa.INSTRUCTIONS`: a word is a legal base instruction
iff it matches some spec's ``mask``/``match`` (the same rule the assembler, disassembler and
golden model use), so reserved encodings (``fence`` with ``rd != 0``, shifts with bad
``funct7``...) are illegal here too. Custom-0..3 words other than ``thread.start``/``thread.stop``
are not judged here: they go to the custom-instruction port, whose unit decides.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.isa import INSTRUCTIONS, Funct7, Funct12, Opcode

__all__ = ["Decoder"]

_CUSTOM = (Opcode.CUSTOM_0, Opcode.CUSTOM_1, Opcode.CUSTOM_2, Opcode.CUSTOM_3)


def _matches(insn, spec):
    return (insn & spec.mask) == spec.match


class Decoder(wiring.Component):
    """Combinational decoder.

    Attributes
    ----------
    insn : In(32)
        The instruction word.
    legal : Out(1)
        A base RV32IM/Zicsr/Zifencei/privileged instruction or ``thread.start``/``thread.stop``.
    custom : Out(1)
        A custom-0..3 instruction for the custom-instruction port.
    rd, rs1, rs2 : Out(5)
        Register fields.
    funct3 : Out(3)
    imm : Out(32)
        The immediate of the instruction's format, sign-extended (U: already shifted).
    lui, auipc, jal, jalr, branch, load, store, alu, alu_imm, alu_alt : Out(1)
    mul, div, csr, ecall, ebreak, mret, wfi, fence, thread_start, thread_stop : Out(1)
        Instruction class (valid when ``legal``). ``alu_imm``: the ALU's second operand is the
        immediate; ``alu_alt``: ``sub``/``sra``/``srai``. ``mul``/``div``: M extension.
    """

    def __init__(self):
        names = [
            *("legal", "custom", "lui", "auipc", "jal", "jalr", "branch", "load", "store", "alu"),
            *("alu_imm", "alu_alt", "mul", "div", "csr", "ecall", "ebreak", "mret", "wfi", "fence"),
            *("thread_start", "thread_stop"),
        ]
        super().__init__(
            {
                "insn": In(32),
                **{n: Out(1) for n in names},
                "rd": Out(5),
                "rs1": Out(5),
                "rs2": Out(5),
                "funct3": Out(3),
                "imm": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        i = self.insn
        specs = [s for s in INSTRUCTIONS.values() if s.ext != "Xtatami"]
        specs += [INSTRUCTIONS["thread.start"], INSTRUCTIONS["thread.stop"]]
        m.d.comb += self.legal.eq(Cat(*[_matches(i, s) for s in specs]).any())
        opcode = i[0:7]
        thread_op = _matches(i, INSTRUCTIONS["thread.start"]) | _matches(i, INSTRUCTIONS["thread.stop"])
        is_custom = Cat(*[opcode == c for c in _CUSTOM]).any()
        m.d.comb += [
            self.custom.eq(is_custom & ~thread_op),
            self.thread_start.eq(_matches(i, INSTRUCTIONS["thread.start"])),
            self.thread_stop.eq(_matches(i, INSTRUCTIONS["thread.stop"])),
            self.rd.eq(i[7:12]),
            self.funct3.eq(i[12:15]),
            self.rs1.eq(i[15:20]),
            self.rs2.eq(i[20:25]),
        ]
        funct7 = i[25:32]
        imm_i = i[20:32].as_signed()
        imm_s = Cat(i[7:12], i[25:32]).as_signed()
        imm_b = Cat(Signal(1), i[8:12], i[25:31], i[7], i[31]).as_signed()
        imm_u = Cat(Signal(12), i[12:32])
        imm_j = Cat(Signal(1), i[21:31], i[20], i[12:20], i[31]).as_signed()
        m.d.comb += self.imm.eq(imm_i)
        with m.Switch(opcode):
            with m.Case(Opcode.LUI):
                m.d.comb += [self.lui.eq(1), self.imm.eq(imm_u)]
            with m.Case(Opcode.AUIPC):
                m.d.comb += [self.auipc.eq(1), self.imm.eq(imm_u)]
            with m.Case(Opcode.JAL):
                m.d.comb += [self.jal.eq(1), self.imm.eq(imm_j)]
            with m.Case(Opcode.JALR):
                m.d.comb += self.jalr.eq(1)
            with m.Case(Opcode.BRANCH):
                m.d.comb += [self.branch.eq(1), self.imm.eq(imm_b)]
            with m.Case(Opcode.LOAD):
                m.d.comb += self.load.eq(1)
            with m.Case(Opcode.STORE):
                m.d.comb += [self.store.eq(1), self.imm.eq(imm_s)]
            with m.Case(Opcode.OP_IMM):
                # srai has funct7 ALT in imm[11:5]; addi and friends never set alu_alt.
                m.d.comb += [
                    self.alu.eq(1),
                    self.alu_imm.eq(1),
                    self.alu_alt.eq((self.funct3 == 5) & (funct7 == Funct7.ALT)),
                ]
            with m.Case(Opcode.OP):
                with m.If(funct7 == Funct7.MULDIV):
                    m.d.comb += [self.mul.eq(~self.funct3[2]), self.div.eq(self.funct3[2])]
                with m.Else():
                    m.d.comb += [self.alu.eq(1), self.alu_alt.eq(funct7 == Funct7.ALT)]
            with m.Case(Opcode.MISC_MEM):
                m.d.comb += self.fence.eq(1)
            with m.Case(Opcode.SYSTEM):
                with m.If(self.funct3 != 0):
                    m.d.comb += self.csr.eq(1)
                with m.Else():
                    funct12 = i[20:32]
                    m.d.comb += [
                        self.ecall.eq(funct12 == Funct12.ECALL),
                        self.ebreak.eq(funct12 == Funct12.EBREAK),
                        self.mret.eq(funct12 == Funct12.MRET),
                        self.wfi.eq(funct12 == Funct12.WFI),
                    ]
        return m
