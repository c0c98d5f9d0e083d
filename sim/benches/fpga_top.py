"""cocotb bench for a whole FPGA design (``mesh-bridge``) through its UART pins only.

The host library (:class:`tatami.host.Host`) drives the design through :class:`CocotbUart`, the
same API a script uses against a board. Every response is compared with the golden model
(:class:`tatami.host.model.BridgeModel`) fed the identical byte stream.

Design parameters: ``divisor`` (clock cycles per UART bit). Knobs: ``TATAMI_GARBAGE_ROUNDS``.
"""

from __future__ import annotations

import random

import cocotb

from tatami.host import BridgeReg, Host, Op, Status
from tatami.host.host import HOST_TAG, BridgeError, Packet
from tatami.host.model import BridgeModel
from tatami.host.protocol import (
    END,
    ESC,
    MAGIC,
    Limits,
    decode_response,
    encode_frame,
    frame_body,
    slip_encode,
)
from tatami.host.sim import CocotbUart
from tatami.sim.cocotb_env import clock_and_reset, design_config, design_params, knob

__all__ = ["noc_tester_run", "session"]


async def session(host: Host, log=print, quick: bool = False) -> dict:
    """A host session that runs unchanged on a board: ping, routing tables, memory and register
    writes and reads at every node, loopback traffic, counters. Returns the figures it read.
    ``quick`` visits only the node farthest from the host and reads fewer counters (for slow
    simulators)."""
    from tatami.hw.bridge.endpoint import EndpointReg

    cfg = host.cfg
    info = await host.ping()
    log(f"bridge: {info}")
    assert await host.reg_read(BridgeReg.ID) == MAGIC
    if cfg.noc.routing == "table":
        await host.load_routes()
        log("routing tables loaded")
    nodes = cfg.mesh.live_nodes()
    if quick:
        nodes = nodes[-1:]
    fpw = cfg.noc.flit_bits
    rng = random.Random(1)
    written = {}
    for node in nodes:
        data = [rng.getrandbits(fpw) for _ in range(2)]
        await host.write(node, 0x20, data)
        written[node] = data
    for node in nodes:
        got = await host.read(node, 0x20, 2)
        assert got == written[node], (
            f"node {node}: read {[hex(g) for g in got]} after writing {written[node]}"
        )
    log(f"memory write/read ok at {len(nodes)} nodes")
    for i, node in enumerate(nodes):
        await host.control(node, EndpointReg.SCRATCH, 0xC0DE0000 + i, ack=True)
        (scratch,) = await host.read_reg(node, EndpointReg.SCRATCH)
        assert scratch == 0xC0DE0000 + i, f"node {node}: scratch {scratch:#x}"
        (ident,) = await host.read_reg(node, EndpointReg.ID)
        assert ident == node[0] | node[1] << 8, f"node {node} says it is {ident:#x}"
    log("registers ok (CONTROL with ACK, READ_REQ of registers)")
    for i, node in enumerate(nodes):
        body = [rng.getrandbits(fpw) for _ in range((i + 1) % cfg.noc.max_packet_flits)]
        echo = await host.loopback(node, body, seq=i)
        assert echo.body == body, f"loopback from {node} changed the body"
        assert (echo.header["src_x"], echo.header["src_y"]) == node
    log("loopback traffic ok")
    names = ("crc", "framing", "bad_length", "packets_sent", "packets_received") if quick else None
    figures = {"bridge": await host.counters(names), "checked_nodes": nodes}
    figures["nodes"] = {
        f"{x},{y}": dict(
            zip(
                ("rx_packets", "writes", "reads", "controls", "traffic"),
                await host.read_reg((x, y), EndpointReg.RX_PACKETS, 5),
            )
        )
        for x, y in nodes
    }
    if not quick:
        figures["drops"] = {f"{x},{y}": await host.drops((x, y)) for x, y in nodes[:1]}
    log(f"counters: {figures}")
    return figures


async def noc_tester_run(host: Host, rate: float = 0.1, log=print, **plan) -> dict:
    """The ``noc-tester`` design from the host: the tester's own driver
    (:class:`~tatami.sim.noc.sweep.TesterDriver`) over the bridge's register window. Loads the
    routing tables, runs one load point in hardware, returns its figures."""
    from tatami.host.host import DesignBus
    from tatami.hw.noc.tester_regs import Reg
    from tatami.hw.noc.tester_regs import Status as TesterStatus
    from tatami.sim.noc.sweep import SweepPlan, TesterDriver, plan_tables

    cfg = host.cfg
    log(f"bridge: {await host.ping()}")
    driver = TesterDriver(DesignBus(host, done=(Reg.STATUS, TesterStatus.DONE)), cfg)
    await driver.check_id()
    if cfg.noc.routing == "table":
        await driver.load_tables(plan_tables(cfg, ()))
        log("routing tables loaded")
    settings = {"warmup": 100, "measure": 300, "drain_limit": 3000, "watchdog": 3000, **plan}
    point = await driver.point(SweepPlan(**settings), rate)
    log(f"offered {point.offered}, accepted {point.accepted:.3f}, latency {point.latency:.1f}")
    return {"point": point, "bridge": await host.counters()}


def _transport(dut):
    return CocotbUart(dut, design_params()["divisor"])


@cocotb.test()
async def host_session(dut):
    await clock_and_reset(dut)
    cfg = design_config()
    host = Host(_transport(dut), cfg)
    figures = await session(host, log=dut._log.info, quick=not knob("full_session", 1))
    nodes = figures["checked_nodes"]
    b = figures["bridge"]
    for key in ("crc", "framing", "overlong", "short", "bad_op", "bad_length", "bad_packet", "rx_overrun"):
        assert b.get(key, 0) == 0, f"bridge counted {b[key]} {key} errors in a clean session"
    # Each node got 1 write, 1 control, 1 traffic packet and 4 reads (memory, scratch, id, counters).
    for x, y in nodes:
        n = figures["nodes"][f"{x},{y}"]
        assert (n["writes"], n["controls"], n["traffic"], n["reads"], n["rx_packets"]) == (1, 1, 1, 4, 7), n
    assert b["packets_sent"] == 6 * len(nodes) and b["packets_received"] == 5 * len(nodes), b
    assert host.retransmissions == 0


def _garbage(rng: random.Random, n: int) -> bytes:
    # Heavy on the framing bytes, so that escapes, empty frames and resyncs all happen.
    pool = [END, ESC, 0xDC, 0xDD, 0x00, 0xFF]
    return bytes(rng.choice(pool) if rng.random() < 0.3 else rng.getrandbits(8) for _ in range(n))


@cocotb.test()
async def corrupted_frames(dut):
    """Garbage, bad CRCs, truncated, overlong, badly escaped, duplicated, malformed requests,
    interleaved with good ones: every response matches the model, every error is counted, and
    the nodes received exactly the packets the host sent."""
    from tatami.hw.bridge.endpoint import EndpointReg
    from tatami.hw.formats import PacketKind

    await clock_and_reset(dut)
    cfg = design_config()
    uart = _transport(dut)
    host = Host(uart, cfg)
    model = BridgeModel(cfg)
    rng = random.Random(cocotb.RANDOM_SEED)
    limits = Limits.of(cfg)
    nodes = cfg.mesh.live_nodes()
    fb = limits.flit_bytes
    sent_to = dict.fromkeys(nodes, 0)
    seq = 100

    async def push(data: bytes):
        """Send raw bytes; collect and compare as many responses as the model predicts."""
        expected = model.feed(data)
        await uart.write(data)
        for want in expected:
            while True:
                body = await host._next_frame(0.2)
                assert body is not None, f"no response; expected {want.hex()}"
                if body[1] != Op.RECV:
                    break
            assert body == want, f"response {body.hex()} differs from the model's {want.hex()}"
        return expected

    def next_seq():
        nonlocal seq
        seq = (seq + 1) & 0xFF
        return seq

    def send_args(node, kind=PacketKind.WRITE, length=1, **kw):
        h = host.header(node, kind, length=length, addr=0x40, **kw)
        p = Packet(h, 0, [rng.getrandbits(cfg.noc.flit_bits) for _ in range(length)])
        return b"".join(f.to_bytes(fb, "little") for f in p.flits())

    rounds = knob("garbage_rounds", 24)
    for r in range(rounds):
        await push(_garbage(rng, rng.randrange(1, 60)))
        node = rng.choice(nodes)
        case = r % 8
        if case == 0:  # good SEND
            await push(encode_frame(next_seq(), Op.SEND, send_args(node)))
            sent_to[node] += 1
        elif case == 1:  # bad CRC: one body byte flipped
            body = bytearray(frame_body(bytes([next_seq(), Op.SEND]) + send_args(node)))
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
            await push(slip_encode(bytes(body)))
        elif case == 2:  # truncated: the frame cut short, then the next frame's END
            wire = encode_frame(next_seq(), Op.SEND, send_args(node))
            await push(wire[: rng.randrange(2, len(wire) - 1)] + bytes([END]))
        elif case == 3:  # overlong
            await push(slip_encode(bytes(rng.getrandbits(8) for _ in range(limits.max_frame + 5))))
        elif case == 4:  # bad escape
            await push(bytes([END, 0x01, ESC, 0x42, 0x03, END]))
        elif case == 5:  # duplicate: the same frame twice
            frame = encode_frame(next_seq(), Op.SEND, send_args(node))
            got = await push(frame + frame)
            assert decode_response(got[1]).status == Status.DUPLICATE
            sent_to[node] += 1
        elif case == 6:  # well-framed but malformed requests
            await push(encode_frame(next_seq(), 0x7E, b""))
            await push(encode_frame(next_seq(), Op.REG_READ, b"\x00"))
            bad = host.header((cfg.mesh.width, 0), PacketKind.WRITE)  # off the mesh
            from tatami.hw.formats import head_flit

            await push(encode_frame(next_seq(), Op.SEND, head_flit(bad).to_bytes(fb, "little")))
            await push(encode_frame(next_seq(), Op.SEND, send_args(node, PacketKind.READ_RESP)[:-1]))
        else:  # a register read of a counter, checked against the model
            await push(encode_frame(next_seq(), Op.REG_READ, int(BridgeReg.ERR_CRC).to_bytes(2, "little")))
    await push(bytes([END]))
    # What the bridge counted equals what the model counted.
    want = model.counters
    got = {}
    for name in ("frames_ok", "crc", "framing", "overlong", "short", "bad_op", "bad_length", "bad_packet"):
        got[name] = await host.reg_read(getattr(BridgeReg, _REG[name]))
        # the reads themselves are frames too
    for name in ("crc", "framing", "overlong", "short", "bad_op", "bad_length", "bad_packet"):
        assert got[name] == want[name], f"{name}: bridge counted {got[name]}, model {want[name]}"
    dut._log.info(f"after {rounds} rounds: model {want}, bridge {got}")
    assert sum(want[k] for k in ("crc", "framing", "overlong", "short")) >= rounds // 4
    # Every node received exactly the packets the host sent it, and nothing else.
    for node in nodes:
        (rx,) = await host.read_reg(node, EndpointReg.RX_PACKETS)
        # + the READ_REQ just made counts itself
        assert rx == sent_to[node] + 1, (
            f"node {node} received {rx - 1} packets; the host sent {sent_to[node]}"
        )
    assert not host.inbox, f"unexpected packets for the host: {host.inbox}"
    try:
        await host.receive(timeout=0.01)
    except BridgeError:
        pass
    else:
        raise AssertionError("an unexpected packet reached the host")
    assert HOST_TAG


@cocotb.test()
async def noc_tester_session(dut):
    """noc-tester design: a load point run from the host over the UART; nothing lost or corrupted."""
    await clock_and_reset(dut)
    host = Host(_transport(dut), design_config())
    figures = await noc_tester_run(host, log=dut._log.info)
    c = figures["point"].counters
    assert c["measured_received"] == c["measured_created"] > 0, c
    for key in ("corrupted", "duplicated", "misordered", "holes"):
        assert c[key] == 0, f"{key}: {c[key]}"
    assert figures["bridge"]["crc"] == 0 and figures["bridge"]["bad_op"] == 0


_REG = {
    "frames_ok": "FRAMES_OK",
    "crc": "ERR_CRC",
    "framing": "ERR_FRAMING",
    "overlong": "ERR_OVERLONG",
    "short": "ERR_SHORT",
    "bad_op": "ERR_BAD_OP",
    "bad_length": "ERR_BAD_LENGTH",
    "bad_packet": "ERR_BAD_PACKET",
}
