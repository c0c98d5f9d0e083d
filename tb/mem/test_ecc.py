"""SECDED code: the golden model corrects every single-bit error and detects every double-bit
error of a lane (exhaustively), and the RTL's code tables are the model's."""

import random

import pytest

from tatami.hw.mem.ecc import SecdedCode, lane_bits_for
from tatami.sim.mem.ecc import EccStatus, LaneCode, WordCode


@pytest.mark.parametrize("k", [8, 32, 64])
def test_code_tables_agree(k):
    hw, model = SecdedCode(k), LaneCode(k)
    assert hw.check_bits == model.r + 1
    assert list(hw.positions) == model.data_pos
    rng = random.Random(k)
    for _ in range(200):
        d = rng.getrandbits(k)
        ham = 0
        for j, mask in enumerate(hw.check_masks):
            ham |= (bin(d & mask).count("1") & 1) << j
        assert model.encode(d) & ((1 << (k + model.r)) - 1) == d | ham << k


def test_overhead_of_64_bit_lanes():
    assert SecdedCode(64).stored_bits == 72 and SecdedCode(64).overhead == 0.125
    assert SecdedCode(32).stored_bits == 39
    assert lane_bits_for(512) == 64 and lane_bits_for(32) == 32


@pytest.mark.parametrize("k", [32, 64])
def test_every_single_corrected_every_double_detected(k):
    code = LaneCode(k)
    rng = random.Random(1)
    n = code.stored_bits
    for data in (0, (1 << k) - 1, rng.getrandbits(k)):
        st = code.encode(data)
        assert code.decode(st) == (data, EccStatus.OK)
        for i in range(n):
            assert code.decode(st ^ 1 << i) == (data, EccStatus.CORRECTED), f"bit {i}"
            for j in range(i + 1, n):
                assert code.decode(st ^ 1 << i ^ 1 << j)[1] is EccStatus.UNCORRECTABLE, f"bits {i},{j}"


def test_word_code_lanes_independent():
    wc = WordCode(512)
    assert wc.lanes == 8 and wc.stored_bits == 576
    rng = random.Random(2)
    d = rng.getrandbits(512)
    st = wc.encode(d)
    # one flip in each of two different lanes: both corrected
    assert wc.decode(st ^ 1 << 3 ^ 1 << (72 * 5 + 70)) == (d, True, False)
    # two flips in one lane: detected
    assert wc.decode(st ^ 1 << 72 ^ 1 << 73)[2]


def test_no_ecc_passes_through():
    wc = WordCode(128, ecc=False)
    assert wc.stored_bits == 128 and wc.decode(wc.encode(12345)) == (12345, False, False)


def test_rejects_tiny_lane():
    with pytest.raises(ValueError, match="at least 4"):
        SecdedCode(2)
