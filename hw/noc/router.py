"""The mesh router: 5 ports, wormhole switching, credit-based flow control, virtual channels.

Pipeline (two cycles per hop, router plus link)
-----------------------------------------------
Cycle 1 -- the flit on the upstream router's output register crosses the link and is written into the
input buffer of its virtual channel (``vc`` field of the link flit). A head flit's route (XY
comparators or a routing-table read) is looked up as it is written, and the entry keeps what the
allocator will need: the output port one-hot, a misroute bit, a CSR-write bit and (local input) the
admission verdict. Body flits inherit their head's route.

Cycle 2 -- from those registers: the oldest eligible flit per output of each input VC (look-past;
at the local input only 1-flit packets whose admission and framing verdicts are clean pass the
front), output-VC and credit check, separable input-first switch allocation (an arbiter over the
(VC, output) requests of each input, then one over the inputs at each output; three iterations,
urgent front flits first (oldest first), then the longest virtual output queue (the flits of the
request's VC that go to its output), then round robin;
one-hot end to end, no index encode or decode), and switch traversal into the output register,
which drives the next link. Packets of at most half a VC buffer (:meth:`Router.cut_through`) are
switched by virtual cut-through: a head goes only with room downstream for its whole packet, and
the (input, output) pair is then locked to the packet until its tail, so it leaves on consecutive
cycles and may pass older packets at a link input; longer packets are switched as wormhole. See
docs/noc.md, "Router pipeline".

Variants (``NocConfig.buffers``, ``NocConfig.router_stages``): the above is ``"lookpast"`` with one
router stage (with two, the local input is a FIFO). ``"fifo"`` keeps each link-input VC in a
LUT-RAM FIFO (front flit only; with one router stage the input arbiter is then over the VCs).
With two router stages the grants are registered and the crossbar runs the next cycle (three
cycles per hop), from each input's chosen
flit registered at grant time (look-past buffers) or, with FIFO buffers, read from the VC's LUT
RAM in that cycle: there every VC is a crossbar input of its own, so there is no input arbiter --
each output's round robin is over the (input, VC) pairs, and an input may send from two VCs to two
outputs in one cycle. The front flit's flags and the FIFO's ``r_rdy`` sit in registers
(:class:`_FrontFifo`), ``has_credit`` is a register and CSR writes are registered, so allocation
starts and ends at flip-flops with one arbiter between them: the ``fpga-2x2`` router. Two-stage
routers also register the node's flit, with its route and admission verdict, before the local
input's FIFO (one cycle more at injection: ``4 + 3D`` at zero load). See
docs/noc.md, "The FPGA router".

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

from itertools import zip_longest
from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import COORD_BITS, LENGTH_BITS, LOCAL_ADDR_BITS, TatamiConfig
from tatami.hw.common.select import select
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

    Other parameters
    ----------------
    inputs, outputs : str
        The link ports (of ``"nesw"``) that are wired at this router's place; default all four.
        The others keep their members but have no hardware behind them: a missing input ignores
        its link (no buffer, no requests), a missing output sends nothing (no arbiter, no credit
        counters) and a route that names it is unusable, like a port off the mesh edge (the
        packet is dropped and counted as a misroute). A mesh trims its edge routers so
        (:class:`~tatami.hw.noc.mesh.Mesh`, ``trim_edges``): a corner router of a 2 x 2 mesh
        arbitrates 3 outputs among 6 (input, VC) pairs instead of 5 among 10.
    """

    def __init__(
        self, cfg: TatamiConfig, *, inputs: str = "nesw", outputs: str = "nesw", _mutation: str | None = None
    ):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"Router needs a TatamiConfig, not {cfg!r}")
        check_config(cfg)
        if _mutation is not None and _mutation not in MUTATIONS:
            raise ValueError(f"unknown router mutation {_mutation!r}; known: {', '.join(MUTATIONS)}")
        for what, ports in (("inputs", inputs), ("outputs", outputs)):
            if not isinstance(ports, str) or not set(ports) <= set("nesw") or len(set(ports)) != len(ports):
                raise ValueError(f"router {what} must be distinct letters of 'nesw', not {ports!r}")
        noc, mesh = cfg.noc, cfg.mesh
        self.cfg = cfg
        self._mutation = _mutation
        # (in port order, so that equal sets name one module)
        self.inputs = "".join(p for p in "nesw" if p in inputs)
        self.outputs = "".join(p for p in "nesw" if p in outputs)
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
        if not hasattr(self, "outputs"):  # (a constructor that raised)
            return "Router(?)"
        extra = f", {self._mutation}" if self._mutation else ""
        if (self.inputs, self.outputs) != ("nesw", "nesw"):
            extra += f", inputs={self.inputs!r}, outputs={self.outputs!r}"
        return f"Router({self.cfg.digest()}{extra})"

    @staticmethod
    def hop_cycles(cfg: TatamiConfig) -> int:
        """Zero-load cycles per hop (``b`` in ``a + b*D``): the link cycle plus ``router_stages``."""
        return 1 + cfg.noc.router_stages

    @staticmethod
    def input_depth(cfg: TatamiConfig, port: int) -> int:
        """Flit slots of each VC buffer of input ``port``: ``vc_depth``, and for the local input at
        least ``max_packet_flits`` (admission holds a packet until its framing is checked)."""
        noc = cfg.noc
        if port == Port.LOCAL.value:
            return max(noc.vc_depth, noc.max_packet_flits)
        return noc.vc_depth

    @staticmethod
    def cut_through(cfg: TatamiConfig) -> int:
        """Look-past routers with one stage: packets of at most ``cut_through(cfg)`` flits (half a
        link VC buffer, so that a VC holds two of them) are switched by virtual cut-through with a
        lock (see the allocator); 0: none (other routers, or VCs of one flit)."""
        noc = cfg.noc
        if noc.buffers != "lookpast" or noc.router_stages != 1:
            return 0
        return noc.vc_depth // 2

    #: Look-past routers: iterations of the separable switch allocator (docs/noc.md, "Router
    #: pipeline"; a third raised 4x4 uniform saturation to 0.90 of ideal).
    ALLOC_ITERATIONS = 3

    @staticmethod
    def urgent_cycles(cfg: TatamiConfig) -> int:
        """Look-past routers: cycles an input VC's front flit waits before it is *urgent* (served
        before every non-urgent request, whatever the queue lengths): ``2 * vc_depth``."""
        return 2 * cfg.noc.vc_depth

    @staticmethod
    def age_limit(cfg: TatamiConfig) -> int:
        """Look-past routers: the front-flit age counters saturate here (urgent flits are served
        oldest first; beyond this age, ties are broken by round robin at an output and by the
        lower VC at an input): ``2**k - 1`` for the smallest ``k >= 5`` above ``4 * urgent_cycles``."""
        return (1 << max(5, (4 * Router.urgent_cycles(cfg)).bit_length())) - 1

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        noc, mesh = cfg.noc, cfg.mesh
        mut = self._mutation
        nports, vcs, depth = len(PORT_NAMES), noc.vcs, noc.vc_depth
        per_class = vcs // 2
        fb = noc.flit_bits
        local = Port.LOCAL.value
        # The local input is a look-past buffer too in the one-stage look-past router (with two
        # stages it keeps its FIFO and the injection register in front of it).
        local_lookpast = noc.buffers == "lookpast" and noc.router_stages == 1
        ins = [getattr(self, f"i_{n}") for n in PORT_NAMES]
        outs = [getattr(self, f"o_{n}") for n in PORT_NAMES]
        table_mode = noc.routing == "table"
        # Ports wired at this router's place (``inputs``, ``outputs``; the local port always is).
        has_in = [n == "l" or n in self.inputs for n in PORT_NAMES]
        has_out = [n == "l" or n in self.outputs for n in PORT_NAMES]

        # ----- registers written by CONTROL packets (CSR bus, one write per cycle) ---------------
        csr_we = Signal()
        csr_addr = Signal(LOCAL_ADDR_BITS)
        csr_value = Signal(32)
        use_table = Const(0)
        if table_mode:
            table = Array(Signal(3, name=f"table_{i}", init=Port.NONE.value) for i in range(mesh.nodes))
            csr_use_table = Signal()
            use_table = Signal()
            port_use, port_we, port_addr, port_data = (
                self.use_table,
                self.table_we,
                self.table_addr,
                self.table_data,
            )
            if noc.router_stages == 2:
                # The table port and the XY/table switch come from the mesh's edge (a tester, a
                # bridge) to every router: registered here, a cycle later, so their wires do not
                # reach into the route lookup (the 75 MHz noc-tester's critical path after the
                # phase flags'). Like a CSR write with two stages, a port write then takes effect
                # a cycle later.
                port_use = _registered(m, self.use_table, "port_use_table")
                port_we = _registered(m, self.table_we, "port_table_we")
                port_addr = _registered(m, self.table_addr, "port_table_addr")
                port_data = _registered(m, self.table_data, "port_table_data")
            m.d.comb += use_table.eq(port_use | csr_use_table)
            entry = Signal(range(1 << (LOCAL_ADDR_BITS - 2)))
            m.d.comb += entry.eq((csr_addr - ROUTER_CSR_TABLE) >> 2)
            with m.If(port_we):
                m.d.sync += table[port_addr].eq(port_data)
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
            missing = _or_all([port == p for p in range(nports) if not has_out[p]])
            m.d.comb += bad.eq((port > local) | edge | missing)
            return bad

        def onehot_port(port, bad, name):
            """The route as one bit per output port (all zero when it names no usable port)."""
            oh = Signal(nports, name=f"dir_{name}")
            m.d.comb += oh.eq(Cat(*[(port == p) & ~bad for p in range(nports)]))
            return oh

        # ----- per input VC ---------------------------------------------------------------------
        # Everything the allocator needs about a flit is computed once, as it is written into its
        # buffer, and stored with it: the output port as one-hot bits (``dir``, zero when the route
        # names no usable port), ``bad`` (misroute) and ``csr`` (a register write for this router);
        # at the local input also the admission verdict except the framing check. So the router
        # cycle starts from registers: buffer flags -> requests -> input arbiter -> output arbiter
        # -> buffer shift / crossbar / credits, all one-hot (no index encode or decode).
        buf = [[None] * vcs for _ in range(nports)]  # per input VC: buffer probes (formal)
        reqs = [[[Const(0)] * nports for _ in range(vcs)] for _ in range(nports)]
        # pick[i][v][p]: one bit per buffer entry, the entry that requests output p (at most one)
        pick = [[[None] * nports for _ in range(vcs)] for _ in range(nports)]
        entries = [[None] * vcs for _ in range(nports)]  # per input VC: list of Cat(data, head, tail)
        rdy = [[None] * vcs for _ in range(nports)]
        consume = [[None] * vcs for _ in range(nports)]  # the front flit leaves without the switch
        csr_req = [[None] * vcs for _ in range(nports)]
        csr_hdr = [[None] * vcs for _ in range(nports)]
        # (two router stages) the input VC FIFOs whose flits are read in the traversal cycle
        ffq = [[None] * vcs for _ in range(nports)]
        head_tail = [[None] * vcs for _ in range(nports)]  # the front flit's framing bits
        occ = [[None] * vcs for _ in range(nports)]  # buffer occupancy, thermometer-coded
        # weight[i][v][p]: (look-past routers) the longest-queue-first weight of the request of
        # input i's VC v for output p, thermometer-coded
        weight = [[[None] * nports for _ in range(vcs)] for _ in range(nports)]
        # front_nc[i][v][p]: the front flit of input i's VC v asks for output p, credit aside
        # (look-past routers: an urgent one reserves that output VC, see the allocator)
        front_nc = [[[Const(0)] * nports for _ in range(vcs)] for _ in range(nports)]
        rm = [[Signal(name=f"rm_{PORT_NAMES[i]}{v}") for v in range(vcs)] for i in range(nports)]
        csr_grant = [
            [Signal(name=f"csr_grant_{PORT_NAMES[i]}{v}") for v in range(vcs)] for i in range(nports)
        ]
        # win[i][v][p]: input i's VC v sends to output p this cycle (both arbiters granted it).
        win = [
            [
                [Signal(name=f"win_{PORT_NAMES[i]}{v}_{PORT_NAMES[p]}") for p in range(nports)]
                for v in range(vcs)
            ]
            for i in range(nports)
        ]

        busy = [[Signal(name=f"busy_{PORT_NAMES[p]}{v}") for v in range(vcs)] for p in range(nports)]
        credit = [
            [Signal(range(depth + 1), init=depth, name=f"credit_{PORT_NAMES[p]}{v}") for v in range(vcs)]
            for p in range(nports)
        ]
        has_credit = [
            [Signal(name=f"has_credit_{PORT_NAMES[p]}{v}") for v in range(vcs)] for p in range(nports)
        ]
        # With two router stages ``has_credit`` is a register of its own, kept with the counter
        # (one LUT level less at the start of allocation).
        credit_reg = [[None] * vcs for _ in range(nports)]
        for p in range(nports):
            for v in range(vcs):
                if noc.router_stages == 2:
                    credit_reg[p][v] = Signal(init=1, name=f"credit_nz_{PORT_NAMES[p]}{v}")
                    cred = credit_reg[p][v]
                else:
                    cred = credit[p][v] != 0
                if not has_out[p]:
                    cred = Const(0)  # (a missing output: nothing may request it)
                elif mut == "no_credit_check":
                    cred = Const(1)
                m.d.comb += has_credit[p][v].eq(cred)

        # Cut-through (look-past routers with one stage): a packet of at most half a VC buffer
        # (``Router.cut_through``) is switched as a unit. Its head goes only when the output VC has
        # room for the whole packet, and the (input, output) pair it took is then *locked* to it:
        # while its next flit asks, nothing else may use that input or that output, so its flits
        # leave on consecutive cycles and the output VC is held for exactly the packet's length. At a
        # link input such a packet may also pass older ones for other outputs, whole. Longer packets
        # are switched flit by flit (wormhole), as before. The lock is a priority, never a wait:
        # when the locked VC has no flit to send, the input and the output are free for others.
        vct = noc.buffers == "lookpast" and noc.router_stages == 1
        cut_len = self.cut_through(cfg)

        def is_cut(hdr, tail):
            """A head flit starts a cut-through packet (a 1-flit packet is one)."""
            return tail | (hdr.length < cut_len) if cut_len else tail

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

        nreasons = len(DropReason) - 1  # all but LENGTH_MISMATCH (the last) are known at write time
        for i in range(nports):
            link = ins[i]
            pn = PORT_NAMES[i]
            # The route is looked up once per arriving head flit (one per input per cycle) and kept
            # with the flit; body flits get their head's (``last_*``, per VC).
            arriving = data.View(Header, link.flit.data[:64])
            arrival_route = Signal(3, name=f"arrival_route_{pn}")
            m.d.comb += arrival_route.eq(route_of(arriving, f"in_{pn}"))
            arrival_bad = unusable(arrival_route, f"in_{pn}")
            arrival_dir = onehot_port(arrival_route, arrival_bad, f"in_{pn}")
            arrival_csr = Signal(name=f"arrival_csr_{pn}")
            m.d.comb += arrival_csr.eq(is_csr_head(arriving, link.flit.head, arrival_route) & ~arrival_bad)
            # Two router stages: the local input registers the arriving flit with everything
            # computed from it (route, admission verdict: ``flags`` below) before the FIFO write,
            # so the route lookup and the admission check do not share a cycle with the FIFO's pop
            # (the allocation), and the node's link registers need not sit by the router (the
            # 75 MHz noc-tester's critical paths ran node link -> admission -> front flags, meeting
            # the pop there). One cycle more at injection; credits count the raw arrival, so the
            # node's credit loop is not longer (see _framing).
            inject_stage = i == local and noc.router_stages == 2
            arrival_flit = Cat(link.flit.data, link.flit.head, link.flit.tail)
            if inject_stage:
                staged_flit = _registered(m, arrival_flit, "inject_flit")
            for v in range(vcs):
                nm = f"{pn}{v}"
                qdepth = self.input_depth(cfg, i)
                w_en = Signal(name=f"w_en_{nm}")
                m.d.comb += w_en.eq(link.valid & (link.flit.vc == v) if has_in[i] else Const(0))
                w_data = arrival_flit
                eating = Signal(name=f"eating_{nm}")  # consuming the rest of a dropped/CSR packet
                drop_head = Signal(name=f"drop_head_{nm}")
                misroute = Signal(name=f"misroute_{nm}")
                ready = Signal(name=f"rdy_{nm}")
                cons = Signal(name=f"consume_{nm}")
                is_csr = Signal(name=f"csr_{nm}")

                # Flags of the flit being written: the head's own, a body flit its head's.
                last_dir = Signal(nports, name=f"last_dir_{nm}")
                last_bad = Signal(name=f"last_bad_{nm}")
                last_csr = Signal(name=f"last_csr_{nm}")  # (FIFO buffers, two stages)
                w_dir = Signal(nports, name=f"w_dir_{nm}")
                last_routes = [last_dir]  # (formal invariants) registers holding a head's route
                w_bad = Signal(name=f"w_bad_{nm}")
                w_csr = Signal(name=f"w_csr_{nm}")
                head_in = link.flit.head
                m.d.comb += [
                    w_dir.eq(Mux(head_in, arrival_dir, last_dir)),
                    w_bad.eq(Mux(head_in, arrival_bad, last_bad)),
                    w_csr.eq(arrival_csr),
                ]
                with m.If(w_en & head_in):
                    m.d.sync += [last_dir.eq(arrival_dir), last_bad.eq(arrival_bad)]

                if i == local:
                    # Admission verdicts known at write time (all but the framing check).
                    adm_bad, adm_vec = self._admission(
                        m, arriving, v, per_class, arrival_route, table_mode, Const(0)
                    )
                if i == local and not local_lookpast:
                    stored_dir = w_dir
                    if noc.router_stages == 2:
                        # As at the link inputs: a packet dropped at admission, misrouted or a CSR
                        # write stores no output (its head's verdict, kept for its body flits), so
                        # the request needs no blocking term but the framing verdict's.
                        go = Signal(nports, name=f"go_dir_{nm}")
                        last_go = Signal(nports, name=f"last_go_{nm}")
                        m.d.comb += go.eq(
                            Mux(head_in, arrival_dir & ~(adm_bad | arrival_csr).replicate(nports), last_go)
                        )
                        with m.If(w_en & head_in):
                            m.d.sync += last_go.eq(go)
                        stored_dir = go
                        last_routes.append(last_go)
                    # The drop reasons are read only to count a dropped packet: with two stages
                    # they are stored with the flit in LUT RAM (``extra``), not in the front-flag
                    # registers that every pop reloads (in the 75 MHz builds those registers,
                    # pulled toward the drop counters, ended the allocation's critical path).
                    adm_in_flags = noc.router_stages != 2
                    flags = Cat(stored_dir, w_bad, w_csr, adm_bad)
                    extra = adm_vec[:nreasons]
                    if adm_in_flags:
                        flags, extra = Cat(flags, extra), None
                    q_en, q_flit, q_flags, q_extra = w_en, w_data, flags, extra
                    if inject_stage:
                        q_en = _registered(m, w_en, f"inject_en_{nm}")
                        q_flags = _registered(m, flags, f"inject_flags_{nm}")
                        q_extra = _registered(m, extra, f"inject_reasons_{nm}")
                        q_flit = staged_flit
                        last_routes.append(q_flags[:nports])
                    q, front, head, tail, stored = self._input_fifo(
                        m, nm, qdepth, q_flit, q_en, q_flags, rm[i][v], extra=q_extra
                    )
                    if isinstance(q, _FrontFifo):
                        ffq[i][v] = q
                    r_dir = stored[:nports]
                    r_bad, r_csr, r_adm_bad = stored[nports], stored[nports + 1], stored[nports + 2]
                    r_adm_vec = stored[nports + 3 : nports + 3 + nreasons] if adm_in_flags else q.r_extra
                    # A head may go only once its verdict is known (the framing check).
                    verdict, credit_back, owed, _ = self._framing(
                        m, link, w_en, q.level, q_en, nm, rm[i][v] & tail, qdepth
                    )
                    m.d.comb += ready.eq(q.r_rdy & (~head | verdict.r_rdy))
                    local_credit[v] = credit_back
                    mismatch = verdict.front[0] if noc.router_stages == 2 else verdict.r_data[0]
                    m.d.comb += misroute.eq(~r_adm_bad & ~mismatch & r_bad)
                    m.d.comb += drop_head.eq(head & (r_adm_bad | mismatch | r_bad))
                    counted = Signal(len(DropReason), name=f"drop_count_{nm}")
                    m.d.comb += counted.eq(
                        Mux(ready & head & ~eating, Cat(r_adm_vec, mismatch & ~r_adm_bad), 0)
                    )
                    drop_vecs.append(counted)
                    m.d.comb += is_csr.eq(head & r_csr & ~drop_head)
                    for p in range(nports):
                        nc = Signal(name=f"front_nc_{nm}_{PORT_NAMES[p]}")
                        if noc.router_stages == 2:
                            # (dir is zero for a packet dropped at admission, a misrouted one and
                            # a CSR write: only the framing verdict is left to check)
                            head_ok = verdict.r_rdy & ~mismatch & ~busy[p][v]
                            m.d.comb += nc.eq(q.r_rdy & r_dir[p] & ~eating & (~head | head_ok))
                        else:
                            m.d.comb += nc.eq(
                                ready & r_dir[p] & (~head | ~busy[p][v]) & ~eating & ~drop_head & ~is_csr
                            )
                        front_nc[i][v][p] = nc
                        reqs[i][v][p] = nc & has_credit[p][v]
                        pick[i][v][p] = Const(1, 1)
                    entries[i][v] = [front]
                    buf[i][v] = SimpleNamespace(
                        w_en=q_en, w_data=q_flit, w_rdy=q.w_rdy, w_pos=q.level - rm[i][v], want=r_dir
                    )
                    # (``staged``: a flit in the injection register, bound for the buffer)
                    buf[i][v].owed, buf[i][v].staged = owed, q_en if inject_stage else Const(0)
                    shift = None
                elif noc.buffers == "fifo":
                    # A FIFO in LUT RAM, read from its registered pointer: only the front flit may
                    # leave. The flags are stored with each flit, as in the look-past buffer.
                    if noc.router_stages == 2:
                        # Flags in registers at the front; a CSR write's flits (head and body) and
                        # a dropped packet's store no output, so the request needs no blocking term.
                        pkt_csr = Mux(head_in, w_csr, last_csr)
                        flags = Cat(w_dir & ~pkt_csr.replicate(nports), w_bad, w_csr)
                        with m.If(w_en & head_in):
                            m.d.sync += last_csr.eq(w_csr)
                    else:
                        flags = Cat(w_dir, w_bad, w_csr)
                    q, front, head, tail, stored = self._input_fifo(
                        m, nm, qdepth, w_data, w_en, flags, rm[i][v]
                    )
                    if isinstance(q, _FrontFifo):
                        ffq[i][v] = q
                    r_dir, r_bad, r_csr = stored[:nports], stored[nports], stored[nports + 1]
                    # (a missing input: never written, and never ready, so that its pointers and
                    # flags are constants the synthesis tool can see)
                    m.d.comb += ready.eq(q.r_rdy if has_in[i] else Const(0))
                    m.d.comb += [misroute.eq(r_bad), drop_head.eq(head & r_bad)]
                    m.d.comb += is_csr.eq(r_csr)  # (a CSR head's route is local: never bad)
                    blocked = Signal(name=f"blocked_{nm}")
                    m.d.comb += blocked.eq(eating | drop_head | is_csr)
                    for p in range(nports):
                        ok = has_credit[p][v] & (~head | ~busy[p][v])
                        r = Signal(name=f"req_{nm}_{PORT_NAMES[p]}")
                        if noc.router_stages == 2:
                            # (dir is zero for dropped and CSR flits, and while eating)
                            m.d.comb += r.eq(ready & r_dir[p] & ok)
                        else:
                            m.d.comb += r.eq(ready & r_dir[p] & ok & ~blocked)
                        reqs[i][v][p] = r
                        pick[i][v][p] = Const(1, 1)
                    entries[i][v] = [front]
                    buf[i][v] = SimpleNamespace(
                        w_en=w_en, w_data=w_data, w_rdy=q.w_rdy, w_pos=q.level - rm[i][v], want=r_dir
                    )
                    shift = None
                else:
                    if i == local:
                        # The local input as a look-past buffer: a 1-flit packet's framing verdict
                        # (``single``) and admission verdict are stored with it, so it may leave
                        # out of turn like a link input's; a longer packet's head waits at the
                        # front for its verdict from the FIFO, as in the FIFO buffer.
                        nx = 3 + nreasons  # extra: single, length mismatch, admission bad, reasons
                        w_extra = Signal(nx, name=f"w_extra_{nm}")
                        lp = _LookPastBuffer(
                            m, nm, qdepth, fb, nports, w_en, w_data, w_dir, w_bad, w_csr, w_extra
                        )
                        head, tail = lp.head[0], lp.tail[0]
                        single0, single_mm0 = lp.extra[0][0], lp.extra[0][1]
                        verdict, credit_back, owed, single_w = self._framing(
                            m,
                            link,
                            w_en,
                            lp.count,
                            w_en,
                            nm,
                            lp.shift[0] & tail & ~single0,
                            qdepth,
                            inline=True,
                        )
                        m.d.comb += w_extra.eq(
                            Cat(single_w, arriving.length != 0, adm_bad, adm_vec[:nreasons])
                        )
                        front = Cat(lp.data[0], head, tail)
                        local_credit[v] = credit_back
                        m.d.comb += ready.eq(lp.valid[0] & (~head | single0 | verdict.r_rdy))
                        r_adm_bad, r_adm_vec = lp.extra[0][2], lp.extra[0][3:]
                        mismatch = Mux(single0, single_mm0, verdict.r_data[0])
                        m.d.comb += misroute.eq(~r_adm_bad & ~mismatch & lp.bad[0])
                        m.d.comb += drop_head.eq(head & (r_adm_bad | mismatch | lp.bad[0]))
                        counted = Signal(len(DropReason), name=f"drop_count_{nm}")
                        m.d.comb += counted.eq(
                            Mux(ready & head & ~eating, Cat(r_adm_vec, mismatch & ~r_adm_bad), 0)
                        )
                        drop_vecs.append(counted)
                        m.d.comb += is_csr.eq(head & lp.csr[0] & ~drop_head)
                        # Look-past candidates: 1-flit packets that will not be dropped.
                        single = [lp.extra[j][0] for j in range(qdepth)]
                        clean = [~lp.extra[j][1] & ~lp.extra[j][2] for j in range(qdepth)]
                        front_ok = ready
                    else:
                        w_cut = None
                        if vct:
                            # Each flit keeps its packet's cut-through bit (the head's, as for dir).
                            w_cut, last_cut = Signal(name=f"w_cut_{nm}"), Signal(name=f"last_cut_{nm}")
                            m.d.comb += w_cut.eq(Mux(head_in, is_cut(arriving, link.flit.tail), last_cut))
                            with m.If(w_en & head_in):
                                m.d.sync += last_cut.eq(w_cut)
                        lp = _LookPastBuffer(
                            m, nm, qdepth, fb, nports, w_en, w_data, w_dir, w_bad, w_csr, w_cut
                        )
                        head, tail = lp.head[0], lp.tail[0]
                        front = Cat(lp.data[0], head, tail)
                        m.d.comb += ready.eq(lp.valid[0] if has_in[i] else Const(0))
                        m.d.comb += [misroute.eq(lp.bad[0]), drop_head.eq(head & lp.bad[0])]
                        m.d.comb += is_csr.eq(lp.csr[0])  # (a CSR head's route is local: never bad)
                        # (may pass: with cut-through, whole cut-through packets; else 1-flit ones)
                        single = [lp.extra[j][0] if vct else lp.head[j] & lp.tail[j] for j in range(qdepth)]
                        clean = [Const(1)] * qdepth
                        front_ok = Const(1)
                    # Per output, the oldest flit that goes there; it may go if it is the front flit,
                    # or a 1-flit packet behind 1-flit packets only (with cut-through: a flit of a
                    # cut-through packet behind cut-through packets only; never inside a wormhole packet).
                    # Flits of one flow share the route, so the flow keeps its order. While the front
                    # flit leaves without the switch (dropped, eaten, or a CSR write), nothing else
                    # may leave this VC.
                    blocked = Signal(name=f"blocked_{nm}")
                    m.d.comb += blocked.eq(eating | drop_head | is_csr)
                    for p in range(nports):
                        seen = Const(0)  # an older flit goes to p
                        prefix = Const(1)  # every older flit is a 1-flit packet
                        bits = []
                        for j in range(qdepth):
                            hit = lp.valid[j] & lp.dir[j][p] & (clean[j] if j else Const(1))
                            may = front_ok if j == 0 else prefix & single[j] & ~lp.csr[j]
                            bits.append(hit & ~seen & may)
                            seen = seen | hit
                            prefix = prefix & single[j]
                        pk = Signal(qdepth, name=f"pick_{nm}_{PORT_NAMES[p]}")
                        m.d.comb += pk.eq(Cat(*bits))
                        pick[i][v][p] = pk
                        # A head needs the output VC free; a body flit (its packet's head has left)
                        # holds it.
                        free = ~busy[p][v] | ~Cat(*[pk[j] & lp.head[j] for j in range(qdepth)]).any()
                        r = Signal(name=f"req_{nm}_{PORT_NAMES[p]}")
                        if vct:
                            # A cut-through head needs room for its whole packet downstream.
                            hdrs = [data.View(Header, lp.data[j][:64]) for j in range(qdepth)]
                            short = Signal(name=f"short_{nm}_{PORT_NAMES[p]}")
                            m.d.comb += short.eq(
                                Cat(
                                    *[
                                        pk[j]
                                        & lp.head[j]
                                        & ~lp.tail[j]
                                        & is_cut(hdrs[j], Const(0))
                                        & (credit[p][v] <= hdrs[j].length)
                                        for j in range(qdepth)
                                    ]
                                ).any()
                            )
                            if mut == "no_room":
                                short = Const(0)
                            m.d.comb += r.eq(pk.any() & has_credit[p][v] & free & ~blocked & ~short)
                        else:
                            m.d.comb += r.eq(pk.any() & has_credit[p][v] & free & ~blocked)
                        reqs[i][v][p] = r
                        nc = Signal(name=f"front_nc_{nm}_{PORT_NAMES[p]}")
                        m.d.comb += nc.eq(pk[0] & (~busy[p][v] | ~lp.head[0]) & ~blocked)
                        front_nc[i][v][p] = nc
                    entries[i][v] = [Cat(lp.data[j], lp.head[j], lp.tail[j]) for j in range(qdepth)]
                    shift = lp.shift
                    buf[i][v] = SimpleNamespace(w_en=w_en, w_data=w_data, w_rdy=lp.w_rdy, w_pos=lp.w_pos)
                    buf[i][v].level, buf[i][v].valid = lp.count, lp.valid
                    buf[i][v].dirs = [*lp.dir, last_dir]
                    if i == local:
                        buf[i][v].owed, buf[i][v].staged = owed, Const(0)

                buf[i][v].shift = shift
                if not hasattr(buf[i][v], "fronts"):
                    buf[i][v].fronts = [ffq[i][v]] if ffq[i][v] is not None else []
                buf[i][v].lp = None if shift is None else lp
                if shift is None:
                    # (formal invariants) the buffer's level, and every stored route: the FIFO's
                    # flags when they are registers (a SyncFIFO keeps them in memory, out of reach)
                    buf[i][v].level = q.level
                    buf[i][v].dirs = None
                    if ffq[i][v] is not None:
                        buf[i][v].dirs = [f[2 : 2 + nports] for f in (*q.flags, q.front)] + last_routes
                # Occupancy as a thermometer code (bit j: more than j flits), for the allocator's
                # longest-queue-first priority (look-past routers).
                if shift is not None:
                    occ[i][v] = list(lp.valid)  # (entries are kept compact: valid is a thermometer)
                    # Per output, the flits of this VC that go there (a virtual output queue's
                    # length), thermometer-coded: the allocator's weight for the request (v, p).
                    for p in range(nports):
                        n_p = Signal(range(qdepth + 1), name=f"voq_{nm}_{PORT_NAMES[p]}")
                        th = Signal(qdepth, name=f"voq_th_{nm}_{PORT_NAMES[p]}")
                        m.d.comb += n_p.eq(sum(lp.valid[j] & lp.dir[j][p] for j in range(qdepth)))
                        m.d.comb += th.eq(Cat(*[n_p > j for j in range(qdepth)]))
                        weight[i][v][p] = list(th)
                elif noc.buffers == "lookpast":
                    occ[i][v] = [q.level > j for j in range(qdepth)]
                    # (the local input's FIFO: only its front flit may go, and every flit waits
                    # behind it, so its weight is the whole queue's)
                    weight[i][v] = [occ[i][v]] * nports
                if not has_in[i]:
                    reqs[i][v] = [Const(0)] * nports
                    front_nc[i][v] = [Const(0)] * nports
                rdy[i][v] = ready
                misroute_hits.append(ready & head & ~eating & misroute & drop_head)
                csr_hdr[i][v] = front
                head_tail[i][v] = Cat(head, tail)
                if noc.router_stages == 2:
                    # The grant is registered (``csr_take``) and the flit leaves the next cycle, so
                    # no CSR decision sits on the buffer's pop path; it asks only once.
                    take = Signal(name=f"csr_take_{nm}")
                    m.d.sync += take.eq(csr_grant[i][v])
                    csr_req[i][v] = ready & ~eating & is_csr & ~take
                    if ffq[i][v] is not None:
                        # The register write reads the head from the traversal port, which shows
                        # the front except in the cycle after a pop: it waits that cycle out.
                        csr_hdr[i][v] = ffq[i][v].t_data
                        csr_req[i][v] = csr_req[i][v] & ~ffq[i][v].popped
                    m.d.comb += cons.eq(ready & (eating | drop_head | take))
                else:
                    csr_req[i][v] = ready & ~eating & is_csr
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
        # With two router stages the write is registered and takes effect a cycle later (the
        # address decode and table write enables then start from registers).
        csr_domain = m.d.comb
        if noc.router_stages == 2:
            csr_domain = m.d.sync
            m.d.sync += csr_we.eq(0)
        for i, v in flat:
            with m.If(csr_grant[i][v]):
                hdr = data.View(Header, csr_hdr[i][v][:64])
                csr_domain += [csr_we.eq(1), csr_addr.eq(hdr.addr), csr_value.eq(csr_hdr[i][v][64:96])]

        # ----- cut-through locks ------------------------------------------------------------------
        # lock[p][i][v]: output p is sending a cut-through packet from input i's VC v (head sent,
        # tail not yet). While that VC asks for p, its request is the only one at input i and at
        # output p.
        lock = [[[None] * vcs for _ in range(nports)] for _ in range(nports)]
        if vct:
            lock = [
                [
                    [Signal(name=f"lock_{PORT_NAMES[p]}_{PORT_NAMES[i]}{v}") for v in range(vcs)]
                    for i in range(nports)
                ]
                for p in range(nports)
            ]
            held = [
                [[lock[p][i][v] & reqs[i][v][p] for p in range(nports)] for v in range(vcs)]
                for i in range(nports)
            ]
            out_held = [
                Cat(*[held[i][v][p] for i in range(nports) for v in range(vcs)]).any() for p in range(nports)
            ]
            in_held = [
                Cat(*[held[i][v][p] for p in range(nports) for v in range(vcs)]).any() for i in range(nports)
            ]
            locked_reqs = [[[None] * nports for _ in range(vcs)] for _ in range(nports)]
            for i in range(nports):
                for v in range(vcs):
                    for p in range(nports):
                        r = Signal(name=f"lreq_{PORT_NAMES[i]}{v}_{PORT_NAMES[p]}")
                        m.d.comb += r.eq(held[i][v][p] | (reqs[i][v][p] & ~out_held[p] & ~in_held[i]))
                        locked_reqs[i][v][p] = r
            reqs = locked_reqs
        # ----- separable switch allocation, one-hot throughout ---------------------------------
        # Input first: per input a round-robin arbiter over its (VC, output) requests; then per
        # output a round-robin arbiter over the inputs that chose it. Priorities advance only on a
        # used grant (iSLIP-like), which desynchronises the inputs under load. Look-past buffers
        # add iterations (iSLIP's, ALLOC_ITERATIONS in all): an input whose choice lost picks again
        # among its requests for the outputs still free, round robin from the same pointers, and
        # those outputs arbitrate again; later iterations' grants do not move the pointers.
        in_gnt = []  # in_gnt[i][v][p]: first iteration
        vc_gnt = []  # (FIFO buffers) vc_gnt[i][v]: the input arbiter chose VC v
        in_masks = []
        granted = [Signal(name=f"granted_{PORT_NAMES[i]}") for i in range(nports)]
        lookpast = noc.buffers == "lookpast"
        # FIFO buffers with two router stages: no input arbiter. Each VC has its own crossbar input
        # (its LUT RAM's traversal read port), so an input may send from both VCs in one cycle, to
        # different outputs; each output's round robin is over the (input, VC) pairs. One arbiter
        # level between the front registers and the grant, not two (the FPGA router's cycle).
        vc_switch = noc.buffers == "fifo" and noc.router_stages == 2
        if lookpast:
            # Priorities (look-past routers): (1) *urgent* front flits -- waited ``urgent_cycles``
            # at the front of their VC -- oldest first; (2) longest queue first: among an input's
            # requests those of its fullest VCs, and among the inputs asking for an output those
            # whose chosen VC is fullest; (3) round robin among equals. An output VC that an urgent
            # flit waits for is *reserved*: only urgent flits may spend its credits, in either
            # iteration, so a credit that comes back cannot be taken by a younger flit while the
            # urgent one waits for it. Together: a flit that is not served within urgent_cycles
            # is served after the finitely many urgent flits older than it (docs/noc.md, "Bounded
            # wait"). LQF serves the busy flows (a maximum-weight matching's heuristic).
            limit = self.urgent_cycles(cfg)
            age_max = self.age_limit(cfg)
            age = [
                [Signal(range(age_max + 1), name=f"front_age_{PORT_NAMES[i]}{v}") for v in range(vcs)]
                for i in range(nports)
            ]
            urgent = [[Signal(name=f"urgent_{PORT_NAMES[i]}{v}") for v in range(vcs)] for i in range(nports)]
            for i in range(nports):
                for v in range(vcs):
                    m.d.comb += urgent[i][v].eq(Const(0) if mut == "no_urgency" else age[i][v] >= limit)
            reserved = [
                [Signal(name=f"reserved_{PORT_NAMES[p]}{v}") for v in range(vcs)] for p in range(nports)
            ]
            for p in range(nports):
                for v in range(vcs):
                    m.d.comb += reserved[p][v].eq(
                        Cat(*[urgent[i][v] & front_nc[i][v][p] for i in range(nports)]).any()
                    )
            # ureq: an urgent front flit's request (it has the credit); nreq: every other request,
            # for an output VC nobody has reserved.
            ureq = [
                [[reqs[i][v][p] & pick[i][v][p][0] & urgent[i][v] for p in range(nports)] for v in range(vcs)]
                for i in range(nports)
            ]
            nreq = [
                [[reqs[i][v][p] & ~reserved[p][v] for p in range(nports)] for v in range(vcs)]
                for i in range(nports)
            ]
            in_urgent = [Signal(name=f"in_urgent_{PORT_NAMES[i]}") for i in range(nports)]

            def older(a, b):
                return a > b

            def fuller(a, b):
                """Thermometer ``a`` holds a count above thermometer ``b``'s."""
                return Cat(*[x & ~y for x, y in zip_longest(a, b, fillvalue=Const(0))]).any()

            def in_priority(i, name):
                """Input ``i``'s requests filtered by priority: the oldest urgent VC's front flit
                (ties: the lowest VC), else the requests of greatest weight (the longest virtual
                output queues: the flits of their VC that go to their output)."""
                uhas = [Cat(*ureq[i][v]).any() for v in range(vcs)]
                m.d.comb += in_urgent[i].eq(Cat(*uhas).any())
                # the greatest weight among the requests (the OR of thermometers is their maximum)
                heaviest = Signal(len(weight[i][0][0]), name=f"{name}_heaviest")
                m.d.comb += heaviest.eq(
                    _or_all(
                        [
                            nreq[i][v][p].replicate(len(heaviest)) & Cat(*weight[i][v][p])
                            for v in range(vcs)
                            for p in range(nports)
                        ]
                    )
                )
                out = []
                for v in range(vcs):
                    utop = uhas[v]
                    for w in range(vcs):
                        if w != v:
                            beats = older(age[i][w], age[i][v]) | (age[i][w] == age[i][v] if w < v else 0)
                            utop = utop & ~(uhas[w] & beats)
                    ut = Signal(name=f"{name}_utop{v}")
                    m.d.comb += ut.eq(utop)
                    row = []
                    for p in range(nports):
                        # no request of this input weighs more (its weight is the maximum)
                        t = Signal(name=f"{name}_top{v}_{PORT_NAMES[p]}")
                        m.d.comb += t.eq(nreq[i][v][p] & ~fuller(heaviest, weight[i][v][p]))
                        row.append(Mux(in_urgent[i], ureq[i][v][p] & ut, t))
                    out.append(row)
                return out

            def out_priority(wants, st, name):
                """Inputs ``wants`` for one output, filtered: the urgent ones whose flit is oldest,
                else those whose chosen request weighs most (its virtual output queue is longest)."""
                urg_of = [u for u, _, _ in st]
                any_urg = Signal(name=f"{name}_urgent")
                m.d.comb += any_urg.eq(Cat(*[w & u for w, u in zip(wants, urg_of)]).any())
                width = max(len(x[1]) for x in st)
                heaviest = Signal(width, name=f"{name}_heaviest")  # the greatest chosen weight
                m.d.comb += heaviest.eq(
                    _or_all([wants[k].replicate(width) & Cat(*st[k][1]) for k in range(nports)])
                )
                out = []
                for k in range(nports):
                    top = wants[k] & ~fuller(heaviest, st[k][1])
                    utop = wants[k] & urg_of[k]
                    for j in range(nports):
                        if j != k:
                            utop = utop & ~(wants[j] & urg_of[j] & older(st[j][2], st[k][2]))
                    t = Signal(name=f"{name}_top{k}")
                    m.d.comb += t.eq(Mux(any_urg, utop, top))
                    out.append(t)
                return out

            def chosen_state(gnt, i):
                """Urgency, weight (thermometer) of the request input ``i`` chose, and the front age
                of its VC."""
                vsel = [Cat(*gnt[v]).any() for v in range(vcs)]
                depth_i = len(occ[i][0])
                th = Signal(depth_i, name=f"chosen_weight_{PORT_NAMES[i]}")
                m.d.comb += th.eq(
                    Cat(
                        *[
                            _or_all(
                                [gnt[v][p] & weight[i][v][p][j] for v in range(vcs) for p in range(nports)]
                            )
                            for j in range(depth_i)
                        ]
                    )
                )
                th = list(th)
                a = Signal(range(age_max + 1), name=f"chosen_age_{PORT_NAMES[i]}")
                m.d.comb += a.eq(_or_all([age[i][v] & vsel[v].replicate(len(a)) for v in range(vcs)]))
                return in_urgent[i], th, a

        for i in range(nports):
            if vc_switch:
                break
            if noc.buffers == "fifo":
                # Each VC offers only its front flit, for one output: the input arbiter is over
                # the VCs (``vcs`` wide, not ``vcs x 5``).
                vc_req = [Cat(*reqs[i][v]).any() for v in range(vcs)]
                g, _ = _round_robin(m, vc_req, granted[i], f"in_arb_{PORT_NAMES[i]}")
                in_gnt.append([[g[v] & reqs[i][v][p] for p in range(nports)] for v in range(vcs)])
                vc_gnt.append(g)
                continue
            live = in_priority(i, f"in_prio_{PORT_NAMES[i]}")
            flat_req = [live[v][p] for v in range(vcs) for p in range(nports)]
            # (urgent choices are by age: the round robin moves on the others' grants)
            g, mask = _round_robin(m, flat_req, granted[i] & ~in_urgent[i], f"in_arb_{PORT_NAMES[i]}")
            in_gnt.append([[g[v * nports + p] for p in range(nports)] for v in range(vcs)])
            in_masks.append(mask)
        out_gnt = []  # out_gnt[p][i]
        out_masks = []
        if lookpast:
            st1 = [chosen_state(in_gnt[i], i) for i in range(nports)]
        if vc_switch:
            in_gnt = [[[None] * nports for _ in range(vcs)] for _ in range(nports)]
        for p in range(nports):
            if vc_switch:
                # (over the wired inputs only: a trimmed router's arbiters are narrower)
                pairs = [(i, v) for i in range(nports) for v in range(vcs) if has_in[i] and has_out[p]]
                g = []
                if pairs:
                    adv = Const(0) if mut == "fixed_priority" else Const(1)
                    g, _ = _round_robin(m, [reqs[i][v][p] for i, v in pairs], adv, f"out_arb_{PORT_NAMES[p]}")
                for i in range(nports):
                    for v in range(vcs):
                        in_gnt[i][v][p] = Const(0)
                for k, (i, v) in enumerate(pairs):
                    in_gnt[i][v][p] = g[k]
                out_gnt.append([Cat(*[in_gnt[i][v][p] for v in range(vcs)]).any() for i in range(nports)])
                continue
            wants = []
            for i in range(nports):
                w = Signal(name=f"want_{PORT_NAMES[i]}_{PORT_NAMES[p]}")
                m.d.comb += w.eq(Cat(*[in_gnt[i][v][p] for v in range(vcs)]).any())
                wants.append(w)
            if lookpast:
                wants = out_priority(wants, st1, f"out_prio_{PORT_NAMES[p]}")
            adv = Const(0) if mut == "fixed_priority" else Const(1)
            g, mask = _round_robin(m, wants, adv, f"out_arb_{PORT_NAMES[p]}")
            out_gnt.append(g)
            out_masks.append(mask)
        for i in range(nports):
            m.d.comb += granted[i].eq(Cat(*[out_gnt[p][i] for p in range(nports)]).any())
        # chosen[i][v][p]: the request input i's flit is selected by (its final choice); og[p][i]:
        # output p takes input i (either iteration).
        chosen, final_og = in_gnt, out_gnt
        if noc.buffers == "lookpast":
            # Iterations 2..ALLOC_ITERATIONS (iSLIP's): an input not yet matched picks again among
            # its requests for the outputs still free, round robin from the same pointers, and
            # those outputs arbitrate again; these grants do not move the pointers. (Urgent flits
            # are served by the first iteration only, oldest first; later iterations never spend
            # a reserved output VC's credit.)
            taken = [Cat(*out_gnt[p]).any() for p in range(nports)]
            got = list(granted)
            final_og = [list(row) for row in out_gnt]
            for k in range(2, self.ALLOC_ITERATIONS + 1):
                in_k = []
                for i in range(nports):
                    flat = [nreq[i][v][p] & ~taken[p] & ~got[i] for v in range(vcs) for p in range(nports)]
                    _, g = _rr_pick(m, flat, in_masks[i], f"in_arb{k}_{PORT_NAMES[i]}")
                    in_k.append([[g[v * nports + p] for p in range(nports)] for v in range(vcs)])
                og_k = []
                for p in range(nports):
                    wants_k = [Cat(*[in_k[i][v][p] for v in range(vcs)]).any() for i in range(nports)]
                    og_k.append(_rr_pick(m, wants_k, out_masks[p], f"out_arb{k}_{PORT_NAMES[p]}")[1])
                nxt = [[[None] * nports for _ in range(vcs)] for _ in range(nports)]
                for i in range(nports):
                    for v in range(vcs):
                        for p in range(nports):
                            c = Signal(name=f"chosen{k}_{PORT_NAMES[i]}{v}_{PORT_NAMES[p]}")
                            m.d.comb += c.eq(Mux(got[i], chosen[i][v][p], in_k[i][v][p]))
                            nxt[i][v][p] = c
                chosen = nxt
                for p in range(nports):
                    final_og[p] = [final_og[p][i] | og_k[p][i] for i in range(nports)]
                if k < self.ALLOC_ITERATIONS:
                    nxt_t = [Signal(name=f"taken{k}_{PORT_NAMES[p]}") for p in range(nports)]
                    nxt_g = [Signal(name=f"got{k}_{PORT_NAMES[i]}") for i in range(nports)]
                    m.d.comb += [nxt_t[p].eq(taken[p] | og_k[p].any()) for p in range(nports)]
                    m.d.comb += [
                        nxt_g[i].eq(got[i] | Cat(*[og_k[p][i] for p in range(nports)]).any())
                        for i in range(nports)
                    ]
                    taken, got = nxt_t, nxt_g
        for i in range(nports):
            for v in range(vcs):
                for p in range(nports):
                    m.d.comb += win[i][v][p].eq(chosen[i][v][p] & final_og[p][i])
                if vc_gnt:  # (one VC per input may win: the chosen one, if any output took it)
                    m.d.comb += rm[i][v].eq((vc_gnt[i][v] & granted[i]) | consume[i][v])
                else:
                    m.d.comb += rm[i][v].eq(Cat(*win[i][v]).any() | consume[i][v])
                sh = buf[i][v].shift
                if sh is not None:
                    # Entry j moves up when the flit removed is at j or before it.
                    qdepth = len(sh)
                    for j in range(qdepth):
                        terms = [consume[i][v]]
                        for p in range(nports):
                            terms.append(win[i][v][p] & pick[i][v][p][: j + 1].any())
                        m.d.comb += sh[j].eq(Cat(*terms).any())

        if lookpast:
            # Age: cycles the front flit of each input VC has waited (saturating at age_max).
            for i in range(nports):
                for v in range(vcs):
                    sh = buf[i][v].shift
                    front_leaves = sh[0] if sh is not None else rm[i][v]
                    with m.If(~rdy[i][v] | front_leaves):
                        m.d.sync += age[i][v].eq(0)
                    with m.Elif(age[i][v] != age_max):
                        m.d.sync += age[i][v].eq(age[i][v] + 1)

        # Each input's chosen flit (AND-OR over its VCs and entries), then the crossbar. (Not with
        # FIFO buffers and two stages: the traversal cycle reads the flit itself, below.)
        two_stage = noc.router_stages == 2
        sel_flit = []
        for i in range(nports):
            if two_stage and noc.buffers == "fifo":
                sel_flit.append(None)
                continue
            terms = []
            for v in range(vcs):
                for j, ent in enumerate(entries[i][v]):
                    s = Signal(name=f"sel_{PORT_NAMES[i]}{v}_{j}")
                    m.d.comb += s.eq(Cat(*[chosen[i][v][p] & pick[i][v][p][j] for p in range(nports)]).any())
                    terms.append(ent & s.replicate(fb + 2))
            sf = Signal(fb + 2, name=f"sel_flit_{PORT_NAMES[i]}")
            m.d.comb += sf.eq(_or_all(terms))
            sel_flit.append(sf)
        # ----- switch traversal into the output registers; credits -------------------------------
        # router_stages = 1: the crossbar follows the allocator in the same cycle. 2: the grants
        # and each input's granted flit are registered (``st_*``) and the crossbar runs from them
        # in the next cycle; credits and ``busy`` are updated at grant time either way, so the next
        # allocation sees them.
        if two_stage:
            st_flit = []
            for i in range(nports):
                if vc_switch:
                    break  # (per output, from each VC's traversal read: below)
                r = Signal(fb + 2, name=f"st_flit_{PORT_NAMES[i]}")
                if all(q is not None for q in ffq[i]):
                    # FIFO buffers: the chosen VC is registered and its flit read from the LUT RAM
                    # in the traversal cycle (``_FrontFifo.t_data``), so the grant drives a few
                    # select bits, not the flit's width (the routed noc-tester's critical path
                    # was that fan-out: 10.9 ns of wire).
                    st_vc = Signal(vcs, name=f"st_vc_{PORT_NAMES[i]}")
                    m.d.sync += st_vc.eq(Cat(*[Cat(*chosen[i][v]).any() for v in range(vcs)]))
                    m.d.comb += r.eq(
                        _or_all([ffq[i][v].t_data & st_vc[v].replicate(fb + 2) for v in range(vcs)])
                    )
                else:
                    m.d.sync += r.eq(sel_flit[i])
                st_flit.append(r)
        pending = [[Const(0)] * vcs for _ in range(nports)]  # granted, not yet on the link (probe)
        st_grants, st_sends = [None] * nports, [None] * nports  # (probes)
        for p in range(nports):
            link = outs[p]
            og = final_og[p]
            send = [Signal(name=f"send_{PORT_NAMES[p]}{v}") for v in range(vcs)]
            for v in range(vcs):
                m.d.comb += send[v].eq(Cat(*[win[i][v][p] for i in range(nports)]).any())
            if two_stage:
                # Only the framing bits cross at grant time (for ``busy``); the data the next cycle.
                # (a look-past buffer may send a later entry: its bits come with the flit)
                if vc_switch:
                    won = [(i, v) for i in range(nports) for v in range(vcs)]
                    flit_head = _or_all([head_tail[i][v][0] & chosen[i][v][p] for i, v in won])
                    flit_tail = _or_all([head_tail[i][v][1] & chosen[i][v][p] for i, v in won])
                else:
                    ht = [sf[fb : fb + 2] for sf in sel_flit]  # (look-past buffers)
                    flit_head = _or_all([ht[i][0] & og[i] for i in range(nports)])
                    flit_tail = _or_all([ht[i][1] & og[i] for i in range(nports)])
                st_og = Signal(nports, name=f"st_grant_{PORT_NAMES[p]}")
                st_send = Signal(vcs, name=f"st_send_{PORT_NAMES[p]}")
                m.d.sync += [st_og.eq(Cat(*og)), st_send.eq(Cat(*send))]
                pending[p] = [st_send[v] for v in range(vcs)]
                st_grants[p], st_sends[p] = st_og, st_send
                flit = Signal(fb + 2, name=f"xbar_{PORT_NAMES[p]}")
                if vc_switch:
                    # The winning (input, VC), registered one-hot; its flit read from that VC's LUT
                    # RAM now (``_FrontFifo.t_data``).
                    st_sel = Signal(nports * vcs, name=f"st_sel_{PORT_NAMES[p]}")
                    m.d.sync += st_sel.eq(Cat(*[chosen[i][v][p] for i, v in won]))
                    terms = [ffq[i][v].t_data & st_sel[k].replicate(fb + 2) for k, (i, v) in enumerate(won)]
                    m.d.comb += flit.eq(_or_all(terms))
                else:
                    m.d.comb += flit.eq(
                        _or_all([st_flit[i] & st_og[i].replicate(fb + 2) for i in range(nports)])
                    )
                out_valid, out_send = st_og.any(), [st_send[v] for v in range(vcs)]
            else:
                flit = Signal(fb + 2, name=f"xbar_{PORT_NAMES[p]}")
                m.d.comb += flit.eq(_or_all([sel_flit[i] & og[i].replicate(fb + 2) for i in range(nports)]))
                flit_head, flit_tail = flit[fb], flit[fb + 1]
                out_valid, out_send = Cat(*og).any(), send
            vc_bits = [
                Cat(*[out_send[v] for v in range(vcs) if (v >> b) & 1]).any()
                for b in range(len(link.flit.vc))
            ]
            m.d.sync += [
                link.valid.eq(out_valid),
                link.flit.data.eq(flit[:fb]),
                link.flit.head.eq(flit[fb]),
                link.flit.tail.eq(flit[fb + 1]),
                link.flit.vc.eq(Cat(*vc_bits)),
            ]
            for v in range(vcs):
                back = link.credit[v]
                with m.If(send[v] & ~back):
                    m.d.sync += credit[p][v].eq(credit[p][v] - 1)
                    if credit_reg[p][v] is not None:
                        m.d.sync += credit_reg[p][v].eq(credit[p][v] != 1)
                with m.Elif(~send[v] & back):
                    m.d.sync += credit[p][v].eq(credit[p][v] + 1)
                    if credit_reg[p][v] is not None:
                        m.d.sync += credit_reg[p][v].eq(1)
                if vct:
                    cut_head = flit_head & ~flit_tail & is_cut(data.View(Header, flit[:64]), Const(0))
                    for i in range(nports):
                        with m.If(win[i][v][p] & cut_head & (mut != "no_lock")):
                            m.d.sync += lock[p][i][v].eq(1)
                        with m.Elif(win[i][v][p] & flit_tail):
                            m.d.sync += lock[p][i][v].eq(0)
                with m.If(send[v] & flit_head & ~flit_tail):
                    m.d.sync += busy[p][v].eq(1)
                with m.Elif(send[v] & flit_tail):
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

        # Probes for the formal harness: where each removal comes from and goes (encoded here only;
        # the router itself never uses the indexes).
        for i in range(nports):
            for v in range(vcs):
                port_of = Signal(3, name=f"rm_port_{PORT_NAMES[i]}{v}")
                for p in range(nports):
                    with m.If(win[i][v][p]):
                        m.d.comb += port_of.eq(p)
                b = buf[i][v]
                n_ent = len(entries[i][v])
                idx = Signal(range(max(n_ent, 2)), name=f"rm_idx_{PORT_NAMES[i]}{v}")
                if n_ent > 1:
                    for j in range(n_ent):
                        taken_j = Cat(*[win[i][v][p] & pick[i][v][p][j] for p in range(nports)]).any()
                        with m.If(taken_j & ~consume[i][v]):
                            m.d.comb += idx.eq(j)
                b.rm, b.rm_idx, b.consume = rm[i][v], idx, consume[i][v]
                b.rm_flit = Array(entries[i][v])[idx] if n_ent > 1 else entries[i][v][0]
                b.rm_port = port_of
        self.probe = SimpleNamespace(
            buf=buf,
            rdy=rdy,
            consume=consume,
            credit=credit,
            busy=busy,
            pending=pending,
            stages=noc.router_stages,
            credit_nz=credit_reg,
            st_grant=st_grants,
            st_send=st_sends,
        )
        return m

    def _input_fifo(self, m, nm, qdepth, w_flit, w_en, flags, r_en, extra=None):
        """A FIFO input VC buffer (the local input; link inputs with ``buffers = "fifo"``) holding
        the flit ``w_flit`` (``Cat(data, head, tail)``) and ``flags`` (computed at write time). With
        two router stages a :class:`_FrontFifo` (the front flit's head, tail and flags in
        registers), else a ``SyncFIFO``. Returns ``(q, front, head, tail, stored)``: the FIFO, the
        front flit as ``Cat(data, head, tail)``, its head and tail bits and its stored flags.
        ``extra`` (two stages only): bits stored with the flit in LUT RAM, read as ``q.r_extra``
        (the front's), not kept in registers."""
        fb = self.cfg.noc.flit_bits
        w_data = w_flit
        if self.cfg.noc.router_stages == 2:
            n_extra = 0 if extra is None else len(extra)
            q = _FrontFifo(m, nm, qdepth, fb + 2, len(flags) + 2, extra=n_extra)
            if n_extra:
                w_data = Cat(w_flit, extra)
            m.d.comb += [
                q.w_flags.eq(Cat(w_flit[fb], w_flit[fb + 1], flags)),
                q.w_en.eq(w_en),
                q.w_data.eq(w_data),
                q.r_en.eq(r_en),
            ]
            return q, q.r_data, q.front[0], q.front[1], q.front[2:]
        q = SyncFIFO(width=fb + 2 + len(flags), depth=qdepth)
        m.submodules[f"buf_{nm}"] = q
        m.d.comb += [q.w_en.eq(w_en), q.w_data.eq(Cat(w_data, flags)), q.r_en.eq(r_en)]
        return q, q.r_data[: fb + 2], q.r_data[fb], q.r_data[fb + 1], q.r_data[fb + 2 :]

    def _framing(self, m, link, w_en, level, q_en, nm, pop, qdepth, inline=False):
        """Framing check of the local input VC ``nm``, on the arrival side (``link``, ``w_en``; the
        buffer ``q`` is written by ``q_en``, the same cycle or, with an injection register, the
        next -- a verdict may come before its flits, never after): a packet is ``length + 1``
        flits, the last one (only) marked tail. One verdict per packet (1 = LENGTH_MISMATCH) goes
        into a small FIFO when it is known -- at the tail, or at flit ``length + 1`` if that is not
        the tail (or at the head if the length is too long to check: TOO_LONG drops it anyway); the
        head waits for it, so a packet is forwarded only once it is known to be whole, and dropped
        whole otherwise. ``pop`` removes the front verdict (its packet's tail leaves the buffer).
        ``inline`` (a look-past local input): a 1-flit packet (head and tail, between packets) gets
        no verdict in the FIFO; its verdict, ``length != 0``, is known as it is written and stays
        with the flit, so it may leave out of turn. Returns the verdict FIFO, the credit bit to
        return to the source, the owed-credit counter and ``single`` (the flit being written is
        such a packet)."""
        noc = self.cfg.noc
        depth = noc.vc_depth
        if noc.router_stages == 2:  # the verdict at the front in a register
            verdict = _FrontFifo(m, f"verdict_{nm}", qdepth, 1, 1)
            m.d.comb += verdict.w_flags.eq(verdict.w_data)
        else:
            verdict = SyncFIFO(width=1, depth=qdepth)
            m.submodules[f"verdict_{nm}"] = verdict
        in_pkt = Signal(name=f"in_pkt_{nm}")  # between a packet's first flit and its tail
        decided = Signal(name=f"decided_{nm}")  # its verdict is already out
        remaining = Signal(range(1 << LENGTH_BITS), name=f"remaining_{nm}")  # body flits still due
        hdr = data.View(Header, link.flit.data[:64])
        tail = link.flit.tail
        push, bad = Signal(name=f"verdict_push_{nm}"), Signal(name=f"verdict_bad_{nm}")
        single = Signal(name=f"single_{nm}")
        m.d.comb += single.eq(Const(int(inline)) & ~in_pkt & link.flit.head & tail)
        with m.If(w_en):
            m.d.sync += in_pkt.eq(~tail)
            with m.If(~in_pkt):  # the head
                with m.If(single):
                    pass  # (its verdict is kept with the flit)
                with m.Elif(hdr.length + 1 > noc.max_packet_flits):
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
            verdict.r_en.eq(pop),
        ]
        # Credits: the source holds up to vc_depth; the buffer has qdepth >= max_packet_flits slots.
        # ``owed`` counts flits received (arrivals, ``w_en``) and not yet credited; a credit goes
        # back when the buffer has room for it and everything the source may still send: level
        # (after this cycle's write ``q_en``, which is the flit in the injection register if there
        # is one: a flit arriving now is written next cycle, and owed already counts it) + (depth -
        # owed) + 1 <= qdepth. With qdepth >= max_packet_flits a whole packet always fits, so the
        # source can always finish the packet whose head waits for its verdict.
        owed = Signal(range(depth + 1), name=f"owed_{nm}")
        give = Signal(name=f"credit_back_{nm}")
        m.d.comb += give.eq((owed != 0) & (level + q_en + depth - owed + 1 <= qdepth))
        # (Written as branches, not arithmetic on w_en: an undriven link in a 4-state simulator
        # must leave the counter alone, not turn it into X.)
        with m.If(w_en & ~give):
            m.d.sync += owed.eq(owed + 1)
        with m.Elif(~w_en & give):
            m.d.sync += owed.eq(owed - 1)
        return verdict, give, owed, single

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
MUTATIONS = ("no_credit_check", "fixed_priority", "no_edge_check", "no_urgency", "no_lock", "no_room")


def _registered(m, value, name):
    reg = Signal.like(value, name=name)
    m.d.sync += reg.eq(value)
    return reg


def _or_all(values):
    """OR of a list of values (0 for an empty list)."""
    out = Const(0)
    for x in values:
        out = out | x
    return out


def _rr_pick(m, requests, mask, name):
    """A one-hot round-robin choice among ``requests`` (1-bit values), given the arbiter's ``mask``
    (1: a requester after the last grant): the lowest masked request wins, else the lowest
    request. Returns the ``req`` and ``grant`` signals."""
    n = len(requests)
    req = Signal(n, name=f"{name}_req")
    grant = Signal(n, name=f"{name}_grant")
    m.d.comb += req.eq(Cat(*requests))
    hi = Signal(n, name=f"{name}_hi")
    m.d.comb += hi.eq(req & mask)
    bits = []
    for k in range(n):
        first_hi = hi[k] & ~hi[:k].any() if k else hi[k]
        first_lo = req[k] & ~req[:k].any() if k else req[k]
        bits.append(first_hi | (first_lo & ~hi.any()))
    m.d.comb += grant.eq(Cat(*bits))
    return req, grant


def _round_robin(m, requests, advance, name):
    """One-hot round-robin arbiter over ``requests`` (a list of 1-bit values); returns the grant
    bits and the priority ``mask``. The requester after the last one granted has the highest
    priority; the priority moves only when ``advance`` (the grant was used). ``mask`` holds the
    requesters above the last grant: the lowest masked request wins, else the lowest request. No
    index is encoded or decoded."""
    n = len(requests)
    mask = Signal(n, name=f"{name}_mask")  # 1: after the last grant (init: none, so 0 is first)
    req, grant = _rr_pick(m, requests, mask, name)
    with m.If(advance & req.any()):
        m.d.sync += mask.eq(Cat(*[grant[:k].any() if k else Const(0) for k in range(n)]))
    return [grant[k] for k in range(n)], mask


class _LookPastBuffer:
    """A link input VC's buffer: ``depth`` registers kept in arrival order (oldest at 0), from which
    any one flit can be removed per cycle; the ones behind it move up. The caller drives ``shift``
    (bit ``j``: entry ``j`` takes entry ``j + 1``'s place, i.e. the flit removed is at ``j`` or
    before; the last bit is set by any removal). Each entry keeps the flags computed when it was
    written (``dir``: output port one-hot, ``bad``, ``csr``).

    The next value of each entry is prepared from registers alone (moved-up and not-moved
    candidates) and ``shift`` -- the last signal of the router cycle to settle -- only chooses
    between the two."""

    def __init__(self, m, nm, depth, fb, nports, w_en, w_data, w_dir, w_bad, w_csr, w_extra=None):
        self.shift = [Signal(name=f"lp_shift_{nm}_{j}") for j in range(depth)]
        self.data = [Signal(fb, name=f"lp_data_{nm}_{j}") for j in range(depth)]
        self.head = [Signal(name=f"lp_head_{nm}_{j}") for j in range(depth)]
        self.tail = [Signal(name=f"lp_tail_{nm}_{j}") for j in range(depth)]
        self.dir = [Signal(nports, name=f"lp_dir_{nm}_{j}") for j in range(depth)]
        self.bad = [Signal(name=f"lp_bad_{nm}_{j}") for j in range(depth)]
        self.csr = [Signal(name=f"lp_csr_{nm}_{j}") for j in range(depth)]
        self.valid = [Signal(name=f"lp_valid_{nm}_{j}") for j in range(depth)]
        rm = self.shift[depth - 1]
        count = Signal(range(depth + 1), name=f"lp_count_{nm}")  # (probe only)
        self.count = count
        m.d.comb += count.eq(sum(self.valid))
        self.w_rdy = Signal(name=f"lp_w_rdy_{nm}")
        self.w_pos = Signal(range(depth + 1), name=f"lp_w_pos_{nm}")
        m.d.comb += [self.w_rdy.eq(~self.valid[depth - 1] | rm), self.w_pos.eq(count - rm)]
        fields = (self.data, self.head, self.tail, self.dir, self.bad, self.csr)
        incoming = (w_data[:fb], w_data[fb], w_data[fb + 1], w_dir, w_bad, w_csr)
        # ``extra``: more bits kept with each flit (the local input's verdicts)
        self.extra = None
        if w_extra is not None:
            self.extra = [Signal(len(w_extra), name=f"lp_extra_{nm}_{j}") for j in range(depth)]
            fields, incoming = (*fields, self.extra), (*incoming, w_extra)
        for j in range(depth):
            # Not moved: the incoming flit lands in the first free entry.
            lands = w_en & ~self.valid[j] & (self.valid[j - 1] if j else Const(1))
            # Moved up: entry j + 1, or the incoming flit if j was the last occupied one (an empty
            # entry stays empty).
            with m.If(self.shift[j]):
                if j + 1 < depth:
                    with m.If(self.valid[j + 1]):
                        m.d.sync += [f[j].eq(f[j + 1]) for f in fields]
                        m.d.sync += self.valid[j].eq(1)
                    with m.Else():
                        m.d.sync += [f[j].eq(x) for f, x in zip(fields, incoming, strict=True)]
                        m.d.sync += self.valid[j].eq(w_en & self.valid[j])
                else:
                    m.d.sync += [f[j].eq(x) for f, x in zip(fields, incoming, strict=True)]
                    m.d.sync += self.valid[j].eq(w_en & self.valid[j])
            with m.Elif(lands):
                m.d.sync += [f[j].eq(x) for f, x in zip(fields, incoming, strict=True)]
                m.d.sync += self.valid[j].eq(1)


def _incr(value, modulo):
    return value + 1 if modulo == 1 << len(value) else Mux(value == modulo - 1, 0, value + 1)


class _FrontFifo:
    """A FIFO for ``router_stages = 2`` buffers: flits (data, head, tail) in LUT RAM read
    asynchronously from a registered pointer, like :class:`~amaranth.lib.fifo.SyncFIFO`, and the
    front flit's flags (``flags``: head, tail, and what the allocator needs) also in registers, so
    the allocation cycle starts from flip-flops, not from a LUT-RAM read. The flags of the next
    flit are kept in a register file read at ``consume + 1`` (registered), so a pop -- the last
    signal of the cycle -- only picks the front's next value. Same interface as ``SyncFIFO``
    (``w_en``, ``w_data``, ``w_rdy``, ``r_en``, ``r_data``, ``r_rdy``, ``level``) plus ``w_flags``
    and ``front`` (the front flit's flags, valid while ``r_rdy``); the caller keeps writes within
    ``w_rdy`` (credits). ``t_data`` is a second read, from the pointer as it was a cycle ago: the
    flit popped last cycle (``popped``), else the front; the traversal cycle reads the flit there,
    so no flit register and no grant-driven flit multiplexer sit in the allocation cycle."""

    def __init__(self, m, nm, depth, width, nflags, extra=0):
        self.w_en, self.r_en = Signal(name=f"ff_w_en_{nm}"), Signal(name=f"ff_r_en_{nm}")
        self.w_data = Signal(width + extra, name=f"ff_w_data_{nm}")
        self.r_data = Signal(width, name=f"ff_r_data_{nm}")
        self.r_extra = Signal(extra, name=f"ff_r_extra_{nm}")  # (the front's ``extra`` bits)
        self.w_flags = Signal(nflags, name=f"ff_w_flags_{nm}")
        self.front = Signal(nflags, name=f"ff_front_{nm}")
        self.level = Signal(range(depth + 1), name=f"ff_level_{nm}")
        self.w_rdy, self.r_rdy = Signal(name=f"ff_w_rdy_{nm}"), Signal(name=f"ff_r_rdy_{nm}")
        mem = Memory(shape=width + extra, depth=depth, init=[])
        m.submodules[f"buf_{nm}"] = mem
        wp, rp = mem.write_port(), mem.read_port(domain="comb")
        tp = mem.read_port(domain="comb")
        self.t_data = Signal(width, name=f"ff_t_data_{nm}")
        self.popped = Signal(name=f"ff_popped_{nm}")
        produce = Signal(range(depth), name=f"ff_produce_{nm}")
        consume = Signal(range(depth), name=f"ff_consume_{nm}")
        consume1 = Signal(range(depth), init=1 % depth, name=f"ff_consume1_{nm}")  # consume + 1
        flags = Array(Signal(nflags, name=f"ff_flags_{nm}_{j}") for j in range(depth))
        self.flags = list(flags)  # (formal probe: every slot's flags)
        do_read = self.r_en  # (the router pops only a ready FIFO)
        m.d.comb += [
            self.w_rdy.eq(self.level != depth),
            wp.addr.eq(produce),
            wp.data.eq(self.w_data),
            wp.en.eq(self.w_en),
            rp.addr.eq(consume),
            self.r_data.eq(rp.data[:width]),
            self.r_extra.eq(rp.data[width:]),
        ]
        # ``t_data``: the entry at last cycle's ``consume`` -- after a pop the flit that left, for
        # the traversal cycle; otherwise the front (as ``r_data``). Its slot cannot be rewritten
        # before the traversal cycle has read it (a write in that cycle lands at its end).
        last = Signal(range(depth), name=f"ff_last_{nm}")
        m.d.sync += [last.eq(consume), self.popped.eq(do_read)]
        m.d.comb += [tp.addr.eq(last), self.t_data.eq(tp.data[:width])]
        with m.If(self.w_en):
            m.d.sync += [produce.eq(_incr(produce, depth)), flags[produce].eq(self.w_flags)]
        with m.If(do_read):
            m.d.sync += [consume.eq(_incr(consume, depth)), consume1.eq(_incr(consume1, depth))]
        # ``r_rdy`` (``level != 0``) is a register of its own: requests start from flip-flops.
        with m.If(self.w_en & ~do_read):
            m.d.sync += [self.level.eq(self.level + 1), self.r_rdy.eq(1)]
        with m.Elif(do_read & ~self.w_en):
            m.d.sync += [self.level.eq(self.level - 1), self.r_rdy.eq(self.level != 1)]
        # The front's flags: the next flit's on a pop (or the incoming one if it is the next), the
        # incoming one when the FIFO is empty.
        with m.If(do_read):
            with m.If(self.level >= 2):
                # A Mux chain, not an Array read: Icarus runs an always @* case only when an input
                # changes, and flags rewritten with their reset value never do (hw/common/select.py).
                m.d.sync += self.front.eq(select(consume1, list(flags)))
            with m.Else():
                m.d.sync += self.front.eq(self.w_flags)
        with m.Elif(self.level == 0):
            m.d.sync += self.front.eq(self.w_flags)
