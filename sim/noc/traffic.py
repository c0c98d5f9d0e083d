"""Synthetic traffic: BookSim's patterns and Bernoulli injection, as the reference for the generators.

Each pattern maps a source node to a destination node; random patterns draw from an ``rng`` with a
``randrange(n)`` method (a :class:`random.Random`, or the LFSR model the synthesizable generators
share). Definitions follow BookSim 2.0 (``src/traffic.cpp``) for a k x k mesh with node number
``y * k + x``, generalised to W x H meshes where BookSim needs a power of two:

============  =====================================================================================
pattern       destination of source (x, y)
============  =====================================================================================
uniform       any node, uniformly at random, the source included (BookSim: ``RandomInt(nodes-1)``);
              with dead nodes, any live node
transpose     (y, x); square meshes only (BookSim swaps the halves of the node number, the same for
              k a power of two)
bitcomp       (W-1-x, H-1-y) (BookSim: ``~source & (nodes-1)``, the same for W, H powers of two)
hotspot       one of the hotspot nodes, chosen with probability proportional to its rate; all
              traffic goes to the hotspots (BookSim ``hotspot({nodes},{rates})``); default node (0, 0)
neighbor      ((x+1) mod W, (y+1) mod H) (BookSim's digit pattern ``neighbor``)
============  =====================================================================================

A deterministic pattern whose destination is dead generates nothing from that source (the source
stays silent rather than sending packets the network must drop).

Injection is BookSim's Bernoulli process with the rate in flits per node per cycle: each cycle each
source creates a packet with probability ``rate / packet_flits`` (:class:`Bernoulli`). Latency counts
from creation, so packets wait in an unbounded source queue (BookSim ``include_queuing = 1``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tatami.config import MeshConfig, TatamiConfig
from tatami.hw.common.codec import Codec
from tatami.hw.formats import MsgClass, PacketKind, TrafficImmediate

from .model import Packet

__all__ = [
    "PATTERNS",
    "Bernoulli",
    "bitcomp",
    "generate",
    "hotspot",
    "make_pattern",
    "neighbor",
    "transpose",
    "uniform",
]

Node = tuple[int, int]


def uniform(src: Node, mesh: MeshConfig, rng) -> Node:
    live = mesh.live_nodes()
    return live[rng.randrange(len(live))]


def transpose(src: Node, mesh: MeshConfig, rng=None) -> Node:
    if mesh.width != mesh.height:
        raise ValueError(f"transpose needs a square mesh, not {mesh.width}x{mesh.height}")
    return src[1], src[0]


def bitcomp(src: Node, mesh: MeshConfig, rng=None) -> Node:
    return mesh.width - 1 - src[0], mesh.height - 1 - src[1]


def neighbor(src: Node, mesh: MeshConfig, rng=None) -> Node:
    return (src[0] + 1) % mesh.width, (src[1] + 1) % mesh.height


def hotspot(src: Node, mesh: MeshConfig, rng, hotspots=((0, 0),), rates=None) -> Node:
    hotspots = [tuple(h) for h in hotspots]
    if len(hotspots) == 1:
        return hotspots[0]
    rates = list(rates) if rates is not None else [1] * len(hotspots)
    pick = rng.randrange(sum(rates))
    for h, r in zip(hotspots, rates):
        if pick < r:
            return h
        pick -= r
    return hotspots[-1]


PATTERNS: dict[str, Callable] = {
    "uniform": uniform,
    "transpose": transpose,
    "bitcomp": bitcomp,
    "hotspot": hotspot,
    "neighbor": neighbor,
}


def make_pattern(name: str, mesh: MeshConfig, **params) -> Callable[[Node, object], Node | None]:
    """``pattern(src, rng) -> dst`` (None: this source sends nothing), with parameters checked."""
    name = {"neighbour": "neighbor", "uniform_random": "uniform"}.get(name, name)
    if name not in PATTERNS:
        raise ValueError(f"unknown traffic pattern {name!r}; known: {', '.join(PATTERNS)}")
    fn = PATTERNS[name]
    if name == "hotspot":
        hs = [tuple(h) for h in params.get("hotspots", ((0, 0),))]
        for h in hs:
            if not mesh.contains(*h) or h in mesh.dead_nodes:
                raise ValueError(f"hotspot {h} is not a live node of the mesh")
        rates = params.get("rates")
        if rates is not None and (len(rates) != len(hs) or any(r <= 0 for r in rates)):
            raise ValueError(f"hotspot rates {rates} must be positive, one per hotspot")
        return lambda src, rng: hotspot(src, mesh, rng, hs, rates)
    if params:
        raise ValueError(f"pattern {name!r} takes no parameters, got {sorted(params)}")
    if name == "transpose":
        transpose((0, 0), mesh)  # raises for non-square meshes
    dead = set(mesh.dead_nodes)

    def pattern(src, rng):
        dst = fn(src, mesh, rng)
        return None if dst in dead else dst

    return pattern


@dataclass(frozen=True)
class Bernoulli:
    """BookSim's Bernoulli injection: a packet per cycle with probability ``rate / packet_flits``.

    Parameters
    ----------
    rate : float
        Offered load in flits per node per cycle, 0..1.
    packet_flits : int
        Flits per packet, head included.
    """

    rate: float
    packet_flits: int = 1

    def __post_init__(self):
        if not 0 <= self.rate <= 1:
            raise ValueError(f"injection rate {self.rate} is not in 0..1 flits/node/cycle")
        if not isinstance(self.packet_flits, int) or self.packet_flits < 1:
            raise ValueError(f"packet_flits must be a positive integer, not {self.packet_flits!r}")

    @property
    def packet_probability(self) -> float:
        return self.rate / self.packet_flits

    def fires(self, rng) -> bool:
        return rng.random() < self.packet_probability

    def threshold(self, bits: int) -> int:
        """The hardware form: a packet when a ``bits``-bit uniform random word is below this."""
        return round(self.packet_probability * (1 << bits))


def generate(
    cfg: TatamiConfig,
    pattern: str,
    rate: float,
    cycles: int,
    packet_flits: int = 1,
    seed: int = 0,
    classes: str = "request",
    **params,
) -> list[Packet]:
    """Packets offered by every live node over ``cycles`` cycles, in (cycle, node) order.

    Packets are ``TRAFFIC`` kind with a :data:`TrafficImmediate` holding a per-flow sequence number
    and the creation cycle. ``classes`` is ``"request"``, ``"response"`` or ``"both"`` (a random
    class per packet: spreads load over both VC sets, as BookSim spreads it over all VCs).
    """
    if classes not in ("request", "response", "both"):
        raise ValueError(f"classes must be 'request', 'response' or 'both', not {classes!r}")
    if packet_flits > cfg.noc.max_packet_flits:
        raise ValueError(
            f"{packet_flits}-flit packets exceed noc.max_packet_flits = {cfg.noc.max_packet_flits}"
        )
    rng = random.Random(seed)
    inject = Bernoulli(rate, packet_flits)
    dest = make_pattern(pattern, cfg.mesh, **params)
    imm = Codec(TrafficImmediate)
    seq: dict[tuple, int] = {}
    body_mask = (1 << cfg.noc.flit_bits) - 1
    out = []
    for cycle in range(cycles):
        for src in cfg.mesh.live_nodes():
            if not inject.fires(rng):
                continue
            dst = dest(src, rng)
            if dst is None:
                continue
            if classes == "both":
                mclass = MsgClass(rng.randrange(2))
            else:
                mclass = MsgClass.REQUEST if classes == "request" else MsgClass.RESPONSE
            flow = (src, dst, mclass)
            n = seq.get(flow, 0)
            seq[flow] = n + 1
            header = {
                "dst_x": dst[0],
                "dst_y": dst[1],
                "src_x": src[0],
                "src_y": src[1],
                "mclass": mclass,
                "kind": PacketKind.TRAFFIC,
                "length": packet_flits - 1,
            }
            body = tuple(rng.getrandbits(cfg.noc.flit_bits) & body_mask for _ in range(packet_flits - 1))
            out.append(
                Packet(src, header, imm.pack(seq=n & 0xFFFF_FFFF, stamp=cycle & 0xFFFF_FFFF), body, cycle)
            )
    return out
