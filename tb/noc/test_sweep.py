"""The sweep machinery (tatami.sim.noc.sweep) without a simulator: definitions, reference data, the
register map, plots and the command line; and one real sweep of a 3x3 tester in Verilator."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from tatami.cli import main
from tatami.config import MeshConfig
from tatami.hw.noc.tester_regs import (
    NODE_BASE,
    NODE_STRIDE,
    Counter,
    Pattern,
    Reg,
    Status,
    check_geometry,
    dist_addr,
    max_distance,
    node_addr,
    table_word,
)
from tatami.sim.noc.generator_model import GeneratorModel, TrafficSettings
from tatami.sim.noc.routes import compile_routes
from tatami.sim.noc.sweep import (
    DATA,
    SweepResult,
    booksim_curve,
    booksim_summary,
    delivery_report,
    fit_line,
    ideal_throughput,
    plot,
    random_dead_nodes,
    sweep_config,
)

REPO = Path(__file__).resolve().parents[2]


def test_tester_builds_its_shared_modules_once():
    """The tester's Verilator build verilates the router, generator and checker once each
    (hierarchical blocks), which needs a ports-only build."""
    from tatami.sim.harness import Design
    from tatami.sim.noc.sweep import HIER_BLOCKS, tester_design

    design = tester_design(sweep_config(2, 2))
    assert not design.internals and design.hier_blocks == HIER_BLOCKS
    with pytest.raises(ValueError, match="ports-only"):
        Design("mesh", lambda: None, hier_blocks=("tatami_router_",))


def test_fit_line_recovers_a_plus_b_d():
    means = {d: 2 + 2 * d for d in range(7)}
    a, b = fit_line(means, dict.fromkeys(means, 5))
    assert (round(a, 9), round(b, 9)) == (2, 2)


@pytest.mark.parametrize("k", [4, 6])
def test_ideal_throughput_matches_bisection_bound(k):
    """Uniform traffic on a k x k mesh with XY routing: 4/k (BookSim README), transpose and
    bit-complement from their own busiest links."""
    mesh = MeshConfig(k, k)
    assert math.isclose(ideal_throughput(mesh, "uniform"), 4 / k)
    assert math.isclose(ideal_throughput(mesh, "bitcomp"), 2 / k)
    assert math.isclose(ideal_throughput(mesh, "hotspot"), 1 / (k * k))
    assert ideal_throughput(mesh, "neighbor") == 1.0


def test_random_dead_nodes_keep_the_mesh_connected():
    for n in (1, 3):
        dead = random_dead_nodes(5, 5, n, seed=n, keep=[(0, 0)])
        assert len(dead) == n and (0, 0) not in dead
        assert not compile_routes(MeshConfig(5, 5, dead_nodes=dead)).unreachable
    assert random_dead_nodes(5, 5, 2, seed=5) == random_dead_nodes(5, 5, 2, seed=5)


def test_booksim_reference_is_shipped_and_read():
    assert (DATA / "README.md").read_text().count("28f43299") >= 1
    curve = booksim_curve(8, 1, 2, 8, "fast")
    assert curve and curve[0]["offered"] == 0.01 and math.isclose(curve[0]["latency"], 26.9414)
    s = booksim_summary()
    assert float(s["mesh4x4_fast_ps1_vc2_buf8_uniform"]["sat_offered"]) == 0.705
    assert round(s["mesh8x8_def_ps1_vc2_buf8_uniform"]["fit_b"]) == 5


def test_register_map_is_consistent_and_documented():
    addrs = [r.value for r in Reg]
    assert len(set(addrs)) == len(addrs) and max(addrs) < 0x20
    assert node_addr(0, max(Counter)) < dist_addr(0, 0)
    assert dist_addr(3, max_distance(8, 8)) + 1 < NODE_BASE + 4 * NODE_STRIDE
    check_geometry(16, 16)
    with pytest.raises(ValueError, match="distances"):
        check_geometry(40, 40)
    with pytest.raises(ValueError, match="out of range"):
        table_word(0, 0, 9)
    doc = re.sub(r"\s+", " ", (REPO / "docs" / "noc.md").read_text())
    for reg in Reg:
        assert re.search(rf"\b{reg.name}\b", doc), f"register {reg.name} is not in docs/noc.md"
    for c in Counter:
        assert f"{c.value} {c.name}" in doc or f"{c.value}/" in doc, f"counter {c.name} is not in docs/noc.md"


def test_generator_model_is_reproducible_and_bernoulli():
    cfg = sweep_config(4, 4)
    s = TrafficSettings.for_rate(0.4, 2, pattern="uniform", seed=7)
    a, b = GeneratorModel(cfg, (1, 2), s), GeneratorModel(cfg, (1, 2), s)
    pa = [a.step(t) for t in range(4000)]
    pb = [b.step(t) for t in range(4000)]
    assert pa == pb
    made = [p for p in pa if p is not None]
    assert abs(len(made) / 4000 - 0.2) < 0.02
    assert len({p.dst for p in made}) == 16
    other = GeneratorModel(cfg, (2, 1), s)
    assert [other.step(t) for t in range(50)] != pa[:50]
    with pytest.raises(ValueError, match="unknown traffic pattern"):
        Pattern.named("tornado")


def test_plot_puts_booksim_on_the_same_axes(tmp_path):
    cfg = sweep_config(4, 4)
    pts = [
        {"offered": r, "latency": 4 + 10 * r * r, "measured": 100, "accepted": r, "stable": True}
        for r in (0.01, 0.2, 0.4, 0.6)
    ]
    result = SweepResult(
        config=cfg.to_dict(),
        plan={"pattern": "uniform", "packet_flits": 1, "dead_nodes": []},
        zero_load=4.0,
        fit_a=2.0,
        fit_b=2.0,
        per_distance={},
        saturation=0.6,
        points=pts,
    )
    out = tmp_path / "p.png"
    plot(result, out)
    assert out.read_bytes()[:4] == b"\x89PNG"


def _point(offered, sent, received, status=Status.DONE, **faults):
    counters = {"sent": sent, "received": received, "status": int(status), **faults}
    return {"offered": offered, "counters": counters}


def test_delivery_report_tells_in_flight_from_lost():
    """All delivered; packets still in flight when a flush ran out (not a fault); lost, misordered
    or duplicated packets (faults)."""
    ok = [_point(0.1, 50, 50), _point(0.2, 90, 90)]
    assert delivery_report(ok) == (False, "delivered: all 140 packets intact, once and in order")
    flushing = [*ok, _point(0.4, 100, 93, Status.DONE | Status.DRAIN_TIMEOUT | Status.FLUSH_TIMEOUT)]
    faulty, text = delivery_report(flushing)
    assert not faulty and "233 of 240" in text and "[0.4]" in text
    for bad in (
        _point(0.3, 10, 9),  # lost, nothing in flight
        _point(0.3, 10, 10, misordered=1),
        _point(0.3, 10, 11, duplicated=1),
        _point(0.3, 10, 9, Status.DONE | Status.FLUSH_TIMEOUT, holes=1),
    ):
        faulty, text = delivery_report([*ok, bad])
        assert faulty and text.startswith("DELIVERY FAULT"), text


def test_cli_rejects_bad_sweeps(capsys, tmp_path):
    assert main(["noc", "sweep", "--mesh", "4by4", "--out", str(tmp_path / "x.csv")]) == 2
    assert "WxH" in capsys.readouterr().err
    assert (
        main(["noc", "sweep", "--mesh", "4x2", "--pattern", "transpose", "--out", str(tmp_path / "x")]) == 2
    )
    assert "square" in capsys.readouterr().err
    assert main(["noc", "sweep", "--pattern", "tornado", "--out", str(tmp_path / "x")]) == 2
    assert "unknown traffic pattern" in capsys.readouterr().err


@pytest.mark.long  # builds the tester top on Verilator: minutes on 2 cores
def test_sweep_command_end_to_end(tmp_path, capsys):
    """``tatami noc sweep`` on a 3x3 mesh with a dead node, 2-flit packets in 4-flit VCs (so
    cut-through): CSV and plot written, every packet delivered, latency grows with load."""
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    argv = ["noc", "sweep", "--mesh", "3x3", "--buf", "4", "--dead", "1", "--rates", "0.1,0.3"]
    argv += [
        "--packet-flits",
        "2",
        "--warmup",
        "100",
        "--measure",
        "400",
        "--out",
        str(out),
        "--plot",
        str(png),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "zero-load latency" in text
    assert "delivered: all" in text
    rows = list(csv.DictReader(out.open()))
    assert [float(r["offered"]) for r in rows] == [0.01, 0.1, 0.3]
    assert all(r["stable"] == "True" for r in rows)
    assert float(rows[0]["latency"]) < float(rows[2]["latency"])
    assert png.exists()
