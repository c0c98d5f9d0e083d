"""The bridge's byte-level units in Amaranth's simulator against the golden protocol model:
the deframer on random garbage interleaved with good frames, the framer against
``encode_frame``, and the UART transmitter looped into the receiver."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from tatami.host.protocol import END, ESC, encode_frame, frame_body
from tatami.host.protocol import Deframer as DeframerModel
from tatami.hw.bridge.deframer import Deframer
from tatami.hw.bridge.framer import Framer
from tatami.hw.bridge.uart_rx import UartRx
from tatami.hw.bridge.uart_tx import UartTx

MAX_FRAME = 40


def _stream(rng: random.Random, n_frames: int) -> tuple[bytes, list[bytes]]:
    """Garbage (heavy on END/ESC) between good frames; returns the bytes and the good bodies."""
    out, good = bytearray(), []
    for _ in range(n_frames):
        for _ in range(rng.randrange(0, 25)):
            out.append(rng.choice([END, ESC, 0xDC, 0xDD]) if rng.random() < 0.3 else rng.getrandbits(8))
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(2, MAX_FRAME - 4 + 1)))
        kind = rng.random()
        if kind < 0.6:
            out += encode_frame(body[0], body[1], body[2:])
            good.append(body)
        elif kind < 0.8:  # corrupted CRC
            raw = bytearray(encode_frame(body[0], body[1], body[2:]))
            i = rng.randrange(1, len(raw) - 1)
            raw[i] = raw[i] ^ 0x01 if raw[i] not in (END, ESC) and raw[i] ^ 1 not in (END, ESC) else raw[i]
            out += raw
        elif kind < 0.9:  # truncated
            raw = encode_frame(body[0], body[1], body[2:])
            out += raw[: rng.randrange(1, len(raw))]
        else:  # one byte or a few too long, CRC good
            extra = bytes(rng.getrandbits(8) for _ in range(rng.randrange(MAX_FRAME - 5, MAX_FRAME)))
            out += encode_frame(0x55, 0xAA, extra)
    # The boundary: a frame of exactly MAX_FRAME bytes passes, one byte more is overlong.
    edge = bytes(rng.getrandbits(8) for _ in range(MAX_FRAME - 4))
    out += encode_frame(edge[0], edge[1], edge[2:]) + encode_frame(edge[0], edge[1], edge[2:] + b"x")
    good.append(edge)
    out.append(END)
    return bytes(out), good


def test_deframer_matches_model_on_garbage():
    rng = random.Random(7)
    data, good = _stream(rng, 60)
    model = DeframerModel(MAX_FRAME)
    expected = model.feed(data)
    # Every good frame survives the garbage before it (it starts with END), and nothing else passes.
    assert expected == good
    dut = Deframer(MAX_FRAME)
    got = []

    async def tb(ctx):
        i = 0
        while i < len(data) or ctx.get(dut.frame_valid):
            if ctx.get(dut.frame_valid):
                ctx.set(dut.i.valid, 0)
                n = ctx.get(dut.frame_len)
                body = []
                for a in range(n):
                    ctx.set(dut.rd_addr, a)
                    await ctx.tick()
                    body.append(ctx.get(dut.rd_data))
                got.append(bytes(body))
                ctx.set(dut.frame_done, 1)
                await ctx.tick()
                ctx.set(dut.frame_done, 0)
                continue
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, data[i])
            await ctx.tick()
            i += 1
        ctx.set(dut.i.valid, 0)
        await ctx.tick()
        counts = {
            "frames_ok": ctx.get(dut.frames_ok),
            "crc": ctx.get(dut.crc_errors),
            "framing": ctx.get(dut.framing_errors),
            "overlong": ctx.get(dut.overlong),
            "short": ctx.get(dut.short),
        }
        assert counts == model.counts

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert got == expected


def test_deframer_detects_a_flipped_crc_bit():
    """The residue check catches a single-bit error anywhere (a test that can fail)."""
    body = bytes(range(1, 12))
    frame = bytearray(frame_body(body))
    frame[3] ^= 0x10
    model = DeframerModel(MAX_FRAME)
    assert model.feed(bytes([END]) + frame + bytes([END])) == []
    assert model.counts["crc"] == 1


@pytest.mark.parametrize("seed", [1, 2])
def test_framer_matches_encode_frame(seed):
    rng = random.Random(seed)
    bodies = [
        bytes(rng.choice([END, ESC, 0, rng.getrandbits(8)]) for _ in range(rng.randrange(1, 30)))
        for _ in range(8)
    ]
    dut = Framer()
    out = bytearray()

    async def producer(ctx):
        for body in bodies:
            for k, b in enumerate(body):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, {"data": b, "last": k == len(body) - 1})
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            for _ in range(rng.randrange(3)):
                await ctx.tick()

    expected = b"".join(_enc(b) for b in bodies)

    async def consumer(ctx):
        while len(out) < len(expected):
            ctx.set(dut.o.ready, rng.random() < 0.7)
            await ctx.tick()
        ctx.set(dut.o.ready, 0)

    async def monitor(ctx):
        async for _clk, _rst, valid, ready, payload in ctx.tick().sample(
            dut.o.valid, dut.o.ready, dut.o.payload
        ):
            if valid and ready:
                out.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_process(monitor)
    sim.run()
    assert bytes(out) == expected


def _enc(body):
    from tatami.host.protocol import slip_encode

    return slip_encode(frame_body(body))


class _Loop(wiring.Component):
    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = self.tx = UartTx(self.divisor)
        m.submodules.rx = self.rx = UartRx(self.divisor)
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_uart_loopback(divisor):
    data = bytes(random.Random(divisor).getrandbits(8) for _ in range(24))
    dut = _Loop(divisor)
    got = []

    async def sender(ctx):
        for b in data:
            ctx.set(dut.tx.i.valid, 1)
            ctx.set(dut.tx.i.payload, b)
            await ctx.tick().until(dut.tx.i.ready)
        ctx.set(dut.tx.i.valid, 0)

    async def receiver(ctx):
        ctx.set(dut.rx.o.ready, 1)
        for _ in range(12 * divisor * (len(data) + 2)):
            await ctx.tick()
            if ctx.get(dut.rx.o.valid):
                got.append(ctx.get(dut.rx.o.payload))
            if len(got) == len(data):
                break
        assert ctx.get(dut.rx.framing_errors) == 0 and ctx.get(dut.rx.overruns) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    assert bytes(got) == data


def test_units_reject_bad_parameters():
    with pytest.raises(ValueError, match="divisor"):
        UartRx(2)
    with pytest.raises(ValueError, match="divisor"):
        UartTx(1)
    with pytest.raises(ValueError, match="max_frame"):
        Deframer(3)
    from tatami.config import preset
    from tatami.hw.bridge.core import BridgeCore

    with pytest.raises(ValueError, match="bus_read_latency"):
        BridgeCore(preset("tiny"), bus_read_latency=0)


class _CoreOnBus(wiring.Component):
    """A :class:`BridgeCore` given one REG_READ frame (from a memory with a one-cycle read, as the
    deframer's buffer) and a register target whose ``rdata`` is right only exactly ``latency``
    cycles after ``re`` (every other cycle it shows ``GARBAGE``)."""

    GARBAGE = 0xDEAD_BEEF

    def __init__(self, cfg, frame: bytes, bridge_latency: int, target_latency: int):
        self.cfg, self.frame = cfg, frame
        self.bridge_latency, self.target_latency = bridge_latency, target_latency
        super().__init__({})

    @staticmethod
    def value_of(addr):
        return (addr * 0x0001_0001) ^ 0x5A5A_0000

    def elaborate(self, platform):
        from amaranth.hdl import Const, Mux, Signal
        from amaranth.lib.memory import Memory

        from tatami.hw.bridge.core import BridgeCore

        m = Module()
        n = BridgeCore(self.cfg).limits.max_frame
        m.submodules.core = core = self.core = BridgeCore(
            self.cfg, packets=False, bus_read_latency=self.bridge_latency
        )
        m.submodules.buf = buf = Memory(shape=8, depth=n, init=list(self.frame) + [0] * (n - len(self.frame)))
        rd = buf.read_port()
        m.d.comb += [rd.addr.eq(core.rd_addr), core.rd_data.eq(rd.data), core.frame_len.eq(len(self.frame))]
        sent = Signal()
        with m.If(~sent):
            m.d.comb += core.frame_valid.eq(1)
        with m.If(core.frame_done):
            m.d.sync += sent.eq(1)
        pipe = Signal(32, init=self.GARBAGE)
        m.d.sync += pipe.eq(Mux(core.bus.re, self.value_of(core.bus.addr), Const(self.GARBAGE, 32)))
        for i in range(self.target_latency - 1):
            nxt = Signal(32, init=self.GARBAGE, name=f"pipe{i + 1}")
            m.d.sync += nxt.eq(pipe)
            pipe = nxt
        m.d.comb += [core.bus.rdata.eq(pipe), core.resp.ready.eq(1)]
        return m


def _bus_read(bridge_latency, target_latency, addr=0x8123):
    from tatami.config import preset
    from tatami.host.protocol import Op

    dut = _CoreOnBus(
        preset("tiny"), bytes([7, Op.REG_READ, addr & 0xFF, addr >> 8]), bridge_latency, target_latency
    )
    got = []

    async def bench(ctx):
        for _ in range(200):
            await ctx.tick()
            if ctx.get(dut.core.resp.valid):
                got.append(ctx.get(dut.core.resp.payload.data))
                if ctx.get(dut.core.resp.payload.last):
                    return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got[:3] == [7, Op.REG_READ | 0x80, 0], got
    return int.from_bytes(bytes(got[3:7]), "little")


@pytest.mark.parametrize("latency", [1, 3])
def test_core_waits_for_the_bus_read_latency(latency):
    """REG_READ samples ``rdata`` exactly ``bus_read_latency`` cycles after ``re`` (the noc-tester
    top's pipelined read multiplexer needs 3); a bridge that samples early reads garbage."""
    assert _bus_read(latency, latency) == _CoreOnBus.value_of(0x8123)
    if latency > 1:
        assert _bus_read(1, latency) == _CoreOnBus.GARBAGE
