"""Transaction-level golden model of the network on chip, and a scoreboard that checks the RTL against it.

The network promises four things, and this model states them:

1. **Admission.** A packet is checked where it enters (its source router's local port). A bad packet
   is dropped there and counted by :class:`DropReason`; the first reason that applies, in the order
   of :class:`DropReason`, is the one counted. Everything else is delivered.
2. **Delivery.** An admitted packet is delivered exactly once, unchanged (head flit and body), at the
   local port of its destination, along the route the tables give (:meth:`NetworkModel.path`).
3. **Order.** Packets of one flow, (source, destination, message class), are delivered in the order
   they were injected. Different flows may interleave in any order.
4. **Progress.** Given time, every admitted packet is delivered (the tables are deadlock-free).
5. **Router registers.** An admitted CONTROL packet (request class) addressed to its destination
   router's registers (``addr >= ROUTER_CSR_BASE``, :mod:`tatami.hw.noc.ports`) is consumed by that
   router, not delivered: it is listed in :attr:`NetworkModel.router_writes` instead.

Flows are identified by the header's ``src_x``/``src_y`` fields, which must name the node that
injects the packet (traffic generators and DMA engines write their own coordinates).

:class:`NetworkModel` computes what must come out; :class:`Scoreboard` takes what did come out (packet
by packet, at each destination) and counts lost, duplicated, corrupted, misordered and misdelivered
packets, the same counters the synthesizable checkers keep.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field

from tatami.config import TatamiConfig
from tatami.hw.formats import MsgClass, PacketKind, head_flit, header_codec, split_head_flit
from tatami.hw.noc.ports import ROUTER_CSR_BASE, DropReason, Port

from .routes import RouteError, RouteTables, compile_routes

__all__ = ["DropReason", "NetworkModel", "Packet", "Scoreboard", "admission_check", "is_router_write"]

Node = tuple[int, int]


@dataclass(frozen=True)
class Packet:
    """One packet as a source offers it.

    Parameters
    ----------
    src : (x, y)
        The node whose local port injects it.
    header : dict
        Header fields (:data:`tatami.hw.formats.Header`); missing fields are zero. ``kind`` may be a
        raw int to model a malformed packet.
    immediate : int
        The 64-bit immediate of the head flit.
    body : tuple of int
        Body flits, ``flit_bits`` each.
    cycle : int
        Injection (creation) cycle; packets are injected in (cycle, list order) order.
    """

    src: Node
    header: dict
    immediate: int = 0
    body: tuple[int, ...] = ()
    cycle: int = 0

    def __post_init__(self):
        object.__setattr__(self, "src", tuple(self.src))
        object.__setattr__(self, "body", tuple(self.body))
        full = dict.fromkeys(header_codec().names, 0)
        full.update(self.header)
        # Normalise through the codec, so that equal packets compare equal.
        object.__setattr__(self, "header", header_codec().unpack(header_codec().pack(full)))

    @property
    def dst(self) -> Node:
        return self.header["dst_x"], self.header["dst_y"]

    @property
    def mclass(self) -> MsgClass:
        return MsgClass(self.header["mclass"])

    @property
    def flow(self) -> tuple[Node, Node, MsgClass]:
        return (self.header["src_x"], self.header["src_y"]), self.dst, self.mclass

    def flits(self) -> list[int]:
        """Data words on the wire: the head flit, then the body."""
        return [head_flit(self.header, self.immediate), *self.body]

    @classmethod
    def from_flits(cls, src: Node, flits: list[int], cycle: int = 0) -> Packet:
        header, imm = split_head_flit(flits[0])
        return cls(src, header, imm, tuple(flits[1:]), cycle)


def admission_check(cfg: TatamiConfig, tables: RouteTables, packet: Packet) -> DropReason | None:
    """The :class:`DropReason` for ``packet`` entering at ``packet.src``, or None if it is admitted."""
    mesh, h = cfg.mesh, packet.header
    dst = packet.dst
    if not mesh.contains(*dst):
        return DropReason.DST_OUTSIDE
    if tables.port(packet.src, dst) is Port.DEAD:
        return DropReason.DST_DEAD
    if tables.port(packet.src, dst) is Port.NONE:
        return DropReason.DST_UNREACHABLE
    if not isinstance(h["kind"], PacketKind):
        return DropReason.BAD_KIND
    expected = PacketKind.expected_class(h["kind"])
    if expected is not None and expected is not packet.mclass:
        return DropReason.BAD_CLASS
    if h["length"] + 1 > cfg.noc.max_packet_flits:
        return DropReason.TOO_LONG
    if len(packet.body) != h["length"]:
        return DropReason.LENGTH_MISMATCH
    return None


def is_router_write(packet: Packet) -> bool:
    """An (admitted) packet that its destination router consumes as a register write."""
    h = packet.header
    return (
        h["kind"] is PacketKind.CONTROL and packet.mclass is MsgClass.REQUEST and h["addr"] >= ROUTER_CSR_BASE
    )


class NetworkModel:
    """What the network must do with a list of injected packets.

    Parameters
    ----------
    cfg : TatamiConfig
        Mesh, dead nodes and links, and NoC limits.
    tables : RouteTables, optional
        The routing tables loaded into the routers; by default :func:`compile_routes` of the mesh
        (plain XY when nothing is dead).
    """

    def __init__(self, cfg: TatamiConfig, tables: RouteTables | None = None):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"NetworkModel needs a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        self.tables = tables if tables is not None else compile_routes(cfg.mesh)
        if self.tables.mesh != cfg.mesh:
            raise ValueError("the routing tables were compiled for another mesh")
        #: Admitted packets per flow, in delivery order.
        self.flows: dict[tuple, list[Packet]] = {}
        #: Drop counters: ``drops[(node, reason)]``.
        self.drops: Counter = Counter()
        #: Every dropped packet with its reason, in injection order.
        self.dropped: list[tuple[Packet, DropReason]] = []
        #: Admitted register writes to routers (consumed by the destination router), in order.
        self.router_writes: list[Packet] = []
        #: Admitted packets to be delivered (router register writes not included).
        self.admitted = 0

    def inject(self, packet: Packet) -> DropReason | None:
        """Offer one packet; returns the drop reason, or None when it is admitted."""
        if not self.cfg.mesh.contains(*packet.src) or packet.src in self.cfg.mesh.dead_nodes:
            raise ValueError(f"packet source {packet.src} is not a live node of the mesh")
        reason = admission_check(self.cfg, self.tables, packet)
        if reason is not None:
            self.drops[(packet.src, reason)] += 1
            self.dropped.append((packet, reason))
            return reason
        if is_router_write(packet):
            self.router_writes.append(packet)
            return None
        self.flows.setdefault(packet.flow, []).append(packet)
        self.admitted += 1
        return None

    def inject_all(self, packets) -> None:
        """Offer packets in (cycle, list order) order."""
        for p in sorted(packets, key=lambda p: p.cycle):
            self.inject(p)

    def path(self, packet: Packet) -> list[Node]:
        """Routers an admitted packet visits, source and destination included."""
        return self.tables.path(packet.src, packet.dst, packet.mclass)

    def deliveries(self, dst: Node) -> dict[tuple, list[Packet]]:
        """The packets the local port of ``dst`` must deliver, per flow, in order."""
        return {f: list(ps) for f, ps in self.flows.items() if f[1] == dst}

    def drop_counts(self, node: Node | None = None) -> Counter:
        """Drops by reason, at one node or everywhere."""
        out = Counter()
        for (n, reason), count in self.drops.items():
            if node is None or n == node:
                out[reason] += count
        return out

    def link_loads(self) -> Counter:
        """Flits each directed link carries for the admitted packets: ``loads[(from, to)]``."""
        loads = Counter()
        for ps in self.flows.values():
            for p in ps:
                nodes = self.path(p)
                for a, b in itertools.pairwise(nodes):
                    loads[(a, b)] += 1 + len(p.body)
        return loads


@dataclass
class Scoreboard:
    """Checks packets ejected by the RTL against a :class:`NetworkModel`.

    Call :meth:`eject` for every packet a destination's local port delivers, then :meth:`finish`.
    Counters (all zero in a correct run): ``lost``, ``duplicated``, ``corrupted``, ``misordered``,
    ``misdelivered`` (ejected at a node other than its destination), ``unexpected`` (matches nothing
    admitted). ``errors`` keeps a readable line per fault.
    """

    model: NetworkModel
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0
    misordered: int = 0
    misdelivered: int = 0
    unexpected: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._pending = {f: deque(ps) for f, ps in self.model.flows.items()}
        self._seen: dict[tuple, list[Packet]] = {}

    def eject(self, node: Node, flits: list[int], cycle: int | None = None) -> None:
        """One packet (its data words, head first) delivered at ``node``'s local port."""
        when = "" if cycle is None else f" at cycle {cycle}"
        try:
            got = Packet.from_flits((0, 0), flits)
        except (ValueError, RouteError) as e:
            self.unexpected += 1
            self.errors.append(f"{node}: undecodable packet{when}: {e}")
            return
        if got.dst != tuple(node):
            self.misdelivered += 1
            self.errors.append(f"{node}: packet for {got.dst} delivered here{when}")
            return
        flow = got.flow
        pending = self._pending.get(flow, deque())
        seen = self._seen.setdefault(flow, [])
        key = _content(got)
        if pending and _content(pending[0]) == key:
            seen.append(pending.popleft())
            self.delivered += 1
            return
        for i, p in enumerate(pending):
            if _content(p) == key:
                self.misordered += 1
                self.errors.append(f"{node}: flow {flow} packet delivered ahead of {i} older ones{when}")
                del pending[i]
                seen.append(p)
                self.delivered += 1
                return
        if any(_content(p) == key for p in seen):
            self.duplicated += 1
            self.errors.append(f"{node}: flow {flow} packet delivered twice{when}")
            return
        if pending:
            self.corrupted += 1
            self.errors.append(f"{node}: flow {flow} packet matches no admitted packet (corrupted?){when}")
            pending.popleft()
            return
        self.unexpected += 1
        self.errors.append(f"{node}: packet of flow {flow} that was never admitted{when}")

    def finish(self) -> None:
        """Count everything still pending as lost."""
        for flow, pending in self._pending.items():
            if pending:
                self.lost += len(pending)
                self.errors.append(f"flow {flow}: {len(pending)} packet(s) never delivered")
            pending.clear()

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.corrupted
            or self.misordered
            or self.misdelivered
            or self.unexpected
        )

    def summary(self) -> str:
        return (
            f"delivered {self.delivered}, lost {self.lost}, duplicated {self.duplicated}, "
            f"corrupted {self.corrupted}, misordered {self.misordered}, "
            f"misdelivered {self.misdelivered}, unexpected {self.unexpected}"
        )


def _content(p: Packet):
    return p.flits()[0], p.body
