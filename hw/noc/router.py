"""The mesh router: 5 ports, wormhole switching, credit-based flow control, virtual channels.

Pipeline (two cycles per hop, router plus link)
-----------------------------------------------
Cycle 1 -- the flit on the upstream router's output register crosses the link and is written into the
input buffer of its virtual channel (``vc`` field of the link flit).

Cycle 2 -- at the head of each input VC buffer, in one cycle: route computation (XY comparators, or a
routing-table read, for head flits; body flits follow the route their head latched), output-VC and
credit check, separable input-first switch allocation (a round-robin arbiter over the VCs of each
input, then a round-robin arbiter over the inputs at each output), and switch traversal into the
output register, which drives the next link.

Virtual channels
----------------
VCs ``[0, vcs/2)`` carry requests, ``[vcs/2, vcs)`` responses (:func:`~tatami.hw.noc.ports.vc_for`):
the classes never share a buffer, so responses can always drain and the request-response protocol
cannot deadlock the network. A flit keeps its VC from source to destination, so a flow (source,
destination, class) always uses one VC along one deterministic path and stays in order. An output VC
belongs to one packet from its head to its tail (wormhole); the head waits until it is free.

Flow control
------------
Each output keeps one credit counter per VC, starting at ``vc_depth``; a flit is sent only with a
credit; the downstream router returns the credit (``credit`` bit of that VC, registered) when the
flit leaves its buffer. Buffers can therefore never overflow and no flit is ever dropped inside the
network.

Admission
---------
Head flits entering at the local port are checked (:class:`~tatami.hw.noc.ports.DropReason`); a bad
packet is consumed (head to tail) without being forwarded, its credit returned, the reason's
counter incremented and its sticky flag set.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from tatami.config import COORD_BITS, TatamiConfig
from tatami.hw.common.arbiter import RoundRobinArbiter
from tatami.hw.formats import Header, MsgClass, PacketKind, link_flit_layout

from .ports import DropReason, Port

__all__ = ["PORT_NAMES", "LinkSignature", "Router", "check_config"]

#: Router ports in :class:`Port` order; the link members are named ``i_<name>`` / ``o_<name>``.
PORT_NAMES = ("n", "e", "s", "w", "l")
DROP_COUNTER_BITS = 16


class LinkSignature(wiring.Signature):
    """One direction of a link, from the sender's side: a flit (with framing and VC) and its valid
    bit go downstream, one credit bit per VC comes back.

    Members
    -------
    valid : Out(1)
        A flit is on the link this cycle (there is no ready: the sender holds a credit for it).
    flit : Out(link_flit_layout(cfg))
        ``data``, ``head``, ``tail``, ``vc``.
    credit : In(vcs)
        Bit ``v``: the receiver freed one buffer slot of VC ``v``.
    """

    def __init__(self, cfg: TatamiConfig):
        self.cfg = cfg
        super().__init__(
            {
                "valid": Out(1),
                "flit": Out(link_flit_layout(cfg)),
                "credit": In(cfg.noc.vcs),
            }
        )

    def __eq__(self, other):
        return isinstance(other, LinkSignature) and other.members == self.members

    def __repr__(self):
        return f"LinkSignature({self.cfg.name})"


def check_config(cfg: TatamiConfig) -> None:
    """Raise ValueError if the network cannot be built for ``cfg``."""
    noc, mesh = cfg.noc, cfg.mesh
    if noc.routing == "xy" and (mesh.dead_nodes or mesh.dead_links):
        raise ValueError(
            "noc.routing = 'xy' cannot route around dead nodes or links; "
            "use routing = 'table' and load tables from compile_routes()"
        )


class Router(wiring.Component):
    """A 5-port mesh router. Identical at every mesh position (coordinates are input ports), so a
    mesh generates it once.

    Parameters
    ----------
    cfg : TatamiConfig
        ``noc`` gives flit width, VCs, buffer depth, largest packet and routing mode; ``mesh`` gives
        the size (for the admission check and the table).

    Attributes
    ----------
    i_n, i_e, i_s, i_w, i_l : In(LinkSignature(cfg))
        Incoming links (``i_l``: injection from the node).
    o_n, o_e, o_s, o_w, o_l : Out(LinkSignature(cfg))
        Outgoing links (``o_l``: ejection to the node). Registered.
    x, y : In(6)
        This router's coordinates.
    use_table : In(1)
        Route by the table instead of XY (``routing == "table"`` only; XY until the table is loaded).
    table_we : In(1), table_addr : In(range(nodes)), table_data : In(Port)
        Table write port: entry ``table_addr`` (destination node ``y * width + x``) gets
        ``table_data`` (``routing == "table"`` only).
    drops : Out(ArrayLayout(16, 7))
        Packets dropped at admission, per :class:`DropReason` (wrapping counters).
    drop_flags : Out(7)
        Sticky: bit ``r`` set once a packet was dropped for reason ``r``.
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"Router needs a TatamiConfig, not {cfg!r}")
        check_config(cfg)
        noc, mesh = cfg.noc, cfg.mesh
        self.cfg = cfg
        members = {}
        for name in PORT_NAMES:
            members[f"i_{name}"] = In(LinkSignature(cfg))
        for name in PORT_NAMES:
            members[f"o_{name}"] = Out(LinkSignature(cfg))
        members["x"] = In(COORD_BITS)
        members["y"] = In(COORD_BITS)
        if noc.routing == "table":
            members["use_table"] = In(1)
            members["table_we"] = In(1)
            members["table_addr"] = In(range(mesh.nodes))
            members["table_data"] = In(Port)
        members["drops"] = Out(data.ArrayLayout(DROP_COUNTER_BITS, len(DropReason)))
        members["drop_flags"] = Out(len(DropReason))
        super().__init__(members)

    def __repr__(self):  # a deterministic name for hier.shared
        return f"Router({self.cfg.digest()})"

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        noc, mesh = cfg.noc, cfg.mesh
        nports, vcs, depth = len(PORT_NAMES), noc.vcs, noc.vc_depth
        per_class = vcs // 2
        fb = noc.flit_bits
        ins = [getattr(self, f"i_{n}") for n in PORT_NAMES]
        outs = [getattr(self, f"o_{n}") for n in PORT_NAMES]
        table_mode = noc.routing == "table"

        # ----- routing table -------------------------------------------------------------------
        if table_mode:
            table = Array(Signal(3, name=f"table_{i}", init=Port.NONE.value) for i in range(mesh.nodes))
            with m.If(self.table_we):
                m.d.sync += table[self.table_addr].eq(self.table_data)

        def route_of(hdr):
            """Output port (a Port-shaped value) for a header, and whether it is a table DEAD/NONE."""
            xy = Signal(3)
            with m.If(hdr.dst_x > self.x):
                m.d.comb += xy.eq(Port.E.value)
            with m.Elif(hdr.dst_x < self.x):
                m.d.comb += xy.eq(Port.W.value)
            with m.Elif(hdr.dst_y > self.y):
                m.d.comb += xy.eq(Port.S.value)
            with m.Elif(hdr.dst_y < self.y):
                m.d.comb += xy.eq(Port.N.value)
            with m.Else():
                m.d.comb += xy.eq(Port.LOCAL.value)
            if not table_mode:
                return xy
            entry = Signal(3)
            m.d.comb += entry.eq(table[hdr.dst_y * mesh.width + hdr.dst_x])
            return Mux(self.use_table, entry, xy)

        # ----- input buffers and per-VC state ----------------------------------------------------
        # For input i, VC v: FIFO, head flit fields, wanted output port, request.
        fifo = [[None] * vcs for _ in range(nports)]
        want = [[None] * vcs for _ in range(nports)]
        req = [[None] * vcs for _ in range(nports)]
        is_tail = [[None] * vcs for _ in range(nports)]
        data_of = [[None] * vcs for _ in range(nports)]
        head_of = [[None] * vcs for _ in range(nports)]
        drop_now = [[Const(0)] * vcs for _ in range(nports)]
        ren = [[Signal(name=f"ren_{PORT_NAMES[i]}{v}") for v in range(vcs)] for i in range(nports)]

        # Output state: VC owned by a packet in flight, credits.
        busy = [[Signal(name=f"busy_{PORT_NAMES[p]}{v}") for v in range(vcs)] for p in range(nports)]
        credit = [
            [Signal(range(depth + 1), init=depth, name=f"credit_{PORT_NAMES[p]}{v}") for v in range(vcs)]
            for p in range(nports)
        ]
        has_credit = [
            [Signal(name=f"has_credit_{PORT_NAMES[p]}{v}") for v in range(vcs)] for p in range(nports)
        ]
        for p in range(nports):
            for v in range(vcs):
                m.d.comb += has_credit[p][v].eq(credit[p][v] != 0)

        drop_vecs = []  # per local VC: one-hot reason of a head dropped this cycle

        for i in range(nports):
            link = ins[i]
            for v in range(vcs):
                q = SyncFIFO(width=fb + 2, depth=depth)
                m.submodules[f"buf_{PORT_NAMES[i]}{v}"] = q
                fifo[i][v] = q
                m.d.comb += [
                    q.w_en.eq(link.valid & (link.flit.vc == v)),
                    q.w_data.eq(Cat(link.flit.data, link.flit.head, link.flit.tail)),
                    q.r_en.eq(ren[i][v]),
                ]
                head = Signal(name=f"head_{PORT_NAMES[i]}{v}")
                tail = Signal(name=f"tail_{PORT_NAMES[i]}{v}")
                m.d.comb += [head.eq(q.r_data[fb]), tail.eq(q.r_data[fb + 1])]
                hdr = data.View(Header, q.r_data[:64])
                head_of[i][v], is_tail[i][v], data_of[i][v] = head, tail, q.r_data[:fb]

                route = Signal(3, name=f"route_{PORT_NAMES[i]}{v}")  # latched by the head
                head_route = Signal(3, name=f"head_route_{PORT_NAMES[i]}{v}")
                m.d.comb += head_route.eq(route_of(hdr))
                w = Signal(3, name=f"want_{PORT_NAMES[i]}{v}")
                m.d.comb += w.eq(Mux(head, head_route, route))
                want[i][v] = w
                with m.If(ren[i][v] & head):
                    m.d.sync += route.eq(head_route)

                if PORT_NAMES[i] == "l":
                    drop_now[i][v], vec = self._admission(
                        m, hdr, head, v, per_class, head_route, q.r_rdy, table_mode
                    )
                    drop_vecs.append(vec)
                    dropping = Signal(name=f"dropping_l{v}")  # consuming the body of a dropped packet
                    with m.If(q.r_rdy & drop_now[i][v]):
                        m.d.sync += dropping.eq(~tail)
                    drop_now[i][v] = drop_now[i][v] | dropping
                    with m.If(q.r_rdy & dropping & tail):
                        m.d.sync += dropping.eq(0)

                # Request the switch: a flit is ready, its output VC is ours (or free for a head) and
                # the downstream buffer has room.
                ok = Signal(name=f"ok_{PORT_NAMES[i]}{v}")
                with m.Switch(w):  # plain 3-bit port code
                    for p in range(nports):
                        with m.Case(p):
                            m.d.comb += ok.eq(has_credit[p][v] & (~head | ~busy[p][v]))
                r = Signal(name=f"req_{PORT_NAMES[i]}{v}")
                m.d.comb += r.eq(q.r_rdy & ok & ~drop_now[i][v])
                req[i][v] = r

        # ----- separable switch allocation -------------------------------------------------------
        in_arb = []
        sel_port = []
        for i in range(nports):
            arb = RoundRobinArbiter(vcs)
            m.submodules[f"in_arb_{PORT_NAMES[i]}"] = arb
            m.d.comb += arb.requests.eq(Cat(*req[i]))
            sp = Signal(3, name=f"sel_port_{PORT_NAMES[i]}")
            m.d.comb += sp.eq(Array(want[i])[arb.grant_index])
            in_arb.append(arb)
            sel_port.append(sp)

        out_arb = []
        granted = [Signal(name=f"granted_{PORT_NAMES[i]}") for i in range(nports)]
        for p in range(nports):
            arb = RoundRobinArbiter(nports)
            m.submodules[f"out_arb_{PORT_NAMES[p]}"] = arb
            m.d.comb += [
                arb.requests.eq(Cat(*[in_arb[i].valid & (sel_port[i] == p) for i in range(nports)])),
                arb.advance.eq(arb.valid),
            ]
            out_arb.append(arb)
        for i in range(nports):
            m.d.comb += granted[i].eq(Cat(*[out_arb[p].grant[i] for p in range(nports)]).any())
            m.d.comb += in_arb[i].advance.eq(granted[i])
            for v in range(vcs):
                m.d.comb += ren[i][v].eq(
                    (granted[i] & (in_arb[i].grant_index == v)) | (fifo[i][v].r_rdy & drop_now[i][v])
                )

        # ----- switch traversal into the output registers; credits -------------------------------
        for p in range(nports):
            arb, link = out_arb[p], outs[p]
            src = arb.grant_index
            vsel = Signal(range(max(vcs, 2)), name=f"vsel_{PORT_NAMES[p]}")
            m.d.comb += vsel.eq(Array(a.grant_index for a in in_arb)[src])
            flit_data = Array(Array(data_of[i]) for i in range(nports))[src][vsel]
            flit_head = Array(Array(head_of[i]) for i in range(nports))[src][vsel]
            flit_tail = Array(Array(is_tail[i]) for i in range(nports))[src][vsel]
            m.d.sync += link.valid.eq(arb.valid)
            with m.If(arb.valid):
                m.d.sync += [
                    link.flit.data.eq(flit_data),
                    link.flit.head.eq(flit_head),
                    link.flit.tail.eq(flit_tail),
                    link.flit.vc.eq(vsel),
                ]
            for v in range(vcs):
                send = Signal(name=f"send_{PORT_NAMES[p]}{v}")
                m.d.comb += send.eq(arb.valid & (vsel == v))
                back = link.credit[v]
                with m.If(send & ~back):
                    m.d.sync += credit[p][v].eq(credit[p][v] - 1)
                with m.Elif(~send & back):
                    m.d.sync += credit[p][v].eq(credit[p][v] + 1)
                with m.If(send & flit_head & ~flit_tail):
                    m.d.sync += busy[p][v].eq(1)
                with m.Elif(send & flit_tail):
                    m.d.sync += busy[p][v].eq(0)

        # Credits back upstream, registered: one per flit leaving an input buffer.
        for i in range(nports):
            m.d.sync += ins[i].credit.eq(Cat(*ren[i]))

        # ----- drop counters ---------------------------------------------------------------------
        for r in range(len(DropReason)):
            hits = [vec[r] for vec in drop_vecs]
            with m.If(Cat(*hits).any()):
                m.d.sync += [self.drops[r].eq(self.drops[r] + sum(hits)), self.drop_flags[r].eq(1)]
        return m

    def _admission(self, m, hdr, head, v, per_class, head_route, r_rdy, table_mode):
        """Drop decision for the head flit at local VC ``v``; counts it once, when it is consumed."""
        mesh, noc = self.cfg.mesh, self.cfg.noc
        reason = {r: Signal(name=f"bad_{r.name.lower()}_l{v}") for r in DropReason}
        m.d.comb += reason[DropReason.DST_OUTSIDE].eq((hdr.dst_x >= mesh.width) | (hdr.dst_y >= mesh.height))
        if table_mode:
            m.d.comb += [
                reason[DropReason.DST_DEAD].eq(head_route == Port.DEAD.value),
                reason[DropReason.DST_UNREACHABLE].eq(head_route == Port.NONE.value),
            ]
        known = Signal(name=f"known_kind_l{v}")
        wrong_class = Signal(name=f"wrong_class_l{v}")
        with m.Switch(hdr.kind.as_value()):
            for kind in PacketKind:
                with m.Case(kind.value):
                    m.d.comb += known.eq(1)
                    expected = PacketKind.expected_class(kind)
                    if expected is not None:
                        m.d.comb += wrong_class.eq(hdr.mclass.as_value() != expected.value)
        vc_class = MsgClass.REQUEST.value if v < per_class else MsgClass.RESPONSE.value
        m.d.comb += [
            reason[DropReason.BAD_KIND].eq(~known),
            reason[DropReason.BAD_CLASS].eq(wrong_class | (hdr.mclass.as_value() != vc_class)),
            reason[DropReason.TOO_LONG].eq(hdr.length + 1 > noc.max_packet_flits),
        ]
        bad = Signal(name=f"bad_l{v}")
        m.d.comb += bad.eq(head & Cat(*reason.values()).any())
        # Priority: the first reason in DropReason order is the one counted.
        first = Signal(len(DropReason), name=f"drop_reason_l{v}")
        for r in reversed(DropReason):
            with m.If(reason[r]):
                m.d.comb += first.eq(1 << r.value)
        counted = Signal(len(DropReason), name=f"drop_count_l{v}")
        m.d.comb += counted.eq(Mux(r_rdy & bad, first, 0))
        return bad, counted
