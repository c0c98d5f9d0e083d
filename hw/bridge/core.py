"""The bridge's request executor: checked frames in, mesh packets, register accesses and
responses out."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.host.protocol import MAGIC, BridgeInfo, BridgeReg, Limits, Op, Status
from tatami.hw.common.select import select
from tatami.hw.formats import Header, MsgClass, PacketKind
from tatami.hw.noc.router import LinkSignature

from .framer import FrameByte

__all__ = ["BridgeCore", "RegBusSignature"]

#: Arguments read into registers before decoding: seq, op and a head flit's 16 bytes.
PREFIX = 18


class RegBusSignature(wiring.Signature):
    """A register bus, from the initiator's side: ``addr``, ``wdata``, one-cycle ``we`` / ``re``
    strobes; ``rdata`` is valid the cycle after ``re``, or as many cycles after it as the bridge's
    ``bus_read_latency`` says (``addr`` holds still until then). Addresses are 16-bit register numbers,
    registers 32-bit. ``addr`` and ``wdata`` come straight from registers and hold their values
    from the cycle of the strobe to at least the cycle after it (a target may register the
    strobe and act a cycle late)."""

    def __init__(self):
        super().__init__({"addr": Out(16), "wdata": Out(32), "we": Out(1), "re": Out(1), "rdata": In(32)})


class BridgeCore(wiring.Component):
    """Executes the requests of :mod:`tatami.host.protocol` (PING, REG_READ, REG_WRITE, SEND).

    One frame at a time: the first 18 bytes are loaded, checked (sequence number, opcode,
    argument length, and for SEND the header as :func:`~tatami.host.protocol.packet_error`),
    executed, answered, and the frame released. SEND injects the packet flit by flit on ``o``
    (the host node's west edge link), holding one credit counter per VC and using the packet's
    static VC (:func:`~tatami.hw.noc.ports.vc_for`). Bridge registers (ID, INFO, counters, CLEAR)
    are answered here; every other register address goes out on ``bus``.

    Parameters
    ----------
    cfg : TatamiConfig
    packets : bool
        The bridge has a mesh link; without one (a design reached through registers only) SEND is
        answered BAD_OP.
    bus_read_latency : int
        Cycles from ``bus.re`` to the cycle ``bus.rdata`` is sampled (1: the cycle after).

    Attributes
    ----------
    frame_valid, frame_len : In; frame_done : Out(1); rd_addr : Out; rd_data : In(8)
        The :class:`~tatami.hw.bridge.deframer.Deframer`'s checked frame and buffer read port.
    resp : Out(stream.Signature(FrameByte))
        Response frame bodies, to the framer.
    o : Out(LinkSignature(cfg))
        Packets into the mesh.
    bus : Out(RegBusSignature())
        Registers outside the bridge.
    frames_ok, crc_errors, framing_errors, overlong, short, packets_received : In(32), rx_overrun : In(16)
        Counters kept elsewhere, readable as registers.
    clear : Out(1)
        One cycle when the host writes CLEAR.
    bad_op, bad_length, bad_packet, duplicates, packets_sent : Out(32)
        This unit's counters.
    """

    def __init__(self, cfg: TatamiConfig, packets: bool = True, bus_read_latency: int = 1):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"BridgeCore needs a TatamiConfig, not {cfg!r}")
        if not isinstance(bus_read_latency, int) or not 1 <= bus_read_latency <= 16:
            raise ValueError(f"bus_read_latency must be an integer from 1 to 16, not {bus_read_latency!r}")
        self.packets = bool(packets)
        self.bus_read_latency = bus_read_latency
        m = cfg.mesh
        if self.packets and m.host_x != 0:
            raise ValueError(
                f"mesh.host_x = {m.host_x}: the bridge attaches at the west edge, so the host node "
                "must be in column 0"
            )
        self.cfg = cfg
        self.limits = Limits.of(cfg)
        n = self.limits.max_frame
        super().__init__(
            {
                "frame_valid": In(1),
                "frame_len": In(range(n + 1)),
                "frame_done": Out(1),
                "rd_addr": Out(range(n)),
                "rd_data": In(8),
                "resp": Out(stream.Signature(FrameByte)),
                "o": Out(LinkSignature(cfg)),
                "bus": Out(RegBusSignature()),
                "frames_ok": In(32),
                "crc_errors": In(32),
                "framing_errors": In(32),
                "overlong": In(32),
                "short": In(32),
                "packets_received": In(32),
                "rx_overrun": In(16),
                "clear": Out(1),
                "bad_op": Out(32),
                "bad_length": Out(32),
                "bad_packet": Out(32),
                "duplicates": Out(32),
                "packets_sent": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        mesh, noc = cfg.mesh, cfg.noc
        fbytes = noc.flit_bytes
        vcs, per_class = noc.vcs, noc.vcs // 2
        info = BridgeInfo.of(cfg)
        info_bytes = info.pack()

        # ----- frame prefix: seq, op, 16 argument bytes ---------------------------------------
        prefix = Signal(8 * PREFIX)
        seq = prefix[0:8]
        op = prefix[8:16]
        hdr = data.View(Header, prefix[16:80])
        reg_addr = prefix[16:32]
        reg_value = prefix[32:64]
        nargs = Signal(range(self.limits.max_frame + 1))
        m.d.comb += nargs.eq(self.frame_len - 2)

        ptr = Signal(range(self.limits.max_frame))
        phase = Signal()  # 0: address presented, 1: data available
        m.d.comb += self.rd_addr.eq(ptr)

        last_seq = Signal(8)
        last_valid = Signal()
        status = Signal(8)
        payload_len = Signal(range(13))  # response bytes after the status byte
        value = Signal(32)  # REG_READ result
        bus_wait = Signal(range(self.bus_read_latency))  # BUS_READ cycles left before rdata
        is_ping = Signal()

        # ----- SEND state ---------------------------------------------------------------------
        credit = [Signal(range(noc.vc_depth + 1), init=noc.vc_depth, name=f"credit{v}") for v in range(vcs)]
        vc = Signal(range(max(vcs, 2)))
        flit = Signal(noc.flit_bits)
        flit_no = Signal(6)
        nbyte = Signal(range(fbytes + 1))
        send_now = Signal()
        m.d.sync += self.o.valid.eq(0)
        for v in range(vcs):
            give = send_now & (vc == v)
            back = self.o.credit[v]
            with m.If(give & ~back):
                m.d.sync += credit[v].eq(credit[v] - 1)
            with m.Elif(~give & back):
                m.d.sync += credit[v].eq(credit[v] + 1)

        # ----- header checks (packet_error) ------------------------------------------------------
        on_mesh = (hdr.dst_x < mesh.width) & (hdr.dst_y < mesh.height)
        dead = Const(0)
        for x, y in mesh.dead_nodes:
            dead = dead | ((hdr.dst_x == x) & (hdr.dst_y == y))
        kind = hdr.kind.as_value()
        mclass = hdr.mclass.as_value()
        kind_ok = kind < len(PacketKind)
        resp_kind = (kind == PacketKind.READ_RESP.value) | (kind == PacketKind.ACK.value)
        class_ok = (kind == PacketKind.TRAFFIC.value) | (
            mclass == Mux(resp_kind, MsgClass.RESPONSE.value, MsgClass.REQUEST.value)
        )
        length_ok = hdr.length + 1 <= noc.max_packet_flits
        src_ok = (hdr.src_x == mesh.host_x) & (hdr.src_y == mesh.host_y)
        packet_ok = on_mesh & ~dead & kind_ok & class_ok & length_ok & src_ok
        want_len = Signal(range(65 * fbytes))
        m.d.comb += want_len.eq((hdr.length + 1) * fbytes)
        vc_of_packet = Signal(range(max(vcs, 2)))
        m.d.comb += vc_of_packet.eq(mclass * per_class + (hdr.dst_x + hdr.dst_y) % per_class)

        # ----- register reads inside the bridge -------------------------------------------------
        info0, info1 = info.info_regs()
        local = {
            BridgeReg.ID: Const(MAGIC, 32),
            BridgeReg.INFO0: Const(info0, 32),
            BridgeReg.INFO1: Const(info1, 32),
            BridgeReg.FRAMES_OK: self.frames_ok,
            BridgeReg.ERR_CRC: self.crc_errors,
            BridgeReg.ERR_FRAMING: self.framing_errors,
            BridgeReg.ERR_OVERLONG: self.overlong,
            BridgeReg.ERR_SHORT: self.short,
            BridgeReg.ERR_BAD_OP: self.bad_op,
            BridgeReg.ERR_BAD_LENGTH: self.bad_length,
            BridgeReg.ERR_BAD_PACKET: self.bad_packet,
            BridgeReg.DUPLICATES: self.duplicates,
            BridgeReg.PACKETS_SENT: self.packets_sent,
            BridgeReg.PACKETS_RECEIVED: self.packets_received,
            BridgeReg.RX_OVERRUN: self.rx_overrun,
        }
        is_local = Signal()
        local_value = Signal(32)
        with m.Switch(reg_addr):
            for addr, sig in local.items():
                with m.Case(int(addr)):
                    m.d.comb += [is_local.eq(1), local_value.eq(sig)]
            with m.Case(int(BridgeReg.CLEAR)):
                m.d.comb += is_local.eq(1)
        # The address decode is registered (``SETTLE`` gives it the cycle after the prefix is
        # loaded): the bridge registers' 16-bit compares and their read multiplexer, then the
        # request's checks, were one path into ``value`` (a 75 MHz build's critical path). A
        # local register read so returns its value one cycle after the frame is loaded.
        is_local_r, local_value_r, is_clear_r = Signal(), Signal(32), Signal()
        m.d.sync += [
            is_local_r.eq(is_local),
            local_value_r.eq(local_value),
            is_clear_r.eq(reg_addr == BridgeReg.CLEAR),
        ]

        def bump(counter):
            m.d.sync += counter.eq(counter + 1)

        def respond(code, length=0):
            m.d.sync += [status.eq(code), payload_len.eq(length), ptr.eq(0)]
            m.next = "RESPOND"

        # The request's address and value, straight from the prefix registers (which hold them
        # until the next frame is loaded): no decoding logic in front of a target's decoder.
        m.d.comb += [self.bus.addr.eq(reg_addr), self.bus.wdata.eq(reg_value)]
        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += [ptr.eq(0), phase.eq(0), is_ping.eq(0)]
                with m.If(self.frame_valid):
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.sync += phase.eq(~phase)
                with m.If(phase):
                    m.d.sync += [prefix.eq(Cat(prefix[8:], self.rd_data)), ptr.eq(ptr + 1)]
                    with m.If(ptr == PREFIX - 1):
                        m.next = "SETTLE"
            with m.State("SETTLE"):  # (the address decode's register, above)
                m.next = "DECODE"
            with m.State("DECODE"):
                with m.If(last_valid & (seq == last_seq)):
                    bump(self.duplicates)
                    respond(Status.DUPLICATE)
                with m.Else():
                    m.d.sync += [last_seq.eq(seq), last_valid.eq(1)]
                    with m.Switch(op):
                        with m.Case(Op.PING):
                            with m.If(nargs != 0):
                                bump(self.bad_length)
                                respond(Status.BAD_LENGTH)
                            with m.Else():
                                m.d.sync += is_ping.eq(1)
                                respond(Status.OK, 12)
                        with m.Case(Op.REG_READ):
                            with m.If(nargs != 2):
                                bump(self.bad_length)
                                respond(Status.BAD_LENGTH)
                            with m.Elif(is_local_r):
                                m.d.sync += value.eq(local_value_r)
                                respond(Status.OK, 4)
                            with m.Else():
                                m.d.comb += self.bus.re.eq(1)
                                m.d.sync += bus_wait.eq(self.bus_read_latency - 1)
                                m.next = "BUS_READ"
                        with m.Case(Op.REG_WRITE):
                            with m.If(nargs != 6):
                                bump(self.bad_length)
                                respond(Status.BAD_LENGTH)
                            with m.Else():
                                with m.If(is_clear_r):
                                    m.d.comb += self.clear.eq(1)
                                with m.Elif(~is_local_r):
                                    m.d.comb += self.bus.we.eq(1)
                                respond(Status.OK)
                        with m.Case(Op.SEND):
                            if not self.packets:
                                bump(self.bad_op)
                                respond(Status.BAD_OP)
                            else:
                                with m.If((nargs < 16) | (nargs != want_len)):
                                    bump(self.bad_length)
                                    respond(Status.BAD_LENGTH)
                                with m.Elif(~packet_ok):
                                    bump(self.bad_packet)
                                    respond(Status.BAD_PACKET)
                                with m.Else():
                                    m.d.sync += [
                                        vc.eq(vc_of_packet),
                                        flit_no.eq(0),
                                        ptr.eq(2),
                                        phase.eq(0),
                                        nbyte.eq(0),
                                    ]
                                    m.next = "GATHER"
                        with m.Default():
                            bump(self.bad_op)
                            respond(Status.BAD_OP)
            with m.State("BUS_READ"):
                # addr holds (prefix registers) while the target's read pipeline fills.
                with m.If(bus_wait != 0):
                    m.d.sync += bus_wait.eq(bus_wait - 1)
                with m.Else():
                    m.d.sync += value.eq(self.bus.rdata)
                    respond(Status.OK, 4)
            with m.State("GATHER"):
                m.d.sync += phase.eq(~phase)
                with m.If(phase):
                    m.d.sync += [
                        flit.eq(Cat(flit[8:], self.rd_data)),
                        ptr.eq(ptr + 1),
                        nbyte.eq(nbyte + 1),
                    ]
                    with m.If(nbyte == fbytes - 1):
                        m.next = "INJECT"
            with m.State("INJECT"), m.If(select(vc, (c != 0 for c in credit))):
                m.d.comb += send_now.eq(1)
                m.d.sync += [
                    self.o.valid.eq(1),
                    self.o.flit.data.eq(flit),
                    self.o.flit.head.eq(flit_no == 0),
                    self.o.flit.tail.eq(flit_no == hdr.length),
                    self.o.flit.vc.eq(vc),
                    flit_no.eq(flit_no + 1),
                    nbyte.eq(0),
                    phase.eq(0),
                ]
                with m.If(flit_no == hdr.length):
                    bump(self.packets_sent)
                    respond(Status.OK)
                with m.Else():
                    m.next = "GATHER"
            with m.State("RESPOND"):
                # Bytes: seq, op | 0x80, status, payload_len bytes (PING info or a value).
                byte = Signal(8)
                with m.Switch(ptr):
                    with m.Case(0):
                        m.d.comb += byte.eq(seq)
                    with m.Case(1):
                        m.d.comb += byte.eq(op | 0x80)
                    with m.Case(2):
                        m.d.comb += byte.eq(status)
                    for i in range(12):
                        with m.Case(3 + i):
                            ping_byte = info_bytes[i]
                            val_byte = value.word_select(i % 4, 8) if i < 4 else Const(0, 8)
                            m.d.comb += byte.eq(Mux(is_ping, ping_byte, val_byte))
                m.d.comb += [
                    self.resp.valid.eq(1),
                    self.resp.payload.data.eq(byte),
                    self.resp.payload.last.eq(ptr == 2 + payload_len),
                ]
                with m.If(self.resp.ready):
                    m.d.sync += ptr.eq(ptr + 1)
                    with m.If(ptr == 2 + payload_len):
                        m.d.comb += self.frame_done.eq(1)
                        m.next = "IDLE"

        with m.If(self.clear):
            m.d.sync += [
                c.eq(0)
                for c in (self.bad_op, self.bad_length, self.bad_packet, self.duplicates, self.packets_sent)
            ]
        return m
