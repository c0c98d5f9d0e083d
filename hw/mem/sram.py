"""Banked node SRAM with per-bank round-robin arbitration and SECDED ECC."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common.arbiter import RoundRobinArbiter

from .ecc import SecdedCode, decode, encode, lane_bits_for
from .ports import (
    SramPortSignature,
    addr_bits,
    inject_layout,
    lane_count,
    port_names,
    response_layout,
    stored_lane_bits,
)

__all__ = ["LATENCY", "Sram"]

#: Cycles from a request's acceptance to its response entering the port's response FIFO
#: (arbitrate and register; array access; read, decode and register).
LATENCY = 3


class Sram(wiring.Component):
    """The node SRAM: ``cfg.node.sram.banks`` banks of ``word_bits``-bit words, word-interleaved
    (bank = low bits of the word address), SECDED per 64-bit lane when ``cfg.node.sram.ecc``.

    Each bank performs one access per cycle. Every cycle, each bank grants one of the ports whose
    head request targets it (round robin, :class:`~tatami.hw.common.arbiter.RoundRobinArbiter`:
    a waiting port is granted within ``ports`` grants of that bank). A port issues a request only
    while its response FIFO has room for the response, so a stalled consumer stalls only its own
    port. Unit-stride streams on different ports therefore spread over all banks and each runs at
    one word per cycle once their bank phases differ.

    Parameters
    ----------
    cfg : TatamiConfig
        ``cfg.node.sram`` gives size, banks, word width, datapath port counts, ECC.
    resp_depth : int
        Entries of each port's response FIFO (at least ``LATENCY + 2`` for one request per cycle
        per port under an always-ready consumer).

    Attributes
    ----------
    core, load0.., store0.., net_rd, net_wr : In(SramPortSignature(cfg))
        The ports (:func:`tatami.hw.mem.ports.port_names`); each a request stream in and a
        response stream out (:mod:`tatami.hw.mem.ports`). Arbitration index = order listed.
    inject : In(stream.Signature(inject_layout(cfg)))
        Test hook: write ``data`` with the chosen stored bits flipped. Arbitrated as the last
        requester; no response. Tie ``inject.valid`` low outside tests (it then synthesizes away).
    ecc_corrected : Out(32)
        Reads returned with at least one corrected lane (wrapping counter).
    ecc_detected : Out(32)
        Reads returned with an uncorrectable lane (wrapping counter).
    ecc_error : Out(1)
        Sticky: some read returned an uncorrectable lane.
    error_addr : Out(addr_bits)
        Word address of the last read with an uncorrectable lane.
    bad_addr : Out(1)
        Sticky: some request named a word beyond the SRAM.
    status_clear : In(1)
        Clear ``ecc_error`` and ``bad_addr`` (the counters keep counting).
    """

    def __init__(self, cfg: TatamiConfig, *, resp_depth: int = LATENCY + 3):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"Sram takes a TatamiConfig, not {cfg!r}")
        if not isinstance(resp_depth, int) or resp_depth < 2:
            raise ValueError(f"resp_depth must be an integer of at least 2, not {resp_depth!r}")
        self.cfg = cfg
        self.sram = cfg.node.sram
        self.resp_depth = resp_depth
        self.names = port_names(cfg)
        members = {name: In(SramPortSignature(cfg)) for name in self.names}
        members.update(
            {
                "inject": In(stream.Signature(inject_layout(cfg))),
                "ecc_corrected": Out(32),
                "ecc_detected": Out(32),
                "ecc_error": Out(1),
                "error_addr": Out(addr_bits(cfg)),
                "bad_addr": Out(1),
                "status_clear": In(1),
            }
        )
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        s = self.sram
        nb = s.banks
        bank_bits = (nb - 1).bit_length()
        lanes = lane_count(s)
        lane = lane_bits_for(s.word_bits)
        lane_st = stored_lane_bits(s)
        code = SecdedCode(lane) if s.ecc else None
        ports = [getattr(self, n) for n in self.names]
        np_ = len(ports)
        nr = np_ + 1  # requesters: the ports, then the injection hook
        resp_layout = response_layout(s)
        depth = self.resp_depth

        # ---- per-port credit (room in the response FIFO) and target bank --------------------
        can, bank_of, fifos, outstanding = [], [], [], []
        for p, port in enumerate(ports):
            q = fifo.SyncFIFOBuffered(width=resp_layout.size, depth=depth)
            m.submodules[f"resp_{self.names[p]}"] = q
            fifos.append(q)
            count = Signal(range(depth + 1), name=f"outstanding_{self.names[p]}")
            outstanding.append(count)
            b = port.req.payload.addr[:bank_bits] if bank_bits else Const(0, 1)
            bank_of.append(b)
            can.append(port.req.valid & (count < depth))
        inj_bank = self.inject.payload.addr[:bank_bits] if bank_bits else Const(0, 1)

        accepted = [Signal(name=f"accept_{n}") for n in self.names]
        inj_accepted = Signal()

        # ---- banks -------------------------------------------------------------------------------
        # Per-bank stage-3 outputs, collected for the per-port response mux.
        s3 = []
        for b in range(nb):
            arb = RoundRobinArbiter(nr)
            m.submodules[f"arb{b}"] = arb
            reqs = [can[p] & (bank_of[p] == b) for p in range(np_)]
            reqs.append(self.inject.valid & (inj_bank == b))
            m.d.comb += [arb.requests.eq(Cat(*reqs)), arb.advance.eq(1)]
            for p in range(np_):
                with m.If(arb.grant[p]):
                    m.d.comb += accepted[p].eq(1)
            with m.If(arb.grant[np_]):
                m.d.comb += inj_accepted.eq(1)

            # Stage 1: the granted request, registered.
            v1 = Signal(name=f"b{b}_v1")
            who1 = Signal(range(nr), name=f"b{b}_who1")
            addr1 = Signal(addr_bits(s), name=f"b{b}_addr1")
            wr1 = Signal(name=f"b{b}_wr1")
            lanes1 = Signal(lanes, name=f"b{b}_lanes1")
            data1 = Signal(s.word_bits, name=f"b{b}_data1")
            flip1 = Signal(lane_st * lanes, name=f"b{b}_flip1")
            m.d.sync += [v1.eq(arb.valid), who1.eq(arb.grant_index)]
            with m.Switch(arb.grant_index):
                for p in range(np_):
                    with m.Case(p):
                        req = ports[p].req.payload
                        m.d.sync += [
                            addr1.eq(req.addr),
                            wr1.eq(req.write),
                            lanes1.eq(req.lanes),
                            data1.eq(req.data),
                            flip1.eq(0),
                        ]
                with m.Case(np_):
                    inj = self.inject.payload
                    m.d.sync += [
                        addr1.eq(inj.addr),
                        wr1.eq(1),
                        lanes1.eq(-1),
                        data1.eq(inj.data),
                        flip1.eq(inj.flip),
                    ]

            # Stage 2: array access.
            row1 = addr1[bank_bits:]
            bad1 = row1 >= s.bank_words
            mem = Memory(shape=unsigned(lane_st * lanes), depth=s.bank_words, init=[])
            m.submodules[f"bank{b}"] = mem
            wp = mem.write_port(granularity=lane_st)
            rp = mem.read_port()
            stored = []
            for lidx in range(lanes):
                d = data1[lidx * lane : (lidx + 1) * lane]
                stored.append(encode(m, code, d, name=f"b{b}_enc{lidx}") if code else d)
            m.d.comb += [
                wp.addr.eq(row1),
                wp.data.eq(Cat(*stored) ^ flip1),
                wp.en.eq(Mux(v1 & wr1 & ~bad1, lanes1, 0)),
                rp.addr.eq(row1),
                rp.en.eq(v1 & ~wr1),
            ]
            v2 = Signal(name=f"b{b}_v2")
            who2 = Signal(range(nr), name=f"b{b}_who2")
            addr2 = Signal(addr_bits(s), name=f"b{b}_addr2")
            wr2 = Signal(name=f"b{b}_wr2")
            bad2 = Signal(name=f"b{b}_bad2")
            m.d.sync += [v2.eq(v1), who2.eq(who1), addr2.eq(addr1), wr2.eq(wr1), bad2.eq(bad1)]

            # Stage 3: decode, register the response.
            out_data, cor, unc = [], [], []
            for lidx in range(lanes):
                st = rp.data[lidx * lane_st : (lidx + 1) * lane_st]
                if code:
                    d, c, u = decode(m, code, st, name=f"b{b}_dec{lidx}")
                else:
                    d, c, u = st, Const(0, 1), Const(0, 1)
                out_data.append(d)
                cor.append(c)
                unc.append(u)
            is_read = v2 & ~wr2 & ~bad2
            v3 = Signal(name=f"b{b}_v3")
            who3 = Signal(range(nr), name=f"b{b}_who3")
            addr3 = Signal(addr_bits(s), name=f"b{b}_addr3")
            r3 = Signal(resp_layout, name=f"b{b}_resp3")
            m.d.sync += [
                v3.eq(v2),
                who3.eq(who2),
                addr3.eq(addr2),
                r3.data.eq(Mux(is_read, Cat(*out_data), 0)),
                r3.corrected.eq(is_read & Cat(*cor).any()),
                r3.uncorrectable.eq(is_read & Cat(*unc).any()),
                r3.bad_addr.eq(bad2),
            ]
            s3.append((v3, who3, addr3, r3))

        m.d.comb += self.inject.ready.eq(inj_accepted)

        # ---- responses -----------------------------------------------------------------------
        for p, port in enumerate(ports):
            q = fifos[p]
            m.d.comb += port.req.ready.eq(accepted[p])
            for v3, who3, _, r3 in s3:
                with m.If(v3 & (who3 == p)):
                    m.d.comb += [q.w_en.eq(1), q.w_data.eq(r3.as_value())]
            m.d.comb += [
                port.resp.valid.eq(q.r_rdy),
                port.resp.payload.eq(q.r_data),
                q.r_en.eq(port.resp.ready),
            ]
            popped = port.resp.valid & port.resp.ready
            issued = port.req.valid & port.req.ready
            m.d.sync += outstanding[p].eq(outstanding[p] + issued - popped)

        # ---- status --------------------------------------------------------------------------
        reads = [(v3 & (who3 != np_), addr3, r3) for v3, who3, addr3, r3 in s3]
        n_cor = sum((v & r.corrected).as_unsigned() for v, _, r in reads)
        n_unc = sum((v & r.uncorrectable).as_unsigned() for v, _, r in reads)
        any_unc = Cat(*[v & r.uncorrectable for v, _, r in reads]).any()
        any_bad = Cat(*[v & r.bad_addr for v, _, r in reads]).any()
        m.d.sync += [
            self.ecc_corrected.eq(self.ecc_corrected + n_cor),
            self.ecc_detected.eq(self.ecc_detected + n_unc),
            self.ecc_error.eq((self.ecc_error & ~self.status_clear) | any_unc),
            self.bad_addr.eq((self.bad_addr & ~self.status_clear) | any_bad),
        ]
        for v, a, r in reads:
            with m.If(v & r.uncorrectable):
                m.d.sync += self.error_addr.eq(a)
        return m
