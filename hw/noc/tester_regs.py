"""The register map of the network tester (:class:`~tatami.hw.noc.tester.NocTester`), defined once.

The RTL decodes these addresses, the Python driver (:mod:`tatami.sim.noc.sweep`) and the host bridge
use them, and docs/noc.md ("Sweeps") tabulates them from here. All registers are 32 bits wide and
word addressed (``addr`` counts registers, not bytes).

Bus protocol (``NocTester`` ports ``addr``, ``wdata``, ``we``, ``rdata``): a write happens on a rising
edge with ``we`` high (``wdata`` to register ``addr``); ``rdata`` is registered: it holds the register
at ``addr`` as it was on the previous rising edge (read latency one cycle; a read has no side effect).

Address space
-------------
``0x0000 .. 0x00FF`` global registers (:class:`Reg`); ``0x0020 + c`` the sum over all nodes of
counter ``c`` (:class:`Counter`; the sums are registers, one cycle behind the counters, two for
DROPS). ``NODE_BASE + k * NODE_STRIDE + c`` counter ``c`` of node ``k``
(``k = y * width + x``); ``... + DIST_BASE + 2*d`` and ``+ 1``: that node's checker's sum and count of
the latencies of measured packets that travelled Manhattan distance ``d``.
"""

from __future__ import annotations

import enum as py_enum

from amaranth.lib import enum

__all__ = [
    "ADDR_BITS",
    "DIST_BASE",
    "NODE_BASE",
    "NODE_STRIDE",
    "TESTER_ID",
    "TOTAL_BASE",
    "Classes",
    "Counter",
    "Ctrl",
    "FaultKind",
    "Pattern",
    "Phase",
    "Reg",
    "Status",
    "dist_addr",
    "fault_word",
    "live_entry_word",
    "node_addr",
    "node_alive_word",
    "table_word",
    "total_addr",
]

ADDR_BITS = 24
#: ``ID`` reads this: "TNOC".
TESTER_ID = 0x544E_4F43
TOTAL_BASE = 0x20
NODE_BASE = 0x1_0000
NODE_STRIDE = 128
DIST_BASE = 0x20


class Reg(py_enum.IntEnum):
    """Global registers. RO: read only; RW: read/write; WO: write only (reads 0)."""

    #: RO, :data:`TESTER_ID`.
    ID = 0x00
    #: RO, ``width | height << 8 | vcs << 16 | vc_depth << 24``.
    GEOMETRY = 0x01
    #: RW, :class:`Ctrl` bits. START and STOP are strobes (read as 0); USE_TABLE is a level.
    CTRL = 0x02
    #: RO, :class:`Status` bits and the :class:`Phase` in bits [0, 3).
    STATUS = 0x03
    #: RW, 17 bits: a packet is created in a cycle when a 16-bit random word is below this
    #: (``round(rate / packet_flits * 65536)``; 65536 = a packet every cycle).
    RATE = 0x04
    #: RW, :class:`Pattern`.
    PATTERN = 0x05
    #: RW, flits per packet, head included, 1 .. ``noc.max_packet_flits``.
    PACKET_FLITS = 0x06
    #: RW, :class:`Classes`: message classes (and so VCs) the packets use.
    CLASSES = 0x07
    #: RW, node number of the hotspot (pattern HOTSPOT).
    HOTSPOT = 0x08
    #: RW, seed of every node's random generator (mixed with the node number).
    SEED = 0x09
    #: RW, cycles of warm-up (packets created, not measured).
    WARMUP = 0x0A
    #: RW, cycles of measurement (packets created in them are measured; ejected flits counted).
    MEASURE = 0x0B
    #: RW, longest drain (until every measured packet is out) and longest flush (until every packet
    #: is out, creation stopped), in cycles; exceeding either sets a timeout bit in STATUS.
    DRAIN_LIMIT = 0x0C
    #: RW, watchdog: STATUS.STALLED is set when packets are outstanding and nothing was ejected
    #: anywhere for this many cycles.
    WATCHDOG = 0x0D
    #: WO, one routing-table entry: :func:`table_word`.
    TABLE_WRITE = 0x0E
    #: WO, arm a fault at one generator, applied to its next packet: :func:`fault_word`.
    FAULT = 0x0F
    #: RO, free-running cycle counter (packet stamps are its low 32 bits).
    CYCLE_LO = 0x10
    CYCLE_HI = 0x11
    #: RO, cycles the last drain and flush took.
    DRAIN_CYCLES = 0x12
    FLUSH_CYCLES = 0x13
    #: RO, the longest run of cycles with packets outstanding and no flit ejected (since START).
    MAX_STALL = 0x14
    #: RW, number of live nodes (entries of the live list); reset: the config's.
    LIVE_COUNT = 0x15
    #: WO, one entry of the live list uniform traffic draws from: :func:`live_entry_word`.
    LIVE_ENTRY = 0x16
    #: WO, mark a node live or dead (its generator idle, traffic to it suppressed):
    #: :func:`node_alive_word`. With table routing and tables for the same dead set, one build of
    #: the tester measures any set of dead nodes.
    NODE_ALIVE = 0x17


class Ctrl(py_enum.IntFlag):
    #: Clear counters and sequence tables, load seeds, run warm-up, measure, drain, flush.
    START = 1
    #: Stop creating packets now and flush.
    STOP = 2
    #: Route by the loaded tables instead of XY (``noc.routing == "table"``).
    USE_TABLE = 4


class Status(py_enum.IntFlag):
    #: The last run finished (back in IDLE).
    DONE = 1 << 4
    #: The drain hit DRAIN_LIMIT before every measured packet was out (saturated).
    DRAIN_TIMEOUT = 1 << 5
    #: The flush hit DRAIN_LIMIT before every packet was out (lost packets, or deadlock).
    FLUSH_TIMEOUT = 1 << 6
    #: Some source queue was full when a packet was created (the offered load was not met).
    OVERFLOW = 1 << 7
    #: Some router dropped a packet at admission.
    DROPPED = 1 << 8
    #: The watchdog fired (see :attr:`Reg.WATCHDOG`).
    STALLED = 1 << 9


class Phase(enum.Enum, shape=3):
    IDLE = 0
    CLEAR = 1
    WARMUP = 2
    MEASURE = 3
    DRAIN = 4
    FLUSH = 5


class Pattern(enum.Enum, shape=3):
    """Traffic patterns, BookSim's definitions (:mod:`tatami.sim.noc.traffic`)."""

    UNIFORM = 0
    TRANSPOSE = 1
    BITCOMP = 2
    HOTSPOT = 3
    NEIGHBOR = 4

    @classmethod
    def named(cls, name: str) -> Pattern:
        name = {"neighbour": "neighbor", "uniform_random": "uniform"}.get(name, name)
        try:
            return cls[name.upper()]
        except KeyError:
            known = ", ".join(p.name.lower() for p in cls)
            raise ValueError(f"unknown traffic pattern {name!r}; known: {known}") from None


class Classes(enum.Enum, shape=2):
    """Message classes of generated packets: all requests, all responses, or a random class per
    packet (``BOTH``: spreads the load over all VCs, as BookSim does)."""

    REQUEST = 0
    RESPONSE = 1
    BOTH = 2


class FaultKind(enum.Enum, shape=3):
    """Faults a generator applies to its next packet, to prove the checkers catch them."""

    NONE = 0
    #: Flip one bit of the packet's last flit (a body bit, or the stamp for 1-flit packets).
    CORRUPT = 1
    #: Consume the packet (and its sequence number) without sending it: a loss.
    DROP = 2
    #: Send the packet twice with the same sequence number.
    DUPLICATE = 3
    #: Send the packet with sequence number n + 1, then again with n: a misorder.
    REORDER = 4


class Counter(py_enum.IntEnum):
    """Per-node counters (32 bits, wrapping), and their sums at ``TOTAL_BASE + c``."""

    #: Generator: packets created (the source queue had room).
    CREATED = 0
    #: Generator: packets not created because the source queue was full.
    OVERFLOW = 1
    #: Generator: packets sent into the network (distinct sequence numbers).
    SENT = 2
    #: Generator: flits sent.
    FLITS_SENT = 3
    #: Generator: packets created during the measurement phase.
    MEASURED_CREATED = 4
    #: Checker: packets ejected (tails), good or bad.
    RECEIVED = 5
    #: Checker: flits ejected.
    FLITS_RECEIVED = 6
    #: Checker: packets with a wrong header, check field, body, framing or length.
    CORRUPTED = 7
    #: Checker: packets whose sequence number was already received.
    DUPLICATED = 8
    #: Checker: packets that arrived after a later packet of their flow.
    MISORDERED = 9
    #: Checker: sequence numbers skipped and not (yet) filled (signed); after a flush, lost packets.
    HOLES = 10
    #: Checker: measured packets received intact.
    LAT_COUNT = 11
    #: Checker: sum of their latencies (creation to tail ejection), low and high words.
    LAT_SUM_LO = 12
    LAT_SUM_HI = 13
    #: Checker: the largest of their latencies.
    LAT_MAX = 14
    #: Checker: flits ejected during the measurement phase.
    WIN_FLITS = 15
    #: Checker: measured packets received (any).
    MEASURED_RECEIVED = 16
    #: Router: packets dropped at admission (all reasons).
    DROPS = 17


def total_addr(c: Counter) -> int:
    return TOTAL_BASE + int(c)


def node_addr(node: int, c: Counter) -> int:
    return NODE_BASE + node * NODE_STRIDE + int(c)


def dist_addr(node: int, d: int) -> int:
    """Address of node ``node``'s latency sum at distance ``d``; the count is at ``+ 1``."""
    return NODE_BASE + node * NODE_STRIDE + DIST_BASE + 2 * d


def table_word(router: int, entry: int, port: int) -> int:
    """TABLE_WRITE value: entry ``entry`` (destination node) of router ``router`` gets ``port``."""
    if not (0 <= router < 4096 and 0 <= entry < 4096 and 0 <= port < 8):
        raise ValueError(f"table write router={router} entry={entry} port={port} out of range")
    return router | entry << 12 | port << 24


def fault_word(node: int, kind: FaultKind) -> int:
    """FAULT value: arm ``kind`` at node ``node``'s generator."""
    if not 0 <= node < 4096:
        raise ValueError(f"fault node {node} out of range")
    return node | FaultKind(kind).value << 12


def live_entry_word(index: int, x: int, y: int) -> int:
    """LIVE_ENTRY value: entry ``index`` of the live list is node (x, y)."""
    if not (0 <= index < 4096 and 0 <= x < 64 and 0 <= y < 64):
        raise ValueError(f"live entry {index} = ({x}, {y}) out of range")
    return index | x << 12 | y << 18


def node_alive_word(node: int, alive: bool) -> int:
    """NODE_ALIVE value."""
    if not 0 <= node < 4096:
        raise ValueError(f"node {node} out of range")
    return node | int(bool(alive)) << 12


def max_distance(width: int, height: int) -> int:
    return width + height - 2


def check_geometry(width: int, height: int) -> None:
    """Raise ValueError if the distance statistics of a mesh do not fit a node's register block."""
    if DIST_BASE + 2 * (max_distance(width, height) + 1) > NODE_STRIDE:
        raise ValueError(
            f"a {width}x{height} mesh has distances up to {max_distance(width, height)}: too many for "
            f"the tester's per-node register block ({NODE_STRIDE} words); use width + height <= 49"
        )
    if width * height > 4096:
        raise ValueError(f"the tester addresses at most 4096 nodes, not {width * height}")
