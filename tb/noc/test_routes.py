"""Route compiler (tatami.sim.noc.routes): reachability, dead parts avoided, CDG acyclic, XY default."""

import itertools
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tatami.config import MeshConfig
from tatami.hw.noc.ports import DIRECTIONS, Port, node_index
from tatami.sim.noc.routes import (
    TURN_MODELS,
    DeadlockError,
    RouteError,
    RouteTables,
    channel_dependency_graph,
    compile_routes,
    find_cycle,
    uniform_load,
    verify,
    xy_port,
)


def _components(mesh):
    """Independent of the compiler: connected components of the live mesh, by BFS."""
    dead, dead_links = set(mesh.dead_nodes), {frozenset(link) for link in mesh.dead_links}
    comp = {}
    for start in mesh.live_nodes():
        if start in comp:
            continue
        comp[start] = start
        queue = deque([start])
        while queue:
            x, y = queue.popleft()
            for m in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if (
                    mesh.contains(*m)
                    and m not in dead
                    and m not in comp
                    and frozenset(((x, y), m)) not in dead_links
                ):
                    comp[m] = start
                    queue.append(m)
    return comp


@st.composite
def meshes(draw, max_side=8):
    w = draw(st.integers(2, max_side))
    h = draw(st.integers(2, max_side))
    nodes = [(x, y) for y in range(h) for x in range(w) if (x, y) != (0, 0)]  # host stays live
    dead = draw(st.lists(st.sampled_from(nodes), max_size=min(5, len(nodes)), unique=True))
    links = [((x, y), (x + 1, y)) for y in range(h) for x in range(w - 1)]
    links += [((x, y), (x, y + 1)) for y in range(h - 1) for x in range(w)]
    dead_links = draw(st.lists(st.sampled_from(links), max_size=5, unique=True))
    return MeshConfig(w, h, dead_nodes=tuple(dead), dead_links=tuple(dead_links))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meshes())
def test_random_mesh_tables_reach_avoid_dead_and_are_acyclic(mesh):
    tables = compile_routes(mesh)
    comp = _components(mesh)
    dead, dead_links = set(mesh.dead_nodes), {frozenset(link) for link in mesh.dead_links}
    unreachable = set(tables.unreachable)
    for s in mesh.live_nodes():
        for d in mesh.live_nodes():
            if comp[s] != comp[d]:
                assert (s, d) in unreachable
                assert tables.port(s, d) is Port.NONE
                continue
            assert (s, d) not in unreachable
            path = tables.path(s, d)
            assert path[0] == s and path[-1] == d
            assert not dead & set(path)
            for a, b in itertools.pairwise(path):
                assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
                assert frozenset((a, b)) not in dead_links
    for r in dead:
        assert all(p is Port.NONE for p in tables.ports[r])
    for mclass in (0, 1):
        assert find_cycle(channel_dependency_graph(tables, mclass)) is None


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9))
def test_no_dead_parts_gives_xy(w, h):
    mesh = MeshConfig(w, h)
    tables = compile_routes(mesh)
    assert tables.algorithm == "xy"
    for r in mesh.live_nodes():
        for d in mesh.live_nodes():
            assert tables.port(r, d) is xy_port(r, d)
    assert tables.stats()["stretch"] == 1.0 or w * h == 1


def _clockwise_2x2() -> RouteTables:
    """XY tables on 2x2, with the three other diagonal routes turned to run clockwise as well:
    E along the top, S down the right, W along the bottom, N up the left -- a cycle of turns."""
    mesh = MeshConfig(2, 2)
    tables = compile_routes(mesh)
    idx = lambda x, y: node_index(x, y, 2)  # noqa: E731
    tables.ports[(1, 0)][idx(0, 1)] = Port.S
    tables.ports[(1, 1)][idx(0, 0)] = Port.W
    tables.ports[(0, 1)][idx(1, 0)] = Port.N
    return tables


def test_cyclic_tables_are_rejected():
    tables = _clockwise_2x2()
    for s in tables.mesh.live_nodes():  # every route is fine on its own ...
        for d in tables.mesh.live_nodes():
            tables.path(s, d)
    with pytest.raises(DeadlockError) as info:  # ... but together they can deadlock
        verify(tables)
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1] and len(cycle) == 5
    assert set(cycle) == {((0, 0), (1, 0)), ((1, 0), (1, 1)), ((1, 1), (0, 1)), ((0, 1), (0, 0))}


def test_find_cycle():
    assert find_cycle({1: {2}, 2: {3}, 3: set()}) is None
    assert find_cycle({1: {2}, 2: {3}, 3: {1}}) in ([1, 2, 3, 1], [2, 3, 1, 2], [3, 1, 2, 3])
    assert find_cycle({1: {1}}) == [1, 1]


def test_route_into_dead_node_is_rejected():
    mesh = MeshConfig(3, 3, dead_nodes=((1, 1),))
    tables = compile_routes(mesh)
    tables.ports[(1, 0)][node_index(1, 2, 3)] = Port.S  # straight through the dead centre
    with pytest.raises(RouteError, match="dead node"):
        verify(tables)


def test_route_over_dead_link_and_loop_are_rejected():
    mesh = MeshConfig(3, 3, dead_links=(((0, 0), (1, 0)),))
    tables = compile_routes(mesh)
    assert tables.algorithm != "xy"
    tables.ports[(0, 0)][node_index(2, 0, 3)] = Port.E
    with pytest.raises(RouteError, match="dead link"):
        verify(tables)
    tables = compile_routes(MeshConfig(3, 3))
    tables.ports[(1, 0)][node_index(2, 2, 3)] = Port.W  # (0,0) sends E, (1,0) sends back W
    with pytest.raises(RouteError, match="loops"):
        verify(tables)


def test_xy_refuses_dead_parts():
    with pytest.raises(RouteError):
        compile_routes(MeshConfig(3, 3, dead_nodes=((1, 1),)), algorithm="xy")


def test_disconnected_pairs_are_listed():
    mesh = MeshConfig(3, 2, dead_nodes=((1, 0), (1, 1)))
    tables = compile_routes(mesh)
    left, right = {(0, 0), (0, 1)}, {(2, 0), (2, 1)}
    assert set(tables.unreachable) == {(a, b) for a in left for b in right} | {
        (b, a) for a in left for b in right
    }
    assert tables.port((0, 0), (2, 1)) is Port.NONE
    assert tables.path((2, 0), (2, 1)) == [(2, 0), (2, 1)]


def test_table_encoding():
    mesh = MeshConfig(3, 2, dead_nodes=((1, 1),))
    tables = compile_routes(mesh)
    for r in [(x, y) for y in range(2) for x in range(3)]:
        entries, word = tables.entries(r), tables.packed(r)
        assert len(entries) == 6
        assert [(word >> (3 * i)) & 7 for i in range(6)] == entries
        assert [Port(e) for e in entries] == tables.ports[r]
    assert tables.entries((1, 1)) == [Port.NONE.value] * 6
    assert tables.entries((0, 0))[node_index(1, 1, 3)] == Port.DEAD.value


def test_rejects_bad_arguments():
    with pytest.raises(TypeError):
        compile_routes((4, 4))
    with pytest.raises(ValueError, match="unknown routing algorithm"):
        compile_routes(MeshConfig(2, 2), algorithm="west-first")


def _turn_graph(mesh, allowed):
    """Every channel of a full mesh, joined to the next where ``allowed`` permits the turn."""
    graph = {}
    for a in _all(mesh):
        for p in DIRECTIONS:
            b = (a[0] + p.delta[0], a[1] + p.delta[1])
            if not mesh.contains(*b):
                continue
            for q in DIRECTIONS:
                c = (b[0] + q.delta[0], b[1] + q.delta[1])
                if mesh.contains(*c) and q is not p.opposite and (q is p or allowed(b, p, q)):
                    graph.setdefault((a, b), set()).add((b, c))
    return graph


def _all(mesh):
    return [(x, y) for y in range(mesh.height) for x in range(mesh.width)]


@pytest.mark.parametrize("model", sorted(TURN_MODELS))
def test_turn_models_are_acyclic(model):
    """The turn models themselves: no cycle of channels on a full mesh, whatever routes obey them
    (and a model that allows every turn does have one, so the check can fail)."""
    mesh = MeshConfig(6, 5)
    assert find_cycle(_turn_graph(mesh, TURN_MODELS[model])) is None
    assert find_cycle(_turn_graph(mesh, lambda node, travel, out: True)) is not None


@pytest.mark.parametrize("dead", [((3, 3),), ((3, 3), (4, 5)), ((3, 3), (4, 5), (6, 1))])
def test_dead_nodes_keep_most_of_the_throughput(dead):
    """Around 1-3 dead nodes of an 8 x 8 mesh the chosen tables spread uniform traffic far better
    than up*/down* (whose links near the root saturate first), with routes close to minimal."""
    mesh = MeshConfig(8, 8, dead_nodes=dead)
    best, updown = compile_routes(mesh), compile_routes(mesh, algorithm="updown")
    assert best.algorithm.startswith("turn")
    assert uniform_load(best) < 0.6 * uniform_load(updown)
    assert 1 / uniform_load(best) > 0.15  # XY on the whole mesh: 0.5
    assert verify(best)["stretch"] < 1.1


def test_updown_stretch_is_small():
    mesh = MeshConfig(8, 8, dead_nodes=((3, 3), (4, 5), (6, 1)))
    stats = verify(compile_routes(mesh))
    assert stats["unreachable"] == 0
    assert stats["stretch"] < 1.15


@pytest.mark.long
def test_d1_with_dead_nodes():
    mesh = MeshConfig(18, 20, dead_nodes=((3, 3), (10, 4), (17, 19), (5, 12), (8, 8), (0, 1)))
    stats = verify(compile_routes(mesh))
    assert stats["unreachable"] == 0
