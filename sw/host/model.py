"""Golden model of the bridge's request executor (:class:`tatami.hw.bridge.core.BridgeCore`).

Bytes in, exactly the response frames, injected packets and counters the RTL must produce::

    model = BridgeModel(cfg)
    responses = model.feed(wire_bytes)      # response bodies (seq, op | 0x80, status, ...)
    model.packets                            # [(head flit, [body flits])] handed to the mesh
    model.counters                           # frames_ok, crc, ..., packets_sent
"""

from __future__ import annotations

from collections.abc import Callable

from tatami.config import TatamiConfig

from .protocol import (
    COUNTERS,
    MAGIC,
    BridgeInfo,
    BridgeReg,
    Deframer,
    Limits,
    Op,
    Status,
    packet_error,
)

__all__ = ["BridgeModel"]


class BridgeModel:
    """The bridge as the host sees it, minus the mesh.

    Parameters
    ----------
    cfg : TatamiConfig
    bus_read, bus_write : callables, optional
        Registers outside the bridge (default: reads give 0, writes are dropped).
    """

    def __init__(
        self,
        cfg: TatamiConfig,
        bus_read: Callable[[int], int] | None = None,
        bus_write: Callable[[int, int], None] | None = None,
        packets: bool = True,
    ):
        self.cfg, self.has_packets = cfg, packets
        self.limits = Limits.of(cfg)
        self.deframer = Deframer(self.limits.max_frame)
        self.info = BridgeInfo.of(cfg)
        self.bus_read = bus_read or (lambda addr: 0)
        self.bus_write = bus_write or (lambda addr, value: None)
        self.packets: list[tuple[int, list[int]]] = []
        self._own = dict.fromkeys(("bad_op", "bad_length", "bad_packet", "duplicates", "packets_sent"), 0)
        self.packets_received = 0
        self.rx_overrun = 0
        self._last_seq: int | None = None

    @property
    def counters(self) -> dict:
        c = {**self.deframer.counts, **self._own}
        c["packets_received"] = self.packets_received
        c["rx_overrun"] = self.rx_overrun
        return c

    def clear(self):
        for k in self.deframer.counts:
            self.deframer.counts[k] = 0
        for k in self._own:
            self._own[k] = 0
        self.packets_received = 0

    def register(self, addr: int) -> int:
        """What REG_READ of ``addr`` returns."""
        names = {v: k for k, v in COUNTERS.items()}
        if addr == BridgeReg.ID:
            return MAGIC
        if addr in (BridgeReg.INFO0, BridgeReg.INFO1):
            return self.info.info_regs()[addr - BridgeReg.INFO0]
        if addr in names:
            return self.counters[names[addr]] & 0xFFFF_FFFF
        if addr == BridgeReg.CLEAR:
            return 0
        return self.bus_read(addr) & 0xFFFF_FFFF

    def feed(self, data: bytes) -> list[bytes]:
        """Response bodies for the frames completed by ``data``, in order."""
        return [self.execute(body) for body in self.deframer.feed(data)]

    def execute(self, body: bytes) -> bytes:
        """The response body to one CRC-checked request body."""
        seq, op, args = body[0], body[1], body[2:]

        def reply(status, payload=b""):
            return bytes([seq, op | 0x80, status]) + payload

        if self._last_seq == seq:
            self._own["duplicates"] += 1
            return reply(Status.DUPLICATE)
        self._last_seq = seq
        if op == Op.PING:
            if args:
                self._own["bad_length"] += 1
                return reply(Status.BAD_LENGTH)
            return reply(Status.OK, self.info.pack())
        if op == Op.REG_READ:
            if len(args) != 2:
                self._own["bad_length"] += 1
                return reply(Status.BAD_LENGTH)
            return reply(Status.OK, self.register(int.from_bytes(args, "little")).to_bytes(4, "little"))
        if op == Op.REG_WRITE:
            if len(args) != 6:
                self._own["bad_length"] += 1
                return reply(Status.BAD_LENGTH)
            addr, value = int.from_bytes(args[:2], "little"), int.from_bytes(args[2:], "little")
            if addr == BridgeReg.CLEAR:
                self.clear()
            elif (
                addr not in (BridgeReg.ID, BridgeReg.INFO0, BridgeReg.INFO1) and addr not in COUNTERS.values()
            ):
                self.bus_write(addr, value)
            return reply(Status.OK)
        if op == Op.SEND and self.has_packets:
            from tatami.hw.formats import split_head_flit

            fb = self.limits.flit_bytes
            if len(args) < 16:
                self._own["bad_length"] += 1
                return reply(Status.BAD_LENGTH)
            head = int.from_bytes(args[:16], "little")
            header, _ = split_head_flit(head)
            if len(args) != (header["length"] + 1) * fb:
                self._own["bad_length"] += 1
                return reply(Status.BAD_LENGTH)
            if packet_error(self.cfg, header) is not None:
                self._own["bad_packet"] += 1
                return reply(Status.BAD_PACKET)
            flits = [int.from_bytes(args[i : i + fb], "little") for i in range(0, len(args), fb)]
            self.packets.append((flits[0], flits[1:]))
            self._own["packets_sent"] += 1
            return reply(Status.OK)
        self._own["bad_op"] += 1
        return reply(Status.BAD_OP)


class EndpointModel:
    """Golden model of :class:`tatami.hw.bridge.endpoint.LoopbackEndpoint`: one packet in, the
    packets it sends out."""

    def __init__(self, cfg: TatamiConfig, node: tuple[int, int], words: int = 16):
        self.cfg, self.node, self.words = cfg, node, words
        self.mem = [0] * words
        self.regs = dict.fromkeys(range(16), 0)
        self.regs[1] = node[0] | node[1] << 8

    def handle(self, head: int, body: list[int]) -> list[tuple[int, list[int]]]:
        from tatami.config import CSR_BASE
        from tatami.hw.common.codec import Codec
        from tatami.hw.formats import (
            AtomicImmediate,
            MsgClass,
            PacketKind,
            ReadRequestImmediate,
            head_flit,
            split_head_flit,
        )

        h, imm = split_head_flit(head)
        kind = PacketKind(h["kind"])
        r = self.regs
        fbytes = self.cfg.noc.flit_bytes
        r[2] += 1
        reply = {
            **h,
            "dst_x": h["src_x"],
            "dst_y": h["src_y"],
            "src_x": self.node[0],
            "src_y": self.node[1],
            "mclass": MsgClass.RESPONSE,
        }
        mask = (1 << 32) - 1
        if kind == PacketKind.WRITE:
            r[3] += 1
            if h["addr"] < CSR_BASE:
                for i, f in enumerate(body):
                    self.mem[(h["addr"] // fbytes + i) % self.words] = f
            return []
        if kind == PacketKind.READ_REQ:
            r[4] += 1
            q = Codec(ReadRequestImmediate).unpack(imm)
            n = min(q["flits"], self.cfg.noc.max_packet_flits - 1)
            if h["addr"] >= CSR_BASE:
                base = (h["addr"] - CSR_BASE) >> 2
                data = [self._reg((base + i) & 0xFF) for i in range(n)]
            else:
                data = [self.mem[(h["addr"] // fbytes + i) % self.words] for i in range(n)]
            out = {**reply, "kind": PacketKind.READ_RESP, "length": n, "addr": q["ret_addr"]}
            return [(head_flit(out), data)]
        if kind == PacketKind.CONTROL:
            r[5] += 1
            a = Codec(AtomicImmediate).unpack(imm)
            if h["addr"] >= CSR_BASE:
                reg = ((h["addr"] - CSR_BASE) >> 2) & 0xFF
                if reg == 0:
                    r[0] = a["value"] & mask
                elif reg == 15:
                    for k in range(2, 9):
                        r[k] = 0
            if a["ack"]:
                return [(head_flit({**reply, "kind": PacketKind.ACK, "length": 0}), [])]
            return []
        if kind == PacketKind.TRAFFIC:
            r[6] += 1
            if h["mclass"] == MsgClass.REQUEST:
                return [(head_flit(reply, imm), list(body))]
            return []
        r[7] += 1
        return []

    def _reg(self, index: int) -> int:
        return self.regs.get(index & 0xF, 0) & 0xFFFF_FFFF if index < 16 else 0


class ModelTransport:
    """A whole ``mesh-bridge`` machine in Python behind the transport interface: the bridge model,
    an endpoint model per node, delivery in zero time. The host library and the bench's session
    run against it exactly as against the RTL or a board."""

    baud = 115200

    def __init__(self, cfg: TatamiConfig, words: int = 16):
        from tatami.hw.noc.ports import DropReason  # noqa: F401  (the bus exposes drop counters)

        self.cfg = cfg
        self.nodes = {n: EndpointModel(cfg, n, words) for n in cfg.mesh.live_nodes()}
        self.use_table = 0
        self.tables: dict = {}
        self.bridge = BridgeModel(cfg, self._bus_read, self._bus_write)
        self._out = bytearray()
        self.recv_seq = 0

    def _bus_read(self, addr: int) -> int:
        return self.use_table if addr == BridgeReg.USE_TABLE else 0

    def _bus_write(self, addr: int, value: int) -> None:
        if addr == BridgeReg.USE_TABLE:
            self.use_table = value & 1
        elif addr == BridgeReg.TABLE:
            self.tables[(value >> 16 & 0xFF, value >> 8 & 0xFF)] = value & 7

    async def write(self, data: bytes) -> None:
        from tatami.hw.formats import split_head_flit

        from .protocol import encode_frame

        n = len(self.bridge.packets)
        for resp in self.bridge.feed(data):
            self._out += encode_frame(resp[0], resp[1], resp[2:])
        pending = list(self.bridge.packets[n:])
        host = (self.cfg.mesh.host_x, self.cfg.mesh.host_y)
        while pending:
            head, body = pending.pop(0)
            h, _ = split_head_flit(head)
            dst = (h["dst_x"], h["dst_y"])
            mclass, kind = (int(getattr(h[k], "value", h[k])) for k in ("mclass", "kind"))
            if dst == host and mclass == 1 and h["tag"] & 0x10 and kind in (2, 6, 7):
                fb = self.cfg.noc.flit_bytes
                raw = b"".join(f.to_bytes(fb, "little") for f in [head, *body])
                self._out += encode_frame(self.recv_seq & 0xFF, Op.RECV, bytes([0]) + raw)
                self.recv_seq += 1
                self.bridge.packets_received += 1
                continue
            pending += self.nodes[dst].handle(head, body)

    async def read(self, timeout: float) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def close(self) -> None:
        pass
