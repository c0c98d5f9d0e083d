"""The area/Fmax helper on small designs (seconds), and full board builds (@fpga, many minutes)."""

import json

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.config import preset
from tatami.fpga.synth import synthesize
from tatami.fpga.tools import ToolMissing, find_tool


def _have_tools():
    try:
        find_tool("yosys"), find_tool("nextpnr-ecp5")
    except ToolMissing:
        return False
    return True


needs_tools = pytest.mark.skipif(not _have_tools(), reason="YoWASP Yosys/nextpnr not installed")


class MulAcc(wiring.Component):
    a: In(16)
    b: In(16)
    y: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.y.eq(self.y + self.a * self.b)
        return m


@needs_tools
def test_synthesize_ecp5_reports_area_and_fmax():
    r = synthesize(MulAcc(), freq_mhz=50)
    assert r["dsps"] == 1 and r["ffs"] == 32 and 16 <= r["luts"] < 200
    assert r["fmax_mhz"] > 50 and r["timing_met"] is True
    assert r["luts_available"] == 83640


@needs_tools
def test_synthesize_verilog_text_yosys_only():
    v = "module inv(input [3:0] a, output [3:0] y); assign y = ~a; endmodule\n"
    r = synthesize(v, device="up5k", package="sg48", place=False)
    assert r["top"] == "inv" and r["luts"] >= 1 and r["fmax_mhz"] is None


def test_synthesize_rejects_unknown_devices():
    with pytest.raises(ValueError, match="unknown device"):
        synthesize(MulAcc(), device="xc7a35t")


@pytest.mark.fpga
def test_ulx3s_fpga_2x2_full_build(tmp_path):
    """The full flow; a build that misses timing must raise TimingError and leave no bitstream."""
    from tatami.fpga.build import TimingError, build

    try:
        build("ulx3s-85f", preset("fpga-2x2"), freq_mhz=30, out_dir=tmp_path)
    except TimingError:
        assert not (tmp_path / "tatami.bit").exists()
        raise
    assert (tmp_path / "tatami.bit").stat().st_size > 100_000
    assert json.loads((tmp_path / "tatami-report.json").read_text())["timing_met"]


@pytest.mark.fpga
def test_ulx3s_noc_tester_full_build_at_75mhz(tmp_path):
    """Issue 7's showcase: the fpga-2x2 noc-tester on the ULX3S-85F at the config's 75 MHz, with
    every clock at or above its constraint after routing and a bitstream."""
    from tatami.fpga.build import build

    r = build("ulx3s-85f", preset("fpga-2x2"), "noc-tester", out_dir=tmp_path)
    assert r["freq_mhz"] == 75 and r["timing_met"]
    assert all(c["achieved_mhz"] >= 75 for c in r["clocks"].values()), r["clocks"]
    assert (tmp_path / "tatami.bit").stat().st_size > 100_000


@pytest.mark.fpga
def test_ulx3s_noc_tester_full_build_at_60mhz(tmp_path):
    """The build of record: the fpga-2x2 noc-tester on the ULX3S-85F at 60 MHz (with the design's
    nextpnr options) meets timing and writes a bitstream (62.62 MHz after routing, 2026-12-06)."""
    from tatami.fpga.build import build

    r = build("ulx3s-85f", preset("fpga-2x2"), "noc-tester", freq_mhz=60, out_dir=tmp_path)
    assert r["timing_met"] and r["pnr_opts"] == ["--placer", "static"]
    assert (tmp_path / "tatami.bit").stat().st_size > 100_000


@pytest.mark.fpga
def test_timing_failure_leaves_no_bitstream(tmp_path):
    from tatami.fpga.build import TimingError, build

    with pytest.raises(TimingError, match="no bitstream"):
        build("ulx3s-85f", preset("fpga-2x2"), freq_mhz=200, out_dir=tmp_path)
    assert not (tmp_path / "tatami.bit").exists()
