"""Banked ECC SRAM against its golden model: random multi-port traffic under back-pressure with
injected errors, every single-bit error corrected and every double-bit error detected, fair
bank-conflict arbitration, full throughput on distinct banks."""

import itertools
import random

import cocotb
import pytest
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.config import preset
from tatami.hw.common.codec import Codec
from tatami.hw.mem.ports import (
    addr_bits,
    inject_layout,
    port_names,
    request_layout,
    response_layout,
    stored_lane_bits,
)
from tatami.hw.mem.sram import Sram
from tatami.sim.cocotb_env import (
    BackPressure,
    StreamSink,
    StreamSource,
    clock_and_reset,
    design_config,
    knob,
)
from tatami.sim.mem.sram import SramModel

_MODEL = None


class Bench:
    """Monitor and scoreboard: applies each accepted request to the model in its cycle, checks
    every response in order per port."""

    def __init__(self, dut):
        self.dut = dut
        self.cfg = design_config()
        self.names = port_names(self.cfg)
        self.req = Codec(request_layout(self.cfg))
        self.resp = Codec(response_layout(self.cfg))
        self.inj = Codec(inject_layout(self.cfg))
        # The array keeps its contents from one test to the next (reset clears registers, not
        # memories), so the model does too; the counters restart with the reset.
        global _MODEL
        if _MODEL is None:
            _MODEL = SramModel(self.cfg)
        self.model = _MODEL
        self.model.corrected = self.model.detected = 0
        self.model.ecc_error = self.model.bad = False
        self.expected = {n: [] for n in self.names}
        self.got = {n: [] for n in self.names}
        self.grants = {n: [] for n in self.names}  # cycle numbers of accepted requests
        self.cycle = 0
        self._stop = False
        self.sig = {
            n: tuple(getattr(dut, f"{n}__{s}") for s in ("req__valid", "req__ready", "req__payload"))
            for n in self.names
        }
        self.rsig = {
            n: tuple(getattr(dut, f"{n}__{s}") for s in ("resp__valid", "resp__ready", "resp__payload"))
            for n in self.names
        }
        for n in self.names:
            getattr(dut, f"{n}__req__valid").value = 0
            getattr(dut, f"{n}__resp__ready").value = 0
        dut.inject__valid.value = 0
        dut.status_clear.value = 0

    async def monitor(self):
        while not self._stop:
            await ReadOnly()
            for n in self.names:
                v, r, p = self.sig[n]
                if v.value and r.value:
                    f = self.req.unpack(int(p.value))
                    self.expected[n].append(self.model.request(f["addr"], f["write"], f["lanes"], f["data"]))
                    self.grants[n].append(self.cycle)
                v, r, p = self.rsig[n]
                if v.value and r.value:
                    self.got[n].append(self.resp.unpack(int(p.value)))
            if self.dut.inject__valid.value and self.dut.inject__ready.value:
                f = self.inj.unpack(int(self.dut.inject__payload.value))
                self.model.inject(f["addr"], f["data"], f["flip"])
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    def stop(self):
        self._stop = True

    def check(self):
        for n in self.names:
            exp, got = self.expected[n], self.got[n]
            assert len(got) == len(exp), f"port {n}: {len(got)} responses for {len(exp)} requests"
            for i, (e, g) in enumerate(zip(exp, got)):
                assert g == e.as_fields(), f"port {n} response {i}: got {g}, expected {e.as_fields()}"

    async def drain(self, timeout=2000):
        for _ in range(timeout):
            if all(len(self.got[n]) == len(self.expected[n]) for n in self.names):
                return
            await RisingEdge(self.dut.clk)
        raise AssertionError("responses missing after the traffic stopped")

    async def run(self, requests, sink_pressure=None, source_pressure=None, extra_sources=()):
        """Send ``requests[port]`` (packed request words) on each port at once, with a sink on
        every response stream; wait for every response, stop and check the scoreboard.
        ``*_pressure[port]``: a :class:`BackPressure` (default: none); ``extra_sources``: more
        coroutines to run alongside (error injection)."""
        sink_pressure, source_pressure = sink_pressure or {}, source_pressure or {}
        mon = cocotb.start_soon(self.monitor())
        sinks = [StreamSink(self.dut, f"{n}__resp", sink_pressure.get(n)) for n in self.names]
        tasks = [cocotb.start_soon(sk.run()) for sk in sinks]
        sources = [
            cocotb.start_soon(StreamSource(self.dut, f"{n}__req", source_pressure.get(n)).send(items))
            for n, items in requests.items()
        ]
        sources += [cocotb.start_soon(c) for c in extra_sources]
        for t in sources:
            await t
        await self.drain()
        self.stop()
        for sk in sinks:
            sk.stop()
        await mon
        for t in tasks:
            await t
        self.check()


def _flip(cfg, rng, double: bool) -> int:
    """One or two flipped bits within one random lane of the stored word."""
    lst = stored_lane_bits(cfg)
    lanes = cfg.node.sram.word_bits // min(64, cfg.node.sram.word_bits)
    base = rng.randrange(lanes) * lst
    bits = rng.sample(range(lst), 2 if double else 1)
    return sum(1 << (base + b) for b in bits)


@cocotb.test()
async def random_traffic(dut):
    """Random reads and writes on every port at once, to a small window (bank conflicts and
    read-after-write across ports), random valid and ready gaps, injected single and double
    errors; every response checked in order against the model."""
    await clock_and_reset(dut)
    b = Bench(dut)
    cfg, rng = b.cfg, random.Random(cocotb.RANDOM_SEED)
    s = cfg.node.sram
    window = 4 * s.banks
    count = knob("requests", 400)
    lanes_all = (1 << (s.word_bits // min(64, s.word_bits))) - 1
    requests, sink_bp, source_bp = {}, {}, {}
    for n in b.names:
        sink_bp[n] = BackPressure(rng.choice([0.3, 0.7, 1.0]))
        items = []
        for _ in range(count):
            write = n.startswith("store") or n == "net_wr" or (n == "core" and rng.random() < 0.5)
            addr = rng.randrange(window)
            if rng.random() < 0.03 and (1 << addr_bits(cfg)) > s.words:
                addr = rng.randrange(s.words, 1 << addr_bits(cfg))  # beyond the SRAM: bad_addr
            lanes = rng.choice([lanes_all, rng.randrange(lanes_all + 1)])
            items.append(b.req.pack(addr=addr, write=write, lanes=lanes, data=rng.getrandbits(s.word_bits)))
        requests[n] = items
        source_bp[n] = BackPressure(rng.choice([0.4, 0.8, 1.0]))
    injects = [
        b.inj.pack(
            addr=rng.randrange(window),
            data=rng.getrandbits(s.word_bits),
            flip=_flip(cfg, rng, rng.random() < 0.5),
        )
        for _ in range(count // 8)
    ]
    inj_src = StreamSource(dut, "inject", BackPressure(0.2))
    await b.run(requests, sink_bp, source_bp, extra_sources=[inj_src.send(injects)])
    assert sum(len(v) for v in b.got.values()) == count * len(b.names)
    await ReadOnly()
    assert int(dut.ecc_corrected.value) == b.model.corrected
    assert int(dut.ecc_detected.value) == b.model.detected
    assert int(dut.ecc_error.value) == int(b.model.ecc_error)
    if b.model.ecc_error:
        assert int(dut.error_addr.value) == b.model.error_addr
    assert int(dut.bad_addr.value) == int(b.model.bad)
    dut._log.info(
        f"{count * len(b.names)} requests, {b.model.corrected} corrected, {b.model.detected} detected, "
        f"{b.cycle} cycles"
    )


async def _inject_then_read(dut, b, entries):
    """Inject ``(addr, data, flip)`` entries (distinct addresses), then read them all on load0;
    returns the responses (unpacked)."""
    inj = StreamSource(dut, "inject")
    await inj.send([b.inj.pack(addr=a, data=d, flip=f) for a, d, f in entries])
    n0 = len(b.got["load0"])
    src = StreamSource(dut, "load0__req")
    await src.send([b.req.pack(addr=a, write=0, lanes=0, data=0) for a, _, _ in entries])
    await b.drain()
    return b.got["load0"][n0:]


@cocotb.test()
async def every_error_position(dut):
    """Every single-bit flip of one stored word is corrected; every double flip within one lane
    is detected (exhaustively for lane 0, random pairs in the other lanes); counters agree."""
    await clock_and_reset(dut)
    b = Bench(dut)
    cfg, rng = b.cfg, random.Random(cocotb.RANDOM_SEED)
    s = cfg.node.sram
    lst = stored_lane_bits(cfg)
    stored_bits = lst * (s.word_bits // min(64, s.word_bits))
    mon = cocotb.start_soon(b.monitor())
    sink = StreamSink(dut, "load0__resp")
    task = cocotb.start_soon(sink.run())
    singles = [1 << i for i in range(stored_bits)]
    doubles = [(1 << i) | (1 << j) for i in range(lst) for j in range(i + 1, lst)]
    doubles = doubles[:: max(1, len(doubles) // knob("doubles", len(doubles)))]
    lanes = stored_bits // lst
    doubles += [_flip(cfg, rng, True) for _ in range(4 * lanes)]
    data = rng.getrandbits(s.word_bits)
    for kind, flips in (("single", singles), ("double", doubles)):
        for start in range(0, len(flips), s.words):
            batch = flips[start : start + s.words]
            entries = [(a, data ^ a, f) for a, f in enumerate(batch)]
            got = await _inject_then_read(dut, b, entries)
            for (_, d, f), g in zip(entries, got):
                if kind == "single":
                    assert g["data"] == d and g["corrected"] and not g["uncorrectable"], f"flip {f:#x}: {g}"
                else:
                    assert g["uncorrectable"] and not g["bad_addr"], f"flips {f:#x} not detected: {g}"
    b.stop()
    sink.stop()
    await task
    await mon
    b.check()
    await ReadOnly()
    assert int(dut.ecc_corrected.value) == len(singles)
    assert int(dut.ecc_detected.value) == len(doubles)
    assert int(dut.ecc_error.value) == 1
    dut._log.info(f"{len(singles)} single and {len(doubles)} double errors checked")


@cocotb.test()
async def bank_conflict_fairness(dut):
    """Every port hammers the same bank: the bank grants one request per cycle, the grants are
    shared equally, and no port waits longer than one grant to each other port."""
    await clock_and_reset(dut)
    b = Bench(dut)
    s = b.cfg.node.sram
    per_port = knob("fair_requests", 60)
    await b.run(
        {
            n: [b.req.pack(addr=s.banks * ((i + k) % 8), write=0, lanes=0, data=0) for k in range(per_port)]
            for i, n in enumerate(b.names)
        }
    )
    p = len(b.names)
    all_grants = sorted(c for n in b.names for c in b.grants[n])
    assert len(set(all_grants)) == len(all_grants), "the bank granted two requests in one cycle"
    busy = all_grants[-1] - all_grants[0] + 1
    assert busy == len(all_grants), f"{len(all_grants)} grants took {busy} cycles: the bank idled"
    for n in b.names:
        g = b.grants[n]
        gaps = [y - x for x, y in itertools.pairwise(g)]
        assert max(gaps) <= p, f"port {n} waited {max(gaps)} cycles between grants (ports: {p})"


@cocotb.test()
async def streams_on_distinct_banks_run_at_full_rate(dut):
    """Unit-stride streams on several ports, started on different banks, move one word per
    cycle each."""
    await clock_and_reset(dut)
    b = Bench(dut)
    s = b.cfg.node.sram
    names = b.names[: min(len(b.names), s.banks)]
    n_words = knob("stream_words", 64)
    await b.run(
        {
            n: [b.req.pack(addr=i + k, write=0, lanes=0, data=0) for k in range(n_words)]
            for i, n in enumerate(names)
        }
    )
    for n in names:
        g = b.grants[n]
        assert g[-1] - g[0] + 1 == n_words, f"port {n}: {n_words} words took {g[-1] - g[0] + 1} cycles"


def config(name):
    """``odd``: a small SRAM whose word count (192) is not a power of two, so some addresses lie
    beyond it (``bad_addr``); the others are presets."""
    if name == "odd":
        return preset("tiny").replace(**{"node.sram.size_bytes": 3 * 1024, "name": "odd"})
    return preset(name)


def design(name):
    from tatami.sim.harness import Design

    cfg = config(name)
    return Design(f"sram_{cfg.name.replace('-', '_')}", lambda: Sram(cfg), cfg, {}, internals=False)


def test_rejects_bad_parameters():
    with pytest.raises(TypeError, match="TatamiConfig"):
        Sram("d1")
    with pytest.raises(ValueError, match="resp_depth"):
        Sram(preset("tiny"), resp_depth=1)


ICARUS = {"TATAMI_REQUESTS": "150", "TATAMI_DOUBLES": "300"}


@pytest.mark.parametrize("name", ["odd", "fpga-2x2"])
def test_sram(cocotb_run, name, sim):
    if name == "fpga-2x2" and sim == "icarus":
        pytest.skip("fpga-2x2 on Icarus is in the long suite (test_sram_long); 'odd' covers Icarus here")
    cocotb_run(design(name), "tb.mem.test_sram", extra_env={} if sim == "verilator" else ICARUS)


@pytest.mark.long
@pytest.mark.parametrize("name", ["fpga-2x2", "d1"])
def test_sram_long(cocotb_run, name, sim):
    if name == "d1" and sim == "icarus":
        pytest.skip("d1 SRAM (16 x 1280 x 576 bits) is run on Verilator only")
    cocotb_run(design(name), "tb.mem.test_sram", extra_env={} if sim == "verilator" else ICARUS)
