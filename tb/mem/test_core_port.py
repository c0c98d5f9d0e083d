"""The core's SRAM adapter (:class:`tatami.hw.mem.core_port.CoreMemPort`) on the real banked ECC SRAM
against a byte-memory model: two initiators storing bytes, halves and words into the same lanes
(read-modify-write atomic with respect to the port), reads of every slot, addresses outside the
SRAM, injected single errors (corrected data, counted) and double errors (``err`` on loads and
stores, the store writes nothing), random valid gaps; every response checked in order per
initiator and the SRAM's ECC counters checked against the model."""

from __future__ import annotations

import random
from collections import deque

import cocotb
import pytest
from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from cocotb.triggers import FallingEdge, ReadOnly, Timer

from tatami.config import preset
from tatami.hw.common.codec import Codec
from tatami.hw.core.bus import MemBusSignature, MemRequest, MemResponse
from tatami.hw.mem.core_port import CoreMemPort
from tatami.hw.mem.ports import inject_layout, stored_lane_bits
from tatami.hw.mem.sram import Sram
from tatami.sim.cocotb_env import clock_and_reset, design_config, knob

NAMES = ("ibus", "dbus")
BASE = 0x8000_0000


class PortTop(wiring.Component):
    """The adapter on the SRAM's core port, its initiators, the injection hook and the counters."""

    def __init__(self, cfg):
        self.cfg = cfg
        super().__init__(
            {n: In(MemBusSignature()) for n in NAMES}
            | {
                "inject": In(stream.Signature(inject_layout(cfg))),
                "ecc_corrected": Out(32),
                "ecc_detected": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.sram = sram = Sram(self.cfg)
        m.submodules.port = port = CoreMemPort(self.cfg, names=NAMES, base=BASE)
        wiring.connect(m, port.sram, sram.core)
        for n in NAMES:
            wiring.connect(m, wiring.flipped(getattr(self, n)), getattr(port, n))
        wiring.connect(m, wiring.flipped(self.inject), sram.inject)
        m.d.comb += [self.ecc_corrected.eq(sram.ecc_corrected), self.ecc_detected.eq(sram.ecc_detected)]
        return m


class BusModel:
    """What the adapter must do, per request in acceptance order: a byte memory, words flagged
    uncorrectable, lanes holding a corrected single error, and the SRAM's read counters."""

    def __init__(self, cfg):
        s = cfg.node.sram
        self.size, self.word_bytes = s.size_bytes, s.word_bytes
        self.lane_bytes = min(64, s.word_bits) // 8
        self.mem = bytearray(s.size_bytes)
        self.bad: set[int] = set()  # SRAM words with an uncorrectable lane
        self.single: set[tuple[int, int]] = set()  # (word, lane) holding a correctable error
        self.corrected = self.detected = 0

    def _read_word(self, word: int) -> bool:
        """A read of the SRAM word (as the SRAM counts it); True when it is uncorrectable."""
        if word in self.bad:
            self.detected += 1
            return True
        if any(w == word for w, _ in self.single):
            self.corrected += 1
        return False

    def request(self, addr: int, wdata: int, mask: int, we: bool) -> tuple[int | None, int]:
        """``(rdata or None when it does not matter, err)``."""
        off = addr - BASE
        if not 0 <= off < self.size:
            self._read_word(0)  # the adapter reads word 0 to keep responses in order
            return None, 1
        word, lane = off // self.word_bytes, off % self.word_bytes // self.lane_bytes
        if we and self.lane_bytes == 4 and mask == 0xF:  # a whole lane: written directly
            self.mem[off : off + 4] = wdata.to_bytes(4, "little")
            self.bad.discard(word)  # (32-bit lanes: the word is this lane)
            self.single.discard((word, lane))
            return None, 0
        if self._read_word(word):
            return None, 1
        if not we:
            return int.from_bytes(self.mem[off : off + 4], "little"), 0
        for k in range(4):
            if mask >> k & 1:
                self.mem[off + k] = wdata >> 8 * k & 0xFF
        self.single.discard((word, lane))
        return None, 0

    def inject(self, word: int, value: int, lanes_flipped: dict[int, int]):
        self.mem[word * self.word_bytes : (word + 1) * self.word_bytes] = value.to_bytes(
            self.word_bytes, "little"
        )
        self.bad.discard(word)
        self.single -= {(word, lane) for lane in range(self.word_bytes // self.lane_bytes)}
        for lane, flips in lanes_flipped.items():
            if flips == 1:
                self.single.add((word, lane))
            elif flips:
                self.bad.add(word)


_REQ = Codec(data.Layout.cast(MemRequest))
_RESP = Codec(data.Layout.cast(MemResponse))


class Bench:
    def __init__(self, dut, cfg, rng):
        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.model = BusModel(cfg)
        self.cycle = 0
        # cycles from acceptance to response: reads (and whole-lane writes), read-modify-writes
        self.latency = {"read": [], "store": []}
        for n in NAMES:
            getattr(dut, f"{n}__req__valid").value = 0
        dut.inject__valid.value = 0

    async def inject(self, word: int, value: int, flips: list[int]):
        """Write SRAM word ``word`` with ``value`` and the stored bits ``flips`` inverted."""
        dut = self.dut
        codec = Codec(inject_layout(self.cfg))
        await FallingEdge(dut.clk)
        dut.inject__payload.value = codec.pack(addr=word, data=value, flip=sum(1 << b for b in flips))
        dut.inject__valid.value = 1
        await Timer(1, "ns")
        while not dut.inject__ready.value:
            await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.inject__valid.value = 0
        st = stored_lane_bits(self.cfg)
        lanes: dict[int, int] = {}
        for b in flips:
            lanes[b // st] = lanes.get(b // st, 0) + 1
        self.model.inject(word, value, lanes)

    async def traffic(self, requests: dict[str, list[tuple]], p_valid: float, timeout: int = 100_000):
        """Offer ``requests[name]`` (``(addr, wdata, mask, we)``) on each initiator, each cycle with
        probability ``p_valid``; check every response in order against the model."""
        dut, rng = self.dut, self.rng
        todo = {n: deque(r) for n, r in requests.items()}
        current = dict.fromkeys(NAMES)
        expected = {n: deque() for n in NAMES}
        left = sum(len(r) for r in requests.values())
        for _ in range(timeout):
            await FallingEdge(dut.clk)
            self.cycle += 1
            for n in NAMES:
                if current[n] is None and todo.get(n) and rng.random() < p_valid:
                    current[n] = todo[n].popleft()
                    a, w, mask, we = current[n]
                    getattr(dut, f"{n}__req__payload").value = _REQ.pack(addr=a, wdata=w, mask=mask, we=we)
                getattr(dut, f"{n}__req__valid").value = int(current[n] is not None)
            await ReadOnly()
            for n in NAMES:
                if getattr(dut, f"{n}__resp__valid").value:
                    assert expected[n], f"{n}: a response with no request outstanding (cycle {self.cycle})"
                    (want, err), req, at = expected[n].popleft()
                    got = _RESP.unpack(int(getattr(dut, f"{n}__resp__payload").value))
                    what = f"{n} cycle {self.cycle}: {req_str(req)}"
                    assert got["err"] == err, f"{what}: err {got['err']}, expected {err}"
                    if want is not None:
                        assert got["rdata"] == want, (
                            f"{what}: read {got['rdata']:#010x}, expected {want:#010x}"
                        )
                    if not err:
                        direct = req[3] and req[2] == 0xF and self.model.lane_bytes == 4
                        kind = "store" if req[3] and not direct else "read"
                        self.latency[kind].append(self.cycle - at)
                    left -= 1
                if current[n] is not None and getattr(dut, f"{n}__req__ready").value:
                    expected[n].append((self.model.request(*current[n]), current[n], self.cycle))
                    current[n] = None
            if not left:
                break
        else:
            raise AssertionError(f"{left} responses missing after {timeout} cycles")
        await FallingEdge(dut.clk)
        for n in NAMES:
            getattr(dut, f"{n}__req__valid").value = 0

    def check_counters(self):
        assert int(self.dut.ecc_corrected.value) == self.model.corrected, (
            f"corrected: SRAM {int(self.dut.ecc_corrected.value)}, model {self.model.corrected}"
        )
        assert int(self.dut.ecc_detected.value) == self.model.detected, (
            f"detected: SRAM {int(self.dut.ecc_detected.value)}, model {self.model.detected}"
        )


def req_str(req) -> str:
    a, w, mask, we = req
    return f"{'store' if we else 'load'} {a:#010x} mask {mask:04b} data {w:#010x}"


MASKS = [1, 2, 4, 8, 3, 12, 15]  # sb at each offset, sh at each half, sw


def random_requests(rng, cfg, count: int, window_words: int, first_word: int = 0) -> list[tuple]:
    s = cfg.node.sram
    out = []
    for _ in range(count):
        r = rng.random()
        if r < 0.03:
            a = rng.choice([BASE - 4, BASE + s.size_bytes, BASE + s.size_bytes + 4 * rng.randrange(64), 0])
        else:
            a = (
                BASE
                + (first_word + rng.randrange(window_words)) * s.word_bytes
                + 4 * rng.randrange(s.word_bytes // 4)
            )
        out.append((a, rng.getrandbits(32), rng.choice(MASKS), rng.random() < 0.5))
    return out


@cocotb.test()
async def random_stores_and_loads(dut):
    """Both initiators hammer a few SRAM words with stores of every size and loads, then every word
    of the window is read back: lost bytes would show a non-atomic read-modify-write."""
    await clock_and_reset(dut)
    cfg = design_config()
    rng = random.Random(cocotb.RANDOM_SEED)
    b = Bench(dut, cfg, rng)
    count = knob("requests", 1500)
    window = 2 * cfg.node.sram.banks
    for p in (1.0, 0.3):
        await b.traffic({n: random_requests(rng, cfg, count // 2, window) for n in NAMES}, p)
    per = cfg.node.sram.word_bytes // 4
    reads = [(BASE + 4 * i, 0, 15, False) for i in range(window * per)]
    await b.traffic({"ibus": reads[::2], "dbus": reads[1::2]}, 1.0)
    b.check_counters()
    lat = {k: (min(v), max(v)) for k, v in b.latency.items() if v}
    dut._log.info(f"{2 * count} requests in {b.cycle} cycles; latency (min, max) {lat}")
    assert min(b.latency["read"]) == READ_LATENCY and min(b.latency["store"]) == STORE_LATENCY, lat


#: Cycles from a request's acceptance to its response with an idle port (docs/core.md).
READ_LATENCY = 5
STORE_LATENCY = 7


@cocotb.test()
async def ecc_errors(dut):
    """Injected single errors are corrected (data good, counted); double errors make loads and
    stores of the word answer ``err``, and such a store writes nothing; a store rewrites a lane
    with a single error clean; random traffic over good and bad words afterwards."""
    await clock_and_reset(dut)
    cfg = design_config()
    s = cfg.node.sram
    rng = random.Random(cocotb.RANDOM_SEED + 1)
    b = Bench(dut, cfg, rng)
    st = stored_lane_bits(cfg)
    lanes = s.word_bits // min(64, s.word_bits)
    first = 4 * s.banks  # away from the first test's window and from word 0
    words = list(range(first, first + 2 * lanes + 2))
    for i, w in enumerate(words):
        lane = i % lanes
        flips = [lane * st + rng.randrange(st)]
        if i >= lanes:  # the second half: double errors
            flips.append(lane * st + (flips[0] - lane * st + 1 + rng.randrange(st - 1)) % st)
        await b.inject(w, rng.getrandbits(s.word_bits), flips)
    per = s.word_bytes // 4
    reads = [(BASE + w * s.word_bytes + 4 * k, 0, 15, False) for w in words for k in range(per)]
    await b.traffic({"dbus": reads}, 1.0)
    # The first double-error word gets a partial store (a read-modify-write, which answers ``err``
    # and writes nothing), so a bad word is left for the random traffic below whatever the other
    # masks are: with 32-bit lanes a whole-lane store rewrites its word clean, and random masks
    # picked one for all three bad words 1 time in 343.
    stores = [
        (
            BASE + w * s.word_bytes + 4 * rng.randrange(per),
            rng.getrandbits(32),
            rng.choice(MASKS[:-1] if i == lanes else MASKS),
            True,
        )
        for i, w in enumerate(words)
    ]
    await b.traffic({"dbus": stores}, 1.0)
    await b.traffic({"ibus": reads}, 1.0)
    b.check_counters()
    assert b.model.bad and b.model.corrected and b.model.detected
    rand = {n: random_requests(rng, cfg, knob("requests", 1500) // 4, len(words), first) for n in NAMES}
    await b.traffic(rand, 0.6)
    b.check_counters()
    dut._log.info(
        f"{b.model.corrected} corrected and {b.model.detected} uncorrectable reads, as the model says"
    )


# ----------------------------------------------------------------------------- pytest launchers

CONFIGS = {
    "w128": preset("tiny"),
    "w512": preset("tiny").replace(**{"node.sram.word_bits": 512}),
    "w32": preset("tiny").replace(**{"node.sram.word_bits": 32, "node.sram.banks": 4}),
}


def design(cfg):
    from tatami.sim.harness import Design

    return Design("core_port_top", lambda: PortTop(cfg), cfg, internals=False)


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_core_port(config, sim, cocotb_run):
    if sim == "icarus" and config != "w128":
        pytest.skip("Icarus runs the 128-bit word only")
    cocotb_run(design(CONFIGS[config]), "tb.mem.test_core_port")


def test_parameter_checks():
    cfg = preset("tiny")
    with pytest.raises(TypeError, match="TatamiConfig"):
        CoreMemPort(cfg.node.sram)
    with pytest.raises(ValueError, match="distinct identifiers"):
        CoreMemPort(cfg, names=("a", "a"))
    with pytest.raises(ValueError, match="'sram'"):
        CoreMemPort(cfg, names=("sram",))
    with pytest.raises(ValueError, match="multiple of the SRAM word"):
        CoreMemPort(cfg, base=0x8000_0004)
    with pytest.raises(ValueError, match="tag_depth"):
        CoreMemPort(cfg, tag_depth=0)
