"""The co-simulation's per-record check (sim/benches/core.py), without a simulator: a matching
record advances its thread, a differing one or one with X bits stops the run."""

import pytest

from tatami.sim.benches.core import _THREAD_MASK, Mismatch, _check_record


def _setup():
    want = 0x1230 & ~_THREAD_MASK | 1  # thread 1
    expected = {1: [(want, ~0), (want, ~0)]}
    return want, expected, {1: ["first", "second"]}, {1: 0}, {1: 2}


def test_matching_records_advance_and_finish():
    want, expected, traces, pos, ends = _setup()
    assert _check_record(want, "cycle", 5, expected, traces, pos, ends) is False
    assert _check_record(want, "cycle", 6, expected, traces, pos, ends) is True
    assert pos[1] == 2
    assert _check_record(want, "cycle", 7, expected, traces, pos, ends) is False  # past the end


def test_differing_record_and_x_bits_stop_the_run():
    want, expected, traces, pos, ends = _setup()
    with pytest.raises(Mismatch, match=r"cycle 5: RTL and golden model differ at instruction 0 of thread 1"):
        _check_record(want ^ 0x100, "cycle", 5, expected, traces, pos, ends)
    with pytest.raises(Mismatch, match="X/Z bits"):
        _check_record("01x1", "record", 3, expected, traces, pos, ends)
