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
