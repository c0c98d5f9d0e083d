"""Golden models of the synthesizable traffic generator and checker (:mod:`tatami.hw.noc.traffic`,
:mod:`tatami.hw.noc.checker`).

:class:`GeneratorModel` makes the generator's random choices with the same LFSR
(:class:`~tatami.sim.common.LfsrModel`) and the same pattern functions as the reference
(:func:`tatami.sim.noc.traffic.make_pattern`, BookSim's definitions), so the packets a node creates
in a run are known exactly: :func:`predict` lists them for a whole tester run. :class:`CheckerModel`
takes packets as they arrive and keeps the checker's counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tatami.config import TatamiConfig
from tatami.hw.common.codec import Codec
from tatami.hw.formats import MsgClass, PacketKind, TrafficImmediate, split_head_flit
from tatami.hw.noc.checker import WINDOW
from tatami.hw.noc.ports import node_index, node_xy
from tatami.hw.noc.tester_regs import Classes, Pattern
from tatami.hw.noc.traffic import LFSR_STEP, LFSR_WIDTH, body_word, check_field, node_seed
from tatami.sim.common import LfsrModel

from .model import Packet
from .traffic import make_pattern

__all__ = ["CheckerModel", "GeneratorModel", "TrafficSettings", "make_packet", "predict"]

_IMM = Codec(TrafficImmediate)


class _Draw:
    """The random source a pattern sees for one cycle: ``randrange(n)`` is ``(r16 * n) >> 16``."""

    def __init__(self, r16: int):
        self.r16 = r16

    def randrange(self, n: int) -> int:
        return (self.r16 * n) >> 16


@dataclass(frozen=True)
class TrafficSettings:
    """What the tester's registers set for every generator."""

    pattern: str = "uniform"
    threshold: int = 0
    packet_flits: int = 1
    classes: Classes = Classes.BOTH
    hotspot: int = 0
    seed: int = 1

    @classmethod
    def for_rate(cls, rate: float, packet_flits: int = 1, **kw) -> TrafficSettings:
        """Settings offering ``rate`` flits/node/cycle (BookSim's Bernoulli process)."""
        if not 0 <= rate <= 1:
            raise ValueError(f"injection rate {rate} is not in 0..1 flits/node/cycle")
        return cls(threshold=round(rate / packet_flits * 65536), packet_flits=packet_flits, **kw)


class GeneratorModel:
    """One node's generator: :meth:`step` is one cycle with creation enabled."""

    def __init__(self, cfg: TatamiConfig, node: tuple[int, int], settings: TrafficSettings):
        self.cfg, self.node, self.s = cfg, tuple(node), settings
        mesh = cfg.mesh
        k = node_index(*node, mesh.width)
        self.lfsr = LfsrModel(LFSR_WIDTH, LFSR_STEP, seed=node_seed(settings.seed, k))
        Pattern.named(settings.pattern)  # checks the name
        params = {}
        if Pattern.named(settings.pattern) is Pattern.HOTSPOT:
            params["hotspots"] = [node_xy(settings.hotspot, mesh.width)]
        if Pattern.named(settings.pattern) is Pattern.TRANSPOSE and mesh.width != mesh.height:
            self.dest = lambda src, rng: None  # the hardware stays silent
        else:
            self.dest = make_pattern(settings.pattern, mesh, **params)
        self.seq: dict[tuple, int] = {}

    def step(self, now: int, mark: bool = False) -> Packet | None:
        """The packet created this cycle (stamped ``now``), if any."""
        v = self.lfsr.state
        self.lfsr.advance()
        if (v & 0xFFFF) >= self.s.threshold:
            return None
        dst = self.dest(self.node, _Draw((v >> 16) & 0xFFFF))
        if dst is None:
            return None
        classes = Classes(self.s.classes)
        if classes is Classes.BOTH:
            mclass = MsgClass((v >> 32) & 1)
        else:
            mclass = MsgClass.RESPONSE if classes is Classes.RESPONSE else MsgClass.REQUEST
        flow = (dst, mclass)
        seq = self.seq.get(flow, 0)
        self.seq[flow] = seq + 1
        return make_packet(self.cfg, self.node, dst, mclass, seq, now, mark, self.s.packet_flits)


def make_packet(cfg, src, dst, mclass, seq, stamp, mark, packet_flits) -> Packet:
    """A TRAFFIC packet exactly as a generator sends it."""
    stamp &= 0xFFFF_FFFF
    seq &= 0xFFFF_FFFF
    header = {
        "dst_x": dst[0],
        "dst_y": dst[1],
        "src_x": src[0],
        "src_y": src[1],
        "mclass": MsgClass(mclass),
        "kind": PacketKind.TRAFFIC,
        "length": packet_flits - 1,
        "tag": int(mark),
        "addr": check_field(seq, stamp, src[0], src[1], int(mark)),
    }
    body = tuple(body_word(seq, src[0], src[1], i, cfg.noc.flit_bits) for i in range(1, packet_flits))
    return Packet(src, header, _IMM.pack(seq=seq, stamp=stamp), body, stamp)


def predict(
    cfg: TatamiConfig, settings: TrafficSettings, warmup: int, measure: int, drain: int, start: int
) -> list[tuple[Packet, bool]]:
    """Every packet a tester run creates, as (packet, measured), in (cycle, node) order: ``warmup``,
    ``measure`` and ``drain`` cycles of creation starting at cycle count ``start``."""
    gens = [GeneratorModel(cfg, n, settings) for n in cfg.mesh.live_nodes()]
    out = []
    for t in range(warmup + measure + drain):
        mark = warmup <= t < warmup + measure
        for g in gens:
            p = g.step(start + t, mark)
            if p is not None:
                out.append((p, mark))
    return out


@dataclass
class CheckerModel:
    """The checker's counters, fed packet by packet (head flit word plus body words)."""

    cfg: TatamiConfig
    node: tuple[int, int]
    packet_flits: int
    received: int = 0
    corrupted: int = 0
    duplicated: int = 0
    misordered: int = 0
    holes: int = 0
    lat_count: int = 0
    lat_sum: int = 0
    lat_max: int = 0
    measured_received: int = 0
    table: dict = field(default_factory=dict)

    def receive(self, words: list[int], now: int) -> str:
        """One packet's flit words (framing assumed right); returns how it was classified."""
        self.received += 1
        header, imm = split_head_flit(words[0] & ((1 << 128) - 1))
        fields = _IMM.unpack(imm)
        seq, stamp = fields["seq"], fields["stamp"]
        src = (header["src_x"], header["src_y"])
        mark = header["tag"] & 1
        if mark:
            self.measured_received += 1
        mesh = self.cfg.mesh
        ok = (
            header["kind"] == PacketKind.TRAFFIC
            and (header["dst_x"], header["dst_y"]) == self.node
            and src[0] < mesh.width
            and src[1] < mesh.height
            and header["length"] == self.packet_flits - 1
            and len(words) == self.packet_flits
            and header["addr"] == check_field(seq, stamp, src[0], src[1], header["tag"])
            and words[0] >> 128 == 0
            and all(
                words[i] == body_word(seq, src[0], src[1], i, self.cfg.noc.flit_bits)
                for i in range(1, len(words))
            )
        )
        if not ok:
            self.corrupted += 1
            return "corrupted"
        key = (src, MsgClass(header["mclass"]).value)
        expect, seen = self.table.get(key, (0, 0))
        d = (seq - expect) & 0xFFFF_FFFF
        mask = (1 << WINDOW) - 1
        if d < 1 << 31:
            self.holes += d
            self.table[key] = ((seq + 1) & 0xFFFF_FFFF, ((seen << min(d + 1, WINDOW)) | 1) & mask)
            kind = "in order" if d == 0 else "early"
        else:
            k = (~d) & 0xFFFF_FFFF
            if k < WINDOW and seen >> k & 1:
                self.duplicated += 1
                return "duplicated"
            self.misordered += 1
            self.holes -= 1
            self.table[key] = (expect, seen | ((1 << k) if k < WINDOW else 0))
            kind = "misordered"
        if mark:
            lat = (now - stamp) & 0xFFFF_FFFF
            self.lat_count += 1
            self.lat_sum += lat
            self.lat_max = max(self.lat_max, lat)
        return kind
