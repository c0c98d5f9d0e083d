"""The host library and the protocol's golden model, in Python: framing round trips, garbage
resynchronization, the executor model's answers, and the bench's host session against a model
machine (the same session the RTL and a board run)."""

import asyncio
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tatami.config import preset
from tatami.host import BridgeReg, Host, Op, Status
from tatami.host.model import BridgeModel, ModelTransport
from tatami.host.protocol import (
    END,
    ESC,
    BridgeInfo,
    Deframer,
    Limits,
    crc32,
    decode_response,
    encode_frame,
    packet_error,
)
from tatami.hw.bridge.crc import CRC32_INIT, CRC32_RESIDUE, crc32_byte_model

CFG = preset("fpga-2x2")


@given(st.binary(max_size=200))
def test_crc_byte_step_matches_zlib(data):
    c = CRC32_INIT
    for b in data:
        c = crc32_byte_model(c, b)
    assert c ^ 0xFFFFFFFF == zlib.crc32(data) == crc32(data)
    for b in zlib.crc32(data).to_bytes(4, "little"):
        c = crc32_byte_model(c, b)
    assert c == CRC32_RESIDUE


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=60), st.binary(max_size=80))
@settings(max_examples=200)
def test_frame_survives_any_garbage_before_it(seq, op, args, garbage):
    d = Deframer(Limits.of(CFG).max_frame)
    d.feed(garbage)
    assert d.feed(encode_frame(seq, op, args))[-1] == bytes([seq, op]) + args


def test_escaping_hides_framing_bytes():
    wire = encode_frame(1, 2, bytes([END, ESC, END]))
    assert END not in wire[1:-1]
    assert Deframer(64).feed(wire) == [bytes([1, 2, END, ESC, END])]


def test_deframer_counts_each_error_once():
    d = Deframer(16)
    d.feed(bytes([END, 1, 2, 3, END]))  # short
    d.feed(bytes([END, 1, ESC, 0x41, 2, 3, END]))  # framing
    d.feed(bytes([END]) + bytes(20) + bytes([END]))  # overlong
    d.feed(bytes([END, 1, 2, 3, 4, 5, 6, 7, END]))  # crc
    d.feed(bytes([END, END, END]))  # empty: ignored
    assert d.counts == {"frames_ok": 0, "crc": 1, "framing": 1, "overlong": 1, "short": 1}


def test_bridge_model_answers():
    m = BridgeModel(CFG)
    (r,) = m.feed(encode_frame(1, Op.PING))
    assert decode_response(r).data == BridgeInfo.of(CFG).pack()
    (r,) = m.feed(encode_frame(1, Op.PING))
    assert decode_response(r).status == Status.DUPLICATE
    (r,) = m.feed(encode_frame(2, 0x33))
    assert decode_response(r).status == Status.BAD_OP
    (r,) = m.feed(encode_frame(3, Op.REG_READ, bytes([BridgeReg.DUPLICATES, 0])))
    assert int.from_bytes(decode_response(r).data, "little") == 1
    (r,) = m.feed(encode_frame(4, Op.SEND, bytes(15)))
    assert decode_response(r).status == Status.BAD_LENGTH
    assert m.counters["bad_op"] == 1 and m.counters["bad_length"] == 1


def test_packet_error_names_the_problem():
    h = {"dst_x": 5, "dst_y": 0, "src_x": 0, "src_y": 0, "mclass": 0, "kind": 0, "length": 0}
    assert "not a node" in packet_error(CFG, h)
    assert "source" in packet_error(CFG, {**h, "dst_x": 1, "src_x": 1})
    assert "READ_RESP travels as RESPONSE" in packet_error(CFG, {**h, "dst_x": 1, "kind": 2})
    assert "max_packet_flits" in packet_error(CFG, {**h, "dst_x": 1, "length": 9})
    assert packet_error(CFG, {**h, "dst_x": 1}) is None


@pytest.mark.parametrize("name", ["fpga-2x2", "tiny"])
def test_session_runs_on_the_model_machine(name):
    """The bench's session, unchanged, against the Python machine."""
    from tatami.sim.benches.fpga_top import session

    cfg = preset(name)
    host = Host(ModelTransport(cfg), cfg)
    figures = asyncio.run(session(host, log=lambda *a: None))
    assert figures["bridge"]["packets_sent"] == 6 * cfg.mesh.live_count
    assert all(n["reads"] == 4 for n in figures["nodes"].values())


class _Lossy(ModelTransport):
    """Drops the first response: the host must retransmit and accept the DUPLICATE answer."""

    dropped = False

    async def read(self, timeout):
        data = await super().read(timeout)
        if data and not self.dropped:
            self.dropped = True
            return b""
        return data


def test_host_retransmits_and_tolerates_duplicates():
    host = Host(_Lossy(CFG), CFG)
    asyncio.run(host.reg_write(BridgeReg.USE_TABLE, 1))
    assert host.retransmissions == 1
    assert asyncio.run(host.reg_read(BridgeReg.DUPLICATES)) == 1


def test_host_refuses_a_mismatched_config():
    host = Host(ModelTransport(preset("tiny")), CFG)
    with pytest.raises(Exception, match="config"):
        asyncio.run(host.ping())


def test_random_garbage_never_reaches_the_nodes():
    """Model machine: garbage between good SENDs; every node counts exactly the packets sent."""
    rng = random.Random(3)
    t = ModelTransport(CFG)
    host = Host(t, CFG)
    sent = dict.fromkeys(CFG.mesh.live_nodes(), 0)

    async def run():
        for i in range(200):
            await t.write(bytes(rng.getrandbits(8) for _ in range(rng.randrange(40))))
            node = rng.choice(CFG.mesh.live_nodes())
            await host.write(node, 0, [i])
            sent[node] += 1

    asyncio.run(run())
    for node, ep in t.nodes.items():
        assert ep.regs[2] == sent[node]
