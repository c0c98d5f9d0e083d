"""Board builds without the vendor tools: elaboration of every board (the smoke build), the PLL
search, UART divisors, board and design lookup, the CLI's messages."""

import pytest

from tatami.config import preset
from tatami.fpga.boards import BOARDS, board
from tatami.fpga.build import BuildError, build, uart_divisor
from tatami.fpga.designs import design
from tatami.fpga.pll import ecp5_pll_params


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_smoke_build(name, tmp_path):
    """Elaboration only: the platform resolves the clock, UART and LED pins and writes the
    Yosys script and constraints for the design."""
    b = board(name)
    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "noc.routing": "table"})
    freq = None if b.family == "ecp5" else b.clock_mhz
    r = build(
        name, cfg, "mesh-bridge", freq_mhz=freq, out_dir=tmp_path, do_build=False, progress=lambda s: None
    )
    assert r["elaborated"]
    script = (tmp_path / "build_tatami.sh").read_text()
    assert "NEXTPNR_ECP5" in script if b.family == "ecp5" else "NEXTPNR_ICE40" in script
    pins = (tmp_path / ("tatami.lpf" if b.family == "ecp5" else "tatami.pcf")).read_text()
    assert "uart" in pins


def test_orangecrab_uart_on_the_feather_header(tmp_path):
    """The OrangeCrab has no USB-UART: the host UART goes on Feather pins 0 (RX, N17) and 1 (TX,
    M18), and the build runs Yosys, nextpnr and ecppack (not the board's dfu-suffix step)."""
    from tatami.fpga.build import _commands

    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "noc.routing": "table"})
    build("orangecrab-85f", cfg, out_dir=tmp_path, do_build=False, progress=lambda s: None)
    lpf = (tmp_path / "tatami.lpf").read_text()
    assert 'LOCATE COMP "uart_0__rx__io" SITE "N17"' in lpf
    assert 'LOCATE COMP "uart_0__tx__io" SITE "M18"' in lpf
    assert "EHXPLLL" in (tmp_path / "tatami.il").read_text()  # 100 MHz from the 48 MHz oscillator
    steps = [c[0] for c in _commands(tmp_path / "build_tatami.sh")]
    assert [s.rsplit("/", 1)[-1].removeprefix("yowasp-") for s in steps] == [
        "yosys",
        "nextpnr-ecp5",
        "ecppack",
    ]


@pytest.mark.long
def test_smoke_build_ulx3s_fpga_2x2(tmp_path):
    r = build("ulx3s-85f", preset("fpga-2x2"), out_dir=tmp_path, do_build=False, progress=lambda s: None)
    assert r["uart_divisor"] == 651 and r["freq_mhz"] == 75
    assert "EHXPLLL" in (tmp_path / "tatami.il").read_text()


@pytest.mark.parametrize("fin,fout", [(25, 75), (25, 50), (100, 75), (25, 37.5), (12, 48)])
def test_pll_params(fin, fout):
    p = ecp5_pll_params(fin, fout)
    assert abs(p.fout_mhz - fout) < 0.01 * fout
    assert 400 <= p.vco_mhz <= 800 and 3.125 <= fin / p.clki_div <= 400


def test_pll_rejects_impossible_clocks():
    with pytest.raises(ValueError, match=r"3\.125-400"):
        ecp5_pll_params(25, 500)


def test_uart_divisor():
    assert uart_divisor(75, 115200) == 651
    with pytest.raises(BuildError, match="too fast"):
        uart_divisor(1, 1_000_000)
    with pytest.raises(BuildError, match="off"):
        uart_divisor(1, 230_400)


def test_unknown_names_say_what_exists():
    with pytest.raises(ValueError, match="ulx3s-85f"):
        board("nexys")
    with pytest.raises(ValueError, match="mesh-bridge"):
        design("blinky")
    from tatami.fpga.noc_tester_top import NocTesterTop

    assert isinstance(design("noc-tester").build(preset("tiny"), 8), NocTesterTop)


def test_ice40_runs_at_the_board_clock(tmp_path):
    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1})
    with pytest.raises(ValueError, match="board clock"):
        build("icebreaker", cfg, freq_mhz=24, out_dir=tmp_path, do_build=False, progress=lambda s: None)


def test_cli_boards_and_program_messages(tmp_path, capsys):
    from tatami.cli import main

    assert main(["fpga", "boards"]) == 0
    assert "ulx3s-85f" in capsys.readouterr().out
    assert main(["fpga", "program", "--bitstream", str(tmp_path / "none.bit")]) != 0
    assert "no such bitstream" in capsys.readouterr().err


def test_cli_program_without_a_board(tmp_path, capsys):
    """No board is attached here: openFPGALoader fails and the message says what to check."""
    from tatami.cli import main
    from tatami.fpga.tools import ToolMissing, find_tool

    try:
        find_tool("openFPGALoader")
    except ToolMissing:
        pytest.skip("openFPGALoader is not installed")
    bit = tmp_path / "x.bit"
    bit.write_bytes(b"\0" * 16)
    assert main(["fpga", "program", "--bitstream", str(bit)]) != 0
    assert "plugged in" in capsys.readouterr().err


def test_largest_mesh_estimate():
    from tatami.fpga.commands import largest_mesh

    parts = {"bridge": {"luts": 2000}, "router": {"luts": 3500}, "endpoint": {"luts": 500}}
    r = largest_mesh(parts, 83640)
    assert r["mesh"] == "4x4" and r["estimated_luts"] == 2000 + 16 * 4000


def test_bench_record_keeps_other_commits_builds():
    """A build recorded under an existing key replaces the record, and the one it replaces (from
    another commit) keeps its figures in ``history``; a rebuild of the same commit adds nothing."""
    from tatami.fpga.commands import record_build

    results = {}
    key = "ulx3s-85f noc-tester fpga-2x2 2x2 75MHz"
    a = {"commit": "aaaa", "fmax_mhz": 71.6, "timing_met": False, "luts": 40000, "date": "d"}
    record_build(results, key, a)
    assert results["builds"][key] is a and "history" not in results
    b = dict(a, commit="bbbb", fmax_mhz=60.0)
    record_build(results, key, b)
    record_build(results, key, dict(b, fmax_mhz=61.0))
    assert results["builds"][key]["fmax_mhz"] == 61.0
    assert results["history"] == [
        {
            "key": key,
            "commit": "aaaa",
            "date": "d",
            "fmax_mhz": 71.6,
            "timing_met": False,
            "luts": 40000,
            "ffs": None,
            "command": None,
        }
    ]
    record_build(results, key, dict(a, commit="cccc"))
    assert [h["commit"] for h in results["history"]] == ["aaaa", "bbbb"]


def _fake_tools(tmp_path, monkeypatch, achieved_mhz, yosys_log="", constraint_mhz=40.0, by_seed=None):
    """Stand-ins for Yosys, nextpnr and ecppack: they log their arguments, the fake nextpnr
    writes a report with one clock at ``achieved_mhz`` (constraint ``constraint_mhz``; or
    ``by_seed[seed]`` for its ``--seed``), and the fake Yosys writes ``yosys_log`` as its log
    (``-l``)."""
    import json
    import os
    import stat
    import sys

    log = tmp_path / "calls.txt"
    report = {
        "utilization": {"TRELLIS_COMB": {"used": 100, "available": 83640}},
        "fmax": {"clk$glb_clk": {"achieved": achieved_mhz, "constraint": constraint_mhz + 0.01}},
    }
    body = f"""#!{sys.executable}
import json, pathlib, sys
with open({str(log)!r}, "a") as f:
    f.write(pathlib.Path(sys.argv[0]).name + " " + " ".join(sys.argv[1:]) + "\\n")
if "--report" in sys.argv:
    report = json.loads({json.dumps(json.dumps(report))})
    by_seed = {by_seed or {}!r}
    if "--seed" in sys.argv and int(sys.argv[sys.argv.index("--seed") + 1]) in by_seed:
        report["fmax"]["clk$glb_clk"]["achieved"] = by_seed[int(sys.argv[sys.argv.index("--seed") + 1])]
    pathlib.Path(sys.argv[sys.argv.index("--report") + 1]).write_text(json.dumps(report))
if "-l" in sys.argv:
    pathlib.Path(sys.argv[sys.argv.index("-l") + 1]).write_text({yosys_log!r})
if "--bit" in sys.argv:
    pathlib.Path(sys.argv[sys.argv.index("--bit") + 1]).write_bytes(b"bit")
"""
    for tool, var in (("yosys", "YOSYS"), ("nextpnr-ecp5", "NEXTPNR_ECP5"), ("ecppack", "ECPPACK")):
        exe = tmp_path / f"fake-{tool}"
        exe.write_text(body)
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv(var, str(exe))
    assert os.environ["NEXTPNR_ECP5"].endswith("fake-nextpnr-ecp5")
    return log


def test_build_directory_per_seed_and_nextpnr_options(tmp_path, monkeypatch):
    """Without ``out_dir``, a build with another seed or other nextpnr options than the design's
    goes to a directory of its own, so it does not overwrite the default build's bitstream."""
    _fake_tools(tmp_path, monkeypatch, 41.5)
    monkeypatch.chdir(tmp_path)
    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "noc.routing": "table"})
    kw = dict(freq_mhz=40, progress=lambda s: None)
    build("ulx3s-85f", cfg, "mesh-bridge", **kw)
    build("ulx3s-85f", cfg, "mesh-bridge", seed=2, **kw)
    build("ulx3s-85f", cfg, "mesh-bridge", pnr_opts=("--placer", "heap"), **kw)
    build("ulx3s-85f", cfg, "mesh-bridge", pnr_opts=design("mesh-bridge").pnr_opts or (), **kw)
    dirs = sorted(d.name for d in (tmp_path / "build" / "fpga").iterdir())
    base = f"ulx3s-85f-mesh-bridge-{cfg.name}-40MHz"
    assert len(dirs) == 3 and dirs[0] == base and dirs[2] == base + "-seed2"
    assert dirs[1].startswith(base + "-opts") and len(dirs[1]) == len(base) + len("-opts") + 8
    assert all((tmp_path / "build" / "fpga" / d / "tatami.bit").exists() for d in dirs)


@pytest.mark.parametrize("achieved", [41.5, 39.0])
def test_build_passes_nextpnr_options_and_checks_timing(achieved, tmp_path, monkeypatch):
    """The flow's steps with stand-in tools: ``pnr_opts`` reach nextpnr's command line after the
    flow's own options and are recorded; a clock under its constraint raises TimingError and packs
    no bitstream, one at or over it packs one."""
    from tatami.fpga.build import TimingError

    log = _fake_tools(tmp_path, monkeypatch, achieved)
    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "noc.routing": "table"})
    out = tmp_path / "build"
    opts = ("--placer-heap-beta", "0.6")
    kw = dict(freq_mhz=40, out_dir=out, pnr_opts=opts, progress=lambda s: None)
    if achieved < 40:
        with pytest.raises(TimingError, match="no bitstream"):
            build("ulx3s-85f", cfg, "mesh-bridge", **kw)
        assert not (out / "tatami.bit").exists()
    else:
        r = build("ulx3s-85f", cfg, "mesh-bridge", **kw)
        assert r["timing_met"] and r["pnr_opts"] == list(opts) and (out / "tatami.bit").exists()
    calls = log.read_text().splitlines()
    pnr = next(c.split() for c in calls if c.startswith("fake-nextpnr-ecp5"))
    assert pnr[-2:] == list(opts) and "--router" in pnr and "--quiet" not in pnr
    assert any(c.startswith("fake-ecppack") for c in calls) == (achieved >= 40)


def test_build_stops_on_a_multiply_driven_net(tmp_path, monkeypatch):
    """A Yosys netlist with a net of two drivers (its CHECK pass says so) stops the flow with a
    clear message before nextpnr, which would fail on it naming only a cell."""
    from tatami.fpga.build import BuildError

    warning = "Warning: multiple conflicting drivers for tatami.\\design.tester.mesh.drops [5]:\n"
    log = _fake_tools(tmp_path, monkeypatch, 50.0, yosys_log=warning)
    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "noc.routing": "table"})
    with pytest.raises(BuildError, match=r"multiply driven nets .*mesh\.drops"):
        build("ulx3s-85f", cfg, "mesh-bridge", freq_mhz=40, out_dir=tmp_path / "b", progress=lambda s: None)
    assert not any(c.startswith("fake-nextpnr") for c in log.read_text().splitlines())


@pytest.mark.parametrize(("achieved", "constraint"), [(43.0, 45.0), (39.0, 45.0), (43.0, 40.0)])
def test_build_places_for_a_higher_clock_and_judges_at_the_design_clock(
    achieved, constraint, tmp_path, monkeypatch
):
    """``pnr_freq_mhz``: the pin constraints get a constraint on the PLL's clock net at that
    clock; the verdict is at ``freq_mhz`` (43 MHz of 45 asked meets 40); a report whose
    constraint is not the one asked (nextpnr did not take it) stops the build; a board clock
    without a PLL refuses it."""
    from tatami.fpga.build import PLL_NET, BuildError, TimingError

    _fake_tools(tmp_path, monkeypatch, achieved, constraint_mhz=constraint)
    cfg = preset("tiny").replace(**{"mesh.width": 1, "mesh.height": 1, "noc.routing": "table"})
    out = tmp_path / "build"
    kw = dict(freq_mhz=40, pnr_freq_mhz=45, out_dir=out, progress=lambda s: None)
    if constraint != 45.0:
        with pytest.raises(BuildError, match="did not take the 45 MHz constraint"):
            build("ulx3s-85f", cfg, "mesh-bridge", **kw)
    elif achieved < 40:
        with pytest.raises(TimingError, match=r"39\.0 of 40\.0 MHz"):
            build("ulx3s-85f", cfg, "mesh-bridge", **kw)
    else:
        r = build("ulx3s-85f", cfg, "mesh-bridge", **kw)
        assert r["timing_met"] and r["pnr_freq_mhz"] == 45 and (out / "tatami.bit").exists()
    lines = (out / "tatami.lpf").read_text().splitlines()
    assert lines[-1] == f'FREQUENCY NET "{PLL_NET}" 45 MHZ;', lines[-3:]
    with pytest.raises(ValueError, match="PLL"):
        build("ulx3s-85f", cfg, "mesh-bridge", freq_mhz=25, pnr_freq_mhz=30, out_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="below"):
        build("ulx3s-85f", cfg, "mesh-bridge", freq_mhz=40, pnr_freq_mhz=30, out_dir=tmp_path / "c")


def test_cli_build_tries_seeds_until_one_meets_timing(tmp_path, monkeypatch, capsys):
    """``tatami fpga build --seeds 1-3``: seeds in turn, a build directory each, stopping at the
    first that meets timing (its bitstream); when none does, the error lists every seed's."""
    from tatami.cli import main

    base = ["fpga", "build", "--config", "tiny", "--set", "mesh.width=1", "--set", "mesh.height=1"]
    base += ["--set", "noc.routing=table", "--freq", "40"]
    log = _fake_tools(tmp_path, monkeypatch, 39.0, by_seed={2: 40.5})
    assert main([*base, "--seeds", "1-3", "--out", str(tmp_path / "b")]) == 0
    pnr_seeds = [
        c.split()[c.split().index("--seed") + 1] for c in log.read_text().splitlines() if "nextpnr" in c
    ]
    assert pnr_seeds == ["1", "2"]
    assert (tmp_path / "b" / "seed2" / "tatami.bit").exists() and not (
        tmp_path / "b" / "seed1" / "tatami.bit"
    ).exists()
    assert "seed 1 missed timing" in capsys.readouterr().out
    assert main([*base, "--seeds", "1,3", "--out", str(tmp_path / "c")]) != 0
    err = capsys.readouterr().err
    assert "seed 1:" in err and "seed 3:" in err and "timing NOT met" in err
    with pytest.raises(SystemExit):
        main([*base, "--seeds", "2-x"])
