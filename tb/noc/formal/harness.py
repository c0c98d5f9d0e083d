"""A formal harness around one :class:`~tatami.hw.noc.router.Router`: a free environment that keeps
the link protocol (assumptions), and the router's properties (assertions).

Environment (``Assume``)
    * Upstream of every input: a sender that keeps one credit counter per VC (``vc_depth`` each,
      what the link promises) and sends a flit only with a credit; packets are framed head first
      on each VC (a head exactly when no packet is open on that VC). Everything else is free:
      headers (destination inside or outside the mesh, any kind, class and length; the local input
      also any framing against ``length``), data, which VC, when.
    * Downstream of every output: a receiver that returns a credit only for a flit it holds.
      ``live=True`` makes it prompt instead (each credit comes back the cycle after its flit) and
      makes every packet one flit: the setting of the bounded-wait proof.
    * Coordinates, and the tracked flit's choice, are free constants; table writes (register port)
      are free every cycle: any entry, DEAD and NONE and unused codes included, at any time.

Properties (``Assert``)
    credits
        For every output and VC, the router's credit counter plus the flits the receiver holds
        equals ``vc_depth``: credits never exceed buffer space and are never lost. For every input,
        the sender's credit counter never exceeds ``vc_depth`` (the router never returns a credit it
        does not owe) and no input buffer is written when full.
    route
        No flit is ever sent on a port that does not exist at this router (N at y = 0, S at
        y = height - 1, W at x = 0, E at x = width - 1); DEAD/NONE are not ports at all.
    tag
        Flit conservation by tagging: the ``n``-th flit written into input ``i``, VC ``v`` (free
        constants) is followed through the buffer (its position moves up as older flits leave --
        in any order, the link inputs let flits for other outputs pass); when it leaves it is
        unchanged, and if it was switched (not dropped or consumed by a register write) it appears,
        unchanged and on its VC, on the output chosen for it in the next cycle (two cycles later
        with ``router_stages = 2``). It leaves once:
        after that it is no longer tracked, and nothing else matches its position.
    wait
        (``live=True``) Every input VC's oldest flit is served (switched or dropped) within
        ``bound`` cycles of reaching the front (XY routing, prompt credits, 1-flit packets).

Strengthening invariants (``invariants=True``, for k-induction): facts about the router's state
that hold in every reachable state and make ``credits`` and ``route`` inductive -- without them the
induction step may start from states reset never reaches (a stored route to a missing port, a
credit counter out of step with the flits in flight).
    credits
        Per link input VC: the sender's credits + the flits in the buffer + the credit on its way
        back = ``vc_depth``. Per local input VC: the sender's credits + the credit on its way back
        + ``owed`` = ``vc_depth``, and the buffer's level (plus a flit in the injection register,
        two stages) + ``vc_depth - owed`` fits the buffer.
        Buffer levels stay within their depth; a look-past buffer's valid bits are a thermometer;
        an input FIFO's registered ``r_rdy`` (two stages) is ``level != 0``.
        Per output (two stages): the registered credit flag is ``credit != 0``; at most one VC is
        in the traversal stage, and exactly when a grant is.
    route
        Every stored route (each buffer slot's flags, the front's, each VC's last head route)
        names no port missing at this router, and (two stages) no grant in the traversal stage
        does. Needs the flags in registers: the FIFO router's; the look-past router's local
        SyncFIFO keeps them in memory.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cat, Elaboratable, Module, ResetSignal, Signal, Value
from amaranth.lib import data

from tatami.config import COORD_BITS, HEADER_BITS, LENGTH_BITS, TatamiConfig
from tatami.hw.formats import Header
from tatami.hw.noc.ports import Port
from tatami.hw.noc.router import PORT_NAMES, Router

__all__ = ["RouterHarness"]

PROPERTIES = ("credits", "route", "tag", "wait")

#: Payload bit ranges [lo, hi) the environment drives freely; the rest are zero. Enough for every
#: decision the router makes: destination (2 low bits, so inside and outside a 2x2 mesh, and the
#: top bit), class, kind, length (0..7 and the top bit), the address bits that select a router
#: register, and 3 bits of a register write's value. Source, tag and other bits are never read.
FREE_BITS = (
    (Header["dst_x"].offset, Header["dst_x"].offset + 2),
    (Header["dst_x"].offset + COORD_BITS - 1, Header["dst_x"].offset + COORD_BITS),
    (Header["dst_y"].offset, Header["dst_y"].offset + 2),
    (Header["dst_y"].offset + COORD_BITS - 1, Header["dst_y"].offset + COORD_BITS),
    (Header["mclass"].offset, Header["kind"].offset + 4),
    (Header["length"].offset, Header["length"].offset + 3),
    (Header["length"].offset + LENGTH_BITS - 1, Header["length"].offset + LENGTH_BITS),
    (Header["addr"].offset + 2, Header["addr"].offset + 4),
    (Header["addr"].offset + 12, Header["addr"].offset + 13),
    (Header["addr"].offset + 16, Header["addr"].offset + 24),
    (HEADER_BITS, HEADER_BITS + 3),
)
#: The bounded-wait proof's 1-flit packets need only the destination, class and kind (length 0).
LIVE_FREE_BITS = FREE_BITS[:5]


class RouterHarness(Elaboratable):
    """Router plus environment plus the chosen properties; ``inputs`` lists the free signals (the
    top-level ports of the generated design)."""

    def __init__(
        self, cfg: TatamiConfig, props=PROPERTIES, *, live=False, bound=8, mutation=None, invariants=False
    ):
        unknown = set(props) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown properties {sorted(unknown)}; known: {', '.join(PROPERTIES)}")
        if "wait" in props and not live:
            raise ValueError("the 'wait' property needs live=True (prompt credits, 1-flit packets)")
        self.cfg = cfg
        self.props = tuple(props)
        self.live = live
        self.bound = bound
        self.invariants = invariants
        self.dut = Router(cfg, _mutation=mutation)
        self.dut._MustUse__silence = True  # elaborated by hand below (for its probes), not as a submodule
        self.inputs = []

    def _free(self, shape, name):
        s = Signal(shape, name=name)
        self.inputs.append(s)
        return s

    def elaborate(self, platform):
        m = Module()
        cfg, dut = self.cfg, self.dut
        noc, mesh = cfg.noc, cfg.mesh
        vcs, depth, nports = noc.vcs, noc.vc_depth, len(PORT_NAMES)
        # Elaborate the router here so that its internal signals (dut.probe) can be asserted on.
        m.submodules.dut = dut.elaborate(platform)
        pr = dut.probe
        ins = [getattr(dut, f"i_{n}") for n in PORT_NAMES]
        outs = [getattr(dut, f"o_{n}") for n in PORT_NAMES]

        started = Signal()
        m.d.sync += started.eq(1)
        m.d.comb += Assume(~ResetSignal())  # from the reset state on (reset is synchronous)

        def constant(shape, name):
            """A free value that never changes."""
            s = self._free(shape, name)
            prev = Signal(shape, name=f"{name}_prev")
            m.d.sync += prev.eq(s)
            m.d.comb += Assume(~started | (s == prev))
            return s

        # Coordinates: any router of the mesh.
        x, y = constant(COORD_BITS, "x"), constant(COORD_BITS, "y")
        m.d.comb += [Assume(x < mesh.width), Assume(y < mesh.height), dut.x.eq(x), dut.y.eq(y)]
        if noc.routing == "table" and not self.live:
            for name in ("use_table", "table_we", "table_addr", "table_data"):
                sig = getattr(dut, name)
                m.d.comb += sig.eq(self._free(len(Value.cast(sig)), f"env_{name}"))
        # (live: XY routing, no table writes -- an environment rewriting the table every cycle could
        # steer a waiting head from one congested output to the next.)

        # ----- upstream senders ---------------------------------------------------------------
        for i, link in enumerate(ins):
            pn = PORT_NAMES[i]
            valid = self._free(1, f"in_{pn}_valid")
            # Free: the payload bits the router reads (FREE_BITS); the others are zero. The datapath
            # treats every payload bit alike, and constant bits let Yosys shrink the problem.
            payload = Signal(noc.flit_bits, name=f"in_{pn}_data")
            for lo, hi in LIVE_FREE_BITS if self.live else FREE_BITS:
                m.d.comb += payload[lo:hi].eq(self._free(hi - lo, f"in_{pn}_data_{lo}"))
            m.d.comb += [
                link.valid.eq(valid),
                link.flit.data.eq(payload),
                link.flit.head.eq(self._free(1, f"in_{pn}_head")),
                link.flit.tail.eq(self._free(1, f"in_{pn}_tail")),
                link.flit.vc.eq(self._free(len(link.flit.vc), f"in_{pn}_vc")),
            ]
            m.d.comb += Assume(link.flit.vc < vcs)
            if self.live:
                m.d.comb += Assume(~valid | (link.flit.head & link.flit.tail))
                # What an XY-routed neighbour sends: a flit from the west travels east (its
                # destination is not west of here), from the north south (same column, not north
                # of here), and so on; the node (local input) may send anything.
                hdr = data.View(Header, payload[:HEADER_BITS])
                inside = (hdr.dst_x < mesh.width) & (hdr.dst_y < mesh.height)
                xy_ok = {
                    Port.N.value: inside & (hdr.dst_x == x) & (hdr.dst_y >= y),
                    Port.S.value: inside & (hdr.dst_x == x) & (hdr.dst_y <= y),
                    Port.W.value: inside & (hdr.dst_x >= x),
                    Port.E.value: inside & (hdr.dst_x <= x),
                }.get(i)
                if xy_ok is not None:
                    m.d.comb += Assume(~valid | xy_ok)
            for v in range(vcs):
                cred = Signal(range(depth + 2), init=depth, name=f"up_credit_{pn}{v}")
                open_ = Signal(name=f"up_open_{pn}{v}")
                send = valid & (link.flit.vc == v)
                m.d.sync += cred.eq(cred - send + link.credit[v])
                m.d.comb += Assume(~send | (cred != 0))
                m.d.comb += Assume(~send | (link.flit.head == ~open_))
                with m.If(send):
                    m.d.sync += open_.eq(~link.flit.tail)
                if "credits" in self.props:
                    b = pr.buf[i][v]
                    m.d.comb += [Assert(cred <= depth), Assert(~(b.w_en & ~b.w_rdy))]
                    if self.invariants:
                        qdepth = dut.input_depth(cfg, i)
                        back = link.credit[v]
                        m.d.comb += Assert(b.level <= qdepth)
                        if getattr(b, "owed", None) is not None:
                            m.d.comb += [
                                Assert(cred + back + b.owed == depth),
                                Assert(b.level + b.staged + depth - b.owed <= qdepth),
                            ]
                        else:
                            m.d.comb += Assert(cred + b.level + back == depth)
                        for j in range(len(getattr(b, "valid", ())) - 1):
                            m.d.comb += Assert(~b.valid[j + 1] | b.valid[j])
                        # (two stages) the FIFO's registered ``r_rdy`` is ``level != 0``
                        m.d.comb += [Assert(f.r_rdy == (f.level != 0)) for f in b.fronts]

        # ----- downstream receivers ------------------------------------------------------------
        for p, link in enumerate(outs):
            pn = PORT_NAMES[p]
            back = self._free(vcs, f"out_{pn}_credit") if not self.live else Signal(vcs, name=f"prompt_{pn}")
            for v in range(vcs):
                held = Signal(range(depth + 2), name=f"held_{pn}{v}")
                arrive = link.valid & (link.flit.vc == v)
                if self.live:
                    m.d.sync += back[v].eq(arrive)
                else:
                    m.d.comb += Assume(~back[v] | (held != 0))
                m.d.sync += held.eq(held + arrive - back[v])
                if "credits" in self.props:
                    # The flit on the output register counts: spent, not yet held downstream; so
                    # does a flit granted but still in the traversal stage (two router stages).
                    m.d.comb += Assert(pr.credit[p][v] + held + arrive + pr.pending[p][v] == depth)
            m.d.comb += link.credit.eq(back)
            if "credits" in self.props and self.invariants and pr.stages == 2:
                st_send = pr.st_send[p]
                m.d.comb += [
                    Assert(st_send.any() == pr.st_grant[p].any()),
                    Assert((st_send & (st_send - 1)) == 0),  # at most one VC
                ]
                m.d.comb += [Assert(pr.credit_nz[p][v] == (pr.credit[p][v] != 0)) for v in range(vcs)]
            if "route" in self.props:
                missing = {
                    Port.N.value: y == 0,
                    Port.S.value: y == mesh.height - 1,
                    Port.W.value: x == 0,
                    Port.E.value: x == mesh.width - 1,
                }.get(p)
                if missing is not None:
                    m.d.comb += Assert(~(link.valid & missing))
                    if self.invariants:
                        for i in range(nports):
                            for v in range(vcs):
                                dirs = pr.buf[i][v].dirs
                                if dirs is None:
                                    raise ValueError(
                                        f"route invariants need the stored routes in registers; input "
                                        f"{PORT_NAMES[i]} VC {v} keeps them in memory (a SyncFIFO)"
                                    )
                                m.d.comb += [Assert(~(d[p] & missing)) for d in dirs]
                        if pr.stages == 2:
                            m.d.comb += Assert(~(pr.st_grant[p].any() & missing))

        # ----- tagging: the n-th flit into (i, v) leaves (i, v) once, unchanged, to its output ----
        if "tag" in self.props:
            ti = constant(range(nports), "tag_input")
            tv = constant(range(vcs), "tag_vc")
            tn = constant(4, "tag_n")
            m.d.comb += Assume(ti < nports)
            wr = Signal(5, name="tag_writes")
            tracking = Signal(name="tag_tracking")  # written, not yet removed
            pos = Signal(range(16), name="tag_pos")  # its place in the buffer (0 = oldest)
            shadow = Signal(noc.flit_bits + 2, name="tag_shadow")
            expect = Signal(name="tag_expect")  # the tracked flit was switched last cycle...
            expect_port = Signal(3, name="tag_port")  # ...to this output
            m.d.sync += expect.eq(0)
            m.d.comb += Assume(wr < 31)
            for i in range(nports):
                for v in range(vcs):
                    b = pr.buf[i][v]
                    here = (ti == i) & (tv == v)
                    with m.If(here & tracking & b.rm):
                        with m.If(b.rm_idx == pos):
                            m.d.comb += Assert(b.rm_flit == shadow)
                            m.d.sync += tracking.eq(0)
                            with m.If(~b.consume):
                                m.d.sync += [expect.eq(1), expect_port.eq(b.rm_port)]
                        with m.Elif(b.rm_idx < pos):
                            m.d.sync += pos.eq(pos - 1)
                    with m.If(here & b.w_en):
                        m.d.sync += wr.eq(wr + 1)
                        with m.If(wr == tn):
                            m.d.sync += [shadow.eq(b.w_data), tracking.eq(1), pos.eq(b.w_pos)]
            if pr.stages == 2:  # the grant is registered: the flit is on the link a cycle later
                expect2, port2 = Signal(name="tag_expect2"), Signal(3, name="tag_port2")
                m.d.sync += [expect2.eq(expect), port2.eq(expect_port)]
                expect, expect_port = expect2, port2
            with m.If(expect), m.Switch(expect_port):
                for p, link in enumerate(outs):
                    with m.Case(p):
                        m.d.comb += [
                            Assert(link.valid),
                            Assert(Cat(link.flit.data, link.flit.head, link.flit.tail) == shadow),
                            Assert(link.flit.vc == tv),
                        ]
                with m.Default():
                    m.d.comb += Assert(0)

        # ----- bounded wait ---------------------------------------------------------------------
        if "wait" in self.props:
            for i in range(nports):
                for v in range(vcs):
                    waited = Signal(range(self.bound + 2), name=f"waited_{PORT_NAMES[i]}{v}")
                    b = pr.buf[i][v]
                    stalled = pr.rdy[i][v] & ~(b.rm & (b.rm_idx == 0))
                    with m.If(~stalled):
                        m.d.sync += waited.eq(0)
                    with m.Elif(waited <= self.bound):
                        m.d.sync += waited.eq(waited + 1)
                    m.d.comb += Assert(waited <= self.bound)
        return m
