"""Synthesizable traffic generator for one node: BookSim's patterns and Bernoulli injection.

Every cycle that creation is enabled, the node's 64-bit LFSR (:class:`~tatami.hw.common.lfsr.LFSR`,
64 fresh bits per cycle) gives one random word ``v``: a packet is created when ``v[0:16] < threshold``
(probability ``threshold / 65536``); its destination follows the pattern (BookSim's definitions, see
:mod:`tatami.sim.noc.traffic`; uniform picks live node number ``(v[16:32] * live) >> 16`` of the
mesh's live nodes in node order, a run-time table); its class is ``v[32]`` when both classes are
used. A destination that is dead (or, for transpose on a non-square mesh, outside the mesh)
creates nothing. The same choices are made by
:class:`tatami.sim.noc.generator_model.GeneratorModel`, so a run's packet set is predictable.

Created packets wait in a source queue per message class (``queue_depth`` entries each; a packet
created while its queue is full is counted in ``overflow`` and not created), so latency counts from
creation (BookSim's ``include_queuing``); the sender takes the oldest front whose VC has a credit
(``class_queues=False``: one queue in creation order). When its queue is empty a packet is sent in its
creation cycle (a cycle later
with ``bypass=False``, the FPGA tester's): decided then, on the link (from registers) the next
cycle, cycles the tester leaves out of latencies. Packets carry
a per-flow (destination, class) sequence number and the creation cycle in the immediate
(:data:`~tatami.hw.formats.TrafficImmediate`), a check field in the header's ``addr`` and a body
derived from (source, sequence number) (:func:`check_field`, :func:`body_lane`), so the checker
detects corruption without a copy. Injection honours the router's credits, one flit per cycle.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import COORD_BITS, TatamiConfig
from tatami.hw.common.fifo import HeadRegisterFIFO
from tatami.hw.common.lfsr import LFSR
from tatami.hw.common.select import select
from tatami.hw.formats import HEADER_BITS, Header, PacketKind, link_flit_layout

from .router import LinkSignature
from .tester_regs import Classes, FaultKind, Pattern

__all__ = [
    "LFSR_STEP",
    "LFSR_WIDTH",
    "NODE_SALT",
    "TrafficGenerator",
    "body_lane",
    "body_word",
    "check_field",
    "node_seed",
]

LFSR_WIDTH = 64
LFSR_STEP = 64
#: Mixed into each node's seed: ``node_seed``.
NODE_SALT = 0x9E37_79B9_7F4A_7C15
_M64 = (1 << 64) - 1
_XY = data.StructLayout({"x": COORD_BITS, "y": COORD_BITS})


def node_seed(seed: int, node: int) -> int:
    """The LFSR seed of node ``node`` for the tester's 32-bit SEED register."""
    seed &= 0xFFFF_FFFF
    return ((seed << 32) | seed) ^ (((node + 1) * NODE_SALT) & _M64)


def _fold24(v):
    return (v & 0xFF_FFFF) ^ (v >> 24)


def check_field(seq: int, stamp: int, src_x: int, src_y: int, tag: int) -> int:
    """The 24-bit check a TRAFFIC head flit carries in ``addr`` (Python form of the RTL's)."""
    s = _fold24(stamp)
    return _fold24(seq) ^ (((s << 12) | (s >> 12)) & 0xFF_FFFF) ^ (src_x | src_y << 6 | tag << 12)


def body_lane(seq: int, src_x: int, src_y: int, index: int, lane: int) -> int:
    """32-bit lane ``lane`` of body flit ``index`` (1 = first body flit) of a TRAFFIC packet."""
    r = (5 * lane) % 32
    rot = ((seq << r) | (seq >> (32 - r))) & 0xFFFF_FFFF if r else seq
    return rot ^ ((lane & 0xFF) | (index & 0xFF) << 8 | src_x << 16 | src_y << 22)


def body_word(seq: int, src_x: int, src_y: int, index: int, flit_bits: int) -> int:
    word = 0
    for j in range(flit_bits // 32):
        word |= body_lane(seq, src_x, src_y, index, j) << (32 * j)
    return word


def _tree_select(index, values):
    """``values[index]`` as a balanced tree of 2-way multiplexers (depth log2 of the count; an index
    past the end selects the last value). Continuous assignments, so Icarus evaluates them."""
    values = [Value.cast(v) for v in values]
    while len(values) & (len(values) - 1):
        values.append(values[-1])
    bit = 0
    while len(values) > 1:
        sel = index[bit] if bit < len(index) else Const(0)
        values = [Mux(sel, values[i + 1], values[i]) for i in range(0, len(values), 2)]
        bit += 1
    return values[0]


def hw_check_field(seq, stamp, src_x, src_y, tag):
    """The RTL form of :func:`check_field` (Amaranth values in, a 24-bit value out)."""
    fs = seq[:24] ^ seq[24:32]
    ft = stamp[:24] ^ stamp[24:32]
    return fs ^ Cat(ft[12:24], ft[:12]) ^ Cat(src_x, src_y, tag)


def hw_body_word(seq, src_x, src_y, index, flit_bits):
    """The RTL form of :func:`body_word`."""
    lanes = []
    index8 = Cat(index, Const(0, 8))[:8]
    for j in range(flit_bits // 32):
        lanes.append(seq.rotate_left((5 * j) % 32) ^ Cat(Const(j & 0xFF, 8), index8, src_x[:6], src_y[:6]))
    return Cat(*lanes)


class TrafficGenerator(wiring.Component):
    """One node's traffic source (see the module docstring). Identical at every node (coordinates
    and seed are inputs), so a tester generates it once.

    Parameters
    ----------
    cfg : TatamiConfig
        Mesh (size, dead nodes: the uniform pattern's live-node table) and NoC (flit width, VCs,
        buffer depth, largest packet).
    queue_depth : int
        Source-queue entries.
    out_stages : int
        Registers between the send decision and ``link`` (1 or 2). A second one lets the
        decision sit next to the source queue and the link's registers next to the router
        (an FPGA build, where they are far apart); credits are still spent at the decision.
        A flit reaches the router ``out_stages`` cycles after its decision.
    bypass : bool
        ``True``: a packet created while the source queue is empty can be sent in its creation
        cycle. ``False`` (an FPGA build): every packet enters the queue and is sent a cycle after
        its creation at the earliest, so the send decision starts at the queue's head registers,
        not at the draw's decode and the phase flags. While the queue does not fill, that sends
        exactly the flits of a bypassing generator whose ``create``, ``mark`` and ``now`` come a
        cycle later; with a full queue, a packet created in a cycle that pops the queue is
        counted in ``overflow`` here and queued there.
    send_clear : bool
        ``True``: a second ``clear`` input, ``send_clear``, holds the sender (the only use of
        ``clear`` on the send decision's path), so that it can come from a register of its own
        next to the sender while ``clear``'s register drives the counters' and the sequence
        table's clears (an FPGA build: one register for both sat far from one or the other). The
        two must be equal in every cycle.
    class_queues : bool
        ``True``: a source queue per message class, each ``queue_depth`` entries; the sender takes
        the oldest front entry whose VC has a credit, so a packet waits only behind older packets
        of its own class (BookSim's source queues are per class too; a node's network interface
        must not hold a response behind a request anyway). ``False`` (the FPGA tester's): one
        queue, in creation order, whose front waits for its VC's credit.

    Attributes
    ----------
    x, y : In(6)
        This node's coordinates.
    link : Out(LinkSignature(cfg))
        Into the router's local input; one credit per VC comes back.
    now : In(32)
        The cycle counter; a packet's stamp is its value in the creation cycle.
    seed : In(64), load : In(1)
        ``load`` loads ``seed`` into the LFSR (:func:`node_seed`). The two cycles after the last
        ``load`` cycle move the seed's draw into the decode registers: ``create`` must stay low in
        them (the tester's CLEAR phase, at least two cycles, follows every load).
    clear : In(1)
        While high: counters are zeroed and the sequence table is cleared, one entry a cycle
        (``2 * nodes`` cycles clear it all); nothing is created or sent.
    send_clear : In(1)
        (``send_clear=True`` only) ``clear``, again: while high nothing is sent.
    create : In(1), mark : In(1)
        Create packets this cycle (and advance the LFSR); mark them as measured (header ``tag``
        bit 0).
    threshold : In(17), pattern : In(Pattern), packet_flits : In(range(max_packet_flits + 1)),
    classes : In(Classes), hotspot_x, hotspot_y : In(6)
        Injection probability ``threshold / 65536`` per cycle, pattern, packet length, classes,
        the hotspot. A cycle's draw is decoded the cycle before (registers between the random word
        and the source queue), from destinations kept in registers: these, ``live_list``,
        ``live_mask`` and ``x``/``y`` take effect two cycles after they change (``threshold`` and
        ``classes`` one, ``live_count`` at the next ``load``).
    fault : In(FaultKind), fault_arm : In(1)
        ``fault_arm`` arms ``fault`` for the next packet sent (:class:`FaultKind`).
    enable : In(1)
        This node is live (a dead node's generator creates nothing).
    live_count : In(range(nodes + 1)), live_list : In(ArrayLayout({x, y}, nodes)), live_mask : In(nodes)
        The live nodes: uniform traffic picks ``live_list[(r16 * live_count) >> 16]``; a destination
        whose ``live_mask`` bit (node number) is clear creates nothing. Inputs rather than parameters,
        so that one build serves any set of dead nodes.
    created, overflow, sent, flits_sent, measured_created : Out(32)
        Counters (see :class:`~tatami.hw.noc.tester_regs.Counter`).
    idle : Out(1)
        Nothing queued, nothing being sent.
    """

    def __init__(
        self,
        cfg: TatamiConfig,
        *,
        queue_depth: int = 64,
        out_stages: int = 1,
        bypass: bool = True,
        send_clear: bool = False,
        class_queues: bool = True,
    ):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"TrafficGenerator needs a TatamiConfig, not {cfg!r}")
        if not isinstance(queue_depth, int) or queue_depth < 2:
            raise ValueError(f"queue_depth must be an integer of at least 2, not {queue_depth!r}")
        if cfg.mesh.nodes > 4096:
            raise ValueError(f"the traffic generator handles at most 4096 nodes, not {cfg.mesh.nodes}")
        if out_stages not in (1, 2):
            raise ValueError(f"out_stages must be 1 or 2, not {out_stages!r}")
        self.cfg, self.queue_depth, self.out_stages = cfg, queue_depth, out_stages
        self.bypass = bool(bypass)
        self._send_clear = bool(send_clear)
        self.class_queues = bool(class_queues)
        noc = cfg.noc
        members = {
            "x": In(COORD_BITS),
            "y": In(COORD_BITS),
            "link": Out(LinkSignature(cfg)),
            "now": In(32),
            "seed": In(LFSR_WIDTH),
            "load": In(1),
            "clear": In(1),
            **({"send_clear": In(1)} if self._send_clear else {}),
            "create": In(1),
            "mark": In(1),
            "threshold": In(17),
            "pattern": In(Pattern),
            "packet_flits": In(range(noc.max_packet_flits + 1)),
            "classes": In(Classes),
            "hotspot_x": In(COORD_BITS),
            "hotspot_y": In(COORD_BITS),
            "fault": In(FaultKind),
            "fault_arm": In(1),
            "enable": In(1),
            "live_count": In(range(cfg.mesh.nodes + 1)),
            "live_list": In(data.ArrayLayout(_XY, cfg.mesh.nodes)),
            "live_mask": In(cfg.mesh.nodes),
            "idle": Out(1),
        }
        for name in ("created", "overflow", "sent", "flits_sent", "measured_created"):
            members[name] = Out(32)
        super().__init__(members)

    def __repr__(self):  # a deterministic name for hier.shared
        args = [self.cfg.digest(), self.queue_depth, self.out_stages, self.bypass]
        args += ["send_clear"] * self._send_clear + ["one_queue"] * (not self.class_queues)
        return f"TrafficGenerator({', '.join(map(str, args))})"

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        mesh, noc = cfg.mesh, cfg.noc
        w, h = mesh.width, mesh.height
        vcs, per_class = noc.vcs, noc.vcs // 2

        # ----- creation: random draw, destination, class -----------------------------------------
        # The draw of a cycle is decoded the cycle before, into registers (``go``, ``dst_x``/``dst_y``,
        # ``mclass``), and its uniform pick's multiply the cycle before that: the LFSR runs two
        # steps ahead of the word ``cur`` the cycle's choices come from, ``nxt`` holds the word
        # after it, and ``cur_pick``/``nxt_pick`` the multiplies' results. So the multiplier, the
        # live list and the pattern multiplexers sit between registers, not in front of the
        # source queue and the router. ``load`` puts the seed in the LFSR; the next two cycles
        # (``fill``) move it along, so the first draw after a load is the seed's, as before.
        m.submodules.lfsr = lfsr = LFSR(LFSR_WIDTH, LFSR_STEP, seed=1)
        creating = Signal()
        fill = Signal(2)
        advance = Signal()
        m.d.comb += [
            creating.eq(self.create & self.enable & ~self.clear),
            advance.eq((creating | fill.any()) & ~self.load),
            lfsr.load.eq(self.load),
            lfsr.seed_in.eq(self.seed),
            lfsr.enable.eq(advance),
        ]
        m.d.sync += fill.eq(Cat(self.load, fill[0]))
        pick_bits = range(max(mesh.nodes, 2))
        cur, nxt = Signal(33), Signal(33)
        cur_pick, nxt_pick = Signal(pick_bits), Signal(pick_bits)
        with m.If(advance):
            m.d.sync += [
                cur.eq(nxt),
                cur_pick.eq(nxt_pick),
                nxt.eq(lfsr.value[:33]),
                nxt_pick.eq((lfsr.value[16:32] * self.live_count) >> 16),
            ]
        v = Signal(33)  # the draw the decode registers will hold next cycle
        m.d.comb += v.eq(Mux(advance, nxt, cur))

        # Uniform: live node number (r16 * live_count) >> 16 of the live list (``live_count`` is
        # taken at the multiply, two draws ahead: change it only before a load).
        uni = Signal(pick_bits)
        m.d.comb += uni.eq(Mux(advance, nxt_pick, cur_pick))
        # Per live-list entry, whether it is a destination traffic may go to (inside, live):
        # registers, from the (still) configuration.
        entry_ok = Signal(mesh.nodes)
        for i in range(mesh.nodes):
            ex, ey = self.live_list[i].x, self.live_list[i].y
            row = _tree_select(ey, [self.live_mask[y * w : (y + 1) * w] for y in range(h)])
            m.d.sync += entry_ok[i].eq((ex < w) & (ey < h) & _tree_select(ex, list(row)))
        # A balanced Mux tree, not an Array read: the live list usually sits still from reset, and
        # Icarus leaves an always @* case over it X (hw/common/select.py).
        uni_x = _tree_select(uni, [self.live_list[i].x for i in range(mesh.nodes)])
        uni_y = _tree_select(uni, [self.live_list[i].y for i in range(mesh.nodes)])
        uni_ok = _tree_select(uni, list(entry_ok))

        # The other patterns' destinations do not depend on the draw: registers, from the
        # configuration. Mux chains indexed by the pattern (hw/common/select.py), not a Switch: the
        # pattern register sits still from reset in the first run (UNIFORM = 0), and Icarus leaves an
        # always @* block over a still input X for ever.
        by_pattern = {
            Pattern.UNIFORM: (0, 0, 0),  # (not used: uni_*)
            Pattern.TRANSPOSE: (self.y, self.x, int(w == h)),
            Pattern.BITCOMP: (w - 1 - self.x, h - 1 - self.y, 1),
            Pattern.HOTSPOT: (self.hotspot_x, self.hotspot_y, 1),
            Pattern.NEIGHBOR: (Mux(self.x + 1 >= w, 0, self.x + 1), Mux(self.y + 1 >= h, 0, self.y + 1), 1),
        }
        assert sorted(p.value for p in by_pattern) == list(range(len(by_pattern)))
        cases = [by_pattern[p] for p in sorted(by_pattern, key=lambda p: p.value)]
        fixed_x, fixed_y = Signal(COORD_BITS + 1), Signal(COORD_BITS + 1)
        fixed_pattern_ok = Signal()
        m.d.comb += [
            fixed_x.eq(select(self.pattern.as_value(), [c[0] for c in cases], default=0)),
            fixed_y.eq(select(self.pattern.as_value(), [c[1] for c in cases], default=0)),
            fixed_pattern_ok.eq(select(self.pattern.as_value(), [c[2] for c in cases], default=0)),
        ]
        fixed_index = Signal(range(w * h))
        m.d.comb += fixed_index.eq(fixed_y * w + fixed_x)
        fixed_dx, fixed_dy, fixed_ok = Signal(COORD_BITS), Signal(COORD_BITS), Signal()
        is_uniform = Signal()
        m.d.sync += [
            fixed_dx.eq(fixed_x),
            fixed_dy.eq(fixed_y),
            fixed_ok.eq(
                fixed_pattern_ok & (fixed_x < w) & (fixed_y < h) & self.live_mask.bit_select(fixed_index, 1)
            ),
            is_uniform.eq(self.pattern == Pattern.UNIFORM),
        ]
        pick_x = Mux(is_uniform, uni_x, fixed_dx)
        pick_y = Mux(is_uniform, uni_y, fixed_dy)
        pick_alive = Mux(is_uniform, uni_ok, fixed_ok)
        # Indexed by Classes: REQUEST, RESPONSE, BOTH (a random class per packet).
        pick_class = select(self.classes.as_value(), [0, 1, v[32]], default=0)

        go = Signal()  # the draw's 16-bit word is below the threshold and its destination live
        dst_x, dst_y = Signal(COORD_BITS), Signal(COORD_BITS)
        mclass = Signal()
        m.d.sync += [
            go.eq((v[:16] < self.threshold) & pick_alive),
            dst_x.eq(pick_x),
            dst_y.eq(pick_y),
            mclass.eq(pick_class),
        ]

        new_pkt = Signal()
        m.d.comb += new_pkt.eq(creating & go)

        entry_layout = data.StructLayout(
            {"dst_x": COORD_BITS, "dst_y": COORD_BITS, "mclass": 1, "stamp": 32, "mark": 1}
        )
        new_entry = Signal(entry_layout)
        m.d.comb += [
            new_entry.dst_x.eq(dst_x),
            new_entry.dst_y.eq(dst_y),
            new_entry.mclass.eq(mclass),
            new_entry.stamp.eq(self.now),
            new_entry.mark.eq(self.mark),
        ]

        # ----- source queues with bypass ----------------------------------------------------------
        # One queue, or one per message class (``class_queues``), each with its front entry in
        # registers (the send decision below starts at flip-flops, not at a LUT-RAM read). A
        # queue's candidate is its front entry, or with ``bypass`` the packet created this cycle
        # if the queue is empty and the packet is its class's.
        nq = 2 if self.class_queues else 1
        queues, cand_have, cand = [], [], []
        for c in range(nq):
            q = HeadRegisterFIFO(width=entry_layout.size, depth=self.queue_depth)
            m.submodules["queue" if nq == 1 else f"queue{c}"] = q
            mine = new_pkt if nq == 1 else new_pkt & (new_entry.mclass == c)
            c_have, c_entry = Signal(name=f"have{c}"), Signal(entry_layout, name=f"entry{c}")
            if self.bypass:
                m.d.comb += [c_have.eq(q.r_rdy | mine), c_entry.eq(Mux(q.r_rdy, q.r_data, new_entry))]
            else:
                m.d.comb += [c_have.eq(q.r_rdy), c_entry.eq(q.r_data)]
            queues.append((q, mine))
            cand_have.append(c_have)
            cand.append(c_entry)
        have = Signal()
        entry = Signal(entry_layout)

        # ----- per-flow sequence numbers -----------------------------------------------------------
        flows = 2 * w * h
        m.submodules.seq_table = seqs = Memory(shape=32, depth=flows, init=[])
        seq_rd = seqs.read_port(domain="comb")
        seq_wr = seqs.write_port()
        clear_addr = Signal(range(flows))
        m.d.comb += seq_rd.addr.eq(Cat(entry.mclass, entry.dst_y * w + entry.dst_x))
        with m.If(self.clear):
            m.d.sync += clear_addr.eq(Mux(clear_addr == flows - 1, 0, clear_addr + 1))
            m.d.comb += [seq_wr.addr.eq(clear_addr), seq_wr.data.eq(0), seq_wr.en.eq(1)]

        # ----- credits ----------------------------------------------------------------------------
        credit = [Signal(range(noc.vc_depth + 1), init=noc.vc_depth, name=f"credit{v_}") for v_ in range(vcs)]
        # credit[v] != 0, in a register kept with the counter (the send decision, and so the
        # link's valid bit, starts at flip-flops)
        credit_ok = Signal(vcs, init=(1 << vcs) - 1)

        # ----- sender -----------------------------------------------------------------------------
        busy = Signal()  # sending the body of a packet
        cur_seq = Signal(32)
        cur_vc = Signal(range(max(vcs, 2)))
        cur_idx = Signal(range(noc.max_packet_flits + 1))  # next body flit, 1-based
        cur_len = Signal(range(noc.max_packet_flits))  # body flits
        cur_corrupt = Signal()
        pending = Signal(FaultKind)  # armed, not yet applied
        second = Signal(FaultKind)  # the entry at the queue head is to be sent again (DUPLICATE, REORDER)
        with m.If(self.fault_arm):
            m.d.sync += pending.eq(self.fault)

        def vc_of(e):
            if per_class == 1:
                return e.mclass
            return e.mclass * per_class + (e.dst_x + e.dst_y) % per_class

        entry_vc = Signal(range(max(vcs, 2)))
        m.d.comb += entry_vc.eq(vc_of(entry))

        # The fault the next packet sent gets: ``pending`` unless the queue head is being sent again
        # (``second``). It is on the send decision's path (a dropped packet needs no credit), so it
        # and its DROP decode are registers, loaded with the value the updates of ``second`` and
        # ``pending`` below give: after a start the next packet gets the fault armed since (a start
        # with a fault consumes it: a DUPLICATE or REORDER head goes again, with none), otherwise
        # it is unchanged unless a fault is armed; a clear leaves none.
        first_fault = Signal(FaultKind, name="first_fault")
        dropping = Signal(name="dropping")
        pending_next = Signal(FaultKind, name="pending_next")
        m.d.comb += pending_next.eq(Mux(self.fault_arm, self.fault, pending))
        fault_next = Signal(FaultKind, name="fault_next")
        length = Signal(range(noc.max_packet_flits))
        m.d.comb += length.eq(self.packet_flits - 1)

        start = Signal()
        hold = self.send_clear if self._send_clear else self.clear
        sel = Signal()  # the queue a start takes its entry from
        if nq == 1:
            m.d.comb += [have.eq(cand_have[0]), entry.eq(cand[0])]
            m.d.comb += start.eq(have & ~busy & ~hold & (credit_ok.bit_select(entry_vc, 1) | dropping))
        else:
            # The oldest candidate whose VC has a credit: a packet waits only behind older packets
            # of its own class. While a queue's front is due to be sent again (``second``), only
            # that queue may start.
            last_q = Signal()  # the queue of the last start
            ready = [Signal(name=f"ready{c}") for c in range(nq)]
            for c in range(nq):
                others_due = (second != FaultKind.NONE) & (last_q != c)
                m.d.comb += ready[c].eq(
                    cand_have[c] & ~others_due & (credit_ok.bit_select(vc_of(cand[c]), 1) | dropping)
                )
            older1 = Signal()  # candidate 1 was created before candidate 0 (stamps within 2**31)
            m.d.comb += older1.eq((cand[1].stamp - cand[0].stamp)[31])
            m.d.comb += [
                sel.eq(Mux(ready[0] & ready[1], older1, ready[1])),
                have.eq(ready[0] | ready[1]),
                entry.eq(Mux(sel, cand[1], cand[0])),
                start.eq(have & ~busy & ~hold),
            ]
            with m.If(start):
                m.d.sync += last_q.eq(sel)
        pop = Signal()
        m.d.comb += pop.eq(start & (first_fault != FaultKind.DUPLICATE) & (first_fault != FaultKind.REORDER))
        free = Mux(start, first_fault == FaultKind.NONE, second == FaultKind.NONE)  # (next: no resend)
        m.d.comb += fault_next.eq(Mux(self.clear | ~free, FaultKind.NONE, pending_next))
        m.d.sync += [first_fault.eq(fault_next), dropping.eq(fault_next == FaultKind.DROP)]
        self._fault_state = (first_fault, dropping, second, pending)  # (tests: the invariant above)
        seq_tx = Signal(32)
        m.d.comb += seq_tx.eq(seq_rd.data + (first_fault == FaultKind.REORDER))
        seq_next = Signal(32)
        with m.Switch(first_fault):
            with m.Case(FaultKind.DUPLICATE, FaultKind.REORDER):
                m.d.comb += seq_next.eq(seq_rd.data)
            with m.Default():
                m.d.comb += seq_next.eq(Mux(second == FaultKind.REORDER, seq_rd.data + 2, seq_rd.data + 1))

        hdr = Signal(Header)
        m.d.comb += [
            hdr.dst_x.eq(entry.dst_x),
            hdr.dst_y.eq(entry.dst_y),
            hdr.src_x.eq(self.x),
            hdr.src_y.eq(self.y),
            hdr.mclass.eq(entry.mclass),
            hdr.kind.eq(PacketKind.TRAFFIC),
            hdr.length.eq(length),
            hdr.tag.eq(entry.mark),
            hdr.addr.eq(hw_check_field(seq_tx, entry.stamp, self.x, self.y, entry.mark)),
        ]
        head_word = Signal(noc.flit_bits)
        m.d.comb += head_word.eq(Cat(hdr.as_value(), seq_tx, entry.stamp))
        corrupt_now = Signal()
        m.d.comb += corrupt_now.eq((first_fault == FaultKind.CORRUPT) & (length == 0))
        body = Signal(noc.flit_bits)
        m.d.comb += body.eq(hw_body_word(cur_seq, self.x, self.y, cur_idx, noc.flit_bits))

        # The flit is decided here (``tx``) and goes on the link from registers the next cycle:
        # the router's input logic then starts at flip-flops, not at the end of this decision.
        # Credits are spent at the decision. The tester times its checkers one cycle behind its
        # generators (``NocTester``), so the latency it measures leaves this register out.
        tx = SimpleNamespace(
            valid=Signal(name="tx_valid"), flit=Signal(link_flit_layout(cfg), name="tx_flit")
        )
        # The two flit words the decision chooses between, each computed whatever it decides.
        last = Signal()
        m.d.comb += last.eq(cur_idx == cur_len)
        head_data, body_data = Signal(noc.flit_bits), Signal(noc.flit_bits)
        m.d.comb += [
            head_data.eq(head_word ^ (corrupt_now << (HEADER_BITS + 32))),
            body_data.eq(body ^ (cur_corrupt & last)),
        ]
        send_body = Signal()
        if self.out_stages == 1:
            m.d.sync += [self.link.valid.eq(tx.valid), self.link.flit.eq(tx.flit)]
        else:
            # Both words go into the middle registers and are chosen after them, by the registered
            # decision: the send decision then drives a few register inputs, not a multiplexer
            # across the flit's width (which pulled its cells apart on the FPGA).
            mid = SimpleNamespace(
                valid=Signal(name="mid_valid"), flit=Signal(link_flit_layout(cfg), name="mid_flit")
            )
            mid_head, mid_body = (
                Signal(noc.flit_bits, name="mid_head"),
                Signal(noc.flit_bits, name="mid_body"),
            )
            mid_sel = Signal(2, name="mid_sel")  # (head word, body word)
            m.d.sync += [
                mid.valid.eq(tx.valid),
                mid.flit.head.eq(tx.flit.head),
                mid.flit.tail.eq(tx.flit.tail),
                mid.flit.vc.eq(tx.flit.vc),
                mid_head.eq(head_data),
                mid_body.eq(body_data),
                mid_sel.eq(Cat(start, ~start & send_body)),
                self.link.valid.eq(mid.valid),
                self.link.flit.head.eq(mid.flit.head),
                self.link.flit.tail.eq(mid.flit.tail),
                self.link.flit.vc.eq(mid.flit.vc),
                self.link.flit.data.eq(
                    (mid_head & mid_sel[0].replicate(noc.flit_bits))
                    | (mid_body & mid_sel[1].replicate(noc.flit_bits))
                ),
            ]
        send_vc = Signal(range(max(vcs, 2)))
        with m.If(start):
            m.d.comb += [
                tx.valid.eq(~dropping),
                tx.flit.data.eq(head_data),
                tx.flit.head.eq(1),
                tx.flit.tail.eq(length == 0),
                tx.flit.vc.eq(entry_vc),
                send_vc.eq(entry_vc),
                seq_wr.addr.eq(seq_rd.addr),
                seq_wr.data.eq(seq_next),
                seq_wr.en.eq(1),
            ]
            m.d.sync += [
                cur_seq.eq(seq_tx),
                cur_vc.eq(entry_vc),
                cur_idx.eq(1),
                cur_len.eq(length),
                cur_corrupt.eq(first_fault == FaultKind.CORRUPT),
                busy.eq((length != 0) & ~dropping),
                second.eq(Mux(pop, FaultKind.NONE, first_fault)),
            ]
            with m.If(first_fault != FaultKind.NONE):
                m.d.sync += pending.eq(FaultKind.NONE)
            with m.If(second != FaultKind.DUPLICATE):
                m.d.sync += self.sent.eq(self.sent + 1)
        with m.Elif(busy & credit_ok.bit_select(cur_vc, 1)):
            m.d.comb += [
                send_body.eq(1),
                tx.valid.eq(1),
                tx.flit.data.eq(body_data),
                tx.flit.head.eq(0),
                tx.flit.tail.eq(last),
                tx.flit.vc.eq(cur_vc),
                send_vc.eq(cur_vc),
            ]
            m.d.sync += cur_idx.eq(cur_idx + 1)
            with m.If(last):
                m.d.sync += busy.eq(0)

        accepted = Signal()  # the packet created now is sent or queued (else: an overflow)
        for c, (q, mine) in enumerate(queues):
            take = pop if nq == 1 else pop & (sel == c)
            m.d.comb += q.r_en.eq(take & q.r_rdy)
            c_bypassed = take & ~q.r_rdy if self.bypass else Const(0)
            m.d.comb += [q.w_data.eq(new_entry), q.w_en.eq(mine & ~c_bypassed)]
            with m.If(mine):
                m.d.comb += accepted.eq(c_bypassed | q.w_rdy)
        with m.If(new_pkt):
            with m.If(accepted):
                m.d.sync += self.created.eq(self.created + 1)
                with m.If(self.mark):
                    m.d.sync += self.measured_created.eq(self.measured_created + 1)
            with m.Else():
                m.d.sync += self.overflow.eq(self.overflow + 1)

        for v_ in range(vcs):
            spend = tx.valid & (send_vc == v_)
            back = self.link.credit[v_]
            with m.If(spend & ~back):
                m.d.sync += [credit[v_].eq(credit[v_] - 1), credit_ok[v_].eq(credit[v_] != 1)]
            with m.Elif(back & ~spend):
                m.d.sync += [credit[v_].eq(credit[v_] + 1), credit_ok[v_].eq(1)]
        with m.If(tx.valid):
            m.d.sync += self.flits_sent.eq(self.flits_sent + 1)

        m.d.comb += self.idle.eq(
            ~Cat(*(q.r_rdy for q, _ in queues)).any() & ~busy & (second == FaultKind.NONE)
        )

        with m.If(self.clear):
            m.d.sync += [
                self.created.eq(0),
                self.overflow.eq(0),
                self.sent.eq(0),
                self.flits_sent.eq(0),
                self.measured_created.eq(0),
                pending.eq(FaultKind.NONE),
                second.eq(FaultKind.NONE),
                busy.eq(0),
            ]
        return m
