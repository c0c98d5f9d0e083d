"""Codecs derived from layouts, and the packet formats built on them."""

import random

import pytest
from amaranth.hdl import signed
from amaranth.lib import data, enum

from tatami.config import preset
from tatami.hw.common.codec import Codec, CodecError
from tatami.hw.formats import (
    HEADER_BITS,
    Header,
    MsgClass,
    PacketKind,
    head_flit,
    link_flit_layout,
    split_head_flit,
)


class Colour(enum.Enum, shape=2):
    RED = 0
    BLUE = 2


LAYOUT = data.StructLayout(
    {"a": 3, "c": Colour, "s": signed(5), "inner": data.StructLayout({"x": 4, "y": 1})}
)


def test_round_trip_random():
    c = Codec(LAYOUT)
    rng = random.Random(1)
    for _ in range(500):
        v = {
            "a": rng.randrange(8),
            "c": rng.choice(list(Colour)),
            "s": rng.randrange(-16, 16),
            "inner": {"x": rng.randrange(16), "y": rng.randrange(2)},
        }
        word = c.pack(v)
        assert 0 <= word < 1 << c.width
        assert c.unpack(word) == v


def test_bit_positions_follow_the_layout():
    c = Codec(LAYOUT)
    assert c.pack(a=0b101) == 0b101
    assert c.pack(c=Colour.BLUE) == 0b10 << 3
    assert c.pack(s=-1) == 0b11111 << 5
    assert c.pack(inner={"y": 1}) == 1 << 14


def test_errors_name_the_field():
    c = Codec(LAYOUT)
    with pytest.raises(CodecError, match="'a' = 8 does not fit 3 bits"):
        c.pack(a=8)
    with pytest.raises(CodecError, match="'s' = 16 does not fit"):
        c.pack(s=16)
    with pytest.raises(CodecError, match="unknown field"):
        c.pack(b=1)
    with pytest.raises(CodecError, match="not a 15-bit"):
        c.unpack(1 << 15)


def test_undefined_enum_code_stays_int():
    assert Codec(LAYOUT).unpack(1 << 3)["c"] == 1


def test_header_is_64_bits_and_head_flit_round_trips():
    assert Header.size == HEADER_BITS == 64
    hdr = {
        "dst_x": 17,
        "dst_y": 19,
        "src_x": 3,
        "src_y": 4,
        "mclass": MsgClass.RESPONSE,
        "kind": PacketKind.READ_RESP,
        "length": 63,
        "tag": 31,
        "addr": 0xFFFFFF,
    }
    got, imm = split_head_flit(head_flit(hdr, 0xDEADBEEF_01234567))
    assert got == hdr and imm == 0xDEADBEEF_01234567


@pytest.mark.parametrize("name", ["tiny", "fpga-2x2", "d1"])
def test_link_flit_width(name):
    cfg = preset(name)
    assert link_flit_layout(cfg).size == cfg.noc.flit_bits + 2 + 1


def test_expected_class_of_each_kind():
    assert PacketKind.expected_class(PacketKind.READ_RESP) is MsgClass.RESPONSE
    assert PacketKind.expected_class(PacketKind.WRITE) is MsgClass.REQUEST
    assert PacketKind.expected_class(PacketKind.TRAFFIC) is None
