"""Descriptor layouts: sizes, field positions, codec round trip, rule checks with messages."""

import random

import pytest

from tatami.config import preset
from tatami.hw.datapath.descriptors import (
    DMA_BYTES,
    DMA_CODEC,
    MATRIX_BYTES,
    MATRIX_CODEC,
    MATRIX_DESCRIPTOR,
    DescriptorError,
    check_dma,
    check_matrix,
    global_addr,
)
from tatami.hw.fpu.layouts import FpFormat, RoundMode


def matrix_desc(**over):
    d = {
        "a": {"addr": 0x0, "row_stride": 64, "col_stride": 2, "format": FpFormat.BF16},
        "b": {"addr": 0x1000, "row_stride": 32, "col_stride": 2, "format": FpFormat.BF16},
        "c": {"addr": 0x2000, "row_stride": 64, "col_stride": 4, "format": FpFormat.FP32},
        "m": 8,
        "n": 16,
        "k": 32,
        "accumulate": 0,
        "round": RoundMode.RNE,
        "seed": 1,
    }
    d.update(over)
    return d


def test_sizes_and_positions():
    assert MATRIX_BYTES == 64 and DMA_BYTES == 32
    offsets = {name: f.offset for name, f in MATRIX_DESCRIPTOR}
    assert offsets["a"] == 0 and offsets["b"] == 96 and offsets["c"] == 192 and offsets["m"] == 288
    assert offsets["seed"] == 352


def test_matrix_round_trip():
    rng = random.Random(3)
    for _ in range(50):
        d = matrix_desc(m=rng.randrange(1, 1 << 16), seed=rng.getrandbits(32), accumulate=rng.randrange(2))
        word = MATRIX_CODEC.pack(d)
        back = MATRIX_CODEC.unpack(word)
        assert back["m"] == d["m"] and back["seed"] == d["seed"] and back["a"]["format"] is FpFormat.BF16
        assert MATRIX_CODEC.pack(back) == word


def test_global_address_matches_memory_map():
    g = global_addr(x=5, y=9, local=0x123456)
    assert g == (9 << 38) | (5 << 32) | 0x123456


def test_matrix_checks():
    cfg = preset("fpga-2x2")
    check_matrix(MATRIX_CODEC.unpack(MATRIX_CODEC.pack(matrix_desc())), cfg)
    with pytest.raises(DescriptorError, match="k = 0"):
        check_matrix(MATRIX_CODEC.unpack(MATRIX_CODEC.pack(matrix_desc(k=0))), cfg)
    bad = matrix_desc()
    bad["a"] = dict(bad["a"], format=FpFormat.FP32)
    with pytest.raises(DescriptorError, match=r"a.format"):
        check_matrix(MATRIX_CODEC.unpack(MATRIX_CODEC.pack(bad)), cfg)
    bad = matrix_desc()
    bad["c"] = dict(bad["c"], addr=0xFFF0)
    with pytest.raises(DescriptorError, match="beyond"):
        check_matrix(MATRIX_CODEC.unpack(MATRIX_CODEC.pack(bad)), cfg)
    bad = matrix_desc()
    bad["b"] = dict(bad["b"], col_stride=3)
    with pytest.raises(DescriptorError, match="multiple"):
        check_matrix(MATRIX_CODEC.unpack(MATRIX_CODEC.pack(bad)), cfg)


def test_dma_checks():
    cfg = preset("fpga-2x2")
    d = {
        "src": {"local": 0x100, "x": 0, "y": 0},
        "dst": {"local": 0x200, "x": 1, "y": 1},
        "length": 64,
        "rows": 4,
        "src_stride": 128,
        "dst_stride": 64,
    }
    back = DMA_CODEC.unpack(DMA_CODEC.pack(d))
    check_dma(back, cfg, (0, 0))
    with pytest.raises(DescriptorError, match="neither"):
        check_dma(back, cfg, (1, 0))
    with pytest.raises(DescriptorError, match="not a live node"):
        check_dma(DMA_CODEC.unpack(DMA_CODEC.pack(dict(d, dst={"local": 0, "x": 3, "y": 0}))), cfg, (0, 0))
    with pytest.raises(DescriptorError, match="at least 1"):
        check_dma(DMA_CODEC.unpack(DMA_CODEC.pack(dict(d, rows=0))), cfg, (0, 0))
