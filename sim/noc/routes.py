"""Route compiler: per-router routing tables for a mesh with dead nodes and links, proven deadlock-free.

:func:`compile_routes` takes a :class:`~tatami.config.MeshConfig` and returns :class:`RouteTables`:
for every router and every destination node, the output :class:`Port` a packet takes. The tables

- reach every pair of live nodes that the dead nodes and links leave connected (pairs that are not
  connected get :attr:`Port.NONE` and are listed in :attr:`RouteTables.unreachable`);
- never send a packet into a dead node or over a dead link;
- are **proven deadlock-free**: :func:`verify` builds the channel dependency graph (CDG) the tables
  induce and checks it is acyclic, for each message class. Request and response classes travel on
  disjoint virtual channels, so their CDGs are independent graphs (Dally and Seitz: a deterministic
  routing function is deadlock-free if its CDG is acyclic). Channels are physical links per class;
  any assignment of a class's VCs refines this graph, so it stays acyclic.

Algorithms
----------
``"xy"``
    Dimension order, x first. Used, and required, when nothing is dead. No packet turns from y to
    x, so the CDG is acyclic.
``"updown"``
    Up*/down* (Autonet) over a breadth-first spanning tree of each connected component of the live
    mesh. Every link has an "up" end: the end nearer the root (ties broken by node number). A legal
    route is zero or more up hops followed by zero or more down hops; a down hop is never followed by
    an up hop, which orders all channels and makes the CDG acyclic. Routes are made
    destination-based (one entry per router and destination) by this rule: a router from which the
    destination can be reached by down hops only takes the shortest such path; any other router
    takes the up hop whose continuation is shortest. Every node reached by a down hop can itself
    continue down, so no route turns down-then-up. Several roots are tried; the one with the
    smallest total route length is kept.
``"turn"``
    Turn-model routing (Glass and Ni; Chiu's odd-even). A turn model forbids some 90-degree turns
    (and every 180-degree one) so that no cycle of channels can close: west-first, north-last,
    negative-first, their mirror images, and odd-even. For each destination a breadth-first search
    outwards from it builds the tree of next hops, attaching a router to a neighbour only when the
    turn the packet then makes at that neighbour is allowed; each router thus gets the shortest
    path the model permits (ties prefer an x move while x differs, as XY would). Around a few dead
    nodes these routes are nearly minimal and spread over the whole mesh, where up*/down* funnels
    traffic through the links near its root. Every model that reaches every connected pair is
    built; the one whose busiest channel carries the least uniform-random traffic is kept.
``"auto"`` (default)
    ``xy`` if every XY route between live nodes avoids the dead nodes and links; otherwise the
    best of ``turn`` and ``updown`` by the same channel-load measure (:func:`uniform_load`).

Either way :func:`verify` checks the result independently of how it was built; a table set that
fails is never returned.

Table encoding (what the RTL loads)
-----------------------------------
Each router has one table of ``width * height`` entries, indexed by destination node number
``y * width + x`` (:func:`~tatami.hw.noc.ports.node_index`). An entry is a 3-bit :class:`Port` code
(N=0, E=1, S=2, W=3, LOCAL=4, DEAD=5: the destination is dead, NONE=7: unreachable from
here). Both message classes share the table (their VCs are
disjoint, so one acyclic CDG per class is the same proof twice). :meth:`RouteTables.entries` gives
one router's entries as ints, :meth:`RouteTables.packed` packs them into one integer (entry ``i`` in
bits ``[3*i, 3*i+3)``), the form a table-load control packet or register block carries.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from tatami.config import MeshConfig
from tatami.hw.formats import MsgClass
from tatami.hw.noc.ports import DIRECTIONS, TABLE_ENTRY_BITS, Port, node_index, node_xy

__all__ = [
    "TURN_MODELS",
    "DeadlockError",
    "Port",
    "RouteError",
    "RouteTables",
    "channel_dependency_graph",
    "compile_routes",
    "find_cycle",
    "uniform_load",
    "verify",
    "xy_port",
]

Node = tuple[int, int]
#: A channel: the directed link from one node to a neighbour.
Channel = tuple[Node, Node]


class RouteError(ValueError):
    """A table set routes a packet wrongly: into a dead node or link, off the mesh, or in a loop."""


class DeadlockError(RouteError):
    """A table set's channel dependency graph has a cycle. ``cycle`` lists its channels."""

    def __init__(self, message: str, cycle: list[Channel], mclass: MsgClass):
        self.cycle = cycle
        self.mclass = mclass
        super().__init__(message)


#: What :func:`compile_routes` accepts as ``algorithm``.
ALGORITHMS = ("auto", "xy", "turn", "updown")


# ----- the mesh as a graph ------------------------------------------------------------------------


def _dead_link_set(mesh: MeshConfig) -> set[frozenset]:
    return {frozenset(link) for link in mesh.dead_links}


def _neighbour(node: Node, port: Port) -> Node:
    dx, dy = port.delta
    return node[0] + dx, node[1] + dy


def _live_links(mesh: MeshConfig) -> dict[Node, list[tuple[Port, Node]]]:
    """For each live node, the (port, neighbour) pairs over usable links, in port order."""
    dead = set(mesh.dead_nodes)
    dead_links = _dead_link_set(mesh)
    adj = {}
    for n in mesh.live_nodes():
        adj[n] = []
        for p in DIRECTIONS:
            m = _neighbour(n, p)
            if mesh.contains(*m) and m not in dead and frozenset((n, m)) not in dead_links:
                adj[n].append((p, m))
    return adj


def _components(adj: dict[Node, list[tuple[Port, Node]]]) -> list[list[Node]]:
    seen, comps = set(), []
    for start in adj:
        if start in seen:
            continue
        comp, queue = [], deque([start])
        seen.add(start)
        while queue:
            n = queue.popleft()
            comp.append(n)
            for _, m in adj[n]:
                if m not in seen:
                    seen.add(m)
                    queue.append(m)
        comps.append(comp)
    return comps


# ----- the tables ---------------------------------------------------------------------------------


@dataclass
class RouteTables:
    """Per-router routing tables for one mesh, as produced by :func:`compile_routes`.

    Attributes
    ----------
    mesh : MeshConfig
        The mesh the tables are for.
    ports : dict[(x, y), list[Port]]
        For each router (live or dead), the output port per destination node number. Live routers
        hold :attr:`Port.DEAD` for dead destinations and :attr:`Port.NONE` for disconnected ones;
        dead routers' tables are all :attr:`Port.NONE`.
    algorithm : str
        How the tables were built (``"xy"``, ``"updown root=(x, y)[, ...]"``, or a caller's name).
    unreachable : list[((x, y), (x, y))]
        Ordered pairs of live nodes that no route can join (the dead parts disconnect them).
    """

    mesh: MeshConfig
    ports: dict[Node, list[Port]]
    algorithm: str = "custom"
    unreachable: list[tuple[Node, Node]] = field(default_factory=list)

    def port(self, router: Node, dst: Node, mclass: MsgClass = MsgClass.REQUEST) -> Port:
        """Output port at ``router`` for a packet to ``dst`` (both classes share one table)."""
        MsgClass(mclass)
        return self.ports[router][node_index(*dst, self.mesh.width)]

    def path(self, src: Node, dst: Node, mclass: MsgClass = MsgClass.REQUEST) -> list[Node]:
        """Nodes a packet visits from ``src`` to ``dst`` inclusive. Raises :class:`RouteError` if the
        route leaves the mesh, enters a dead node or link, loops, or hits a NONE entry."""
        dead = set(self.mesh.dead_nodes)
        dead_links = _dead_link_set(self.mesh)
        if src in dead:
            raise RouteError(f"source {src} is a dead node")
        node, seen, nodes = src, {src}, [src]
        while True:
            p = self.port(node, dst, mclass)
            if p is Port.LOCAL:
                if node != dst:
                    raise RouteError(f"route {src}->{dst} ejects at {node}")
                return nodes
            if p in (Port.NONE, Port.DEAD):
                raise RouteError(f"route {src}->{dst} has no entry at router {node} (path {nodes})")
            nxt = _neighbour(node, p)
            if not self.mesh.contains(*nxt):
                raise RouteError(f"route {src}->{dst} leaves the mesh at {node} through {p.name}")
            if nxt in dead:
                raise RouteError(f"route {src}->{dst} enters dead node {nxt} from {node}")
            if frozenset((node, nxt)) in dead_links:
                raise RouteError(f"route {src}->{dst} uses dead link {node}-{nxt}")
            if nxt in seen:
                raise RouteError(f"route {src}->{dst} loops: {[*nodes, nxt]}")
            seen.add(nxt)
            nodes.append(nxt)
            node = nxt

    def hops(self, src: Node, dst: Node) -> int:
        return len(self.path(src, dst)) - 1

    def entries(self, router: Node) -> list[int]:
        """One router's table as 3-bit port codes, indexed by destination node number."""
        return [p.value for p in self.ports[router]]

    def packed(self, router: Node) -> int:
        """One router's table packed into an int: entry ``i`` in bits ``[3*i, 3*i + 3)``."""
        word = 0
        for i, code in enumerate(self.entries(router)):
            word |= code << (TABLE_ENTRY_BITS * i)
        return word

    def stats(self) -> dict:
        """Route lengths against the Manhattan distance, over all connected pairs of live nodes."""
        unreachable = set(self.unreachable)
        live = self.mesh.live_nodes()
        return _stats(
            {(s, d): self.hops(s, d) for s in live for d in live if s != d and (s, d) not in unreachable},
            len(self.unreachable),
        )


def _stats(hops: dict, unreachable: int) -> dict:
    total = sum(hops.values())
    manhattan = sum(abs(s[0] - d[0]) + abs(s[1] - d[1]) for s, d in hops)
    return {
        "pairs": len(hops),
        "total_hops": total,
        "mean_hops": total / max(len(hops), 1),
        "stretch": total / max(manhattan, 1),
        "longest": max(hops.values(), default=0),
        "unreachable": unreachable,
    }


def xy_port(router: Node, dst: Node) -> Port:
    """Dimension-order (x first) routing: the port a packet to ``dst`` takes at ``router``."""
    (x, y), (dx, dy) = router, dst
    if dx > x:
        return Port.E
    if dx < x:
        return Port.W
    if dy > y:
        return Port.S
    if dy < y:
        return Port.N
    return Port.LOCAL


def _all_nodes(mesh: MeshConfig) -> list[Node]:
    return [node_xy(i, mesh.width) for i in range(mesh.nodes)]


def _xy_tables(mesh: MeshConfig) -> RouteTables:
    dead = set(mesh.dead_nodes)
    ports = {}
    for r in _all_nodes(mesh):
        if r in dead:
            ports[r] = [Port.NONE] * mesh.nodes
        else:
            ports[r] = [Port.DEAD if d in dead else xy_port(r, d) for d in _all_nodes(mesh)]
    return RouteTables(mesh, ports, "xy")


def _xy_avoids_dead(mesh: MeshConfig) -> bool:
    tables = _xy_tables(mesh)
    live = mesh.live_nodes()
    try:
        for s in live:
            for d in live:
                tables.path(s, d)
    except RouteError:
        return False
    return True


def _updown_component(comp: list[Node], adj, root: Node, width: int) -> dict[Node, dict[Node, Port]]:
    """Up*/down* next hops within one connected component: ``next[router][dst] -> Port``."""
    level = {root: 0}
    queue = deque([root])
    while queue:
        n = queue.popleft()
        for _, m in adj[n]:
            if m not in level:
                level[m] = level[n] + 1
                queue.append(m)
    # Total order: a hop towards a smaller key is "up".
    key = {n: (level[n], node_index(*n, width)) for n in comp}
    order = sorted(comp, key=key.__getitem__)
    nxt: dict[Node, dict[Node, Port]] = {n: {} for n in comp}
    inf = float("inf")
    for d in comp:
        # dd[n]: shortest down-only distance n -> d (reverse BFS from d over up hops).
        dd = {d: 0}
        queue = deque([d])
        while queue:
            m = queue.popleft()
            for _, n in adj[m]:
                if key[n] < key[m] and n not in dd:
                    dd[n] = dd[m] + 1
                    queue.append(n)
        cost = {}
        for n in order:  # up neighbours come first in this order
            if n in dd:
                cost[n] = dd[n]
                if n == d:
                    nxt[n][d] = Port.LOCAL
                else:
                    # Down hop along a shortest down-only path; port order prefers x moves on ties.
                    nxt[n][d] = min(
                        (p for p, m in adj[n] if key[m] > key[n] and dd.get(m) == dd[n] - 1),
                        key=_port_preference,
                    )
            else:
                best = min(
                    ((cost[m], _port_preference(p), p) for p, m in adj[n] if key[m] < key[n]),
                    default=(inf, 0, None),
                )
                if best[2] is None:  # cannot happen: every non-root node has its tree parent above it
                    raise AssertionError(f"up*/down*: node {n} has no up link")
                cost[n] = best[0] + 1
                nxt[n][d] = best[2]
    return nxt


def _port_preference(p: Port) -> int:
    return {Port.E: 0, Port.W: 1, Port.S: 2, Port.N: 3}[p]


def _updown_tables(
    mesh: MeshConfig, roots: dict[int, Node] | None = None, max_root_candidates: int = 6
) -> RouteTables:
    adj = _live_links(mesh)
    comps = _components(adj)
    dead = set(mesh.dead_nodes)
    ports = {r: [Port.NONE] * mesh.nodes for r in _all_nodes(mesh)}
    chosen = []
    for ci, comp in enumerate(comps):
        if roots and ci in roots:
            candidates = [roots[ci]]
        else:
            cx = sum(n[0] for n in comp) / len(comp)
            cy = sum(n[1] for n in comp) / len(comp)
            candidates = sorted(
                comp, key=lambda n: ((n[0] - cx) ** 2 + (n[1] - cy) ** 2, node_index(*n, mesh.width))
            )
            candidates = candidates[:max_root_candidates]
        best = None
        for root in candidates:
            nxt = _updown_component(comp, adj, root, mesh.width)
            total = 0
            for s in comp:
                for d in comp:
                    n = s
                    while n != d:
                        n = _neighbour(n, nxt[n][d])
                        total += 1
            if best is None or total < best[0]:
                best = (total, root, nxt)
        _, root, nxt = best
        chosen.append(root)
        for r in comp:
            for d, p in nxt[r].items():
                ports[r][node_index(*d, mesh.width)] = p
    comp_of = {n: i for i, comp in enumerate(comps) for n in comp}
    unreachable = [(s, d) for s in mesh.live_nodes() for d in mesh.live_nodes() if comp_of[s] != comp_of[d]]
    for r in mesh.live_nodes():
        for d in dead:
            ports[r][node_index(*d, mesh.width)] = Port.DEAD
    algo = "updown root=" + ", ".join(str(r) for r in chosen)
    return RouteTables(mesh, ports, algo, unreachable)


# ----- turn models ----------------------------------------------------------------------------------

_N, _E, _S, _W = Port.N, Port.E, Port.S, Port.W


def _odd_even(node: Node, travel: Port, out: Port) -> bool:
    """Chiu's odd-even model: no east-to-north/south turn in an even column, no north/south-to-west
    turn in an odd column."""
    if node[0] % 2 == 0:
        return not (travel is _E and out in (_N, _S))
    return not (travel in (_N, _S) and out is _W)


def _forbid(*turns):
    banned = set(turns)
    return lambda node, travel, out: (travel, out) not in banned


#: Turn models: ``allowed(node, travel, out)`` -- may a packet that arrived at ``node`` travelling in
#: direction ``travel`` leave through ``out``? (Straight on is always allowed; a U-turn never is.)
TURN_MODELS = {
    "west-first": _forbid((_N, _W), (_S, _W)),
    "east-first": _forbid((_N, _E), (_S, _E)),
    "north-last": _forbid((_N, _E), (_N, _W)),
    "south-last": _forbid((_S, _E), (_S, _W)),
    "negative-first": _forbid((_E, _N), (_S, _W)),  # W and N (the negative directions) first
    "positive-first": _forbid((_W, _S), (_N, _E)),
    "odd-even": _odd_even,
}


def _turn_component(comp, adj, allowed, width) -> dict[Node, dict[Node, Port]] | None:
    """Next hops within one component under a turn model, or None if the model cannot reach some
    pair there. For each destination, a breadth-first search from it: a router ``u`` next to an
    attached router ``v`` attaches through ``v`` if the turn at ``v`` (arriving from ``u``, leaving
    by ``v``'s own next hop) is allowed."""
    into = {n: [(p, m) for p, m in adj[n]] for n in comp}  # m -> n over port p.opposite at m
    nxt: dict[Node, dict[Node, Port]] = {n: {} for n in comp}
    for d in comp:
        out = {d: Port.LOCAL}
        layer = [d]
        while layer:
            offers: dict[Node, list[Port]] = {}
            for v in layer:
                for p_v, u in into[v]:
                    if u in out:
                        continue
                    travel = p_v.opposite  # u leaves through this port to reach v
                    if _turn_ok(allowed, v, travel, out[v]):
                        offers.setdefault(u, []).append(travel)
            for u, ports in offers.items():
                out[u] = min(ports, key=lambda p, u=u: _tie_break(u, d, p))
            layer = sorted(offers, key=lambda n: node_index(*n, width))
        if len(out) != len(comp):
            return None
        for n, p in out.items():
            nxt[n][d] = p
    return nxt


def _turn_ok(allowed, node: Node, travel: Port, out: Port) -> bool:
    """May a packet travelling ``travel`` into ``node`` leave it through ``out``?"""
    if out is Port.LOCAL or out is travel:
        return True
    return out is not travel.opposite and allowed(node, travel, out)


def _tie_break(node: Node, dst: Node, port: Port) -> tuple[int, int]:
    """Among equally short next hops: an x move while x differs (as XY routing), then port order."""
    x_move = port in (Port.E, Port.W)
    return (0 if x_move == (node[0] != dst[0]) else 1, _port_preference(port))


def _tables_from_next_hops(mesh: MeshConfig, comps, per_comp, algo: str) -> RouteTables:
    dead = set(mesh.dead_nodes)
    ports = {r: [Port.NONE] * mesh.nodes for r in _all_nodes(mesh)}
    for nxt in per_comp:
        for r, row in nxt.items():
            for d, p in row.items():
                ports[r][node_index(*d, mesh.width)] = p
    comp_of = {n: i for i, comp in enumerate(comps) for n in comp}
    unreachable = [(s, d) for s in mesh.live_nodes() for d in mesh.live_nodes() if comp_of[s] != comp_of[d]]
    for r in mesh.live_nodes():
        for d in dead:
            ports[r][node_index(*d, mesh.width)] = Port.DEAD
    return RouteTables(mesh, ports, algo, unreachable)


_XY_TURNS = frozenset((t, o) for t in (_E, _W) for o in (_N, _S))
_YX_TURNS = tuple((t, o) for t in (_N, _S) for o in (_E, _W))


def _xy_detour_model(mesh: MeshConfig, adj, order: str):
    """A node-specific turn model: XY's turns everywhere (x to y), plus y-to-x turns, each added
    only if the turn graph -- live channels, joined where a turn or straight run is allowed --
    stays acyclic. Any routes that obey an acyclic turn graph are deadlock-free. Candidates are
    taken nearest the dead parts first: ``order="columns"`` by column distance then row distance
    (a detour around a dead node runs down the columns beside it), ``"manhattan"`` by hop
    distance. Routes that XY already serves stay XY (they are shortest and ties prefer x)."""
    faults = set(mesh.dead_nodes) | {n for link in mesh.dead_links for n in link}
    if not faults:
        return None

    def distance(n):
        if order == "columns":
            return min((abs(n[0] - f[0]), abs(n[1] - f[1])) for f in faults)
        return min(abs(n[0] - f[0]) + abs(n[1] - f[1]) for f in faults)

    extra: dict[Node, set] = {n: set() for n in adj}
    succ: dict[Channel, set[Channel]] = {}
    for b in adj:  # channel a -> b continues as b -> c when allowed (XY turns, straight on)
        for pa, a in adj[b]:
            travel = pa.opposite
            for pc, c in adj[b]:
                if pc is travel or (travel, pc) in _XY_TURNS:
                    succ.setdefault((a, b), set()).add((b, c))

    def reaches(src: Channel, dst: Channel) -> bool:
        seen, stack = {src}, [src]
        while stack:
            ch = stack.pop()
            if ch == dst:
                return True
            for nx in succ.get(ch, ()):
                if nx not in seen:
                    seen.add(nx)
                    stack.append(nx)
        return False

    for b in sorted(adj, key=lambda n: (distance(n), n[1], n[0])):
        for travel, out in _YX_TURNS:
            ins = [a for pa, a in adj[b] if pa.opposite is travel]
            outs = [c for pc, c in adj[b] if pc is out]
            if not ins or not outs:
                continue
            a, c = ins[0], outs[0]
            if reaches((b, c), (a, b)):  # the new edge (a,b) -> (b,c) would close a cycle
                continue
            succ.setdefault((a, b), set()).add((b, c))
            extra[b].add((travel, out))
    return lambda node, travel, out: (travel, out) in _XY_TURNS or (travel, out) in extra[node]


def _turn_tables(mesh: MeshConfig) -> list[RouteTables]:
    """One table set per turn model that reaches every connected pair."""
    adj = _live_links(mesh)
    comps = _components(adj)
    models = dict(TURN_MODELS)
    for order in ("columns", "manhattan"):
        model = _xy_detour_model(mesh, adj, order)
        if model is not None:
            models[f"xy+detours ({order})"] = model
    found = []
    for name, allowed in models.items():
        per_comp = [_turn_component(comp, adj, allowed, mesh.width) for comp in comps]
        if all(nxt is not None for nxt in per_comp):
            found.append(_tables_from_next_hops(mesh, comps, per_comp, f"turn {name}"))
    return found


def uniform_load(tables: RouteTables) -> float:
    """Flits per cycle on the busiest link of ``tables`` when every live node injects one flit per
    cycle to uniformly random live destinations (its own component's): the uniform ideal
    throughput is ``1 / max(1, uniform_load)`` per node (injection and ejection carry 1)."""
    comps = _components(_live_links(tables.mesh))
    load: dict[Channel, float] = {}
    for comp in comps:
        share = 1 / len(comp)
        for s in comp:
            for d in comp:
                path = tables.path(s, d)
                for a, b in itertools.pairwise(path):
                    load[(a, b)] = load.get((a, b), 0.0) + share
    return max(load.values(), default=0.0)


def compile_routes(mesh: MeshConfig, algorithm: str = "auto") -> RouteTables:
    """Routing tables for ``mesh``, verified by :func:`verify` before they are returned.

    Parameters
    ----------
    mesh : MeshConfig
        Size, dead nodes and dead links.
    algorithm : str
        ``"auto"``, ``"xy"`` or ``"updown"`` (see the module documentation). ``"xy"`` raises
        :class:`RouteError` if some XY route would cross a dead node or link.

    Returns
    -------
    RouteTables
        Tables whose :attr:`~RouteTables.unreachable` lists the live pairs the dead parts
        disconnect (empty when the live mesh is connected).
    """
    if not isinstance(mesh, MeshConfig):
        raise TypeError(f"compile_routes needs a MeshConfig, not {mesh!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown routing algorithm {algorithm!r}; use {', '.join(map(repr, ALGORITHMS))}")
    if algorithm == "xy" or (algorithm == "auto" and _xy_avoids_dead(mesh)):
        tables = _xy_tables(mesh)
        if algorithm == "xy" and not _xy_avoids_dead(mesh):
            verify(tables)  # raises, naming the first bad route
        verify(tables)
        return tables
    candidates = []
    if algorithm in ("auto", "turn"):
        candidates += _turn_tables(mesh)
    if algorithm in ("auto", "updown") or not candidates:
        candidates.append(_updown_tables(mesh))
    best = None
    for tables in candidates:
        try:
            stats = verify(tables)
        except RouteError:  # never expected (each model is acyclic), but never returned either
            continue
        score = (uniform_load(tables), stats["total_hops"])
        if best is None or score < best[0]:
            best = (score, tables)
    if best is None:
        raise RouteError(f"no deadlock-free table set found for {mesh}")
    return best[1]


# ----- the proof ----------------------------------------------------------------------------------


def channel_dependency_graph(
    tables: RouteTables, mclass: MsgClass = MsgClass.REQUEST
) -> dict[Channel, set[Channel]]:
    """The CDG of one message class: an edge ``c1 -> c2`` when some packet holds link ``c1`` while it
    asks for link ``c2`` (it arrives over ``c1`` and the table at ``c1``'s head sends it on over
    ``c2``). Built per destination: every live router that routes towards ``d`` is itself a source
    for ``d``, so the channel ``p -> u`` carries traffic to ``d`` exactly when ``p`` forwards it to
    ``u``. Injection and ejection channels are sources and sinks and cannot close a cycle."""
    mesh = tables.mesh
    unreachable = set(tables.unreachable)
    live = mesh.live_nodes()
    graph: dict[Channel, set[Channel]] = {}
    for d in live:
        di = node_index(*d, mesh.width)
        for p in live:
            if p == d or (p, d) in unreachable:
                continue
            port_p = tables.ports[p][di]
            if port_p in (Port.LOCAL, Port.NONE, Port.DEAD):
                continue
            u = _neighbour(p, port_p)
            graph.setdefault((p, u), set())
            if u == d or not mesh.contains(*u):
                continue
            port_u = tables.ports[u][di]
            if port_u in (Port.LOCAL, Port.NONE, Port.DEAD):
                continue
            graph[(p, u)].add((u, _neighbour(u, port_u)))
    return graph


def find_cycle(graph: dict) -> list | None:
    """A cycle of a directed graph as a list of vertices (first repeated at the end), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for start in graph:
        if colour[start] != white:
            continue
        stack = [(start, iter(graph.get(start, ())))]
        colour[start] = grey
        path = [start]
        while stack:
            v, it = stack[-1]
            for w in it:
                c = colour.get(w, white)
                if c == grey:
                    return [*path[path.index(w) :], w]
                if c == white:
                    colour[w] = grey
                    path.append(w)
                    stack.append((w, iter(graph.get(w, ()))))
                    break
            else:
                colour[v] = black
                path.pop()
                stack.pop()
    return None


def verify(tables: RouteTables) -> dict:
    """Check a table set; raise :class:`RouteError` / :class:`DeadlockError` naming the first fault.

    Checks, in order: every table has one entry per node; dead routers hold only NONE; every live
    router sends packets for itself to LOCAL; every pair of live nodes not listed as unreachable is
    joined by a route that stays on the mesh, avoids dead nodes and links and does not loop; no pair
    listed as unreachable is in fact connected; each message class's CDG is acyclic.

    Returns the :meth:`RouteTables.stats` of the tables plus ``cdg_channels`` and ``cdg_edges``.
    """
    mesh = tables.mesh
    dead = set(mesh.dead_nodes)
    for r in _all_nodes(mesh):
        entries = tables.ports.get(r)
        if entries is None or len(entries) != mesh.nodes:
            raise RouteError(f"router {r} has no table of {mesh.nodes} entries")
        for i, p in enumerate(entries):
            if not isinstance(p, Port):
                raise RouteError(f"router {r} entry {i} is {p!r}, not a Port")
        if r in dead and any(p is not Port.NONE for p in entries):
            raise RouteError(f"dead router {r} has routes in its table")
        if r not in dead and entries[node_index(*r, mesh.width)] is not Port.LOCAL:
            raise RouteError(f"router {r} does not deliver packets for itself to LOCAL")
        if r not in dead:
            for d in _all_nodes(mesh):
                if (entries[node_index(*d, mesh.width)] is Port.DEAD) != (d in dead):
                    raise RouteError(f"router {r}: entry for {d} must be DEAD exactly when {d} is dead")
    # Reachability: unreachable pairs must be exactly the disconnected ones.
    comps = _components(_live_links(mesh))
    comp_of = {n: i for i, comp in enumerate(comps) for n in comp}
    unreachable = set(tables.unreachable)
    for s, d in unreachable:
        if comp_of.get(s) is not None and comp_of.get(s) == comp_of.get(d):
            raise RouteError(f"{s}->{d} is listed as unreachable but the live mesh connects them")
    hops = {}
    for s in mesh.live_nodes():
        for d in mesh.live_nodes():
            if (s, d) not in unreachable:
                if comp_of[s] != comp_of[d]:
                    raise RouteError(f"{s}->{d} are disconnected but not listed as unreachable")
                h = len(tables.path(s, d)) - 1
                if s != d:
                    hops[(s, d)] = h
    result = _stats(hops, len(unreachable))
    for mclass in MsgClass:
        graph = channel_dependency_graph(tables, mclass)
        cycle = find_cycle(graph)
        if cycle is not None:
            text = " -> ".join(f"{a}->{b}" for a, b in cycle)
            raise DeadlockError(f"{mclass.name} channel dependency graph has a cycle: {text}", cycle, mclass)
        result["cdg_channels"] = len(graph)
        result["cdg_edges"] = sum(len(v) for v in graph.values())
    return result
