"""``tatami bench fpu`` (sim/fpu_commands.py): the command is registered, the table renders, and
(``-m fpga``) one unit goes through Verilator, Yosys and nextpnr with plausible figures."""

import pytest

from tatami.config import preset
from tatami.sim.fpu_commands import bench_units, markdown_table


def test_bench_fpu_is_registered(capsys):
    from tatami.cli import main

    with pytest.raises(SystemExit) as e:
        main(["bench", "fpu", "--help"])
    assert e.value.code == 0
    assert "--no-synth" in capsys.readouterr().out


def test_markdown_table():
    table = markdown_table(
        {"units": {"fp32_add": {"latency_cycles": 2, "throughput_ops_per_cycle": 1.0, "luts": 9}}}
    )
    assert "| fp32_add | 2 | 1.0 | 9 | - | - | - |" in table


@pytest.mark.fpga
def test_bench_fp32_add_synthesis():
    cfg = preset("fpga-2x2")
    row = bench_units(cfg, ["fp32_add"], ops=200, log=lambda _: None)["fp32_add"]
    assert row["latency_cycles"] == cfg.node.fpu.add_stages
    assert row["throughput_ops_per_cycle"] == 1.0
    assert 100 < row["luts"] < 20000 and row["ffs"] > 0 and row["fmax_mhz"] > 10


def test_fpu_testfloat_is_registered(capsys):
    from tatami.cli import main

    with pytest.raises(SystemExit) as e:
        main(["fpu", "testfloat", "--help"])
    assert e.value.code == 0
    assert "--model-only" in capsys.readouterr().out


def test_fpu_testfloat_model_only(capsys):
    from tatami.cli import main
    from tb.fpu.common import VECTORS

    assert main(["fpu", "testfloat", "--model-only", str(VECTORS / "f32_to_bf16_rtz.tv.gz")]) == 0
    assert "8800 lines, 0 differ" in capsys.readouterr().out


def test_long_runs_keeps_the_latest_record(tmp_path):
    import json

    from tatami.sim.fpu_commands import long_runs

    rows = [
        {"unit": "u", "spec": "add", "stall": 0.0, "cases": 10, "mismatches": 1},
        {"unit": "u", "spec": "add", "stall": 0.0, "cases": 20, "mismatches": 0},
        {"unit": "u", "spec": "add", "stall": 0.3, "cases": 5, "mismatches": 0},
    ]
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    section = long_runs(records)
    assert (section["total_cases"], section["total_mismatches"], len(section["runs"])) == (25, 0, 2)
