"""Synthesizable traffic checker for one node: what arrived, intact, in order, and how late.

The checker takes every flit its router ejects (it never stalls: it returns each flit's credit the
next cycle, like BookSim's ejection), reassembles packets per VC, and checks each TRAFFIC packet
against what its generator must have sent (:mod:`tatami.hw.noc.traffic`): kind, destination,
length and framing, the header's check field over (sequence number, stamp, source, tag) and every
body lane. A packet failing any check is **corrupted**. Intact packets go through a per-flow
(source, class) sequence table: each entry holds the next expected sequence number ``e`` and a
16-bit window of which of ``e-1 .. e-16`` arrived.

* ``s == e``: in order. ``s > e``: early; ``s - e`` sequence numbers become **holes**.
* ``s < e``: if the window says ``s`` already arrived, **duplicated**; otherwise **misordered**
  (it arrived after a later packet of its flow) and fills a hole.

After a flush, ``holes`` counts the packets lost before the last packet of their flow that arrived;
the tester's totals give the rest (sent minus received). Measured packets (header ``tag`` bit 0) that
arrive intact add their latency ``now - stamp`` (creation to tail ejection) to a sum, maximum and
count, overall and per Manhattan distance (a small table read through ``dist_addr``).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import COORD_BITS, HEADER_BITS, TatamiConfig
from tatami.hw.formats import Header, PacketKind

from .router import LinkSignature
from .traffic import hw_body_word, hw_check_field

__all__ = ["PIPELINE", "WINDOW", "TrafficChecker"]

#: Sequence numbers below the expected one whose arrival the checker remembers (duplicate detection).
WINDOW = 16
#: Cycles between a packet's tail flit and the update of its counters, beyond the usual register
#: (``flits``, ``win_flits`` and ``ejected`` have no extra delay): the sequence table's read stage
#: and its classify-and-write stage, and the counter stage (timing on the FPGA).
PIPELINE = 3


class TrafficChecker(wiring.Component):
    """One node's traffic sink and checker (see the module docstring). Identical at every node.

    Parameters
    ----------
    cfg : TatamiConfig
    in_stages : int
        Registers between ``link`` and the checks (0 or 1; 1 for an FPGA build, where the router's
        output registers and the checker sit apart). The checker then sees each flit (and counts it in
        ``flits``, ``win_flits`` and ``ejected``) a cycle later, following ``window`` and ``clear``
        a cycle late to match: it is the checker without the register, a cycle later. ``now`` must
        come a cycle later for the same latencies. Credits go back as without it.

    Attributes
    ----------
    x, y : In(6)
        This node's coordinates.
    link : In(LinkSignature(cfg))
        From the router's local output; credits go back registered.
    now : In(32)
        The cycle counter (the generators' stamps).
    clear : In(1)
        While high: counters zeroed, tables cleared one entry a cycle (``2 * nodes`` cycles).
    window : In(1)
        The measurement phase: ejected flits count in ``win_flits``.
    packet_flits : In(range(max_packet_flits + 1))
        The packet length every generator uses.
    received, flits, corrupted, duplicated, misordered, holes, lat_count, lat_max, win_flits,
    measured_received : Out(32)
        Counters (:class:`~tatami.hw.noc.tester_regs.Counter`); ``holes`` is signed.
    lat_sum : Out(64)
    ejected : Out(1)
        A flit arrived this cycle.
    dist_addr : In(range(width + height - 1)), dist_sum : Out(32), dist_count : Out(32)
        Latency sum and count of the measured packets that travelled distance ``dist_addr``.
    """

    def __init__(self, cfg: TatamiConfig, *, in_stages: int = 0):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"TrafficChecker needs a TatamiConfig, not {cfg!r}")
        if in_stages not in (0, 1):
            raise ValueError(f"in_stages must be 0 or 1, not {in_stages!r}")
        self.cfg, self.in_stages = cfg, in_stages
        mesh = cfg.mesh
        self.distances = mesh.width + mesh.height - 1
        members = {
            "x": In(COORD_BITS),
            "y": In(COORD_BITS),
            "link": In(LinkSignature(cfg)),
            "now": In(32),
            "clear": In(1),
            "window": In(1),
            "packet_flits": In(range(cfg.noc.max_packet_flits + 1)),
            "lat_sum": Out(64),
            "ejected": Out(1),
            "dist_addr": In(range(self.distances)),
            "dist_sum": Out(32),
            "dist_count": Out(32),
        }
        for name in (
            "received",
            "flits",
            "corrupted",
            "duplicated",
            "misordered",
            "holes",
            "lat_count",
            "lat_max",
            "win_flits",
            "measured_received",
        ):
            members[name] = Out(32)
        super().__init__(members)

    def __repr__(self):  # a deterministic name for hier.shared
        return f"TrafficChecker({self.cfg.digest()}, {self.in_stages})"

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        mesh, noc = cfg.mesh, cfg.noc
        w, h = mesh.width, mesh.height
        vcs = noc.vcs
        link = self.link

        # Credits back, registered: the checker consumes every flit at once.
        m.d.sync += link.credit.eq(Mux(link.valid, 1 << link.flit.vc, 0))
        # The flit the checks see: the link's, or with in_stages its register; ``window`` and
        # ``clear`` then pass a register too, so the checker is the one without it a cycle later
        # (and its clear, which resets every counter, starts at a register of its own).
        valid, flit, window, clear = link.valid, link.flit, self.window, self.clear
        if self.in_stages:
            valid, flit = Signal(name="in_valid"), Signal.like(link.flit, name="in_flit")
            window, clear = Signal(name="in_window"), Signal(name="in_clear")
            m.d.sync += [
                valid.eq(link.valid),
                flit.eq(link.flit),
                window.eq(self.window),
                clear.eq(self.clear),
            ]
        m.d.comb += self.ejected.eq(valid)

        # ----- per-VC reassembly state -------------------------------------------------------------
        state_layout = data.StructLayout(
            {
                "active": 1,
                "bad": 1,
                "src_x": COORD_BITS,
                "src_y": COORD_BITS,
                "mclass": 1,
                "mark": 1,
                "seq": 32,
                "stamp": 32,
                "idx": range(noc.max_packet_flits + 1),
            }
        )
        states = Array(Signal(state_layout, name=f"vc{v}") for v in range(vcs))
        st = states[flit.vc]

        hdr = data.View(Header, flit.data[:HEADER_BITS])
        h_seq = flit.data[HEADER_BITS : HEADER_BITS + 32]
        h_stamp = flit.data[HEADER_BITS + 32 : HEADER_BITS + 64]
        length = Signal(range(noc.max_packet_flits))
        m.d.comb += length.eq(self.packet_flits - 1)

        # The packet this flit belongs to.
        p_src_x, p_src_y = Signal(COORD_BITS), Signal(COORD_BITS)
        p_mclass, p_mark = Signal(), Signal()
        p_seq, p_stamp = Signal(32), Signal(32)
        idx = Signal(range(noc.max_packet_flits + 1))
        bad_before = Signal()
        flit_bad = Signal()
        stray = Signal()  # a body flit with no packet open on its VC
        cut = Signal()  # a head flit while a packet is open on its VC
        expected_body = Signal(noc.flit_bits)
        with m.If(flit.head):
            m.d.comb += [
                p_src_x.eq(hdr.src_x),
                p_src_y.eq(hdr.src_y),
                p_mclass.eq(hdr.mclass.as_value()),
                p_mark.eq(hdr.tag[0]),
                p_seq.eq(h_seq),
                p_stamp.eq(h_stamp),
                idx.eq(0),
                cut.eq(st.active),
                flit_bad.eq(
                    (hdr.kind != PacketKind.TRAFFIC)
                    | (hdr.dst_x != self.x)
                    | (hdr.dst_y != self.y)
                    | (hdr.src_x >= w)
                    | (hdr.src_y >= h)
                    | (hdr.length != length)
                    | (hdr.addr != hw_check_field(h_seq, h_stamp, hdr.src_x, hdr.src_y, hdr.tag))
                    | (flit.data[HEADER_BITS + 64 :] != 0 if noc.flit_bits > HEADER_BITS + 64 else 0)
                ),
            ]
        with m.Else():
            m.d.comb += [
                p_src_x.eq(st.src_x),
                p_src_y.eq(st.src_y),
                p_mclass.eq(st.mclass),
                p_mark.eq(st.mark),
                p_seq.eq(st.seq),
                p_stamp.eq(st.stamp),
                idx.eq(st.idx),
                bad_before.eq(st.bad),
                stray.eq(~st.active),
                expected_body.eq(hw_body_word(st.seq, st.src_x, st.src_y, st.idx, noc.flit_bits)),
                flit_bad.eq(flit.data != expected_body),
            ]
        framing_bad = Signal()
        m.d.comb += framing_bad.eq(flit.tail != (idx == length))
        bad = Signal()
        m.d.comb += bad.eq(bad_before | flit_bad | framing_bad)

        arrive = Signal()  # a flit of an open (or opening) packet
        finish = Signal()  # its tail
        m.d.comb += [arrive.eq(valid & ~stray), finish.eq(arrive & flit.tail)]
        with m.If(arrive):
            with m.If(flit.tail):
                m.d.sync += st.active.eq(0)
            with m.Else():
                m.d.sync += [st.active.eq(1), st.bad.eq(bad), st.idx.eq(idx + 1)]
                with m.If(flit.head):
                    m.d.sync += [
                        st.src_x.eq(p_src_x),
                        st.src_y.eq(p_src_y),
                        st.mclass.eq(p_mclass),
                        st.mark.eq(p_mark),
                        st.seq.eq(p_seq),
                        st.stamp.eq(p_stamp),
                    ]

        # ----- pipeline -------------------------------------------------------------------------------
        # Stage 0 (above, the flit's cycle): reassembly and the integrity checks. Stage 1: the
        # sequence table's entry read into a register -- or, if the stage after it writes that
        # entry in the same cycle, the value written (a bypass), so back-to-back packets of a flow
        # see each other's updates. Stage 1b: classify against the registered entry and write back
        # (the classification starts at flip-flops, not at a LUT-RAM read: the 75 MHz FPGA build's
        # critical path was read -> compare -> write in one cycle). Stage 2: the counters and the
        # latency accumulators (the distance table is read and written in that one stage). The
        # counters of a packet change ``PIPELINE`` cycles later than with the checks alone
        # (``flits``/``win_flits`` do not wait).
        flows = 2 * w * h
        latency = Signal(32)
        m.d.comb += latency.eq(self.now - p_stamp)
        dx = Mux(p_src_x > self.x, p_src_x - self.x, self.x - p_src_x)
        dy = Mux(p_src_y > self.y, p_src_y - self.y, self.y - p_src_y)
        dist = Signal(range(self.distances))
        m.d.comb += dist.eq(dx + dy)
        flow = Signal(range(flows))
        m.d.comb += flow.eq(Cat(p_mclass, p_src_y * w + p_src_x))
        n_corrupt = Signal(2)  # corrupted packets this flit ends or strays into
        m.d.comb += n_corrupt.eq((finish & bad) + (valid & stray) + (valid & flit.head & cut))

        # What a flit's verdict carries through stage 1 and its second half (1b).
        carried = data.StructLayout(
            {
                "finish": 1,
                "bad": 1,
                "mark": 1,
                "seq": 32,
                "lat": 32,
                "flow": range(flows),
                "dist": range(self.distances),
                "corrupt": 2,
            }
        )
        s1 = Signal(carried)
        m.d.sync += [
            s1.finish.eq(finish),
            s1.bad.eq(bad),
            s1.mark.eq(p_mark),
            s1.seq.eq(p_seq),
            s1.lat.eq(latency),
            s1.flow.eq(flow),
            s1.dist.eq(dist),
            s1.corrupt.eq(n_corrupt),
        ]

        # ----- stage 1: sequence table read -------------------------------------------------------------
        entry_layout = data.StructLayout({"expect": 32, "seen": WINDOW})
        m.submodules.seq_table = seqs = Memory(shape=entry_layout, depth=flows, init=[])
        rd = seqs.read_port(domain="comb")
        wr = seqs.write_port()
        m.d.comb += rd.addr.eq(s1.flow)
        entry = Signal(entry_layout)  # the entry as it is after this cycle's write
        # The write-back below (``wb``), not the port: while ``clear`` writes zeros, no packet is
        # in stages 1 and 1b (clear empties them), so the entry read then is never used -- and
        # ``clear``, a register with many loads, stays out of this read.
        s1b = Signal(carried)
        bypass, good = Signal(), Signal()
        wb = Signal(entry_layout)
        m.d.comb += [bypass.eq(good & (s1b.flow == rd.addr)), entry.eq(Mux(bypass, wb, rd.data))]
        t_entry = Signal(entry_layout)
        m.d.sync += [t_entry.eq(entry), s1b.eq(s1)]

        # ----- stage 1b: classify and write back ---------------------------------------------------------
        e, seen = t_entry.expect, t_entry.seen
        d = Signal(32)
        k = Signal(32)
        m.d.comb += [d.eq(s1b.seq - e), k.eq(~d)]  # k = e - 1 - s
        late = d[31]
        k_small = Signal()
        assert WINDOW == 16
        m.d.comb += k_small.eq(k[4:] == 0)  # k < WINDOW, as an AND tree rather than a carry chain
        dup = Signal()
        m.d.comb += dup.eq(late & k_small & seen.bit_select(k[:4], 1))
        # seen << (d + 1), zero from d = WINDOW - 1 on (no adder in front of the shifter)
        seen_shifted = Signal(WINDOW)
        m.d.comb += seen_shifted.eq(Mux(d[4:] == 0, (seen << 1) << d[:4], 0))

        m.d.comb += good.eq(s1b.finish & ~s1b.bad)
        with m.If(~late):
            m.d.comb += [wb.expect.eq(s1b.seq + 1), wb.seen.eq(seen_shifted | 1)]
        with m.Else():
            m.d.comb += wb.expect.eq(e)
            with m.If(dup):
                m.d.comb += wb.seen.eq(seen)
            with m.Else():
                m.d.comb += wb.seen.eq(seen | Mux(k_small, 1 << k[:4], 0))
        with m.If(good):
            m.d.comb += [wr.addr.eq(s1b.flow), wr.en.eq(1), wr.data.eq(wb)]

        s2_finish, s2_good, s2_late, s2_dup, s2_mark = Signal(), Signal(), Signal(), Signal(), Signal()
        s2_d, s2_lat = Signal(32), Signal(32)
        s2_dist = Signal(range(self.distances))
        s2_corrupt = Signal(2)
        m.d.sync += [
            s2_finish.eq(s1b.finish),
            s2_good.eq(good),
            s2_late.eq(late),
            s2_dup.eq(dup),
            s2_mark.eq(s1b.mark),
            s2_d.eq(d),
            s2_lat.eq(s1b.lat),
            s2_dist.eq(s1b.dist),
            s2_corrupt.eq(s1b.corrupt),
        ]

        # ----- stage 2: counters and latency ----------------------------------------------------------
        with m.If(s2_good):
            with m.If(~s2_late):
                m.d.sync += self.holes.eq(self.holes + s2_d)
            with m.Elif(s2_dup):
                m.d.sync += self.duplicated.eq(self.duplicated + 1)
            with m.Else():
                m.d.sync += [self.misordered.eq(self.misordered + 1), self.holes.eq(self.holes - 1)]
        with m.If(valid):
            m.d.sync += self.flits.eq(self.flits + 1)
            with m.If(window):
                m.d.sync += self.win_flits.eq(self.win_flits + 1)
        with m.If(s2_finish):
            m.d.sync += self.received.eq(self.received + 1)
            with m.If(s2_mark):
                m.d.sync += self.measured_received.eq(self.measured_received + 1)
        m.d.sync += self.corrupted.eq(self.corrupted + s2_corrupt)

        dist_layout = data.StructLayout({"sum": 32, "count": 32})
        m.submodules.dist_table = dists = Memory(shape=dist_layout, depth=self.distances, init=[])
        drd = dists.read_port(domain="comb")
        dwr = dists.write_port()
        out_rd = dists.read_port(domain="comb")
        m.d.comb += [
            drd.addr.eq(s2_dist),
            out_rd.addr.eq(self.dist_addr),
            self.dist_sum.eq(out_rd.data.sum),
            self.dist_count.eq(out_rd.data.count),
        ]
        with m.If(s2_good & ~s2_dup & s2_mark):
            m.d.sync += [
                self.lat_count.eq(self.lat_count + 1),
                self.lat_sum.eq(self.lat_sum + s2_lat),
                self.lat_max.eq(Mux(s2_lat > self.lat_max, s2_lat, self.lat_max)),
            ]
            m.d.comb += [
                dwr.addr.eq(s2_dist),
                dwr.data.sum.eq(drd.data.sum + s2_lat),
                dwr.data.count.eq(drd.data.count + 1),
                dwr.en.eq(1),
            ]

        # ----- clear -------------------------------------------------------------------------------
        clear_addr = Signal(range(max(flows, self.distances)))
        with m.If(clear):
            m.d.sync += clear_addr.eq(Mux(clear_addr == flows - 1, 0, clear_addr + 1))
            m.d.comb += [wr.addr.eq(clear_addr), wr.data.eq(0), wr.en.eq(1)]
            m.d.comb += [dwr.addr.eq(clear_addr), dwr.data.eq(0), dwr.en.eq(clear_addr < self.distances)]
            counters = [
                self.received,
                self.flits,
                self.corrupted,
                self.duplicated,
                self.misordered,
                self.holes,
                self.lat_count,
                self.lat_max,
                self.win_flits,
                self.measured_received,
                self.lat_sum,
            ]
            m.d.sync += [c.eq(0) for c in counters]
            m.d.sync += [s.active.eq(0) for s in states]
            m.d.sync += [s1.finish.eq(0), s1.corrupt.eq(0), s1b.finish.eq(0), s1b.corrupt.eq(0)]
            m.d.sync += [s2_finish.eq(0), s2_good.eq(0), s2_corrupt.eq(0)]
        return m
