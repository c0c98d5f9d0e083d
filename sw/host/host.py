"""The host's view of a Tatami mesh behind the bridge: registers, node memory, routing tables,
traffic, counters. One async API over any :class:`~tatami.host.transport.Transport`."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from tatami.config import CSR_BASE, TatamiConfig

from .protocol import (
    COUNTERS,
    BridgeInfo,
    BridgeReg,
    Deframer,
    Limits,
    Op,
    Status,
    decode_response,
    encode_frame,
)

__all__ = ["BridgeError", "DesignBus", "Host", "Packet"]

#: Tags with this bit set are the host's (:data:`tatami.hw.bridge.endpoint.HOST_TAG`).
HOST_TAG = 0x10


class BridgeError(RuntimeError):
    """The bridge refused a request, or did not answer."""


@dataclass
class Packet:
    """A packet as the host sends or receives it."""

    header: dict
    immediate: int = 0
    body: list[int] = field(default_factory=list)

    def flits(self) -> list[int]:
        from tatami.hw.formats import head_flit

        return [head_flit(self.header, self.immediate), *self.body]

    @classmethod
    def from_flits(cls, flits: list[int]) -> Packet:
        from tatami.hw.formats import split_head_flit

        header, imm = split_head_flit(flits[0])
        return cls(header, imm, list(flits[1:]))


class Host:
    """Requests to the bridge, with sequence numbers, retransmission and response matching.

    Parameters
    ----------
    transport : Transport
    cfg : TatamiConfig
        The machine's configuration (flit size, mesh size, host node).
    timeout : float
        Seconds (of link time) to wait for a response before retransmitting.
    retries : int
        Retransmissions before giving up with :class:`BridgeError`.
    """

    def __init__(self, transport, cfg: TatamiConfig, timeout: float = 0.5, retries: int = 2):
        self.transport, self.cfg = transport, cfg
        self.limits = Limits.of(cfg)
        self.timeout, self.retries = timeout, retries
        self._rx = Deframer(self.limits.max_response)
        self._frames: deque[bytes] = deque()
        self.inbox: deque[Packet] = deque()
        self._seq = 0
        self._tag = 0
        self.retransmissions = 0

    # ----- link ---------------------------------------------------------------------------------
    async def _next_frame(self, timeout: float) -> bytes | None:
        while not self._frames:
            data = await self.transport.read(timeout)
            if not data:
                return None
            self._frames.extend(self._rx.feed(data))
        return self._frames.popleft()

    def _file_recv(self, body: bytes):
        fb = self.limits.flit_bytes
        raw = body[3:]
        self.inbox.append(
            Packet.from_flits([int.from_bytes(raw[i : i + fb], "little") for i in range(0, len(raw), fb)])
        )

    async def request(self, op: int, args: bytes = b"", *, check: bool = True) -> tuple[int, bytes]:
        """Send one request and wait for its response: ``(status, result bytes)``."""
        self._seq = (self._seq + 1) & 0xFF
        frame = encode_frame(self._seq, op, args)
        for attempt in range(self.retries + 1):
            if attempt:
                self.retransmissions += 1
            await self.transport.write(frame)
            while True:
                body = await self._next_frame(self.timeout)
                if body is None:
                    break  # timed out: retransmit
                r = decode_response(body)
                if r.op == Op.RECV:
                    self._file_recv(body)
                    continue
                if r.seq != self._seq or r.op != (op | 0x80):
                    continue  # a stale answer to an earlier attempt
                status = Status(r.status) if r.status in Status._value2member_map_ else r.status
                if status == Status.DUPLICATE and attempt:
                    if op in (Op.REG_READ, Op.PING):  # the answer was lost: ask again
                        return await self.request(op, args, check=check)
                    return Status.OK, b""
                if check and status != Status.OK:
                    raise BridgeError(f"{Op(op).name} refused: {getattr(status, 'name', status)}")
                return status, r.data
        raise BridgeError(
            f"no answer to {Op(op).name} after {self.retries + 1} attempts: is the board programmed "
            "with a bridge design, and the baud rate right?"
        )

    # ----- bridge -------------------------------------------------------------------------------
    async def ping(self) -> BridgeInfo:
        _, data = await self.request(Op.PING)
        info = BridgeInfo.unpack(data)
        want = BridgeInfo.of(self.cfg)
        if info != want:
            raise BridgeError(f"the bridge reports {info}, but the config {self.cfg.name!r} says {want}")
        return info

    async def reg_read(self, addr: int) -> int:
        _, data = await self.request(Op.REG_READ, int(addr).to_bytes(2, "little"))
        return int.from_bytes(data, "little")

    async def reg_write(self, addr: int, value: int) -> None:
        await self.request(
            Op.REG_WRITE, int(addr).to_bytes(2, "little") + (value & 0xFFFF_FFFF).to_bytes(4, "little")
        )

    async def counters(self, names=None) -> dict:
        """The bridge's counters (frames, rejected frames by reason, packets), or those named."""
        return {
            name: await self.reg_read(addr) for name, addr in COUNTERS.items() if not names or name in names
        }

    async def clear_counters(self) -> None:
        await self.reg_write(BridgeReg.CLEAR, 1)

    async def drops(self, node: tuple[int, int]) -> dict:
        """A router's admission drop counters by reason."""
        from tatami.hw.noc.ports import DropReason, node_index

        k = node_index(*node, self.cfg.mesh.width)
        return {r.name: await self.reg_read(BridgeReg.DROPS + 8 * k + r.value) for r in DropReason}

    async def load_routes(self, tables=None) -> None:
        """Write every router's table (default: :func:`~tatami.sim.noc.routes.compile_routes`) and
        switch the routers to them."""
        from tatami.hw.noc.ports import node_index
        from tatami.sim.noc.routes import compile_routes

        mesh = self.cfg.mesh
        if self.cfg.noc.routing != "table":
            raise BridgeError(f"config {self.cfg.name!r} routes XY (noc.routing = 'xy'): there are no tables")
        tables = tables or compile_routes(mesh)
        for y in range(mesh.height):
            for x in range(mesh.width):
                r = node_index(x, y, mesh.width)
                for dst, code in enumerate(tables.entries((x, y))):
                    await self.reg_write(BridgeReg.TABLE, (r << 16) | (dst << 8) | code)
        await self.reg_write(BridgeReg.USE_TABLE, 1)

    # ----- packets ------------------------------------------------------------------------------
    def header(self, dst, kind, *, mclass=None, length=0, tag=0, addr=0) -> dict:
        from tatami.hw.formats import MsgClass, PacketKind

        kind = PacketKind(kind)
        if mclass is None:
            mclass = PacketKind.expected_class(kind) or MsgClass.REQUEST
        m = self.cfg.mesh
        return {
            "dst_x": dst[0],
            "dst_y": dst[1],
            "src_x": m.host_x,
            "src_y": m.host_y,
            "mclass": MsgClass(mclass),
            "kind": kind,
            "length": length,
            "tag": tag,
            "addr": addr,
        }

    async def send(self, packet: Packet) -> None:
        fb = self.limits.flit_bytes
        await self.request(Op.SEND, b"".join(f.to_bytes(fb, "little") for f in packet.flits()))

    async def receive(self, match=None, timeout: float | None = None) -> Packet:
        """The next packet the mesh delivered to the host (that ``match(packet)`` accepts)."""
        timeout = self.timeout if timeout is None else timeout
        for _ in range(2):
            for p in list(self.inbox):
                if match is None or match(p):
                    self.inbox.remove(p)
                    return p
            while True:
                body = await self._next_frame(timeout)
                if body is None:
                    break
                if body[1] == Op.RECV:
                    self._file_recv(body)
                    p = self.inbox[-1]
                    if match is None or match(p):
                        self.inbox.pop()
                        return p
        raise BridgeError("no packet arrived for the host")

    def _next_tag(self) -> int:
        self._tag = (self._tag + 1) % HOST_TAG
        return HOST_TAG | self._tag

    async def write(self, node, addr: int, flits: list[int]) -> None:
        """Write flits to a node's memory at byte address ``addr``."""
        from tatami.hw.formats import PacketKind

        await self.send(
            Packet(self.header(node, PacketKind.WRITE, length=len(flits), addr=addr), 0, list(flits))
        )

    async def read(self, node, addr: int, flits: int) -> list[int]:
        """Read flits from a node (memory, or registers at ``addr >= CSR_BASE``)."""
        from tatami.hw.common.codec import Codec
        from tatami.hw.formats import PacketKind, ReadRequestImmediate

        tag = self._next_tag()
        imm = Codec(ReadRequestImmediate).pack(ret_addr=0, flits=flits)
        await self.send(Packet(self.header(node, PacketKind.READ_REQ, tag=tag, addr=addr), imm))
        p = await self.receive(lambda p: p.header["kind"] == PacketKind.READ_RESP and p.header["tag"] == tag)
        return p.body

    async def read_reg(self, node, index: int, count: int = 1) -> list[int]:
        """Node registers ``CSR_BASE + 4 * index ...`` (one per response flit; as many READ_REQs
        as ``noc.max_packet_flits`` needs)."""
        per = self.cfg.noc.max_packet_flits - 1
        out = []
        for first in range(index, index + count, per):
            n = min(per, index + count - first)
            out += [v & 0xFFFF_FFFF for v in await self.read(node, CSR_BASE + 4 * first, n)]
        return out

    async def control(self, node, index: int, value: int, ack: bool = False) -> None:
        """Write a node register with a CONTROL packet (and wait for the ACK if ``ack``)."""
        from tatami.hw.common.codec import Codec
        from tatami.hw.formats import AtomicImmediate, PacketKind

        tag = self._next_tag()
        imm = Codec(AtomicImmediate).pack(value=value & 0xFFFF_FFFF, ack=int(ack))
        await self.send(
            Packet(self.header(node, PacketKind.CONTROL, tag=tag, addr=CSR_BASE + 4 * index), imm)
        )
        if ack:
            await self.receive(lambda p: p.header["kind"] == PacketKind.ACK and p.header["tag"] == tag)

    async def loopback(self, node, body: list[int], seq: int = 0) -> Packet:
        """Send a TRAFFIC packet to ``node``; its loopback endpoint returns it. Returns the echo."""
        from tatami.hw.common.codec import Codec
        from tatami.hw.formats import MsgClass, PacketKind, TrafficImmediate

        tag = self._next_tag()
        imm = Codec(TrafficImmediate).pack(seq=seq, stamp=0)
        h = self.header(node, PacketKind.TRAFFIC, mclass=MsgClass.REQUEST, length=len(body), tag=tag)
        await self.send(Packet(h, imm, list(body)))
        return await self.receive(lambda p: p.header["kind"] == PacketKind.TRAFFIC and p.header["tag"] == tag)


class DesignBus:
    """The design's register bus through the bridge's ``PAGE`` / ``DESIGN`` window.

    ``async read(addr)``, ``async write(addr, value)`` and ``async wait_done(limit_cycles)``: the
    bus interface :class:`tatami.sim.noc.sweep.TesterDriver` takes, so the tester's own driver runs
    over the UART unchanged. ``done`` is ``(register, mask)``: ``wait_done`` polls it.
    """

    WINDOW = 0x8000

    def __init__(self, host: Host, done: tuple[int, int] | None = None, polls: int = 10_000):
        self.host, self.done, self.polls = host, done, polls
        self._page: int | None = None

    async def _select(self, addr: int) -> int:
        page = addr // self.WINDOW
        if page != self._page:
            await self.host.reg_write(BridgeReg.PAGE, page)
            self._page = page
        return BridgeReg.DESIGN + addr % self.WINDOW

    async def read(self, addr: int) -> int:
        return await self.host.reg_read(await self._select(addr))

    async def write(self, addr: int, value: int) -> None:
        await self.host.reg_write(await self._select(addr), value)

    async def wait_done(self, limit_cycles: int) -> None:
        if self.done is None:
            raise BridgeError("this DesignBus was made without a done register")
        reg, mask = self.done
        for _ in range(self.polls):
            if await self.read(reg) & mask:
                return
        raise BridgeError(f"the design did not finish after {self.polls} polls of register {reg:#x}")
