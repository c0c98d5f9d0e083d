"""Control and status registers of the scalar core: one machine-mode CSR set per hardware
thread, accessed by the thread in the execute stage.

Implemented (see docs/core.md for the full map): ``mstatus`` (MIE, MPIE; MPP reads 3),
``misa``, ``mie``, ``mtvec`` (direct mode only), ``mscratch``, ``mepc``, ``mcause``, ``mtval``,
``mip`` (MSIP/MTIP/MEIP from the interrupt inputs, read-only), ``mcycle[h]``, ``minstret[h]``
and their unprivileged read-only views ``cycle[h]``, ``time[h]`` (= mcycle), ``instret[h]``,
``mhartid`` (= node * threads + thread), ``mvendorid``/``marchid``/``mimpid``/``mconfigptr``
(zero), and the optional counters and controls read as zero (``mhpmcounter3..31[h]``,
``mhpmevent3..31``, ``hpmcounter3..31[h]``, ``mcountinhibit``, ``mstatush``), as do the trigger
registers ``tselect``, ``tdata1..3`` (0x7A0..0x7A3: no triggers, ``tdata1.type`` 0). Every other
address, and a write to a read-only address (``csr[11:10] == 3``), is an illegal instruction.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common.select import select
from tatami.isa import Csr

from .bus import THREAD_BITS

__all__ = ["TRIGGER_CSRS", "CsrFile"]

#: ``tselect``, ``tdata1``, ``tdata2``, ``tdata3``: the core has no triggers, so they read as zero
#: and ignore writes (``tdata1.type`` = 0, "no trigger at this tselect"), as the debug
#: specification allows; test environments probing for triggers (riscv-tests' breakpoint test)
#: then skip them instead of taking an illegal-instruction trap.
TRIGGER_CSRS = (0x7A0, 0x7A1, 0x7A2, 0x7A3)

MISA = (1 << 30) | (1 << 8) | (1 << 12)


class CsrFile(wiring.Component):
    """Per-thread CSRs, counters and trap state.

    Attributes
    ----------
    node : In(16)
        The node's index, for ``mhartid``.
    irq_soft, irq_timer, irq_ext : In(threads)
        Interrupt request lines per thread (``mip.MSIP``, ``MTIP``, ``MEIP``).
    x_thread : In(2)
        Thread whose CSRs the execute stage accesses this cycle.
    x_addr : In(12)
    x_write : In(1)
        The instruction writes the CSR (decides illegality of read-only CSRs).
    x_rdata : Out(32)
        Current value of ``x_addr`` (combinational).
    x_illegal : Out(1)
        ``x_addr`` is not implemented, or written while read-only.
    x_commit : In(1)
        Write ``x_wdata`` to ``x_addr`` (the instruction completes). This and the other updates
        below (``x_retire``, ``x_trap``, ``x_mret``) are registered and take effect one cycle
        later, off the execute stage's critical path.
    x_wdata : In(32)
    x_retire : In(1)
        The instruction retires: ``minstret`` += 1 (unless this instruction writes it).
    x_trap : In(1)
        Enter the trap handler: ``mepc <- x_pc``, ``mcause <- x_cause``, ``mtval <- x_tval``,
        ``MPIE <- MIE``, ``MIE <- 0``.
    x_pc, x_cause, x_tval : In(32)
    x_mret : In(1)
        ``MIE <- MPIE``, ``MPIE <- 1``.
    x_mtvec, x_mepc : Out(32)
        Trap vector and return address of ``x_thread``.
    x_irq : Out(1)
        ``x_thread`` has an enabled pending interrupt and ``mstatus.MIE`` set.
    x_irq_cause : Out(32)
        Its ``mcause`` (external > software > timer).
    wake : Out(threads)
        Per thread: some interrupt is pending and enabled in ``mie`` (ends ``wfi``).
    """

    def __init__(self, cfg: TatamiConfig):
        self.threads = cfg.node.core.threads
        t = self.threads
        super().__init__(
            {
                "node": In(16),
                "irq_soft": In(t),
                "irq_timer": In(t),
                "irq_ext": In(t),
                "x_thread": In(THREAD_BITS),
                "x_addr": In(12),
                "x_write": In(1),
                "x_rdata": Out(32),
                "x_illegal": Out(1),
                "x_commit": In(1),
                "x_wdata": In(32),
                "x_retire": In(1),
                "x_trap": In(1),
                "x_pc": In(32),
                "x_cause": In(32),
                "x_tval": In(32),
                "x_mret": In(1),
                "x_mtvec": Out(32),
                "x_mepc": Out(32),
                "x_irq": Out(1),
                "x_irq_cause": Out(32),
                "wake": Out(t),
            }
        )

    def elaborate(self, platform):
        m = Module()
        n = self.threads

        def per_thread(name, width):
            return [Signal(width, name=f"{name}{i}") for i in range(n)]

        mie_bit, mpie = per_thread("mstatus_mie", 1), per_thread("mstatus_mpie", 1)
        mtvec, mepc = per_thread("mtvec", 30), per_thread("mepc", 30)
        mcause, mtval, mscratch = (
            per_thread("mcause", 32),
            per_thread("mtval", 32),
            per_thread("mscratch", 32),
        )
        mie = per_thread("mie", 3)  # MSIE, MTIE, MEIE
        mcycle, minstret = per_thread("mcycle", 64), per_thread("minstret", 64)
        mip = [Cat(self.irq_soft[i], self.irq_timer[i], self.irq_ext[i]) for i in range(n)]

        tid = self.x_thread
        sel = Signal(range(n)) if n > 1 else Const(0, 1)
        if n > 1:
            m.d.comb += sel.eq(tid)

        def cur(regs):
            return select(sel, regs)

        c_mie, c_mpie = cur(mie_bit), cur(mpie)
        c_mcycle, c_minstret = cur(mcycle), cur(minstret)
        c_mie_reg, c_mip = cur(mie), select(sel, mip)
        hartid = Signal(32)
        if n & (n - 1) == 0:  # node * n + thread without an adder
            m.d.comb += hartid.eq(Cat(tid[0 : n.bit_length() - 1], self.node))
        else:
            m.d.comb += hartid.eq(self.node * n + tid)

        def spread(bits3):  # (MSI, MTI, MEI) -> bits 3, 7, 11
            return Cat(Const(0, 3), bits3[0], Const(0, 3), bits3[1], Const(0, 3), bits3[2])

        rdata, known = self.x_rdata, Signal()
        addr = self.x_addr
        table = {
            Csr.MSTATUS: Cat(Const(0, 3), c_mie, Const(0, 3), c_mpie, Const(0, 3), Const(3, 2)),
            Csr.MISA: Const(MISA, 32),
            Csr.MIE: spread(c_mie_reg),
            Csr.MTVEC: Cat(Const(0, 2), cur(mtvec)),
            Csr.MSCRATCH: cur(mscratch),
            Csr.MEPC: Cat(Const(0, 2), cur(mepc)),
            Csr.MCAUSE: cur(mcause),
            Csr.MTVAL: cur(mtval),
            Csr.MIP: spread(c_mip),
            Csr.MCYCLE: c_mcycle[0:32],
            Csr.MCYCLEH: c_mcycle[32:64],
            Csr.MINSTRET: c_minstret[0:32],
            Csr.MINSTRETH: c_minstret[32:64],
            Csr.CYCLE: c_mcycle[0:32],
            Csr.CYCLEH: c_mcycle[32:64],
            Csr.TIME: c_mcycle[0:32],
            Csr.TIMEH: c_mcycle[32:64],
            Csr.INSTRET: c_minstret[0:32],
            Csr.INSTRETH: c_minstret[32:64],
            Csr.MHARTID: hartid,
        }
        zero = [Csr.MVENDORID, Csr.MARCHID, Csr.MIMPID, Csr.MCONFIGPTR, Csr.MSTATUSH, Csr.MCOUNTINHIBIT]
        zero += list(TRIGGER_CSRS)  # tselect, tdata1..3: no triggers (what tests probing them expect)
        with m.Switch(addr):
            for a, value in table.items():
                with m.Case(a):
                    m.d.comb += [rdata.eq(value), known.eq(1)]
            with m.Case(*zero):
                m.d.comb += known.eq(1)
        # hpm counters and events: read as zero
        lo5 = addr[0:5]
        hpm = (lo5 >= 3) & (
            (addr[5:12] == (0xB00 >> 5))
            | (addr[5:12] == (0xB80 >> 5))
            | (addr[5:12] == (0xC00 >> 5))
            | (addr[5:12] == (0xC80 >> 5))
            | (addr[5:12] == (0x320 >> 5))
        )
        with m.If(hpm):
            m.d.comb += known.eq(1)
        m.d.comb += self.x_illegal.eq(~known | (self.x_write & (addr[10:12] == 3)))

        # trap vector, return address, interrupts
        pend = c_mie_reg & c_mip
        m.d.comb += [
            self.x_mtvec.eq(Cat(Const(0, 2), cur(mtvec))),
            self.x_mepc.eq(Cat(Const(0, 2), cur(mepc))),
            self.x_irq.eq(c_mie & pend.any()),
        ]
        with m.If(pend[2]):
            m.d.comb += self.x_irq_cause.eq((1 << 31) | 11)
        with m.Elif(pend[0]):
            m.d.comb += self.x_irq_cause.eq((1 << 31) | 3)
        with m.Else():
            m.d.comb += self.x_irq_cause.eq((1 << 31) | 7)
        m.d.comb += self.wake.eq(Cat(*[(mie[i] & mip[i]).any() for i in range(n)]))

        # updates, one cycle after execute: the instruction's write, retire, trap and mret
        # are registered first, which keeps the execute stage's trap decision off the CSRs'
        # enables. A thread's next instruction reaches execute four or more cycles later, so it
        # always sees the update; reads of timing counters may see one cycle less.
        u_tid = Signal(THREAD_BITS)
        u_addr, w = Signal(12), Signal(32)
        u_commit, u_retire, u_trap, u_mret = Signal(), Signal(), Signal(), Signal()
        u_pc, u_cause, u_tval = Signal(30), Signal(32), Signal(32)
        m.d.sync += [
            u_tid.eq(tid),
            u_addr.eq(addr),
            w.eq(self.x_wdata),
            u_commit.eq(self.x_commit),
            u_retire.eq(self.x_retire),
            u_trap.eq(self.x_trap),
            u_mret.eq(self.x_mret),
            u_pc.eq(self.x_pc[2:32]),
            u_cause.eq(self.x_cause),
            u_tval.eq(self.x_tval),
        ]
        for i in range(n):
            me = u_tid == i
            commit = me & u_commit
            wrote_cycle_lo = commit & (u_addr == Csr.MCYCLE)
            wrote_cycle_hi = commit & (u_addr == Csr.MCYCLEH)
            wrote_instret = commit & ((u_addr == Csr.MINSTRET) | (u_addr == Csr.MINSTRETH))
            with m.If(wrote_cycle_lo):
                m.d.sync += mcycle[i][0:32].eq(w)
            with m.Elif(wrote_cycle_hi):
                m.d.sync += mcycle[i][32:64].eq(w)
            with m.Else():
                m.d.sync += mcycle[i].eq(mcycle[i] + 1)
            with m.If(commit & (u_addr == Csr.MINSTRET)):
                m.d.sync += minstret[i][0:32].eq(w)
            with m.Elif(commit & (u_addr == Csr.MINSTRETH)):
                m.d.sync += minstret[i][32:64].eq(w)
            with m.Elif(me & u_retire & ~wrote_instret):
                m.d.sync += minstret[i].eq(minstret[i] + 1)
            with m.If(commit), m.Switch(u_addr):
                with m.Case(Csr.MSTATUS):
                    m.d.sync += [mie_bit[i].eq(w[3]), mpie[i].eq(w[7])]
                with m.Case(Csr.MIE):
                    m.d.sync += mie[i].eq(Cat(w[3], w[7], w[11]))
                with m.Case(Csr.MTVEC):
                    m.d.sync += mtvec[i].eq(w[2:32])
                with m.Case(Csr.MSCRATCH):
                    m.d.sync += mscratch[i].eq(w)
                with m.Case(Csr.MEPC):
                    m.d.sync += mepc[i].eq(w[2:32])
                with m.Case(Csr.MCAUSE):
                    m.d.sync += mcause[i].eq(w)
                with m.Case(Csr.MTVAL):
                    m.d.sync += mtval[i].eq(w)
            with m.If(me & u_trap):
                m.d.sync += [
                    mepc[i].eq(u_pc),
                    mcause[i].eq(u_cause),
                    mtval[i].eq(u_tval),
                    mpie[i].eq(mie_bit[i]),
                    mie_bit[i].eq(0),
                ]
            with m.If(me & u_mret):
                m.d.sync += [mie_bit[i].eq(mpie[i]), mpie[i].eq(1)]
        return m
