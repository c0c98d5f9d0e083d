"""The command line: every unit's Verilog generates and lints clean; errors are for people."""

import json

import pytest

from tatami.cli import main
from tatami.hw.units import UNITS


@pytest.mark.slow
@pytest.mark.parametrize(
    # (every unit of ``tiny`` in the long suite since 2026-12-07, 2.4 minutes; its look-past NoC
    # units, the architecture ``fpga-2x2`` does not have, below)
    "preset_name",
    ["fpga-2x2", pytest.param("tiny", marks=pytest.mark.long)],
)
def test_verilog_all_units_lint_clean(preset_name, tmp_path, capsys):
    assert main(["verilog", "-c", preset_name, "--unit", "all", "--lint", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in UNITS:
        assert (tmp_path / name / f"tatami_{name}.v").exists()
        assert f"{name}" in out
    assert out.count("lint clean") == len(UNITS)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["router", "mesh", "noc_tester"])
def test_verilog_tiny_noc_units_lint_clean(name, tmp_path, capsys):
    """``tiny``'s network units: the look-past router (``d1``'s), which ``fpga-2x2`` does not use."""
    assert main(["verilog", "-c", "tiny", "--unit", name, "--lint", "-o", str(tmp_path)]) == 0
    assert "lint clean" in capsys.readouterr().out
    meta = json.loads((tmp_path / name / "meta.json").read_text())
    assert meta["config"]["noc"]["buffers"] == "lookpast"


@pytest.mark.long  # (2.3 minutes: the d1 router's Verilog and lint; in the long suite since 2026-12-07)
def test_verilog_d1_router_lint_clean(tmp_path):
    assert main(["verilog", "-c", "d1", "--unit", "router", "--lint", "-o", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "router" / "meta.json").read_text())
    assert meta["config"]["noc"]["flit_bits"] == 512


def test_lint_catches_a_real_problem(tmp_path):
    from tatami.cli import _lint

    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output y); assign y = a; assign y = ~a; endmodule\n")
    ok, log = _lint(bad, "bad")
    assert not ok
    assert "MULTIDRIVEN" in log


def test_unknown_unit_and_bad_config_are_clear(capsys):
    assert main(["verilog", "--unit", "warp_drive"]) == 2
    assert "unknown unit 'warp_drive'" in capsys.readouterr().err
    assert main(["config", "-c", "tiny", "--set", "mesh.width=0"]) == 2
    assert "config field 'mesh.width': must be at least 1" in capsys.readouterr().err
    assert main(["config", "-c", "nonsense"]) == 2
    assert "unknown preset 'nonsense'" in capsys.readouterr().err
    assert main(["config", "--set", "mesh.width"]) == 2
    assert "FIELD=VALUE" in capsys.readouterr().err


def test_config_set_and_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert (
        main(
            [
                "config",
                "-c",
                "tiny",
                "--set",
                "mesh.width=3",
                "--set",
                "noc.routing=table",
                "--json",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert data["mesh"]["width"] == 3 and data["noc"]["routing"] == "table"
    assert main(["config", "-c", str(out)]) == 0
    assert "3x2 mesh" in capsys.readouterr().out


def test_noc_routes_around_dead_node(capsys):
    assert (
        main(
            [
                "noc",
                "routes",
                "-c",
                "tiny",
                "--set",
                "mesh.width=4",
                "--set",
                "mesh.height=4",
                "--set",
                "mesh.dead_nodes=[[1,1],[2,2]]",
            ]
        )
        == 0
    )
    assert "deadlock-free" in capsys.readouterr().out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("demo", "verilog", "config", "asm", "noc"):
        assert cmd in out
