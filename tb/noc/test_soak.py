"""Soak: the 8x8 mesh at and above saturation, at least a million packets per pattern, random dead
nodes, on Verilator (``-m long``; figures to docs/results/noc_soak.json).

Per pattern, two long runs of the network tester, each with its own random set of 1 to 3 dead nodes
(tables around them loaded at run time): one at the pattern's ideal throughput on those routes (the
saturation region) and one at 1.5x it (above). Every run must flush completely and every counter
must reconcile: per node and in total, nothing corrupted, duplicated or misordered, no holes, and
``sent == received + dropped`` (no packet is dropped: traffic never targets a dead node). The
watchdog fails the run if packets are outstanding while nothing is ejected for ``WATCHDOG`` cycles
(a deadlock), and the longest such stall is reported. The table in docs/noc.md ("Soak") is
rewritten from the results file.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import tempfile
from pathlib import Path

import pytest

from tatami.hw.noc.tester_regs import Status
from tatami.sim.harness import run_cocotb
from tatami.sim.noc.sweep import (
    SweepPlan,
    fill_soak_docs,
    ideal_throughput,
    plan_tables,
    random_dead_nodes,
    sweep_config,
    with_dead,
)
from tatami.sim.noc.sweep import (
    tester_design as design_for,
)

PATTERNS = ("uniform", "transpose", "bitcomp", "neighbor", "hotspot")
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "noc_soak.json"
WATCHDOG = 2000


def _packets() -> int:
    return int(os.environ.get("TATAMI_SOAK_PACKETS", 1_000_000))


def _packet_flits() -> int:
    """Flits per packet (``TATAMI_SOAK_PACKET_FLITS``, default 1; up to 4 with the same build)."""
    return int(os.environ.get("TATAMI_SOAK_PACKET_FLITS", 1))


def _k() -> int:
    """Mesh side (``TATAMI_SOAK_MESH``, default 8)."""
    return int(os.environ.get("TATAMI_SOAK_MESH", 8))


def _run(cfg, pattern, rate, dead, packets, seed, packet_flits=1):
    live = cfg.mesh.nodes - len(dead)
    ideal = ideal_throughput(with_dead(cfg, dead), pattern, cfg.mesh.width + 1)
    # Size the measured window for at least ``packets``: accepted throughput (flits/node/cycle) at
    # and above saturation is below the ideal (8x8 uniform saturates near 0.8 of it), so assume 0.7.
    accepted = min(rate, ideal) * 0.7
    measure = int(packets * packet_flits / (accepted * live)) + 1
    plan = SweepPlan(
        pattern=pattern,
        packet_flits=packet_flits,
        seed=seed,
        warmup=500,
        measure=measure,
        drain_limit=20000,
        watchdog=WATCHDOG,
        rates=[rate],
        dead_nodes=[list(n) for n in dead],
        tables=plan_tables(cfg, dead),
        hotspot=cfg.mesh.width + 1,  # node (1, 1)
    )
    with tempfile.TemporaryDirectory() as tmp:
        plan_file, result_file = Path(tmp) / "plan.json", Path(tmp) / "result.json"
        from dataclasses import asdict

        plan_file.write_text(json.dumps(asdict(plan)))
        run_cocotb(
            design_for(cfg),
            "tatami.sim.benches.noc_tester",
            sim="verilator",
            testcase="soak",
            extra_env={"TATAMI_NOC_PLAN": str(plan_file), "TATAMI_NOC_RESULT": str(result_file)},
        )
        return json.loads(result_file.read_text())[0]


@pytest.mark.long
@pytest.mark.parametrize("pattern", PATTERNS)
def test_soak(pattern):
    k, pf = _k(), _packet_flits()
    cfg = sweep_config(k, k, vcs=2, buf=8, packet_flits=pf)
    rng = random.Random(f"soak-{pattern}")
    total = 0
    report = []
    for factor in (1.0, 1.5):
        dead = random_dead_nodes(k, k, rng.randint(1, 3), rng.getrandbits(16), keep=[(0, 0), (1, 1)])
        ideal = ideal_throughput(with_dead(cfg, dead), pattern, cfg.mesh.width + 1)
        rate = round(min(1.0, factor * ideal), 4)
        run = _run(cfg, pattern, rate, dead, _packets() // 2 + 1, rng.getrandbits(32), pf)
        c = run["point"]["counters"]
        status = c["status"]
        assert not status & Status.STALLED, f"{pattern} at {rate}: watchdog (max stall {c['max_stall']})"
        assert not status & Status.FLUSH_TIMEOUT, f"{pattern} at {rate}: the network did not empty: {c}"
        for name in ("corrupted", "duplicated", "misordered", "holes", "drops"):
            assert c[name] == 0, f"{pattern} at {rate}: {c[name]} {name}"
        assert c["sent"] == c["received"] + c["drops"], f"{pattern} at {rate}: {c}"
        nodes = run["nodes"]
        assert sum(n["sent"] for n in nodes.values()) == c["sent"]
        assert sum(n["received"] for n in nodes.values()) == c["received"]
        assert sum(n["created"] for n in nodes.values()) == c["created"] == c["sent"]
        for node, n in nodes.items():
            assert not any(n[x] for x in ("corrupted", "duplicated", "misordered", "holes")), (node, n)
        total += c["sent"]
        report.append(
            {
                "pattern": pattern,
                "packet_flits": pf,
                "rate": rate,
                "ideal": round(ideal, 4),
                "dead_nodes": [list(d) for d in dead],
                "packets": c["sent"],
                "cycles": c["cycle_lo"],
                "accepted": run["point"]["accepted"],
                "latency": run["point"]["latency"],
                "latency_max": c["lat_max"],
                "max_stall": c["max_stall"],
                "overflow": c["overflow"],
                "drain_timeout": bool(status & Status.DRAIN_TIMEOUT),
                **{x: c[x] for x in ("corrupted", "duplicated", "misordered", "holes", "drops")},
            }
        )
    assert total >= _packets(), f"{pattern}: only {total} packets"
    # (patterns may soak in parallel processes: update the file under a lock)
    with open(Path(tempfile.gettempdir()) / "tatami_noc_soak.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        old[f"{pattern}_{k}x{k}" + (f"_ps{pf}" if pf != 1 else "")] = report
        RESULTS.write_text(json.dumps(old, indent=1) + "\n")
        fill_soak_docs(old, RESULTS.parent.parent / "noc.md")
