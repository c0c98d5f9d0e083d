"""Every format that crosses a unit boundary, defined once.

Flits, packet headers, head-flit immediates and the enumerations they use are Amaranth layouts
here; the RTL uses them as :class:`~amaranth.lib.data.View`\\ s, and golden models and testbenches
derive their codecs from them (:class:`tatami.hw.common.codec.Codec`). See docs/packet-format.md.

The packet format
-----------------
A packet is one head flit followed by ``length`` body flits (wormhole switched). The head flit
carries the 64-bit :data:`Header` in bits [0, 64) and a 64-bit immediate in bits [64, 128); a wider
flit's remaining bits are zero in the head flit. Body flits carry ``flit_bits`` of data each. On a
link every flit travels with ``head``/``tail`` framing bits and the virtual channel it occupies
(:func:`link_flit_layout`).
"""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from tatami.config import (
    COORD_BITS,
    CSR_BASE,
    HEADER_BITS,
    IMMEDIATE_BITS,
    LENGTH_BITS,
    LOCAL_ADDR_BITS,
    TatamiConfig,
)

from .common.codec import Codec

__all__ = [
    "CSR_BASE",
    "HEADER_BITS",
    "IMMEDIATE_BITS",
    "AtomicImmediate",
    "Header",
    "MsgClass",
    "PacketKind",
    "ReadRequestImmediate",
    "TrafficImmediate",
    "header_codec",
    "link_flit_layout",
    "vc_bits",
]


class MsgClass(enum.Enum, shape=1):
    """Message class. Each class has its own virtual channels, so a response can never wait behind
    a request: the request-response protocol cannot deadlock the network."""

    REQUEST = 0
    RESPONSE = 1


class PacketKind(enum.Enum, shape=4):
    """Packet type. Codes not listed are malformed: dropped and counted where they enter."""

    #: Write the body flits to ``addr`` in the destination node.
    WRITE = 0
    #: Read ``ReadRequestImmediate.flits`` flits at ``addr``; answered by READ_RESP to the source.
    READ_REQ = 1
    #: Data answering a READ_REQ, written at ``addr`` (the requester's return address).
    READ_RESP = 2
    #: Add ``AtomicImmediate.value`` to the 32-bit semaphore at ``addr``.
    ATOMIC_ADD = 3
    #: Arrive at barrier ``addr``; the barrier's home node counts arrivals and releases.
    BARRIER = 4
    #: Write the immediate to the node register at ``addr`` (``addr`` >= CSR_BASE).
    CONTROL = 5
    #: Completion of a WRITE / ATOMIC_ADD / CONTROL whose ``ack`` bit was set.
    ACK = 6
    #: Synthetic traffic from the traffic generators; checked and discarded by the checkers.
    TRAFFIC = 7

    @classmethod
    def expected_class(cls, kind) -> MsgClass | None:
        """The class a kind must travel in (None: either, as for TRAFFIC)."""
        kind = cls(kind)
        if kind in (cls.READ_RESP, cls.ACK):
            return MsgClass.RESPONSE
        if kind is cls.TRAFFIC:
            return None
        return MsgClass.REQUEST


#: The 64-bit packet header, bits [0, 64) of a head flit.
Header = data.StructLayout(
    {
        "dst_x": unsigned(COORD_BITS),
        "dst_y": unsigned(COORD_BITS),
        "src_x": unsigned(COORD_BITS),
        "src_y": unsigned(COORD_BITS),
        "mclass": MsgClass,
        "kind": PacketKind,
        "length": unsigned(LENGTH_BITS),  # body flits that follow the head flit
        "tag": unsigned(5),  # requester's transaction id, echoed by READ_RESP / ACK
        "addr": unsigned(LOCAL_ADDR_BITS),  # byte address in the destination node's 16 MiB window
    }
)
assert Header.size == HEADER_BITS, Header.size

#: Immediate of a READ_REQ: where the response goes and how much to read.
ReadRequestImmediate = data.StructLayout(
    {
        "ret_addr": unsigned(LOCAL_ADDR_BITS),
        "flits": unsigned(LENGTH_BITS),
        "_reserved": unsigned(IMMEDIATE_BITS - LOCAL_ADDR_BITS - LENGTH_BITS),
    }
)

#: Immediate of ATOMIC_ADD (and of CONTROL, which uses ``value`` as the register's new value).
AtomicImmediate = data.StructLayout(
    {
        "value": 32,
        "ack": 1,
        "_reserved": IMMEDIATE_BITS - 33,
    }
)

#: Immediate of TRAFFIC packets: per-(source, destination, class) sequence number for the order
#: check, and the cycle the packet was created for latency.
TrafficImmediate = data.StructLayout(
    {
        "seq": 32,
        "stamp": 32,
    }
)

for _layout in (ReadRequestImmediate, AtomicImmediate, TrafficImmediate):
    assert _layout.size == IMMEDIATE_BITS


def vc_bits(cfg: TatamiConfig) -> int:
    return max(1, (cfg.noc.vcs - 1).bit_length())


def link_flit_layout(cfg: TatamiConfig) -> data.StructLayout:
    """A flit on a link: payload, framing and the virtual channel it occupies downstream."""
    return data.StructLayout(
        {
            "data": cfg.noc.flit_bits,
            "head": 1,
            "tail": 1,
            "vc": vc_bits(cfg),
        }
    )


def header_codec() -> Codec:
    return Codec(Header)


def head_flit(header: dict, immediate: int = 0) -> int:
    """The data word of a head flit: header in bits [0, 64), immediate in [64, 128)."""
    if not 0 <= immediate < (1 << IMMEDIATE_BITS):
        raise ValueError(f"immediate {immediate:#x} does not fit {IMMEDIATE_BITS} bits")
    return header_codec().pack(header) | (immediate << HEADER_BITS)


def split_head_flit(word: int) -> tuple[dict, int]:
    """Inverse of :func:`head_flit`: (header fields, immediate)."""
    return (
        header_codec().unpack(word & ((1 << HEADER_BITS) - 1)),
        (word >> HEADER_BITS) & ((1 << IMMEDIATE_BITS) - 1),
    )
