"""Golden model of the network (tatami.sim.noc.model): admission, delivery, order, scoreboard."""

import random

import pytest

from tatami.config import MeshConfig, preset
from tatami.hw.formats import MsgClass, PacketKind
from tatami.sim.noc.model import DropReason, NetworkModel, Packet, Scoreboard
from tatami.sim.noc.traffic import generate


def _cfg(w=3, h=3, **mesh):
    return preset("tiny").replace(**{"mesh": MeshConfig(w, h, **mesh)})


def _pkt(src, dst, kind=PacketKind.WRITE, mclass=MsgClass.REQUEST, body=(), length=None, imm=0, cycle=0):
    header = {
        "dst_x": dst[0],
        "dst_y": dst[1],
        "src_x": src[0],
        "src_y": src[1],
        "mclass": mclass,
        "kind": kind,
        "length": len(body) if length is None else length,
    }
    return Packet(src, header, imm, tuple(body), cycle)


@pytest.mark.parametrize(
    "packet, reason",
    [
        (_pkt((0, 0), (3, 0)), DropReason.DST_OUTSIDE),
        (_pkt((0, 0), (0, 63)), DropReason.DST_OUTSIDE),
        (_pkt((0, 0), (1, 1)), DropReason.DST_DEAD),
        (_pkt((0, 0), (2, 2), kind=9), DropReason.BAD_KIND),
        (_pkt((0, 0), (2, 2), kind=PacketKind.READ_RESP), DropReason.BAD_CLASS),
        (_pkt((0, 0), (2, 2), kind=PacketKind.WRITE, mclass=MsgClass.RESPONSE), DropReason.BAD_CLASS),
        (_pkt((0, 0), (2, 2), body=(1, 2, 3, 4)), DropReason.TOO_LONG),  # tiny: 4 flits at most
        (_pkt((0, 0), (2, 2), body=(1, 2), length=3), DropReason.LENGTH_MISMATCH),
        (_pkt((0, 0), (1, 1), kind=9, body=(1, 2, 3, 4)), DropReason.DST_DEAD),  # first reason counts
        (_pkt((0, 0), (2, 2), body=(1, 2, 3)), None),
        (_pkt((0, 0), (2, 2), kind=PacketKind.TRAFFIC, mclass=MsgClass.RESPONSE), None),
        (_pkt((0, 0), (0, 0)), None),
    ],
)
def test_admission(packet, reason):
    model = NetworkModel(_cfg(dead_nodes=((1, 1),)))
    assert model.inject(packet) is reason
    if reason is None:
        assert model.admitted == 1 and not model.drops
        assert model.deliveries(packet.dst) == {packet.flow: [packet]}
    else:
        assert model.drop_counts((0, 0)) == {reason: 1}
        assert model.admitted == 0


def test_unreachable_destination_is_dropped():
    model = NetworkModel(_cfg(3, 2, dead_nodes=((1, 0), (1, 1))))
    assert model.inject(_pkt((0, 0), (2, 1))) is DropReason.DST_UNREACHABLE
    assert model.inject(_pkt((0, 0), (0, 1))) is None


def test_model_rejects_bad_source_and_tables():
    model = NetworkModel(_cfg(dead_nodes=((1, 1),)))
    with pytest.raises(ValueError, match="not a live node"):
        model.inject(_pkt((1, 1), (0, 0)))
    with pytest.raises(TypeError):
        NetworkModel(MeshConfig(2, 2))


def test_paths_avoid_dead_nodes():
    cfg = _cfg(4, 4, dead_nodes=((1, 1), (2, 2)))
    model = NetworkModel(cfg)
    for p in generate(cfg, "uniform", 0.5, 20, packet_flits=2, seed=3):
        assert model.inject(p) is None
        path = model.path(p)
        assert path[0] == p.src and path[-1] == p.dst
        assert not set(path) & {(1, 1), (2, 2)}
    assert sum(model.link_loads().values()) > 0


def _deliver_all(model, rng, scoreboard):
    """Eject every admitted packet, flows interleaved at random but each flow in order."""
    queues = [list(ps) for ps in model.flows.values()]
    while any(queues):
        q = rng.choice([q for q in queues if q])
        p = q.pop(0)
        scoreboard.eject(p.dst, p.flits())


def test_scoreboard_accepts_a_correct_run():
    cfg = _cfg(4, 4)
    model = NetworkModel(cfg)
    model.inject_all(generate(cfg, "uniform", 0.3, 50, packet_flits=3, seed=1, classes="both"))
    sb = Scoreboard(model)
    _deliver_all(model, random.Random(1), sb)
    sb.finish()
    assert sb.ok, sb.errors
    assert sb.delivered == model.admitted > 0


def test_scoreboard_counts_every_fault():
    cfg = _cfg(3, 3)
    model = NetworkModel(cfg)
    a = [_pkt((0, 0), (2, 2), body=(i, i + 1), imm=i) for i in range(4)]
    b = _pkt((1, 0), (2, 2), body=(7,))
    for p in [*a, b]:
        model.inject(p)
    sb = Scoreboard(model)
    sb.eject((2, 2), a[1].flits())  # ahead of a[0]: misordered
    sb.eject((2, 2), a[1].flits())  # again: duplicated
    bad = a[2].flits()
    bad[1] ^= 1
    sb.eject((2, 2), bad)  # body flipped: corrupted
    sb.eject((1, 1), a[3].flits())  # wrong node: misdelivered
    sb.eject((2, 2), _pkt((2, 1), (2, 2)).flits())  # never admitted: unexpected
    sb.eject((2, 2), b.flits())  # fine
    sb.finish()  # a[0] and a[3] still pending: lost
    assert (
        sb.misordered,
        sb.duplicated,
        sb.corrupted,
        sb.misdelivered,
        sb.unexpected,
        sb.lost,
        sb.delivered,
    ) == (1, 1, 1, 1, 1, 2, 2)
    assert not sb.ok
    assert "lost 2" in sb.summary()


def test_packet_round_trips_through_flits():
    p = _pkt((1, 2), (0, 1), kind=PacketKind.ATOMIC_ADD, body=(5, 6), imm=0xDEAD_BEEF)
    q = Packet.from_flits((1, 2), p.flits())
    assert q == p
    assert p.flow == ((1, 2), (0, 1), MsgClass.REQUEST)
