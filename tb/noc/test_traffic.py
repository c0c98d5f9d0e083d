"""Traffic patterns and injection (tatami.sim.noc.traffic) against BookSim's definitions."""

import random
from collections import Counter

import pytest

from tatami.config import MeshConfig, preset
from tatami.hw.common.codec import Codec
from tatami.hw.formats import MsgClass, TrafficImmediate
from tatami.hw.noc.ports import node_index, node_xy
from tatami.sim.noc.traffic import Bernoulli, generate, make_pattern


def _booksim(name, source, k):
    """BookSim 2.0 src/traffic.cpp, on node numbers of a k x k mesh (k a power of two)."""
    nodes = k * k
    lg = nodes.bit_length() - 1
    if name == "bitcomp":
        return ~source & (nodes - 1)
    if name == "transpose":
        lo = (1 << (lg // 2)) - 1
        return ((source >> (lg // 2)) & lo) | ((source << (lg // 2)) & (lo << (lg // 2)))
    if name == "neighbor":
        return ((source % k + 1) % k) + k * ((source // k + 1) % k)
    raise ValueError(name)


@pytest.mark.parametrize("k", [2, 4, 8])
@pytest.mark.parametrize("name", ["bitcomp", "transpose", "neighbor"])
def test_permutations_match_booksim(name, k):
    mesh = MeshConfig(k, k)
    pattern = make_pattern(name, mesh)
    for s in range(k * k):
        assert node_index(*pattern(node_xy(s, k), None), k) == _booksim(name, s, k)


def test_uniform_includes_self_and_skips_dead():
    mesh = MeshConfig(3, 3, dead_nodes=((1, 1),))
    pattern = make_pattern("uniform", mesh)
    rng = random.Random(0)
    counts = Counter(pattern((0, 0), rng) for _ in range(16000))
    assert set(counts) == set(mesh.live_nodes())
    assert all(1700 < c < 2300 for c in counts.values())


def test_hotspot_weights_and_dead_destinations():
    mesh = MeshConfig(4, 4, dead_nodes=((3, 3),))
    pattern = make_pattern("hotspot", mesh, hotspots=[(1, 1), (2, 0)], rates=[3, 1])
    rng = random.Random(0)
    counts = Counter(pattern((0, 0), rng) for _ in range(8000))
    assert set(counts) == {(1, 1), (2, 0)}
    assert 2.6 < counts[(1, 1)] / counts[(2, 0)] < 3.4
    assert make_pattern("hotspot", mesh)((2, 2), rng) == (0, 0)
    assert make_pattern("bitcomp", mesh)((0, 0), rng) is None  # (3, 3) is dead: source stays silent
    with pytest.raises(ValueError, match="not a live node"):
        make_pattern("hotspot", mesh, hotspots=[(3, 3)])
    with pytest.raises(ValueError, match="square"):
        make_pattern("transpose", MeshConfig(4, 2))
    with pytest.raises(ValueError, match="unknown traffic pattern"):
        make_pattern("tornado", mesh)
    assert make_pattern("neighbour", mesh)((3, 0), None) == (0, 1)


def test_bernoulli():
    inj = Bernoulli(0.6, packet_flits=4)
    rng = random.Random(0)
    fired = sum(inj.fires(rng) for _ in range(20000))
    assert abs(fired / 20000 - 0.15) < 0.01
    assert inj.threshold(16) == round(0.15 * 65536)
    with pytest.raises(ValueError):
        Bernoulli(1.5)


def test_generate_numbers_flows_and_stamps():
    cfg = preset("tiny").replace(mesh=MeshConfig(4, 4))
    packets = generate(cfg, "uniform", 0.4, 200, packet_flits=2, seed=5, classes="both")
    imm = Codec(TrafficImmediate)
    seen = {}
    for p in packets:
        fields = imm.unpack(p.immediate)
        assert fields["stamp"] == p.cycle
        assert fields["seq"] == seen.get(p.flow, 0)
        seen[p.flow] = fields["seq"] + 1
        assert len(p.body) == p.header["length"] == 1
    rate = len(packets) * 2 / (16 * 200)
    assert abs(rate - 0.4) < 0.04
    assert {p.mclass for p in packets} == set(MsgClass)
    with pytest.raises(ValueError, match="max_packet_flits"):
        generate(cfg, "uniform", 0.1, 10, packet_flits=5)
