"""The Tatami scalar control core: RV32IM + Zicsr + Zifencei, machine mode, up to 4 hardware
threads interleaved cycle by cycle (a barrel pipeline), a custom-instruction port.

Pipeline
--------
``F`` fetch request (one register in front of ``ibus``, loaded from the registered pc of an idle
thread) -> ``I`` issue: a round-robin pick among the threads holding an instruction (from the
fetch response directly, or from the thread's instruction buffer), register file addresses ->
``R`` register read: the register file's block RAM answers, its output is registered -> ``X``
execute: decode, ALU, branch, CSR, traps, register write-back, retire, next pc. Each thread has
at most one instruction between ``I`` and the end of ``X``, so there are no hazards between
instructions of a thread and no forwarding; the other threads fill the pipeline. A single thread
runs one ALU instruction every ``fetch latency + 4`` cycles (``F``, the bus, ``I``, ``R``, ``X``,
back to idle); with enough threads the core issues one instruction per cycle.

Long operations (loads, stores, multiply, divide, custom instructions) take two passes through
``X``: the first checks for traps and sends the request (the thread then waits, off the
pipeline, while other threads issue); the result lands in the thread's result buffer; the
second pass writes it back and retires. A request that cannot be sent (bus, divider or custom
unit busy) is simply retried at the thread's next turn. Nothing architectural changes before
the second pass, so traps are precise.

Thread states (per thread): ``IDLE`` (needs a fetch), ``FETCH`` (fetch outstanding), ``READY``
(instruction buffered), ``BUSY`` (in ``I``/``X``), ``WAIT`` (long operation outstanding),
``SLEEP`` (``wfi`` until an enabled interrupt is pending).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Elaboratable, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from tatami.config import TatamiConfig
from tatami.hw.common.select import select

from .alu import ALU
from .branch import PARTIAL_BITS, BranchUnit
from .bus import (
    THREAD_BITS,
    CustomSignature,
    CxRequest,
    MemBusSignature,
    MemRequest,
    RetireRecord,
    ValidSignature,
)
from .csr import CsrFile
from .decoder import Decoder
from .divider import Divider
from .lsu import LoadStoreUnit
from .multiplier import Multiplier

__all__ = ["Core", "ThreadState"]


class ThreadState(enum.Enum, shape=3):
    IDLE = 0
    FETCH = 1
    READY = 2
    BUSY = 3
    WAIT = 4
    SLEEP = 5


class _Outcome(enum.Enum, shape=2):
    DONE = 0  # retired (or trapped): pc moves on
    WAIT = 1  # long operation sent; the thread waits for its result
    RETRY = 2  # long operation could not be sent; issue again later


class _TagQueue(Elaboratable):
    """Thread tags of a bus's outstanding requests, in order: written (``w_en``, ``w_data``)
    when a request is accepted, popped (``r_en``) when its response arrives, ``r_data`` being the
    oldest. A shift register whose head is a flip-flop, so a response's tag needs no memory read
    (it sits on the issue stage's path). Never more than ``depth`` entries (one request per
    thread), never popped empty (one response per request)."""

    def __init__(self, width: int, depth: int):
        self.width, self.depth = width, depth
        self.w_en, self.w_data = Signal(), Signal(width)
        self.r_en, self.r_data = Signal(), Signal(width)

    def elaborate(self, platform):
        m = Module()
        d = self.depth
        entry = [Signal(self.width, name=f"entry{i}") for i in range(d)]
        count = Signal(range(d + 1))
        m.d.comb += self.r_data.eq(entry[0])
        # where a write lands: after the pop, if there is one
        slot = Mux(self.r_en, count - 1, count)
        for i in range(d):
            with m.If(self.w_en & (slot == i)):
                m.d.sync += entry[i].eq(self.w_data)
            with m.Elif(self.r_en):
                m.d.sync += entry[i].eq(entry[i + 1] if i + 1 < d else 0)
        m.d.sync += count.eq(count + self.w_en - self.r_en)
        return m


class Core(wiring.Component):
    """One node's scalar core.

    Parameters
    ----------
    cfg : TatamiConfig
        ``node.core.threads`` (1..4), ``node.core.reset_pc`` (the SRAM base address) and
        ``node.sram.size_bytes`` (the SRAM's extent: accesses outside trap).

    Attributes
    ----------
    ibus, dbus : Out(MemBusSignature)
        Instruction fetch and data ports (:mod:`tatami.hw.core.bus`).
    cx : Out(CustomSignature)
        Custom-instruction port.
    retire : Out(ValidSignature(RetireRecord))
        Retire trace: one record per completed or trapped instruction, one cycle after ``X``.
    node : In(16)
        This node's index (``mhartid = node * threads + thread``).
    start, stop : In(threads)
        Host thread control, one bit per thread: start at ``start_pc`` (ignored for a running
        thread; takes effect once a stopped thread's last instruction has retired), stop at the
        next instruction boundary.
    start_pc : In(32)
    running : Out(threads)
        Threads that are running.
    irq_soft, irq_timer, irq_ext : In(threads)
        Machine software, timer and external interrupt lines per thread.
    """

    def __init__(self, cfg: TatamiConfig):
        core = cfg.node.core
        if not 1 <= core.threads <= 4:
            raise ValueError(f"the core has 1 to 4 threads, not {core.threads}")
        if core.reset_pc + cfg.node.sram.size_bytes > 1 << 32:
            raise ValueError(
                f"SRAM of {cfg.node.sram.size_bytes} bytes at {core.reset_pc:#x} "
                "runs past the 32-bit address space"
            )
        self.cfg = cfg
        self.threads = t = core.threads
        self.base = core.reset_pc
        self.size = cfg.node.sram.size_bytes
        super().__init__(
            {
                "ibus": Out(MemBusSignature()),
                "dbus": Out(MemBusSignature()),
                "cx": Out(CustomSignature()),
                "retire": Out(ValidSignature(RetireRecord)),
                "node": In(16),
                "start": In(t),
                "stop": In(t),
                "start_pc": In(32),
                "running": Out(t),
                "irq_soft": In(t),
                "irq_timer": In(t),
                "irq_ext": In(t),
            }
        )

    def _in_sram(self, addr):
        """Whether byte address ``addr`` is in the SRAM. With a power-of-two size and a base
        aligned to it (every preset but ``d1``) this is a comparison of the upper address bits with
        a constant: no carry chain on the execute path's trap conditions."""
        size, base = self.size, self.base
        if size & (size - 1) == 0 and base % size == 0:
            k = size.bit_length() - 1
            return addr[k:32] == base >> k
        return (addr - base)[0:32] < size

    def elaborate(self, platform):
        m = Module()
        n = self.threads
        tbits = ceil_log2(n)

        def regs(name, shape, init=0):
            return [Signal(shape, name=f"{name}{i}", init=init) for i in range(n)]

        def at(sigs, index):
            return select(index, sigs)

        st = regs("st", ThreadState)
        run, pc = regs("run", 1), regs("pc", 32)
        ibuf, ifault = regs("ibuf", 32), regs("ifault", 1)
        rbuf, rvalid, rerr, rwb = regs("rbuf", 32), regs("rvalid", 1), regs("rerr", 1), regs("rwb", 1)
        drop, pstart, ppc = regs("drop", 1), regs("pstart", 1), regs("ppc", 32)
        # thread.start / thread.stop requests registered out of X (see "thread control" below);
        # a thread with a stop pending is treated as stopped already (``live``)
        t_start, t_stop, t_pc = Signal(n), Signal(n), Signal(32)
        live = [run[t] & ~t_stop[t] for t in range(n)]
        m.d.comb += self.running.eq(Cat(*run))

        m.submodules.decoder = dec = Decoder()
        m.submodules.alu = alu = ALU()
        m.submodules.bru = bru = BranchUnit()
        m.submodules.lsu = lsu = LoadStoreUnit()
        m.submodules.mul = mul = Multiplier()
        m.submodules.div = div = Divider()
        m.submodules.csr = csr = CsrFile(self.cfg)
        m.submodules.ftags = ftags = _TagQueue(THREAD_BITS, n)
        m.submodules.dtags = dtags = _TagQueue(THREAD_BITS, n)
        from tatami.hw.common.arbiter import RoundRobinArbiter

        m.submodules.fetch_arb = fetch_arb = RoundRobinArbiter(n)
        m.submodules.issue_arb = issue_arb = RoundRobinArbiter(n)
        m.submodules.rf = rf = Memory(shape=32, depth=32 * n, init=[])
        rp1, rp2, wp = rf.read_port(), rf.read_port(), rf.write_port()
        m.d.comb += [
            csr.node.eq(self.node),
            csr.irq_soft.eq(self.irq_soft),
            csr.irq_timer.eq(self.irq_timer),
            csr.irq_ext.eq(self.irq_ext),
        ]

        # ---------------------------------------------------------------- F: fetch request
        f_valid, f_tid, f_addr = Signal(), Signal(THREAD_BITS), Signal(32)
        ireq = self.ibus.req
        m.d.comb += [
            ireq.valid.eq(f_valid),
            ireq.payload.addr.eq(f_addr),
            ireq.payload.mask.eq(0xF),
            ftags.w_en.eq(ireq.valid & ireq.ready),
            ftags.w_data.eq(f_tid),
        ]
        f_free = ~f_valid | ireq.ready
        iresp = self.ibus.resp
        resp_tid = ftags.r_data
        m.d.comb += ftags.r_en.eq(iresp.valid)
        resp_live = iresp.valid & ~at(drop, resp_tid)

        # ---------------------------------------------------------------- I: issue
        issue_req = []
        for t in range(n):
            from_buf = (st[t] == ThreadState.READY) & (live[t] | rvalid[t])
            from_resp = resp_live & (resp_tid == t) & live[t]
            issue_req.append(from_buf | from_resp)
        # after reset the register file is cleared, one register per cycle, before any issue
        clearing = Signal(range(32 * n + 1), init=0)
        cleared = Signal()  # (a register: it gates every issue request)
        with m.If(~cleared):
            m.d.sync += clearing.eq(clearing + 1)
            with m.If(clearing == 32 * n - 1):
                m.d.sync += cleared.eq(1)
        m.d.comb += [
            issue_arb.requests.eq(Mux(cleared, Cat(*issue_req), 0)),
            issue_arb.advance.eq(1),
        ]
        issue_valid, issue_tid = issue_arb.valid, issue_arb.grant_index
        issue_from_resp = resp_live & (resp_tid == issue_tid) & (at(st, issue_tid) == ThreadState.FETCH)
        issue_insn = Mux(issue_from_resp, iresp.payload.rdata, at(ibuf, issue_tid))
        issue_fault = Mux(issue_from_resp, iresp.payload.err, at(ifault, issue_tid))
        tid_bits = issue_tid[0:tbits] if tbits else Const(0, 0)
        m.d.comb += [
            rp1.addr.eq(Cat(issue_insn[15:20], tid_bits)),
            rp2.addr.eq(Cat(issue_insn[20:25], tid_bits)),
        ]

        # ---------------------------------------------------------------- R: register read
        # The register file's block RAM answers here; its output is registered into X (the
        # instruction's other fields are carried along), so X starts from flip-flops.
        r_valid, r_tid, r_pc, r_insn = Signal(), Signal(THREAD_BITS), Signal(32), Signal(32)
        r_fault, r_phase2, r_rbuf, r_rerr, r_rwb = Signal(), Signal(), Signal(32), Signal(), Signal()
        m.d.sync += [
            r_valid.eq(issue_valid),
            r_tid.eq(issue_tid),
            r_pc.eq(at(pc, issue_tid)),
            r_insn.eq(issue_insn),
            r_fault.eq(issue_fault),
            r_phase2.eq(at(rvalid, issue_tid)),
            r_rbuf.eq(at(rbuf, issue_tid)),
            r_rerr.eq(at(rerr, issue_tid)),
            r_rwb.eq(at(rwb, issue_tid)),
        ]
        x_valid, x_tid, x_pc, x_insn = Signal(), Signal(THREAD_BITS), Signal(32), Signal(32)
        x_fault, x_phase2, x_rbuf, x_rerr, x_rwb = Signal(), Signal(), Signal(32), Signal(), Signal()
        x_a, x_b = Signal(32), Signal(32)
        # Computed in R from the register file's output and registered, to keep carry chains
        # off X's trap conditions: the branch comparison of the operands' halves (finished in X
        # in two levels of logic) and the effective address x[rs1] + imm (I-type immediate,
        # S-type for stores: loads, stores and jalr use it).
        r_store = r_insn[0:7] == 0b0100011
        r_imm = Mux(
            r_store,
            Cat(r_insn[7:12], r_insn[25:32]).as_signed(),
            r_insn[20:32].as_signed(),
        )
        m.d.comb += [bru.a.eq(rp1.data), bru.b.eq(rp2.data)]
        x_cmp, x_eff = Signal(PARTIAL_BITS), Signal(32)
        m.d.sync += [x_cmp.eq(bru.partial), x_eff.eq(rp1.data + r_imm)]
        m.d.sync += [
            x_valid.eq(r_valid),
            x_tid.eq(r_tid),
            x_pc.eq(r_pc),
            x_insn.eq(r_insn),
            x_fault.eq(r_fault),
            x_phase2.eq(r_phase2),
            x_rbuf.eq(r_rbuf),
            x_rerr.eq(r_rerr),
            x_rwb.eq(r_rwb),
            x_a.eq(rp1.data),
            x_b.eq(rp2.data),
        ]

        # ---------------------------------------------------------------- X: execute
        a, b = x_a, x_b
        m.d.comb += dec.insn.eq(x_insn)
        imm = dec.imm
        m.d.comb += [
            alu.op.eq(dec.funct3),
            alu.alt.eq(dec.alu_alt),
            alu.a.eq(a),
            alu.b.eq(Mux(dec.alu_imm, imm, b)),
        ]
        eff_addr = x_eff
        m.d.comb += [
            lsu.funct3.eq(dec.funct3),
            lsu.addr.eq(eff_addr),
            lsu.store_data.eq(b),
            lsu.rdata.eq(x_rbuf),
        ]
        # (pcs are always 4-byte aligned: saying so lets synthesis drop the low adder bits)
        pcx = Cat(Const(0, 2), x_pc[2:32])
        pc4 = Signal(32)
        m.d.comb += pc4.eq(pcx + 4)
        target = Signal(32)
        m.d.comb += target.eq(Mux(dec.jalr, Cat(Const(0, 1), eff_addr[1:32]), pcx + imm))
        # target bits 1..0 without the adder: imm's for jal and branches, the address's for jalr
        target_lo = Mux(dec.jalr, Cat(Const(0, 1), eff_addr[1]), imm[0:2])
        m.d.comb += [bru.op.eq(dec.funct3), bru.partial_in.eq(x_cmp)]
        taken = dec.jal | dec.jalr | (dec.branch & bru.taken)

        # CSR access
        csr_imm = dec.funct3[2]
        csr_src = Mux(csr_imm, dec.rs1, a)
        csr_write = (dec.funct3[0:2] == 1) | (dec.rs1 != 0)
        csr_new = Signal(32)
        with m.Switch(dec.funct3[0:2]):
            with m.Case(1):
                m.d.comb += csr_new.eq(csr_src)
            with m.Case(2):
                m.d.comb += csr_new.eq(csr.x_rdata | csr_src)
            with m.Case(3):
                m.d.comb += csr_new.eq(csr.x_rdata & ~csr_src)
        m.d.comb += [
            csr.x_thread.eq(x_tid),
            csr.x_addr.eq(x_insn[20:32]),
            csr.x_write.eq(csr_write),
            csr.x_wdata.eq(csr_new),
            csr.x_pc.eq(x_pc),
        ]

        thread_op = dec.thread_start | dec.thread_stop
        # (x[rs1] >= threads, as a test of the upper bits: no 32-bit comparator on the trap path)
        bad_thread = thread_op & ((a[tbits:32] != 0) | (a[0:tbits] >= n))
        legal = dec.legal | dec.custom
        mem_oob = ~self._in_sram(eff_addr)
        irq = csr.x_irq & ~x_phase2

        trap, cause, tval = Signal(), Signal(32), Signal(32)
        outcome = Signal(_Outcome)
        with m.If(x_phase2), m.If(x_rerr):
            m.d.comb += trap.eq(1)
            with m.If(dec.load):
                m.d.comb += [cause.eq(5), tval.eq(eff_addr)]
            with m.Elif(dec.store):
                m.d.comb += [cause.eq(7), tval.eq(eff_addr)]
            with m.Else():
                m.d.comb += [cause.eq(2), tval.eq(x_insn)]
        with m.Elif(irq):
            m.d.comb += [trap.eq(1), cause.eq(csr.x_irq_cause)]
        with m.Elif(x_fault):
            m.d.comb += [trap.eq(1), cause.eq(1), tval.eq(x_pc)]
        with m.Elif(~legal | (dec.csr & csr.x_illegal) | bad_thread):
            m.d.comb += [trap.eq(1), cause.eq(2), tval.eq(x_insn)]
        with m.Elif(dec.ecall):
            m.d.comb += [trap.eq(1), cause.eq(11)]
        with m.Elif(dec.ebreak):
            m.d.comb += [trap.eq(1), cause.eq(3), tval.eq(x_pc)]
        with m.Elif(taken & (target_lo != 0)):
            m.d.comb += [trap.eq(1), cause.eq(0), tval.eq(target)]
        with m.Elif((dec.load | dec.store) & lsu.misaligned):
            m.d.comb += [trap.eq(1), cause.eq(Mux(dec.load, 4, 6)), tval.eq(eff_addr)]
        with m.Elif((dec.load | dec.store) & mem_oob):
            m.d.comb += [trap.eq(1), cause.eq(Mux(dec.load, 5, 7)), tval.eq(eff_addr)]

        # long operations, first pass: send the request
        d_valid = Signal()
        d_payload = Signal(MemRequest)
        d_tid = Signal(THREAD_BITS)
        d_free = ~d_valid | self.dbus.req.ready
        c_valid = Signal()
        c_payload = Signal(CxRequest)
        c_free = ~c_valid | self.cx.req.ready
        first = x_valid & ~x_phase2 & ~trap
        send_mem = first & (dec.load | dec.store) & d_free
        send_mul = first & dec.mul
        send_div = first & dec.div & ~div.busy
        send_cx = first & dec.custom & c_free
        long_op = dec.load | dec.store | dec.mul | dec.div | dec.custom
        with m.If(first & long_op):
            m.d.comb += outcome.eq(
                Mux(send_mem | send_mul | send_div | send_cx, _Outcome.WAIT, _Outcome.RETRY)
            )
        with m.Else():
            m.d.comb += outcome.eq(_Outcome.DONE)
        done = x_valid & (outcome == _Outcome.DONE)
        ok = done & ~trap

        m.d.comb += [
            mul.i_valid.eq(send_mul),
            mul.i_thread.eq(x_tid),
            mul.i_op.eq(dec.funct3[0:2]),
            mul.i_a.eq(a),
            mul.i_b.eq(b),
            div.i_valid.eq(send_div),
            div.i_thread.eq(x_tid),
            div.i_op.eq(dec.funct3[0:2]),
            div.i_a.eq(a),
            div.i_b.eq(b),
        ]
        dreq = self.dbus.req
        m.d.comb += [
            dreq.valid.eq(d_valid),
            dreq.payload.eq(d_payload),
            dtags.w_en.eq(dreq.valid & dreq.ready),
            dtags.w_data.eq(d_tid),
            dtags.r_en.eq(self.dbus.resp.valid),
        ]
        with m.If(dreq.ready):
            m.d.sync += d_valid.eq(0)
        with m.If(send_mem):
            m.d.sync += [
                d_valid.eq(1),
                d_payload.addr.eq(lsu.word_addr),
                d_payload.wdata.eq(lsu.wdata),
                d_payload.mask.eq(lsu.mask),
                d_payload.we.eq(dec.store),
                d_tid.eq(x_tid),
            ]
        creq = self.cx.req
        m.d.comb += [creq.valid.eq(c_valid), creq.payload.eq(c_payload)]
        with m.If(creq.ready):
            m.d.sync += c_valid.eq(0)
        with m.If(send_cx):
            m.d.sync += [
                c_valid.eq(1),
                c_payload.thread.eq(x_tid),
                c_payload.insn.eq(x_insn),
                c_payload.a.eq(a),
                c_payload.b.eq(b),
            ]

        # write-back value
        rd_value = Signal(32)
        rd_we = Signal()
        with m.If(dec.lui):
            m.d.comb += [rd_value.eq(imm), rd_we.eq(1)]
        with m.Elif(dec.auipc):
            m.d.comb += [rd_value.eq(pcx + imm), rd_we.eq(1)]
        with m.Elif(dec.jal | dec.jalr):
            m.d.comb += [rd_value.eq(pc4), rd_we.eq(1)]
        with m.Elif(dec.alu):
            m.d.comb += [rd_value.eq(alu.result), rd_we.eq(1)]
        with m.Elif(dec.csr):
            m.d.comb += [rd_value.eq(csr.x_rdata), rd_we.eq(1)]
        with m.Elif(dec.load):
            m.d.comb += [rd_value.eq(lsu.load_value), rd_we.eq(1)]
        with m.Elif(dec.mul | dec.div):
            m.d.comb += [rd_value.eq(x_rbuf), rd_we.eq(1)]
        with m.Elif(dec.custom):
            m.d.comb += [rd_value.eq(x_rbuf), rd_we.eq(x_rwb)]
        write_rd = ok & rd_we & (dec.rd != 0)
        with m.If(cleared):
            m.d.comb += [
                wp.addr.eq(Cat(dec.rd, x_tid[0:tbits] if tbits else Const(0, 0))),
                wp.data.eq(rd_value),
                wp.en.eq(write_rd),
            ]
        with m.Else():
            m.d.comb += [wp.addr.eq(clearing), wp.data.eq(0), wp.en.eq(1)]
        m.d.comb += [
            csr.x_commit.eq(ok & dec.csr & csr_write),
            csr.x_retire.eq(ok),
            csr.x_trap.eq(done & trap),
            csr.x_cause.eq(cause),
            csr.x_tval.eq(tval),
            csr.x_mret.eq(ok & dec.mret),
        ]

        next_pc = Signal(32)
        with m.If(trap):
            m.d.comb += next_pc.eq(csr.x_mtvec)
        with m.Elif(dec.mret):
            m.d.comb += next_pc.eq(csr.x_mepc)
        with m.Elif(taken):
            m.d.comb += next_pc.eq(target)
        with m.Else():
            m.d.comb += next_pc.eq(pc4)

        # thread control: host and thread.start / thread.stop. A thread.start/thread.stop leaving
        # X is registered and acts in the next cycle, which takes the instruction's "retires"
        # signal off the thread-control enables (the core's critical path before). In that cycle
        # the stopped thread is already kept from issuing and fetching (``live``), so it
        # behaves as if the stop had acted at once; a start only ever waits for a quiet thread.
        # (a thread index of n or more is an illegal instruction, so ``ok`` implies a < n)
        which = Cat(*[a[0:tbits] == t for t in range(n)]) if tbits else Const(1, 1)
        m.d.sync += [
            t_start.eq(Mux(ok & dec.thread_start, which, 0)),
            t_stop.eq(Mux(ok & dec.thread_stop, which, 0)),
        ]
        with m.If(ok & dec.thread_start):
            m.d.sync += t_pc.eq(b)
        start_req, stop_req, start_pc = [], [], []
        for t in range(n):
            start_req.append(self.start[t] | t_start[t])
            stop_req.append(self.stop[t] | t_stop[t])
            start_pc.append(Mux(t_start[t], t_pc, self.start_pc))

        def bit(vector, index):
            return vector.bit_select(index[0:tbits], 1) if n > 1 else vector[0]

        sleep_now = ok & dec.wfi & ~bit(csr.wake, x_tid)

        # fetch request: from the registered pc of an idle thread (round robin); a thread leaving
        # X becomes idle with its next pc, so execute and the next fetch never share a cycle
        for t in range(n):
            m.d.comb += fetch_arb.requests[t].eq(
                (st[t] == ThreadState.IDLE) & live[t] & ~pstart[t] & self._in_sram(pc[t])
            )
        idle_fetch = f_free & fetch_arb.valid
        m.d.comb += fetch_arb.advance.eq(idle_fetch)
        with m.If(ireq.ready):
            m.d.sync += f_valid.eq(0)
        with m.If(idle_fetch):
            m.d.sync += [
                f_valid.eq(1),
                f_tid.eq(fetch_arb.grant_index),
                f_addr.eq(at(pc, fetch_arb.grant_index)),
            ]

        # completions of long operations
        dresp = self.dbus.resp
        cresp = self.cx.resp

        for t in range(n):
            me_x = x_valid & (x_tid == t)
            me_resp = iresp.valid & (resp_tid == t)
            me_issue = issue_valid & (issue_tid == t)
            # (a thread with a start pending is stopped, so in READY without a result it does not
            # issue: the issue grant is not needed here, which keeps it off this path)
            quiet = (
                (st[t] == ThreadState.IDLE)
                | ((st[t] == ThreadState.READY) & ~rvalid[t])
                | (st[t] == ThreadState.SLEEP)
                | ((st[t] == ThreadState.FETCH) & ~me_resp)
            )
            apply = pstart[t] & quiet
            with m.If(apply):
                m.d.sync += [pc[t].eq(ppc[t]), run[t].eq(1), pstart[t].eq(0)]
                with m.If(st[t] == ThreadState.FETCH):
                    m.d.sync += drop[t].eq(1)
                with m.Else():
                    m.d.sync += st[t].eq(ThreadState.IDLE)
            with m.Elif(stop_req[t]):
                m.d.sync += [run[t].eq(0), pstart[t].eq(0)]
            with m.Elif(start_req[t] & ~run[t]):
                m.d.sync += [pstart[t].eq(1), ppc[t].eq(start_pc[t] & ~3)]

            with m.Switch(st[t]):
                with m.Case(ThreadState.IDLE):
                    with m.If(~apply & live[t] & ~pstart[t] & ~self._in_sram(pc[t])):
                        m.d.sync += [st[t].eq(ThreadState.READY), ifault[t].eq(1)]
                    with m.Elif(idle_fetch & (fetch_arb.grant_index == t)):
                        m.d.sync += st[t].eq(ThreadState.FETCH)
                with m.Case(ThreadState.FETCH), m.If(me_resp):
                    with m.If(drop[t]):
                        m.d.sync += [st[t].eq(ThreadState.IDLE), drop[t].eq(0)]
                    with m.Else():
                        m.d.sync += [
                            st[t].eq(Mux(me_issue, ThreadState.BUSY, ThreadState.READY)),
                            ibuf[t].eq(iresp.payload.rdata),
                            ifault[t].eq(iresp.payload.err),
                        ]
                with m.Case(ThreadState.READY), m.If(me_issue):
                    m.d.sync += st[t].eq(ThreadState.BUSY)
                with m.Case(ThreadState.BUSY), m.If(me_x), m.Switch(outcome):
                    with m.Case(_Outcome.WAIT):
                        m.d.sync += st[t].eq(ThreadState.WAIT)
                    with m.Case(_Outcome.RETRY):
                        m.d.sync += st[t].eq(ThreadState.READY)
                    with m.Case(_Outcome.DONE):
                        m.d.sync += [pc[t].eq(next_pc), rvalid[t].eq(0)]
                        with m.If(sleep_now):
                            m.d.sync += st[t].eq(ThreadState.SLEEP)
                        with m.Else():
                            m.d.sync += st[t].eq(ThreadState.IDLE)
                with m.Case(ThreadState.WAIT):
                    got_d = dresp.valid & (dtags.r_data == t)
                    got_mul = mul.o_valid & (mul.o_thread == t)
                    got_div = div.o_valid & (div.o_thread == t)
                    got_cx = cresp.valid & (cresp.payload.thread == t)
                    with m.If(got_d | got_mul | got_div | got_cx):
                        m.d.sync += [st[t].eq(ThreadState.READY), rvalid[t].eq(1)]
                    with m.If(got_d):
                        m.d.sync += [rbuf[t].eq(dresp.payload.rdata), rerr[t].eq(dresp.payload.err)]
                    with m.Elif(got_mul):
                        m.d.sync += [rbuf[t].eq(mul.o_result), rerr[t].eq(0)]
                    with m.Elif(got_div):
                        m.d.sync += [rbuf[t].eq(div.o_result), rerr[t].eq(0)]
                    with m.Elif(got_cx):
                        m.d.sync += [
                            rbuf[t].eq(cresp.payload.data),
                            rerr[t].eq(cresp.payload.err),
                            rwb[t].eq(cresp.payload.wb),
                        ]
                with m.Case(ThreadState.SLEEP), m.If(~apply & csr.wake[t]):
                    m.d.sync += st[t].eq(ThreadState.IDLE)
            # an instruction issued straight from the fetch response is kept for a retry
            with m.If(me_issue & (st[t] == ThreadState.FETCH)):
                m.d.sync += [ibuf[t].eq(iresp.payload.rdata), ifault[t].eq(iresp.payload.err)]

        # ---------------------------------------------------------------- retire trace
        rt = self.retire.payload
        # (loaded every cycle, valid or not: no enable fanning out from ``done``)
        m.d.sync += self.retire.valid.eq(done)
        m.d.sync += [
            rt.thread.eq(x_tid),
            rt.pc.eq(x_pc),
            rt.insn.eq(Mux(irq | x_fault, 0, x_insn)),
            rt.rd.eq(Mux(write_rd, dec.rd, 0)),
            rt.rd_value.eq(Mux(write_rd, rd_value, 0)),
            rt.trap.eq(trap),
            rt.cause.eq(Mux(trap, cause, 0)),
            rt.tval.eq(Mux(trap, tval, 0)),
            rt.mem_we.eq(ok & dec.store),
            rt.mem_addr.eq(Mux(ok & dec.store, lsu.word_addr, 0)),
            rt.mem_wdata.eq(Mux(ok & dec.store, lsu.wdata, 0)),
            rt.mem_mask.eq(Mux(ok & dec.store, lsu.mask, 0)),
        ]
        return m
