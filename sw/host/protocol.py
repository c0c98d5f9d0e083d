"""The host bridge protocol: framing, CRC, requests and responses -- the golden model.

The host library, the testbenches and the RTL (:mod:`tatami.hw.bridge`) all follow this module;
the RTL is checked against it byte by byte. See docs/fpga.md, "The host bridge protocol".

Link layer
----------
A frame is SLIP-framed (RFC 1055): ``END`` (0xC0) before and after; inside, ``END`` is sent as
``ESC ESC_END`` (0xDB 0xDC) and ``ESC`` as ``ESC ESC_ESC`` (0xDB 0xDD). ``END`` never occurs
inside a frame, so a receiver that lost its place resynchronizes at the next ``END``. The unescaped
frame is ``body || crc32(body)``: CRC-32 as in zlib/Ethernet (reflected, polynomial 0xEDB88320,
init and final XOR 0xFFFFFFFF), little-endian.

The receiver (:class:`Deframer`) rejects and counts, each once per frame:

- ``framing``: an ``ESC`` followed by anything but ``ESC_END``/``ESC_ESC`` (``END`` included);
- ``overlong``: more than :attr:`Limits.max_frame` unescaped bytes;
- ``short``: fewer than 6 bytes (sequence, opcode and CRC);
- ``crc``: the CRC does not match.

It then discards bytes up to the next ``END``. Empty frames (``END END``) are ignored.

Requests and responses
----------------------
Request body: ``seq`` (1 byte), ``op`` (1 byte), arguments. The bridge answers every request that
passed the CRC with ``seq``, ``op | 0x80``, ``status``, results. A request whose ``seq`` equals
the previous accepted request's is a retransmission: it is not executed again and is answered
``DUPLICATE``. Packets the mesh delivers to the host arrive unsolicited as ``RECV`` frames.

=========  ====  =============================  ===========================================
op         code  arguments                      results
=========  ====  =============================  ===========================================
PING       0x01  --                             12 bytes: :class:`BridgeInfo`
REG_READ   0x02  addr (u16)                     value (u32)
REG_WRITE  0x03  addr (u16), value (u32)        --
SEND       0x04  the packet's flits             --  (the packet was handed to the mesh)
RECV       0x85  (board to host only: ``seq`` counts received packets, status 0, the flits)
=========  ====  =============================  ===========================================

All integers are little-endian; a flit is ``flit_bits / 8`` bytes, least significant first; the
head flit is the 64-bit header then the 64-bit immediate (:func:`tatami.hw.formats.head_flit`),
zero above. SEND carries ``length + 1`` flits, so its arguments are a whole number of flits.
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass, field

from tatami.config import COORD_BITS, TatamiConfig

__all__ = [
    "END",
    "ESC",
    "ESC_END",
    "ESC_ESC",
    "MAGIC",
    "BridgeInfo",
    "BridgeReg",
    "Deframer",
    "Limits",
    "Op",
    "Status",
    "crc32",
    "decode_response",
    "encode_frame",
    "frame_body",
    "slip_encode",
]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
#: Returned by PING and by register ID: "TATM".
MAGIC = 0x4D544154
#: Smallest frame: seq, op, 4 CRC bytes.
MIN_FRAME = 6
PROTOCOL_VERSION = 1


class Op(enum.IntEnum):
    PING = 0x01
    REG_READ = 0x02
    REG_WRITE = 0x03
    SEND = 0x04
    RECV = 0x85

    @property
    def response(self) -> int:
        return self | 0x80


class Status(enum.IntEnum):
    OK = 0
    #: Unknown opcode.
    BAD_OP = 1
    #: The arguments are not as long as the opcode (and, for SEND, the header's length) needs.
    BAD_LENGTH = 2
    #: SEND: the packet is not one the host may send (see :func:`packet_error`).
    BAD_PACKET = 3
    #: Same sequence number as the previous request: not executed again.
    DUPLICATE = 4


class BridgeReg(enum.IntEnum):
    """Bridge-local registers (REG_READ / REG_WRITE, 16-bit addresses, 32-bit values).

    Counters wrap at 2**32; writing ``CLEAR`` zeroes every counter. ``TABLE`` (write-only) writes
    one routing-table entry: bits [2:0] the :class:`~tatami.hw.noc.ports.Port` code, [15:8] the
    entry (destination node), [23:16] the router (node number). Bit 0 of ``USE_TABLE`` switches
    the routers to their tables. ``DROPS + 8 * node + reason`` reads a router's admission drop
    counter (:class:`~tatami.hw.noc.ports.DropReason`). Addresses from ``DESIGN`` up are a window
    of 32768 registers onto the design's own register bus: design address
    ``PAGE * 0x8000 + (addr - DESIGN)`` (``PAGE`` is kept by the design; see
    :class:`tatami.host.host.DesignBus`).
    """

    ID = 0x0000
    INFO0 = 0x0001
    INFO1 = 0x0002
    FRAMES_OK = 0x0010
    ERR_CRC = 0x0011
    ERR_FRAMING = 0x0012
    ERR_OVERLONG = 0x0013
    ERR_SHORT = 0x0014
    ERR_BAD_OP = 0x0015
    ERR_BAD_LENGTH = 0x0016
    ERR_BAD_PACKET = 0x0017
    DUPLICATES = 0x0018
    PACKETS_SENT = 0x0019
    PACKETS_RECEIVED = 0x001A
    RX_OVERRUN = 0x001B
    CLEAR = 0x001F
    PAGE = 0x0020
    TABLE = 0x0100
    USE_TABLE = 0x0101
    DROPS = 0x0200
    DESIGN = 0x8000


#: Counters, in register order (FRAMES_OK .. RX_OVERRUN), by the names the models use.
COUNTERS = {
    "frames_ok": BridgeReg.FRAMES_OK,
    "crc": BridgeReg.ERR_CRC,
    "framing": BridgeReg.ERR_FRAMING,
    "overlong": BridgeReg.ERR_OVERLONG,
    "short": BridgeReg.ERR_SHORT,
    "bad_op": BridgeReg.ERR_BAD_OP,
    "bad_length": BridgeReg.ERR_BAD_LENGTH,
    "bad_packet": BridgeReg.ERR_BAD_PACKET,
    "duplicates": BridgeReg.DUPLICATES,
    "packets_sent": BridgeReg.PACKETS_SENT,
    "packets_received": BridgeReg.PACKETS_RECEIVED,
    "rx_overrun": BridgeReg.RX_OVERRUN,
}


@dataclass(frozen=True)
class Limits:
    """Sizes that follow from the config."""

    flit_bytes: int
    max_packet_flits: int

    @classmethod
    def of(cls, cfg: TatamiConfig) -> Limits:
        return cls(cfg.noc.flit_bytes, cfg.noc.max_packet_flits)

    @property
    def max_frame(self) -> int:
        """Largest unescaped frame: seq, op, a largest packet, CRC."""
        return 2 + self.flit_bytes * self.max_packet_flits + 4

    @property
    def max_response(self) -> int:
        """Largest unescaped board-to-host frame (a RECV of a largest packet)."""
        return 3 + self.flit_bytes * self.max_packet_flits + 4


def crc32(data: bytes) -> int:
    return zlib.crc32(bytes(data)) & 0xFFFF_FFFF


def slip_encode(body: bytes) -> bytes:
    out = bytearray([END])
    for b in body:
        if b == END:
            out += bytes([ESC, ESC_END])
        elif b == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(b)
    out.append(END)
    return bytes(out)


def frame_body(body: bytes) -> bytes:
    """``body`` followed by its CRC (the unescaped frame)."""
    return bytes(body) + crc32(body).to_bytes(4, "little")


def encode_frame(seq: int, op: int, args: bytes = b"") -> bytes:
    """A complete frame on the wire: SLIP(seq, op, args, crc)."""
    if not 0 <= seq < 256 or not 0 <= op < 256:
        raise ValueError(f"seq {seq} and op {op} must be bytes")
    return slip_encode(frame_body(bytes([seq, op]) + bytes(args)))


@dataclass
class Deframer:
    """Golden model of the frame receiver: bytes in, CRC-checked frame bodies out, errors counted.

    ``feed(data)`` returns the accepted frame bodies (CRC stripped) in order; ``counts`` holds
    ``frames_ok``, ``crc``, ``framing``, ``overlong``, ``short``.
    """

    max_frame: int
    counts: dict = field(
        default_factory=lambda: dict.fromkeys(("frames_ok", "crc", "framing", "overlong", "short"), 0)
    )

    def __post_init__(self):
        self._buf = bytearray()
        self._esc = False
        self._discard = False

    def _error(self, kind: str):
        self.counts[kind] += 1
        self._discard = True
        self._buf.clear()
        self._esc = False

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        for b in bytes(data):
            if b == END:
                if self._discard:
                    pass
                elif self._esc:
                    self.counts["framing"] += 1
                elif not self._buf:
                    pass
                elif len(self._buf) < MIN_FRAME:
                    self.counts["short"] += 1
                elif crc32(self._buf[:-4]) != int.from_bytes(self._buf[-4:], "little"):
                    self.counts["crc"] += 1
                else:
                    self.counts["frames_ok"] += 1
                    out.append(bytes(self._buf[:-4]))
                self._buf.clear()
                self._esc = self._discard = False
                continue
            if self._discard:
                continue
            if self._esc:
                self._esc = False
                if b == ESC_END:
                    b = END
                elif b == ESC_ESC:
                    b = ESC
                else:
                    self._error("framing")
                    continue
            elif b == ESC:
                self._esc = True
                continue
            if len(self._buf) >= self.max_frame:
                self._error("overlong")
                continue
            self._buf.append(b)
        return out


@dataclass(frozen=True)
class BridgeInfo:
    """What PING returns: the machine behind the bridge."""

    magic: int
    version: int
    width: int
    height: int
    host_x: int
    host_y: int
    flit_bytes: int
    max_packet_flits: int
    vcs: int
    routing_table: bool

    @classmethod
    def of(cls, cfg: TatamiConfig) -> BridgeInfo:
        m = cfg.mesh
        return cls(
            MAGIC,
            PROTOCOL_VERSION,
            m.width,
            m.height,
            m.host_x,
            m.host_y,
            cfg.noc.flit_bytes,
            cfg.noc.max_packet_flits,
            cfg.noc.vcs,
            cfg.noc.routing == "table",
        )

    def pack(self) -> bytes:
        return (
            self.magic.to_bytes(4, "little")
            + bytes([self.version, self.width, self.height, self.host_x, self.host_y])
            + bytes([self.flit_bytes, self.max_packet_flits, self.vcs | (int(self.routing_table) << 7)])
        )

    @classmethod
    def unpack(cls, data: bytes) -> BridgeInfo:
        if len(data) != 12:
            raise ValueError(f"PING result is {len(data)} bytes, not 12")
        return cls(
            int.from_bytes(data[:4], "little"),
            data[4],
            data[5],
            data[6],
            data[7],
            data[8],
            data[9],
            data[10],
            data[11] & 0x7F,
            bool(data[11] >> 7),
        )

    def info_regs(self) -> tuple[int, int]:
        """Values of registers INFO0 and INFO1 (the PING bytes 4..11)."""
        b = self.pack()
        return int.from_bytes(b[4:8], "little"), int.from_bytes(b[8:12], "little")


@dataclass(frozen=True)
class Response:
    seq: int
    op: int
    status: int
    data: bytes


def decode_response(body: bytes) -> Response:
    """A board-to-host frame body (CRC already checked and stripped)."""
    if len(body) < 3:
        raise ValueError(f"a response needs seq, op and status, got {body.hex()}")
    return Response(body[0], body[1], body[2], bytes(body[3:]))


def packet_error(cfg: TatamiConfig, header: dict) -> str | None:
    """Why the bridge refuses to send a packet with this header (None: it sends it).

    The host may only send packets the network's admission check would accept at the host node:
    destination on the mesh and not dead, a known kind in its class, at most ``max_packet_flits``
    flits, and the host node as the source (responses come back there).
    """
    from tatami.hw.formats import MsgClass, PacketKind

    m = cfg.mesh
    dst = (header["dst_x"], header["dst_y"])
    if not m.contains(*dst):
        return f"destination {dst} is not a node of the {m.width}x{m.height} mesh"
    if dst in m.dead_nodes:
        return f"destination {dst} is a dead node"
    try:
        kind = PacketKind(header["kind"])
    except ValueError:
        return f"kind {header['kind']} is not a packet kind"
    expected = PacketKind.expected_class(kind)
    mclass = MsgClass(header["mclass"])
    if expected is not None and mclass != expected:
        return f"{kind.name} travels as {expected.name}, not {mclass.name}"
    if header["length"] + 1 > cfg.noc.max_packet_flits:
        return f"{header['length'] + 1} flits is more than noc.max_packet_flits = {cfg.noc.max_packet_flits}"
    if (header["src_x"], header["src_y"]) != (m.host_x, m.host_y):
        return f"source {(header['src_x'], header['src_y'])} is not the host node {(m.host_x, m.host_y)}"
    return None


assert COORD_BITS <= 8  # coordinates travel as single bytes in BridgeInfo
