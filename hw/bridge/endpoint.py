"""A stand-in node for the ``mesh-bridge`` FPGA design: a small memory, a few registers, loopback."""

from __future__ import annotations

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import COORD_BITS, CSR_BASE, TatamiConfig
from tatami.hw.common.select import select
from tatami.hw.formats import Header, MsgClass, PacketKind, ReadRequestImmediate
from tatami.hw.noc.router import LinkSignature

from .recv import HostFlit

__all__ = ["HOST_TAG", "EndpointReg", "LoopbackEndpoint"]

#: Tags with this bit set belong to the host: responses carrying one, arriving at the host node,
#: go to the bridge instead of the node.
HOST_TAG = 0x10


class EndpointReg(enum.IntEnum):
    """Endpoint registers, at ``CSR_BASE + 4 * reg``. Written by CONTROL (``value``), read by
    READ_REQ (one register per response flit, in its low 32 bits). Counters wrap at 2**32."""

    SCRATCH = 0
    ID = 1  # x | y << 8
    RX_PACKETS = 2
    WRITES = 3
    READS = 4
    CONTROLS = 5
    TRAFFIC = 6
    IGNORED = 7
    FORWARDED = 8
    CLEAR = 15  # write: zero the counters


_COUNTERS = ("rx_packets", "writes", "reads", "controls", "traffic", "ignored", "forwarded")


class LoopbackEndpoint(wiring.Component):
    """Sits on a node's local port and answers the packet kinds the host uses.

    - WRITE: body flits to memory words ``addr / flit_bytes + i`` (mod ``words``).
    - READ_REQ: a READ_RESP to the source (tag echoed, ``addr = ret_addr``) of ``flits`` flits:
      memory words, or, at ``addr >= CSR_BASE``, one register per flit.
    - CONTROL: ``value`` to the register at ``addr`` (SCRATCH; CLEAR zeroes the counters); an ACK
      to the source if ``ack`` is set.
    - TRAFFIC in the request class: sent back to its source in the response class (loopback),
      body unchanged. TRAFFIC in the response class: counted.
    - Everything else: consumed and counted as ignored.

    With ``host_port``, response-class READ_RESP, ACK and TRAFFIC packets whose tag has
    :data:`HOST_TAG` set go out on ``host`` whole instead (the host node's endpoint hands the host
    its responses).
    Requests are answered in the response class only, and response-class packets never make a
    packet, so the endpoint cannot deadlock the request-response protocol.

    Parameters
    ----------
    cfg : TatamiConfig
    words : int
        Memory size in flits (a power of two).
    host_port : bool
        Add the ``host`` output.

    Attributes
    ----------
    i : In(LinkSignature(cfg))
        From the router's local output (the endpoint holds ``vc_depth`` flits per VC).
    o : Out(LinkSignature(cfg))
        To the router's local input.
    x, y : In(6)
        This node's coordinates.
    host : Out(stream.Signature(HostFlit(cfg)))
        Packets for the host (``host_port`` only).
    """

    def __init__(self, cfg: TatamiConfig, words: int = 16, host_port: bool = False):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"LoopbackEndpoint needs a TatamiConfig, not {cfg!r}")
        if not isinstance(words, int) or words < 1 or words & (words - 1):
            raise ValueError(f"words must be a power of two, not {words!r}")
        self.cfg, self.words, self.host_port = cfg, words, bool(host_port)
        members = {
            "i": In(LinkSignature(cfg)),
            "o": Out(LinkSignature(cfg)),
            "x": In(COORD_BITS),
            "y": In(COORD_BITS),
        }
        if self.host_port:
            members["host"] = Out(stream.Signature(HostFlit(cfg)))
        super().__init__(members)

    def __repr__(self):  # a deterministic name for hier.shared
        return f"LoopbackEndpoint({self.cfg.digest()}, {self.words}, {self.host_port})"

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        noc = cfg.noc
        fb, fbytes, vcs, depth = noc.flit_bits, noc.flit_bytes, noc.vcs, noc.vc_depth
        per_class = vcs // 2
        wbits = max(1, (self.words - 1).bit_length())

        # ----- input buffers, one per VC; credits back when a flit leaves ------------------------
        fifos = []
        pops = Signal(vcs)
        for v in range(vcs):
            q = SyncFIFO(width=fb + 2, depth=depth)
            m.submodules[f"in{v}"] = q
            m.d.comb += [
                q.w_en.eq(self.i.valid & (self.i.flit.vc == v)),
                q.w_data.eq(Cat(self.i.flit.data, self.i.flit.head, self.i.flit.tail)),
                q.r_en.eq(pops[v]),
            ]
            fifos.append(q)
        m.d.sync += self.i.credit.eq(pops)

        cur = Signal(range(max(vcs, 2)))
        last_vc = Signal(range(max(vcs, 2)))
        rdy = select(cur, (q.r_rdy for q in fifos))
        rdata = select(cur, (q.r_data for q in fifos))
        fdata, fhead, ftail = rdata[:fb], rdata[fb], rdata[fb + 1]
        pop = Signal()
        with m.If(pop):
            m.d.comb += pops.eq(1 << cur)

        # ----- output credits ------------------------------------------------------------------
        ocredit = [Signal(range(depth + 1), init=depth, name=f"ocredit{v}") for v in range(vcs)]
        ovc = Signal(range(max(vcs, 2)))
        send = Signal()
        m.d.sync += self.o.valid.eq(0)
        for v in range(vcs):
            give = send & (ovc == v)
            with m.If(give & ~self.o.credit[v]):
                m.d.sync += ocredit[v].eq(ocredit[v] - 1)
            with m.Elif(~give & self.o.credit[v]):
                m.d.sync += ocredit[v].eq(ocredit[v] + 1)
        can_send = select(ovc, (c != 0 for c in ocredit))

        def emit(flit_data, head, tail):
            m.d.comb += send.eq(1)
            m.d.sync += [
                self.o.valid.eq(1),
                self.o.flit.data.eq(flit_data),
                self.o.flit.head.eq(head),
                self.o.flit.tail.eq(tail),
                self.o.flit.vc.eq(ovc),
            ]

        # ----- memory and registers ------------------------------------------------------------
        m.submodules.mem = mem = Memory(shape=fb, depth=self.words, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=())
        scratch = Signal(32)
        counters = {name: Signal(32, name=name) for name in _COUNTERS}

        def bump(name):
            m.d.sync += counters[name].eq(counters[name] + 1)

        # ----- the packet being handled ----------------------------------------------------------
        hdr = Signal(Header)
        imm = Signal(64)
        rreq = data.View(ReadRequestImmediate, imm)
        idx = Signal(wbits)  # memory word
        reg = Signal(8)  # register index
        count = Signal(6)  # flits to send / sent
        in_regs = Signal()
        cur_hdr = data.View(Header, fdata[:64])
        to_regs = cur_hdr.addr >= CSR_BASE
        creg = ((cur_hdr.addr - CSR_BASE) >> 2)[:8]

        reply = Signal(Header)  # header of the packet we send back
        m.d.comb += [
            reply.dst_x.eq(hdr.src_x),
            reply.dst_y.eq(hdr.src_y),
            reply.src_x.eq(self.x),
            reply.src_y.eq(self.y),
            reply.mclass.eq(MsgClass.RESPONSE),
            reply.tag.eq(hdr.tag),
        ]
        resp_vc = per_class + (hdr.src_x + hdr.src_y) % per_class

        reg_values = [scratch, Cat(self.x, Const(0, 2), self.y)] + [counters[n] for n in _COUNTERS]
        m.d.comb += rd.addr.eq(idx)

        kind = cur_hdr.kind.as_value()
        with m.FSM():
            with m.State("IDLE"):
                # Take the other VC first if both have a packet (round robin over two or more).
                pick = Signal(range(max(vcs, 2)))
                m.d.comb += pick.eq(last_vc)
                for off in reversed(range(1, vcs + 1)):
                    cand = (last_vc + off) % vcs
                    with m.If(select(cand, (q.r_rdy for q in fifos))):
                        m.d.comb += pick.eq(cand)
                with m.If(Cat(*(q.r_rdy for q in fifos)).any()):
                    m.d.sync += [cur.eq(pick), last_vc.eq(pick)]
                    m.next = "HEAD"
            with m.State("HEAD"):
                m.d.sync += [hdr.eq(fdata[:64]), imm.eq(fdata[64:128])]
                is_host = Const(0)
                if self.host_port:
                    fwd_kind = (
                        (kind == PacketKind.READ_RESP.value)
                        | (kind == PacketKind.ACK.value)
                        | (kind == PacketKind.TRAFFIC.value)
                    )
                    is_host = (
                        fwd_kind & (cur_hdr.mclass == MsgClass.RESPONSE) & (cur_hdr.tag & HOST_TAG).any()
                    )
                with m.If(~fhead):  # a body flit without its head: cannot happen; drop it
                    m.d.comb += pop.eq(1)
                    bump("ignored")
                    m.next = "IDLE"
                with m.Elif(is_host):
                    bump("forwarded")
                    m.next = "FORWARD"
                with m.Else():
                    m.d.comb += pop.eq(1)
                    bump("rx_packets")
                    m.d.sync += [
                        idx.eq((cur_hdr.addr // fbytes)[:wbits]),
                        in_regs.eq(to_regs),
                        reg.eq(creg),
                        count.eq(0),
                    ]
                    with m.Switch(kind):
                        with m.Case(PacketKind.WRITE.value):
                            bump("writes")
                            m.next = "WRITE"
                            with m.If(ftail):
                                m.next = "IDLE"
                        with m.Case(PacketKind.READ_REQ.value):
                            bump("reads")
                            with m.If(ftail):
                                m.next = "READ_HEAD"
                            with m.Else():
                                m.next = "DRAIN_READ"
                        with m.Case(PacketKind.CONTROL.value):
                            bump("controls")
                            with m.If(ftail):
                                m.next = "CONTROL"
                            with m.Else():
                                m.next = "DRAIN_CONTROL"
                        with m.Case(PacketKind.TRAFFIC.value):
                            bump("traffic")
                            with m.If(cur_hdr.mclass == MsgClass.REQUEST):
                                m.d.comb += pop.eq(0)  # the echo sends the head flit itself
                                m.next = "ECHO"
                            with m.Elif(~ftail):
                                m.next = "DRAIN"
                            with m.Else():
                                m.next = "IDLE"
                        with m.Default():
                            bump("ignored")
                            with m.If(ftail):
                                m.next = "IDLE"
                            with m.Else():
                                m.next = "DRAIN"
            with m.State("FORWARD"):
                if self.host_port:
                    m.d.comb += [
                        self.host.valid.eq(rdy),
                        self.host.payload.data.eq(fdata),
                        self.host.payload.last.eq(ftail),
                        pop.eq(rdy & self.host.ready),
                    ]
                    with m.If(rdy & self.host.ready & ftail):
                        m.next = "IDLE"
            with m.State("WRITE"), m.If(rdy):
                m.d.comb += pop.eq(1)
                with m.If(~in_regs):
                    m.d.comb += [wr.addr.eq(idx), wr.data.eq(fdata), wr.en.eq(1)]
                m.d.sync += idx.eq(idx + 1)
                with m.If(ftail):
                    m.next = "IDLE"
            for state, after in (
                ("DRAIN", "IDLE"),
                ("DRAIN_READ", "READ_HEAD"),
                ("DRAIN_CONTROL", "CONTROL"),
            ):
                with m.State(state), m.If(rdy):
                    m.d.comb += pop.eq(1)
                    with m.If(ftail):
                        m.next = after
            with m.State("READ_HEAD"):
                flits = Mux(rreq.flits + 1 > noc.max_packet_flits, noc.max_packet_flits - 1, rreq.flits)
                out = Signal(Header)
                m.d.comb += [
                    out.eq(reply),
                    out.kind.eq(PacketKind.READ_RESP),
                    out.length.eq(flits),
                    out.addr.eq(rreq.ret_addr),
                    ovc.eq(resp_vc),
                ]
                with m.If(can_send):
                    emit(out.as_value(), 1, flits == 0)
                    m.d.sync += count.eq(flits)
                    with m.If(flits == 0):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ_BODY"
            with m.State("READ_BODY"):
                m.d.comb += ovc.eq(resp_vc)
                with m.If(can_send):
                    value = Mux(in_regs, Mux(reg < len(reg_values), select(reg, reg_values), 0), rd.data)
                    emit(value, 0, count == 1)
                    m.d.sync += [idx.eq(idx + 1), reg.eq(reg + 1), count.eq(count - 1)]
                    m.next = "READ_WAIT"
                    with m.If(count == 1):
                        m.next = "IDLE"
            with m.State("READ_WAIT"):  # the memory read of the next word
                m.next = "READ_BODY"
            with m.State("CONTROL"):
                value = imm[:32]
                with m.If(in_regs):
                    with m.If(reg == EndpointReg.SCRATCH):
                        m.d.sync += scratch.eq(value)
                    with m.If(reg == EndpointReg.CLEAR):
                        m.d.sync += [c.eq(0) for c in counters.values()]
                with m.If(imm[32]):
                    m.next = "ACK"
                with m.Else():
                    m.next = "IDLE"
            with m.State("ACK"):
                out = Signal(Header)
                m.d.comb += [out.eq(reply), out.kind.eq(PacketKind.ACK), out.length.eq(0), ovc.eq(resp_vc)]
                m.d.comb += out.addr.eq(hdr.addr)
                with m.If(can_send):
                    emit(out.as_value(), 1, 1)
                    m.next = "IDLE"
            with m.State("ECHO"):
                echo = Signal(Header)
                m.d.comb += [
                    echo.eq(cur_hdr),
                    echo.dst_x.eq(cur_hdr.src_x),
                    echo.dst_y.eq(cur_hdr.src_y),
                    echo.src_x.eq(self.x),
                    echo.src_y.eq(self.y),
                    echo.mclass.eq(MsgClass.RESPONSE),
                    ovc.eq(resp_vc),
                ]
                with m.If(rdy & can_send):
                    m.d.comb += pop.eq(1)
                    emit(Mux(fhead, Cat(echo.as_value(), fdata[64:]), fdata), fhead, ftail)
                    with m.If(ftail):
                        m.next = "IDLE"
        return m
