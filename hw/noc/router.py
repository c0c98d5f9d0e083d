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

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from tatami.config import COORD_BITS, LENGTH_BITS, LOCAL_ADDR_BITS, TatamiConfig
from tatami.hw.common.arbiter import RoundRobinArbiter
from tatami.hw.formats import Header, MsgClass, PacketKind, link_flit_layout

from .ports import ROUTER_CSR_BASE, ROUTER_CSR_CTRL, ROUTER_CSR_TABLE, DropReason, Port

__all__ = ["MUTATIONS", "PORT_NAMES", "LinkSignature", "Router", "check_config"]

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
        the size (for the admission check, the edge check and the table).

    Attributes
    ----------
    i_n, i_e, i_s, i_w, i_l : In(LinkSignature(cfg))
        Incoming links (``i_l``: injection from the node, which holds ``vc_depth`` credits per VC).
    o_n, o_e, o_s, o_w, o_l : Out(LinkSignature(cfg))
        Outgoing links (``o_l``: ejection to the node). Registered.
    x, y : In(6)
        This router's coordinates.
    use_table : In(1)
        Route by the table instead of XY (``routing == "table"`` only; XY until the table is loaded).
        ORed with bit 0 of the CTRL register (:data:`~tatami.hw.noc.ports.ROUTER_CSR_CTRL`).
    table_we : In(1), table_addr : In(range(nodes)), table_data : In(Port)
        Table write port: entry ``table_addr`` (destination node ``y * width + x``) gets
        ``table_data`` (``routing == "table"`` only). Tables also load through CONTROL packets to the
        router's registers (:data:`~tatami.hw.noc.ports.ROUTER_CSR_TABLE`); the port wins a tie.
    drops : Out(ArrayLayout(16, 7))
        Packets dropped at admission, per :class:`DropReason` (wrapping counters).
    drop_flags : Out(7)
        Sticky: bit ``r`` set once a packet was dropped for reason ``r``.
    misroutes : Out(16)
        Packets dropped because the route for their destination named no usable port (a DEAD or
        NONE table entry met in transit, or a port off the mesh edge). Zero with verified tables.
    """

    def __init__(self, cfg: TatamiConfig, *, _mutation: str | None = None):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"Router needs a TatamiConfig, not {cfg!r}")
        check_config(cfg)
        if _mutation is not None and _mutation not in MUTATIONS:
            raise ValueError(f"unknown router mutation {_mutation!r}; known: {', '.join(MUTATIONS)}")
        noc, mesh = cfg.noc, cfg.mesh
        self.cfg = cfg
        self._mutation = _mutation
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
        members["misroutes"] = Out(DROP_COUNTER_BITS)
        super().__init__(members)
        #: Internal signals for the formal harness (tb/noc/formal), filled in by :meth:`elaborate`.
        self.probe = None

    def __repr__(self):  # a deterministic name for hier.shared
        extra = f", {self._mutation}" if self._mutation else ""
        return f"Router({self.cfg.digest()}{extra})"

    @staticmethod
    def input_depth(cfg: TatamiConfig, port: int) -> int:
        """Flit slots of each VC buffer of input ``port``: ``vc_depth``, and for the local input at
        least ``max_packet_flits`` (admission holds a packet until its framing is checked)."""
        noc = cfg.noc
        if port == Port.LOCAL.value:
            return max(noc.vc_depth, noc.max_packet_flits)
        return noc.vc_depth

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        noc, mesh = cfg.noc, cfg.mesh
        mut = self._mutation
        nports, vcs, depth = len(PORT_NAMES), noc.vcs, noc.vc_depth
        per_class = vcs // 2
        fb = noc.flit_bits
        local = Port.LOCAL.value
        ins = [getattr(self, f"i_{n}") for n in PORT_NAMES]
        outs = [getattr(self, f"o_{n}") for n in PORT_NAMES]
        table_mode = noc.routing == "table"

        # ----- registers written by CONTROL packets (CSR bus, one write per cycle) ---------------
        csr_we = Signal()
        csr_addr = Signal(LOCAL_ADDR_BITS)
        csr_value = Signal(32)
        use_table = Const(0)
        if table_mode:
            table = Array(Signal(3, name=f"table_{i}", init=Port.NONE.value) for i in range(mesh.nodes))
            csr_use_table = Signal()
            use_table = Signal()
            m.d.comb += use_table.eq(self.use_table | csr_use_table)
            entry = Signal(range(1 << (LOCAL_ADDR_BITS - 2)))
            m.d.comb += entry.eq((csr_addr - ROUTER_CSR_TABLE) >> 2)
            with m.If(self.table_we):
                m.d.sync += table[self.table_addr].eq(self.table_data)
            with m.Elif(csr_we & (csr_addr >= ROUTER_CSR_TABLE) & (entry < mesh.nodes)):
                m.d.sync += table[entry[: max(1, (mesh.nodes - 1).bit_length())]].eq(csr_value[:3])
            with m.If(csr_we & (csr_addr == ROUTER_CSR_CTRL)):
                m.d.sync += csr_use_table.eq(csr_value[0])

        def route_of(hdr, name):
            """Output port code for a header (XY, or the table entry)."""
            xy = Signal(3, name=f"xy_{name}")
            with m.If(hdr.dst_x > self.x):
                m.d.comb += xy.eq(Port.E.value)
            with m.Elif(hdr.dst_x < self.x):
                m.d.comb += xy.eq(Port.W.value)
            with m.Elif(hdr.dst_y > self.y):
                m.d.comb += xy.eq(Port.S.value)
            with m.Elif(hdr.dst_y < self.y):
                m.d.comb += xy.eq(Port.N.value)
            with m.Else():
                m.d.comb += xy.eq(local)
            if not table_mode:
                return xy
            idx = Signal(range(mesh.nodes), name=f"dst_{name}")
            m.d.comb += idx.eq(hdr.dst_y * mesh.width + hdr.dst_x)
            entry = Signal(3, name=f"entry_{name}")
            m.d.comb += entry.eq(table[idx])
            return Mux(use_table, entry, xy)

        def unusable(port, name):
            """The port code names no port this router can send on: DEAD, NONE, an unused code, or a
            link off the mesh edge."""
            bad = Signal(name=f"unusable_{name}")
            edge = (
                ((port == Port.N.value) & (self.y == 0))
                | ((port == Port.S.value) & (self.y >= mesh.height - 1))
                | ((port == Port.W.value) & (self.x == 0))
                | ((port == Port.E.value) & (self.x >= mesh.width - 1))
            )
            if mut == "no_edge_check":
                edge = Const(0)
            m.d.comb += bad.eq((port > local) | edge)
            return bad

        # ----- per input VC ---------------------------------------------------------------------
        # Every input VC offers the switch one request per output port (reqs[i][v][p]): at the local
        # input only its head flit's; at a link input the oldest flit for each output (look-past).
        buf = [[None] * vcs for _ in range(nports)]  # per input VC: buffer probes (formal)
        reqs = [[[Const(0)] * nports for _ in range(vcs)] for _ in range(nports)]
        pick_idx = [[[Const(0)] * nports for _ in range(vcs)] for _ in range(nports)]
        entries = [[None] * vcs for _ in range(nports)]  # per input VC: list of Cat(data, head, tail)
        rdy = [[None] * vcs for _ in range(nports)]
        consume = [[None] * vcs for _ in range(nports)]  # the front flit leaves without the switch
        csr_req = [[None] * vcs for _ in range(nports)]
        csr_hdr = [[None] * vcs for _ in range(nports)]
        rm = [[Signal(name=f"rm_{PORT_NAMES[i]}{v}") for v in range(vcs)] for i in range(nports)]
        rm_idx = [[None] * vcs for _ in range(nports)]
        csr_grant = [
            [Signal(name=f"csr_grant_{PORT_NAMES[i]}{v}") for v in range(vcs)] for i in range(nports)
        ]

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
                cred = Const(1) if mut == "no_credit_check" else credit[p][v] != 0
                m.d.comb += has_credit[p][v].eq(cred)

        drop_vecs = []  # per local VC: one-hot reason of a packet dropped this cycle
        misroute_hits = []
        local_credit = [None] * vcs

        def is_csr_head(hdr, head, route):
            return (
                head
                & (hdr.kind.as_value() == PacketKind.CONTROL.value)
                & (hdr.mclass.as_value() == MsgClass.REQUEST.value)
                & (route == local)
                & (hdr.addr >= ROUTER_CSR_BASE)
            )

        for i in range(nports):
            link = ins[i]
            pn = PORT_NAMES[i]
            if i != local:
                # The route is looked up once per arriving head flit (one per input per cycle) and
                # kept with the flit: no route computation between the buffer and the allocator.
                arriving = data.View(Header, link.flit.data[:64])
                arrival_route = Signal(3, name=f"arrival_route_{pn}")
                m.d.comb += arrival_route.eq(route_of(arriving, f"in_{pn}"))
            for v in range(vcs):
                nm = f"{pn}{v}"
                qdepth = self.input_depth(cfg, i)
                w_en = Signal(name=f"w_en_{nm}")
                m.d.comb += w_en.eq(link.valid & (link.flit.vc == v))
                w_data = Cat(link.flit.data, link.flit.head, link.flit.tail)
                eating = Signal(name=f"eating_{nm}")  # consuming the rest of a dropped/CSR packet
                drop_head = Signal(name=f"drop_head_{nm}")
                misroute = Signal(name=f"misroute_{nm}")
                ready = Signal(name=f"rdy_{nm}")
                cons = Signal(name=f"consume_{nm}")

                if i == local:
                    q = SyncFIFO(width=fb + 2, depth=qdepth)
                    m.submodules[f"buf_{nm}"] = q
                    m.d.comb += [q.w_en.eq(w_en), q.w_data.eq(w_data), q.r_en.eq(rm[i][v])]
                    head, tail = q.r_data[fb], q.r_data[fb + 1]
                    hdr = data.View(Header, q.r_data[:64])
                    route = Signal(3, name=f"route_{nm}")  # latched by the head, for the body
                    head_route = Signal(3, name=f"head_route_{nm}")
                    m.d.comb += head_route.eq(route_of(hdr, nm))
                    w = Signal(3, name=f"want_{nm}")
                    m.d.comb += w.eq(Mux(head, head_route, route))
                    with m.If(rm[i][v] & head):
                        m.d.sync += route.eq(head_route)
                    bad_route = unusable(head_route, nm)
                    # A head may go only once its verdict is known (the framing check).
                    verdict, credit_back = self._framing(m, link, w_en, q, nm, rm[i][v], tail, qdepth)
                    m.d.comb += ready.eq(q.r_rdy & (~head | verdict.r_rdy))
                    local_credit[v] = credit_back
                    adm_bad, adm_vec = self._admission(
                        m, hdr, v, per_class, head_route, table_mode, verdict.r_data[0]
                    )
                    m.d.comb += misroute.eq(~adm_bad & bad_route)
                    m.d.comb += drop_head.eq(head & (adm_bad | bad_route))
                    counted = Signal(len(DropReason), name=f"drop_count_{nm}")
                    m.d.comb += counted.eq(Mux(ready & head & ~eating, adm_vec, 0))
                    drop_vecs.append(counted)
                    is_csr = Signal(name=f"csr_{nm}")
                    m.d.comb += is_csr.eq(is_csr_head(hdr, head, head_route) & ~drop_head)
                    for p in range(nports):
                        ok = has_credit[p][v] & (~head | ~busy[p][v])
                        reqs[i][v][p] = ready & (w == p) & ok & ~eating & ~drop_head & ~is_csr
                    entries[i][v] = [q.r_data]
                    rm_idx[i][v] = Const(0)
                    front = q.r_data
                    buf[i][v] = SimpleNamespace(
                        w_en=w_en, w_data=w_data, w_rdy=q.w_rdy, w_pos=q.level - rm[i][v], want=w
                    )
                else:
                    lp = _LookPastBuffer(m, nm, qdepth, fb, w_en, w_data, link.flit.head, arrival_route)
                    m.d.comb += [lp.rm.eq(rm[i][v])]
                    rm_idx[i][v] = lp.rm_idx
                    head, tail, head_route = lp.head[0], lp.tail[0], lp.route[0]
                    hdr = data.View(Header, lp.data[0][:64])
                    front = Cat(lp.data[0], head, tail)
                    m.d.comb += ready.eq(lp.valid[0])
                    bad = [unusable(lp.route[j], f"{nm}_{j}") for j in range(qdepth)]
                    m.d.comb += [misroute.eq(bad[0]), drop_head.eq(head & bad[0])]
                    csr = [
                        is_csr_head(data.View(Header, lp.data[j][:64]), lp.head[j], lp.route[j])
                        for j in range(qdepth)
                    ]
                    is_csr = Signal(name=f"csr_{nm}")
                    m.d.comb += is_csr.eq(csr[0] & ~drop_head)
                    # Per output, the oldest flit that goes there; it may go if it is the front flit,
                    # or a 1-flit packet behind 1-flit packets only (never inside a wormhole packet).
                    # Flits of one flow share the route, so the flow keeps its order.
                    single = [lp.head[j] & lp.tail[j] for j in range(qdepth)]
                    for p in range(nports):
                        found = Const(0)
                        prefix = Const(1)  # every older flit is a 1-flit packet
                        r = Const(0)
                        idx = Signal(range(max(qdepth, 2)), name=f"pick_{nm}_{PORT_NAMES[p]}")
                        ok = has_credit[p][v]
                        for j in range(qdepth):
                            hit = lp.valid[j] & (lp.route[j] == p) & ~found
                            may = (Const(1) if j == 0 else prefix & single[j]) & ~bad[j] & ~csr[j]
                            r = r | (hit & may & ok & (~lp.head[j] | ~busy[p][v]))
                            with m.If(hit):
                                m.d.comb += idx.eq(j)
                            found = found | (lp.valid[j] & (lp.route[j] == p))
                            prefix = prefix & single[j]
                        reqs[i][v][p] = r & ~eating & ~cons
                        pick_idx[i][v][p] = idx
                    entries[i][v] = [Cat(lp.data[j], lp.head[j], lp.tail[j]) for j in range(qdepth)]
                    buf[i][v] = SimpleNamespace(w_en=w_en, w_data=w_data, w_rdy=lp.w_rdy, w_pos=lp.w_pos)

                rdy[i][v] = ready
                misroute_hits.append(ready & head & ~eating & misroute & drop_head)
                csr_req[i][v] = ready & ~eating & is_csr
                csr_hdr[i][v] = front
                m.d.comb += cons.eq(ready & (eating | drop_head | csr_grant[i][v]))
                consume[i][v] = cons
                with m.If(cons & ~eating & head):
                    m.d.sync += eating.eq(~tail)
                with m.If(cons & eating & tail):
                    m.d.sync += eating.eq(0)

        # ----- CSR writes: one per cycle, the first requesting input VC in port order ---------------
        flat = [(i, v) for i in range(nports) for v in range(vcs)]
        taken = Const(0)
        for i, v in flat:
            m.d.comb += csr_grant[i][v].eq(csr_req[i][v] & ~taken)
            taken = taken | csr_req[i][v]
        for i, v in flat:
            with m.If(csr_grant[i][v]):
                hdr = data.View(Header, csr_hdr[i][v][:64])
                m.d.comb += [csr_we.eq(1), csr_addr.eq(hdr.addr), csr_value.eq(csr_hdr[i][v][64:96])]

        # ----- separable switch allocation -------------------------------------------------------
        # Input first: per input a round-robin arbiter over its (VC, output) requests; then per
        # output a round-robin arbiter over the inputs that chose it. Priorities advance only on a
        # used grant (iSLIP-like), which desynchronises the inputs under load.
        in_arb, sel_port, sel_vc, sel_flit = [], [], [], []
        nreq = vcs * nports
        for i in range(nports):
            arb = RoundRobinArbiter(nreq)
            m.submodules[f"in_arb_{PORT_NAMES[i]}"] = arb
            m.d.comb += arb.requests.eq(Cat(*[reqs[i][k // nports][k % nports] for k in range(nreq)]))
            sp = Signal(3, name=f"sel_port_{PORT_NAMES[i]}")
            sv = Signal(range(max(vcs, 2)), name=f"sel_vc_{PORT_NAMES[i]}")
            m.d.comb += [
                sp.eq(Array(Const(k % nports, 3) for k in range(nreq))[arb.grant_index]),
                sv.eq(Array(Const(k // nports, sv.shape()) for k in range(nreq))[arb.grant_index]),
            ]
            si = Signal(range(max(self.input_depth(cfg, i), 2)), name=f"sel_idx_{PORT_NAMES[i]}")
            m.d.comb += si.eq(Array(Array(pick_idx[i][v]) for v in range(vcs))[sv][sp])
            sf = Signal(fb + 2, name=f"sel_flit_{PORT_NAMES[i]}")
            m.d.comb += sf.eq(Array(Array(entries[i][v]) for v in range(vcs))[sv][si])
            in_arb.append(arb)
            sel_port.append(sp)
            sel_vc.append(sv)
            sel_flit.append(sf)
            for v in range(vcs):
                if i != local:
                    m.d.comb += rm_idx[i][v].eq(Mux(consume[i][v], 0, si))

        out_arb = []
        granted = [Signal(name=f"granted_{PORT_NAMES[i]}") for i in range(nports)]
        for p in range(nports):
            arb = RoundRobinArbiter(nports)
            m.submodules[f"out_arb_{PORT_NAMES[p]}"] = arb
            m.d.comb += [
                arb.requests.eq(Cat(*[in_arb[i].valid & (sel_port[i] == p) for i in range(nports)])),
                arb.advance.eq(arb.valid & (mut != "fixed_priority")),
            ]
            out_arb.append(arb)
        for i in range(nports):
            m.d.comb += granted[i].eq(Cat(*[out_arb[p].grant[i] for p in range(nports)]).any())
            m.d.comb += in_arb[i].advance.eq(granted[i])
            for v in range(vcs):
                m.d.comb += rm[i][v].eq((granted[i] & (sel_vc[i] == v)) | consume[i][v])

        # ----- switch traversal into the output registers; credits -------------------------------
        for p in range(nports):
            arb, link = out_arb[p], outs[p]
            src = arb.grant_index
            vsel = Signal(range(max(vcs, 2)), name=f"vsel_{PORT_NAMES[p]}")
            m.d.comb += vsel.eq(Array(sel_vc)[src])
            flit = Signal(fb + 2, name=f"xbar_{PORT_NAMES[p]}")
            m.d.comb += flit.eq(Array(sel_flit)[src])
            flit_head, flit_tail = flit[fb], flit[fb + 1]
            m.d.sync += link.valid.eq(arb.valid)
            with m.If(arb.valid):
                m.d.sync += [
                    link.flit.data.eq(flit[:fb]),
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

        # Credits back upstream, registered: one per flit leaving a link input's buffer; the local
        # input returns them as its framing check allows (see _framing).
        for i in range(nports):
            if i == local:
                m.d.sync += ins[i].credit.eq(Cat(*local_credit))
            else:
                m.d.sync += ins[i].credit.eq(Cat(*rm[i]))

        # ----- drop counters ---------------------------------------------------------------------
        for r in range(len(DropReason)):
            hits = [vec[r] for vec in drop_vecs]
            with m.If(Cat(*hits).any()):
                m.d.sync += [self.drops[r].eq(self.drops[r] + sum(hits)), self.drop_flags[r].eq(1)]
        with m.If(Cat(*misroute_hits).any()):
            m.d.sync += self.misroutes.eq(self.misroutes + sum(misroute_hits))

        # Where each removal goes (formal): the output chosen, when switched.
        for i in range(nports):
            for v in range(vcs):
                b = buf[i][v]
                b.rm, b.rm_idx, b.consume = rm[i][v], rm_idx[i][v], consume[i][v]
                b.rm_flit = Array(entries[i][v])[rm_idx[i][v]] if len(entries[i][v]) > 1 else entries[i][v][0]
                b.rm_port = sel_port[i]
        self.probe = SimpleNamespace(buf=buf, rdy=rdy, consume=consume, credit=credit, busy=busy)
        return m

    def _framing(self, m, link, w_en, q, nm, ren, r_tail, qdepth):
        """Framing check of the local input VC ``nm``, on the write side: a packet is ``length + 1``
        flits, the last one (only) marked tail. One verdict per packet (1 = LENGTH_MISMATCH) goes
        into a small FIFO when it is known -- at the tail, or at flit ``length + 1`` if that is not
        the tail (or at the head if the length is too long to check: TOO_LONG drops it anyway); the
        head waits for it, so a packet is forwarded only once it is known to be whole, and dropped
        whole otherwise. Returns the verdict FIFO and the credit bit to return to the source."""
        noc = self.cfg.noc
        depth = noc.vc_depth
        verdict = SyncFIFO(width=1, depth=qdepth)
        m.submodules[f"verdict_{nm}"] = verdict
        in_pkt = Signal(name=f"in_pkt_{nm}")  # between a packet's first flit and its tail
        decided = Signal(name=f"decided_{nm}")  # its verdict is already out
        remaining = Signal(range(1 << LENGTH_BITS), name=f"remaining_{nm}")  # body flits still due
        hdr = data.View(Header, link.flit.data[:64])
        tail = link.flit.tail
        push, bad = Signal(name=f"verdict_push_{nm}"), Signal(name=f"verdict_bad_{nm}")
        with m.If(w_en):
            m.d.sync += in_pkt.eq(~tail)
            with m.If(~in_pkt):  # the head
                with m.If(hdr.length + 1 > noc.max_packet_flits):
                    m.d.comb += [push.eq(1), bad.eq(0)]
                    m.d.sync += decided.eq(1)
                with m.Elif(tail | (hdr.length == 0)):
                    m.d.comb += [push.eq(1), bad.eq((hdr.length != 0) | ~tail)]
                    m.d.sync += decided.eq(1)
                with m.Else():
                    m.d.sync += [decided.eq(0), remaining.eq(hdr.length)]
            with m.Elif(~decided):
                m.d.sync += remaining.eq(remaining - 1)
                with m.If(tail | (remaining == 1)):
                    m.d.comb += [push.eq(1), bad.eq((remaining != 1) | ~tail)]
                    m.d.sync += decided.eq(1)
        m.d.comb += [
            verdict.w_en.eq(push),
            verdict.w_data.eq(bad),
            verdict.r_en.eq(ren & r_tail),
        ]
        # Credits: the source holds up to vc_depth; the buffer has qdepth >= max_packet_flits slots.
        # ``owed`` counts flits received and not yet credited; a credit goes back when the buffer
        # has room for it and everything the source may still send: level + (depth - owed) + 1 <=
        # qdepth. With qdepth >= max_packet_flits a whole packet always fits, so the source can
        # always finish the packet whose head waits for its verdict.
        owed = Signal(range(depth + 1), name=f"owed_{nm}")
        give = Signal(name=f"credit_back_{nm}")
        m.d.comb += give.eq((owed != 0) & (q.level + w_en + depth - owed + 1 <= qdepth))
        # (Written as branches, not arithmetic on w_en: an undriven link in a 4-state simulator
        # must leave the counter alone, not turn it into X.)
        with m.If(w_en & ~give):
            m.d.sync += owed.eq(owed + 1)
        with m.Elif(~w_en & give):
            m.d.sync += owed.eq(owed - 1)
        return verdict, give

    def _admission(self, m, hdr, v, per_class, head_route, table_mode, mismatch):
        """Drop decision for the head flit at local VC ``v``: (bad, one-hot first reason)."""
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
            reason[DropReason.LENGTH_MISMATCH].eq(mismatch),
        ]
        bad = Signal(name=f"bad_l{v}")
        m.d.comb += bad.eq(Cat(*reason.values()).any())
        # Priority: the first reason in DropReason order is the one counted.
        first = Signal(len(DropReason), name=f"drop_reason_l{v}")
        for r in reversed(DropReason):
            with m.If(reason[r]):
                m.d.comb += first.eq(1 << r.value)
        return bad, first


#: Deliberate bugs for showing that the formal proofs can fail (tb/noc/test_formal*.py).
MUTATIONS = ("no_credit_check", "fixed_priority", "no_edge_check")


class _LookPastBuffer:
    """A link input VC's buffer: ``depth`` registers kept in arrival order (oldest at 0), from which
    any one flit can be removed per cycle (``rm``, ``rm_idx``); the ones behind it move up. Each
    entry keeps the route looked up when its head arrived (body flits inherit their head's)."""

    def __init__(self, m, nm, depth, fb, w_en, w_data, w_head, w_route):
        self.rm = Signal(name=f"lp_rm_{nm}")
        self.rm_idx = Signal(range(max(depth, 2)), name=f"lp_rm_idx_{nm}")
        self.data = [Signal(fb, name=f"lp_data_{nm}_{j}") for j in range(depth)]
        self.head = [Signal(name=f"lp_head_{nm}_{j}") for j in range(depth)]
        self.tail = [Signal(name=f"lp_tail_{nm}_{j}") for j in range(depth)]
        self.route = [Signal(3, name=f"lp_route_{nm}_{j}") for j in range(depth)]
        self.valid = [Signal(name=f"lp_valid_{nm}_{j}") for j in range(depth)]
        count = Signal(range(depth + 1), name=f"lp_count_{nm}")
        self.w_rdy = Signal(name=f"lp_w_rdy_{nm}")
        self.w_pos = Signal(range(depth + 1), name=f"lp_w_pos_{nm}")
        last_route = Signal(3, name=f"lp_last_route_{nm}")  # the route of the last head written
        route_in = Signal(3, name=f"lp_route_in_{nm}")
        m.d.comb += [
            self.w_rdy.eq((count != depth) | self.rm),
            self.w_pos.eq(count - self.rm),
            route_in.eq(Mux(w_head, w_route, last_route)),
        ]
        with m.If(w_en & w_head):
            m.d.sync += last_route.eq(w_route)
        with m.If(w_en & ~self.rm):
            m.d.sync += count.eq(count + 1)
        with m.Elif(~w_en & self.rm):
            m.d.sync += count.eq(count - 1)
        fields = (self.data, self.head, self.tail, self.route, self.valid)
        incoming = (w_data[:fb], w_data[fb], w_data[fb + 1], route_in, Const(1))
        for j in range(depth):
            # Every entry at or after the removed one moves up (the last one always does).
            shift = self.rm & (self.rm_idx <= j) if j < depth - 1 else self.rm
            with m.If(w_en & (self.w_pos == j)):
                m.d.sync += [f[j].eq(x) for f, x in zip(fields, incoming, strict=True)]
            with m.Elif(shift):
                if j + 1 < depth:
                    m.d.sync += [f[j].eq(f[j + 1]) for f in fields]
                else:
                    m.d.sync += self.valid[j].eq(0)
