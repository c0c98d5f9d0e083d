"""Router ports and the routing-table entry format, shared by the RTL and the route compiler.

A routing table holds one :class:`Port` code per destination node, indexed by the destination's
node number ``y * width + x``. The RTL loads the codes as they are (3 bits each); the route
compiler (:mod:`tatami.sim.noc.routes`) produces them.
"""

from __future__ import annotations

import enum as py_enum

from amaranth.lib import enum

__all__ = [
    "DIRECTIONS",
    "ROUTER_CSR_BASE",
    "ROUTER_CSR_CTRL",
    "ROUTER_CSR_TABLE",
    "TABLE_ENTRY_BITS",
    "DropReason",
    "Port",
    "node_index",
    "node_xy",
    "router_csr_writes",
    "vc_for",
]


class Port(enum.Enum, shape=3):
    """A router port. ``N`` is towards y - 1, ``E`` towards x + 1, ``S`` towards y + 1, ``W`` towards
    x - 1 (node (0, 0) is the north-west corner); ``LOCAL`` is the node's own injection/ejection port.
    ``DEAD`` and ``NONE`` are table entries only: the destination is a dead node, or the dead parts
    disconnect it from this router; a packet that would need either is dropped where it enters the
    network (:attr:`DropReason.DST_DEAD`, :attr:`DropReason.DST_UNREACHABLE`)."""

    N = 0
    E = 1
    S = 2
    W = 3
    LOCAL = 4
    DEAD = 5
    NONE = 7

    @property
    def delta(self) -> tuple[int, int]:
        """(dx, dy) of one hop through this port; (0, 0) for LOCAL and NONE."""
        return _DELTA.get(self, (0, 0))

    @property
    def opposite(self) -> Port:
        """The port of the neighbour that a flit leaving through this port arrives on."""
        return _OPPOSITE[self]


_DELTA = {Port.N: (0, -1), Port.E: (1, 0), Port.S: (0, 1), Port.W: (-1, 0)}
_OPPOSITE = {
    Port.N: Port.S,
    Port.S: Port.N,
    Port.E: Port.W,
    Port.W: Port.E,
    Port.LOCAL: Port.LOCAL,
    Port.DEAD: Port.DEAD,
    Port.NONE: Port.NONE,
}

#: The four link directions, in port-number order.
DIRECTIONS = (Port.N, Port.E, Port.S, Port.W)

#: Bits of one routing-table entry.
TABLE_ENTRY_BITS = 3

#: The router's registers, in the top 64 KiB of every node's CSR window (``addr`` of a CONTROL
#: packet; the value is ``AtomicImmediate.value``). A CONTROL packet (request class) whose destination
#: is this router and whose ``addr`` lies in ``[ROUTER_CSR_BASE, ROUTER_CSR_BASE + 0x1_0000)`` is
#: consumed by the router (never ejected to the node), whatever input it arrives on. Write-only.
ROUTER_CSR_BASE = 0xFF_0000
#: Bit 0: route by the table (ORed with the ``use_table`` port). Other bits reserved.
ROUTER_CSR_CTRL = ROUTER_CSR_BASE
#: Table entry for destination node ``k`` at ``ROUTER_CSR_TABLE + 4 * k`` (bits [0, 3) of the value:
#: a :class:`Port` code). Indexes ``k >= nodes`` are ignored.
ROUTER_CSR_TABLE = ROUTER_CSR_BASE + 0x1000


def node_index(x: int, y: int, width: int) -> int:
    """Node number of (x, y): row-major from the north-west corner; the routing-table index."""
    return y * width + x


def node_xy(index: int, width: int) -> tuple[int, int]:
    """Inverse of :func:`node_index`."""
    return index % width, index // width


class DropReason(py_enum.Enum):
    """Why a packet was dropped where it entered (its source router's local port). Checked in this
    order; the first that applies is the one counted. The value is the index of the router's drop
    counter and the bit of its sticky drop-flags register."""

    #: ``dst_x``/``dst_y`` name no node of the mesh.
    DST_OUTSIDE = 0
    #: The destination is a dead node (table entry DEAD).
    DST_DEAD = 1
    #: The destination is live but the dead parts disconnect it from the source (table entry NONE).
    DST_UNREACHABLE = 2
    #: ``kind`` is not a :class:`~tatami.hw.formats.PacketKind`.
    BAD_KIND = 3
    #: ``kind`` must travel in the other message class (:meth:`PacketKind.expected_class`), or the
    #: flit's virtual channel is not one of its class's (RTL only: the model does not see VCs).
    BAD_CLASS = 4
    #: ``length + 1`` flits exceeds ``noc.max_packet_flits``.
    TOO_LONG = 5
    #: The packet's framing does not match its ``length`` field (tail flit early or late).
    LENGTH_MISMATCH = 6


def vc_for(vcs: int, mclass: int, dst: tuple[int, int]) -> int:
    """The virtual channel a source puts a packet on: VCs ``[0, vcs/2)`` carry requests and
    ``[vcs/2, vcs)`` responses; within a class the destination picks one (``(x + y) mod vcs/2``), so
    a flow always uses one VC, which keeps it in order. Routers never change a flit's VC."""
    per_class = vcs // 2
    mclass = getattr(mclass, "value", mclass)
    return int(mclass) * per_class + (dst[0] + dst[1]) % per_class


def router_csr_writes(entries, *, use_table: bool = True) -> list[tuple[int, int]]:
    """The ``(addr, value)`` pairs of the CONTROL packets that load a router's table (``entries``: its
    :class:`Port` codes by destination node, as ``RouteTables.entries`` gives them) and then, if
    ``use_table``, switch it to table routing."""
    out = [(ROUTER_CSR_TABLE + 4 * k, int(getattr(e, "value", e))) for k, e in enumerate(entries)]
    if use_table:
        out.append((ROUTER_CSR_CTRL, 1))
    return out
