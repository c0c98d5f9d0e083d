"""The vector front end: decoder, register file, scoreboard, and the memory side of the vector unit.

:class:`VectorCore` takes encoded VECTOR instructions (docs/isa.md, custom-0) with the values of
the core's integer registers ``x[rs1]`` and ``x[rs2]``, as the core's custom-instruction port
will hand them over, and runs them:

- **decode and issue**, in order, one instruction per cycle. A word that is no VECTOR instruction
  of the ISA table (``tatami.isa.INSTRUCTIONS``: opcode, ``funct7``/``funct3`` pair, unused fields
  zero) is dropped and counted (``illegal``). An instruction issues when none of the registers it
  reads or writes is *pending* (the destination of an instruction still in flight): a scoreboard of
  one bit per register, set at issue, cleared at write-back. Reads happen at issue, so a later
  write never disturbs an earlier read.
- **compute**: the operands are read (asynchronous reads of the register file: two banks of LUT
  RAM, one written by the unit and one by loads, and a live-value table naming the bank that holds
  each register), registered, and sent to :class:`~tatami.hw.datapath.vector.VectorUnit`, whose
  output is always taken; the register holds an operation until the unit accepts it (a float
  ``vredsum`` or an 8-bit conversion holds the unit's input for several cycles:
  ``vector_passes``), and its result is written back ``latency`` cycles after that.
- **memory** (``vld``, ``vst``, ``vgather8``, ``vgather16``): the address generator takes one
  memory instruction at a time (the next in the cycle the last access of the previous one goes
  out) and sends one SRAM word access per chunk (the whole register for ``vld``/``vst``, 8 or 16
  bytes for the gathers), reads on ``load``, writes on ``store``. Every access, of every port,
  waits for the previous one to be accepted, so accesses take effect in program order (the SRAM
  applies accepted requests in acceptance order). Chunks that are misaligned or beyond the SRAM
  are not sent. Load responses (in order) are assembled into the destination register.

Memory outcomes (the contract with :class:`~tatami.sim.datapath.vector_core.VectorCoreModel`):
a misaligned chunk, a chunk beyond the SRAM, and a read of a word with an uncorrectable lane are
**faults**: such a chunk of ``vd`` is written 0, a faulting store writes nothing, and the
instruction is reported: ``fault`` (sticky), ``fault_seq`` (its sequence number: the count of
legal instructions before it), ``fault_kind`` (``Fault`` bits, OR over its chunks) and
``fault_addr`` (its first faulting chunk) describe the earliest faulting instruction since
``status_clear``; ``fault_count`` counts faulting instructions. Reads with a corrected lane count
in ``ecc_corrected``. Faults are imprecise (reported when the access returns), as a machine check.

The vector registers are 0 at power-up (the initial contents of the RAMs) and, being RAM, are
not cleared by ``rst``. The unit state (``mode``, CFloat biases) is an input, sampled when an
operation issues; the core holds it (a CSR). Requires ``vlen_bits == sram.word_bits`` (one
register = one SRAM word, true of every preset) and ``vlen_bits >= 128``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.fpu.layouts import FLAGS, RoundMode
from tatami.hw.mem.ports import SramPortSignature, addr_bits, lane_count
from tatami.isa import INSTRUCTIONS, Opcode, VecOp

from .vector import VectorUnit

__all__ = ["FAULT_BAD_ADDR", "FAULT_MISALIGNED", "FAULT_UNCORRECTABLE", "VectorCore", "insn_layout"]

FAULT_MISALIGNED, FAULT_BAD_ADDR, FAULT_UNCORRECTABLE = 1, 2, 4

#: Ops that read ``vs2`` (the ``rs2`` field as a vector register).
_READS_VS2 = (
    *range(VecOp.VADD, VecOp.VMAX + 1),
    VecOp.VCMPLT,
    VecOp.VCMPEQ,
    *range(VecOp.VAND, VecOp.VSRA + 1),
    VecOp.VSHUF,
    VecOp.VST,
    VecOp.VGATHER8,
    VecOp.VGATHER16,
)
_MEM = (VecOp.VLD, VecOp.VST, VecOp.VGATHER8, VecOp.VGATHER16)
# Kinds of memory instruction in the address generator.
_LD, _ST, _G8, _G16 = 0, 1, 2, 3
TRACK_DEPTH = 8  # access records in flight per port (the SRAM's response FIFO holds 6)


def insn_layout() -> data.StructLayout:
    """One instruction: the word and the values of ``x[rs1]`` and ``x[rs2]``."""
    return data.StructLayout({"word": 32, "rs1": 32, "rs2": 32})


def _mux_tree(m, index, values, name):
    """``values[index]`` as a balanced tree of 2-way multiplexers (continuous assignments, log
    depth; ``len(values)`` a power of two)."""
    level = list(values)
    bit = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            s = Signal(len(level[i]), name=f"{name}_l{bit}_{i // 2}")
            m.d.comb += s.eq(Mux(index[bit], level[i + 1], level[i]))
            nxt.append(s)
        level, bit = nxt, bit + 1
    return level[0]


def _in(value, codes):
    return Cat(*[value == int(c) for c in codes]).any()


class VectorCore(wiring.Component):
    """Decoder, 32-register file, scoreboard, :class:`VectorUnit` and memory side (see the
    module docstring).

    Attributes
    ----------
    insn : In(stream.Signature(insn_layout()))
        Instructions, in program order; ``rs1``/``rs2`` are the integer register values.
    load, store : Out(SramPortSignature(cfg))
        SRAM ports for reads (``vld``, gathers) and writes (``vst``).
    mode : In(RoundMode); cf8e4_bias, cf8e5_bias, cf16_bias : In(6)
        The unit state, sampled when an operation issues.
    flags, flags_clear, seed, seed_load
        The unit's sticky flags and LFSR seeding (:class:`VectorUnit`).
    idle : Out(1)
        No instruction in flight (every result written, every access answered).
    issued : Out(32)
        Legal instructions issued (the next sequence number).
    illegal : Out(16)
        Words dropped as illegal.
    fault, fault_seq, fault_kind, fault_addr, fault_count : Out
        The earliest faulting memory instruction since ``status_clear`` and the count of them.
    ecc_corrected : Out(32)
        Load responses with a corrected lane.
    status_clear : In(1)
        Clear ``fault`` and ``fault_count``.
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"VectorCore takes a TatamiConfig, not {cfg!r}")
        vlen, word = cfg.node.vector.vlen_bits, cfg.node.sram.word_bits
        if vlen != word or vlen < 128:
            raise ValueError(
                f"VectorCore needs node.vector.vlen_bits = node.sram.word_bits >= 128 "
                f"(one register per SRAM word), not {vlen} and {word}"
            )
        if cfg.node.vector.registers != 32:
            raise ValueError(f"VectorCore has 32 registers (5-bit fields), not {cfg.node.vector.registers}")
        self.cfg = cfg
        self.vlen = vlen
        self.unit = VectorUnit(cfg)
        super().__init__(
            {
                "insn": In(stream.Signature(insn_layout())),
                "load": Out(SramPortSignature(cfg)),
                "store": Out(SramPortSignature(cfg)),
                "mode": In(RoundMode),
                "cf8e4_bias": In(6, init=7),
                "cf8e5_bias": In(6, init=15),
                "cf16_bias": In(6, init=15),
                "flags": Out(FLAGS),
                "flags_clear": In(1),
                "seed": In(32),
                "seed_load": In(1),
                "idle": Out(1),
                "issued": Out(32),
                "illegal": Out(16),
                "fault": Out(1),
                "fault_seq": Out(32),
                "fault_kind": Out(3),
                "fault_addr": Out(32),
                "fault_count": Out(16),
                "ecc_corrected": Out(32),
                "status_clear": In(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg, vlen = self.cfg, self.vlen
        nregs = 32
        wbytes = vlen // 8
        size = cfg.node.sram.size_bytes
        m.submodules.unit = unit = self.unit

        # ---- register file and scoreboard ------------------------------------------------------
        # Two banks of LUT RAM (asynchronous reads, one write port each): the unit's results go to
        # bank 0, loads to bank 1, and a live-value table (one bit per register) says which bank
        # holds a register's latest value. Each bank is replicated per read port by synthesis (on
        # the ECP5, 16 x 4 distributed RAMs): a fraction of the area of 32 x vlen flip-flops with
        # three 32-way multiplexers. The two write-backs of a cycle never name the same register
        # (the scoreboard holds a pending destination).
        banks = []
        for b in range(2):
            mem = Memory(shape=unsigned(vlen), depth=nregs, init=[])
            m.submodules[f"regs{b}"] = mem
            banks.append((mem.write_port(), [mem.read_port(domain="comb") for _ in range(3)]))
        lvt = Signal(nregs)
        pend = Signal(nregs)

        # ---- decode ------------------------------------------------------------------------------
        p = self.insn.payload
        word = p.word
        f7, f3 = word[25:32], word[12:15]
        rd, r1, r2 = word[7:12], word[15:20], word[20:25]
        specs = [s for s in INSTRUCTIONS.values() if s.opcode == Opcode.VECTOR]
        legal = Signal()
        m.d.comb += legal.eq(Cat(*[(word & s.mask) == s.match for s in specs]).any())
        is_mem = Signal()
        m.d.comb += is_mem.eq(_in(f7, _MEM))
        reads_vs1 = ~is_mem & (f7 != VecOp.VBCAST)
        reads_vs2 = _in(f7, _READS_VS2)
        reads_vd = (f7 == VecOp.VFMA) | (f7 == VecOp.VPAD)
        writes_vd = f7 != VecOp.VST
        hazard = Signal()
        m.d.comb += hazard.eq(
            (reads_vs1 & pend.bit_select(r1, 1))
            | (reads_vs2 & pend.bit_select(r2, 1))
            | ((reads_vd | writes_vd) & pend.bit_select(rd, 1))
        )
        reads = []
        for k, (idx, name) in enumerate(((r1, "read_a"), (r2, "read_b"), (rd, "read_c"))):
            for _, rports in banks:
                m.d.comb += rports[k].addr.eq(idx)
            value = Signal(vlen, name=name)
            m.d.comb += value.eq(Mux(lvt.bit_select(idx, 1), banks[1][1][k].data, banks[0][1][k].data))
            reads.append(value)
        read_a, read_b, read_c = reads

        agu_ready = Signal()
        op_free = Signal()  # the operand register is empty or its operation is being accepted
        fire = Signal()
        m.d.comb += [
            fire.eq(self.insn.valid & legal & ~hazard & Mux(is_mem, agu_ready, op_free)),
            self.insn.ready.eq(~legal | fire),
        ]
        with m.If(self.insn.valid & ~legal):
            m.d.sync += self.illegal.eq(self.illegal + 1)
        with m.If(fire):
            m.d.sync += self.issued.eq(self.issued + 1)

        # ---- compute path: registered operands, the unit, write-back ---------------------------
        op_r = Signal(unit.i.payload.shape())
        # An operation waits in the register until the unit accepts it (an operation of several
        # passes holds the unit's input for that many cycles).
        op_v = Signal()
        m.d.comb += op_free.eq(~op_v | unit.i.ready)
        with m.If(op_free):
            m.d.sync += op_v.eq(fire & ~is_mem)
        with m.If(fire & ~is_mem):
            x = Mux((f7 == VecOp.VTRANS) | (f7 == VecOp.VPAD), p.rs2, p.rs1)
            m.d.sync += [
                op_r.op.eq(f7),
                op_r.fmt.eq(f3),
                op_r.mode.eq(self.mode),
                op_r.cf8e4_bias.eq(self.cf8e4_bias),
                op_r.cf8e5_bias.eq(self.cf8e5_bias),
                op_r.cf16_bias.eq(self.cf16_bias),
                op_r.x.eq(x),
                op_r.a.eq(read_a),
                op_r.b.eq(read_b),
                op_r.c.eq(read_c),
            ]
        # destination registers of the operations in the unit, in order
        m.submodules.dest = dest = fifo.SyncFIFO(width=5, depth=unit.latency + 2)
        vd_r = Signal(5)
        with m.If(fire & ~is_mem):
            m.d.sync += vd_r.eq(rd)
        m.d.comb += [
            unit.i.valid.eq(op_v),
            unit.i.payload.eq(op_r),
            unit.o.ready.eq(1),
            dest.w_en.eq(op_v & unit.i.ready),
            dest.w_data.eq(vd_r),
            dest.r_en.eq(unit.o.valid),
            unit.flags_clear.eq(self.flags_clear),
            unit.seed.eq(self.seed),
            unit.seed_load.eq(self.seed_load),
            self.flags.eq(unit.flags),
        ]
        u_wb = unit.o.valid
        u_vd = dest.r_data
        u_data = unit.o.payload.result

        # ---- memory side: address generator -----------------------------------------------------
        g_busy = Signal()
        g_kind = Signal(2)
        g_vd = Signal(5)
        g_base = Signal(32)
        g_val = Signal(vlen)  # store data or gather offsets
        g_seq = Signal(32)
        nchunk_bits = (vlen // 64 - 1).bit_length() or 1
        g_j = Signal(nchunk_bits)
        offs = [g_val[32 * j : 32 * j + 32] for j in range(vlen // 64)]
        off = Mux(g_kind >= _G8, _mux_tree(m, g_j, offs, "offset") if len(offs) > 1 else offs[0], 0)
        addr = Signal(32)
        m.d.comb += addr.eq(g_base + off)
        gran_mask = Mux(g_kind == _G8, 7, Mux(g_kind == _G16, 15, wbytes - 1))
        misaligned = (addr & gran_mask) != 0
        beyond = addr >= size
        local = Signal(2)  # fault bits known before the access: misaligned, bad address
        m.d.comb += local.eq(Cat(misaligned, ~misaligned & beyond))
        last_j = Mux(g_kind == _G8, vlen // 64 - 1, Mux(g_kind == _G16, vlen // 128 - 1, 0))
        g_last = g_j == last_j
        word_addr = (addr >> (wbytes.bit_length() - 1))[: addr_bits(cfg)]
        lane8 = (addr >> 3) & (wbytes // 8 - 1)
        lane16 = (addr >> 4) & (wbytes // 16 - 1)
        lane = Mux(g_kind == _G8, lane8, lane16)

        rec_layout = data.StructLayout(
            {
                "kind": 2,
                "vd": 5,
                "j": nchunk_bits,
                "lane": max(1, (wbytes // 8 - 1).bit_length()),
                "last": 1,
                "local": 2,
                "addr": 32,
                "seq": 32,
            }
        )
        m.submodules.ld_track = ld_track = fifo.SyncFIFO(width=rec_layout.size, depth=TRACK_DEPTH)
        m.submodules.st_track = st_track = fifo.SyncFIFO(width=rec_layout.size, depth=TRACK_DEPTH)
        rec = Signal(rec_layout)
        m.d.comb += [
            rec.kind.eq(g_kind),
            rec.vd.eq(g_vd),
            rec.j.eq(g_j),
            rec.lane.eq(lane),
            rec.last.eq(g_last),
            rec.local.eq(local),
            rec.addr.eq(addr),
            rec.seq.eq(g_seq),
            ld_track.w_data.eq(rec),
            st_track.w_data.eq(rec),
        ]
        is_st = g_kind == _ST
        track_room = Mux(is_st, st_track.w_rdy, ld_track.w_rdy)
        send = g_busy & (local == 0) & track_room
        m.d.comb += [
            self.load.req.valid.eq(send & ~is_st),
            self.load.req.payload.addr.eq(word_addr),
            self.load.req.payload.write.eq(0),
            self.store.req.valid.eq(send & is_st),
            self.store.req.payload.addr.eq(word_addr),
            self.store.req.payload.write.eq(1),
            self.store.req.payload.lanes.eq((1 << lane_count(cfg)) - 1),
            self.store.req.payload.data.eq(g_val),
        ]
        step = Signal()
        m.d.comb += step.eq(
            Mux(
                local != 0,
                g_busy & track_room,
                (self.load.req.valid & self.load.req.ready) | (self.store.req.valid & self.store.req.ready),
            )
        )
        m.d.comb += [
            ld_track.w_en.eq(step & ~is_st),
            st_track.w_en.eq(step & is_st),
            agu_ready.eq(~g_busy | (step & g_last)),
        ]
        with m.If(step):
            m.d.sync += g_j.eq(g_j + 1)
            with m.If(g_last):
                m.d.sync += g_busy.eq(0)
        with m.If(fire & is_mem):
            m.d.sync += [
                g_busy.eq(1),
                g_kind.eq(f7 - VecOp.VLD),
                g_vd.eq(rd),
                g_base.eq(p.rs1),
                g_val.eq(read_b),
                g_seq.eq(self.issued),
                g_j.eq(0),
            ]

        # ---- memory side: load responses into the destination register -------------------------
        lh = Signal(rec_layout)
        m.d.comb += lh.eq(ld_track.r_data)
        resp = self.load.resp.payload
        m.d.comb += self.load.resp.ready.eq(ld_track.r_rdy & (lh.local == 0))
        ld_take = Signal()
        m.d.comb += ld_take.eq(ld_track.r_rdy & ((lh.local != 0) | self.load.resp.valid))
        m.d.comb += ld_track.r_en.eq(ld_take)
        from_port = lh.local == 0
        ld_kind = Signal(3)
        m.d.comb += ld_kind.eq(
            Cat(lh.local[0], lh.local[1] | (from_port & resp.bad_addr), from_port & resp.uncorrectable)
        )
        chunk_ok = ld_kind == 0
        wslots = [resp.data[64 * s : 64 * s + 64] for s in range(vlen // 64)]
        g8 = _mux_tree(m, lh.lane, wslots, "g8")
        halves = [resp.data[128 * s : 128 * s + 128] for s in range(vlen // 128)]
        g16 = (
            _mux_tree(m, lh.lane[: max(1, (vlen // 128 - 1).bit_length())], halves, "g16")
            if len(halves) > 1
            else halves[0]
        )
        acc = Signal(vlen)
        acc_kind = Signal(3)
        acc_addr = Signal(32)
        new_acc = []
        for s in range(vlen // 64):
            val = Mux(
                lh.kind == _LD, wslots[s], Mux(lh.kind == _G8, g8, g16[64 * (s % 2) : 64 * (s % 2) + 64])
            )
            sel = (lh.kind == _LD) | ((lh.kind == _G8) & (lh.j == s)) | ((lh.kind == _G16) & (lh.j == s // 2))
            new_acc.append(Mux(sel, Mux(chunk_ok, val, 0), acc[64 * s : 64 * s + 64]))
        ld_data = Signal(vlen)
        m.d.comb += ld_data.eq(Cat(*new_acc))
        first = lh.j == 0
        prev_kind = Mux(first, 0, acc_kind)
        ld_total = Signal(3)
        m.d.comb += ld_total.eq(prev_kind | ld_kind)
        ld_addr = Signal(32)
        m.d.comb += ld_addr.eq(Mux(prev_kind != 0, acc_addr, lh.addr))
        with m.If(ld_take):
            m.d.sync += [acc.eq(ld_data), acc_kind.eq(ld_total), acc_addr.eq(ld_addr)]
        with m.If(ld_take & from_port & self.load.resp.valid & resp.corrected):
            m.d.sync += self.ecc_corrected.eq(self.ecc_corrected + 1)
        ld_wb = ld_take & lh.last
        ld_fault = ld_wb & (ld_total != 0)

        # ---- memory side: store responses ------------------------------------------------------
        sh = Signal(rec_layout)
        m.d.comb += sh.eq(st_track.r_data)
        m.d.comb += self.store.resp.ready.eq(st_track.r_rdy & (sh.local == 0))
        st_take = Signal()
        m.d.comb += st_take.eq(st_track.r_rdy & ((sh.local != 0) | self.store.resp.valid))
        m.d.comb += st_track.r_en.eq(st_take)
        st_kind = Signal(3)
        m.d.comb += st_kind.eq(
            Cat(sh.local[0], sh.local[1] | ((sh.local == 0) & self.store.resp.payload.bad_addr), 0)
        )
        st_fault = st_take & (st_kind != 0)

        # ---- fault report: the earliest faulting instruction ------------------------------------
        # Two sources per cycle; take the one with the lower sequence number first.
        c_v, c_seq, c_kind, c_addr = Signal(), Signal(32), Signal(3), Signal(32)
        use_st = st_fault & (~ld_fault | (sh.seq < lh.seq))
        m.d.comb += [
            c_v.eq(ld_fault | st_fault),
            c_seq.eq(Mux(use_st, sh.seq, lh.seq)),
            c_kind.eq(Mux(use_st, st_kind, ld_total)),
            c_addr.eq(Mux(use_st, sh.addr, ld_addr)),
        ]
        held = self.fault & ~self.status_clear
        with m.If(c_v & (~held | (c_seq < self.fault_seq))):
            m.d.sync += [
                self.fault_seq.eq(c_seq),
                self.fault_kind.eq(c_kind),
                self.fault_addr.eq(c_addr),
            ]
        m.d.sync += [
            self.fault.eq(held | c_v),
            self.fault_count.eq(
                Mux(self.status_clear, 0, self.fault_count) + ld_fault.as_unsigned() + st_fault.as_unsigned()
            ),
        ]

        # ---- write-back and scoreboard ----------------------------------------------------------
        wp_u, wp_ld = banks[0][0], banks[1][0]
        m.d.comb += [
            wp_u.en.eq(u_wb),
            wp_u.addr.eq(u_vd),
            wp_u.data.eq(u_data),
            wp_ld.en.eq(ld_wb),
            wp_ld.addr.eq(lh.vd),
            wp_ld.data.eq(ld_data),
        ]
        lvt_set = Mux(ld_wb, Const(1, nregs) << lh.vd, 0)
        lvt_clr = Mux(u_wb, Const(1, nregs) << u_vd, 0)
        m.d.sync += lvt.eq((lvt & ~lvt_clr) | lvt_set)
        clear = Signal(nregs)
        setm = Signal(nregs)
        m.d.comb += [
            clear.eq(Mux(u_wb, Const(1, nregs) << u_vd, 0) | Mux(ld_wb, Const(1, nregs) << lh.vd, 0)),
            setm.eq(Mux(fire & writes_vd, Const(1, nregs) << rd, 0)),
        ]
        m.d.sync += pend.eq((pend & ~clear) | setm)
        m.d.comb += self.idle.eq((pend == 0) & ~g_busy & ~ld_track.r_rdy & ~st_track.r_rdy & ~op_v)
        return m
