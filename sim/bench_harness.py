"""``tatami bench harness``: what generation and simulator builds cost.

- Verilog size, module count and generation time of the mesh from 2 x 2 to 16 x 16 (the router is
  generated once and instantiated, so the module count stays constant);
- Verilator build time and peak memory of a mesh (the largest design the test suite builds, and an
  8 x 8 one), each built in a fresh process so its peak memory is its own; the 3 x 3 both with every
  signal visible to cocotb (``--public-flat-rw``) and with the ports only (``Design.internals``
  False, as the suite and the demo build the mesh).

Results go to ``docs/results/harness.json``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["run"]

_BUILD_SNIPPET = """
import json, resource, sys, time
from tatami.config import preset
from tatami.hw.units import unit
from tatami.sim.harness import Design, run_cocotb
cfg = preset(sys.argv[1]).replace(**{"mesh.width": int(sys.argv[2]), "mesh.height": int(sys.argv[2])})
design = Design(f"bench_mesh_{sys.argv[2]}", lambda: unit("mesh").build(cfg), cfg, {"packets": 50},
                internals=sys.argv[3] == "all")
start = time.perf_counter()
results = run_cocotb(design, "tatami.sim.benches.mesh", sim="verilator", seed=1)
total = time.perf_counter() - start
bdir = (results.parents[2] / "verilator-build").read_text().strip()
stamp = open(bdir + "/build.stamp").read().split()
build = float(stamp[1].split("=")[1])
print(json.dumps({"build_seconds": build, "build_and_smoke_seconds": round(total, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}))
"""


def _generation(preset_name: str, sizes) -> list[dict]:
    from tatami.config import preset
    from tatami.hw.noc.mesh import Mesh
    from tatami.sim.harness import generate_verilog

    rows = []
    for n in sizes:
        cfg = preset(preset_name).replace(**{"mesh.width": n, "mesh.height": n})
        start = time.perf_counter()
        text = generate_verilog(Mesh(cfg), f"mesh_{n}x{n}")
        seconds = time.perf_counter() - start
        modules = sum(1 for line in text.splitlines() if line.startswith("module "))
        rows.append(
            {
                "mesh": f"{n}x{n}",
                "verilog_bytes": len(text.encode()),
                "modules": modules,
                "generation_seconds": round(seconds, 2),
            }
        )
        print(
            f"  {n:2d}x{n:<2d} {len(text) / 1e6:6.2f} MB  {modules:3d} modules  {seconds:6.2f} s", flush=True
        )
    return rows


def _build(preset_name: str, n: int, visibility: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TATAMI_BUILD": tmp}
        proc = subprocess.run(
            [sys.executable, "-c", _BUILD_SNIPPET, preset_name, str(n), visibility],
            env=env,
            capture_output=True,
            text=True,
        )
    if proc.returncode:
        raise RuntimeError(f"building the {n}x{n} mesh failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  {n}x{n} {preset_name}, {visibility} visible: Verilator build "
        f"{result['build_seconds']:.0f} s, peak {result['peak_rss_mb']} MB",
        flush=True,
    )
    return {"mesh": f"{n}x{n}", "preset": preset_name, "visible": visibility, **result}


def suite_stamps(build_root: Path | None = None, most: int = 10) -> list[dict]:
    """The slowest simulator builds in the build cache (``build/sim/<top>-<hash>/<sim>/build.stamp``),
    as the test suite left them: which designs the suite builds and what they cost there. The
    memory figure is the building pytest worker's peak over its life, an upper bound."""
    from tatami.sim.harness import build_root as default_root

    root = (build_root or default_root()) / "sim"
    rows = []
    for stamp in root.glob("*/*/build.stamp"):
        fields = dict(f.split("=", 1) for f in stamp.read_text().split()[1:] if "=" in f)
        rows.append(
            {
                "design": stamp.parent.parent.name.rsplit("-", 1)[0],
                "simulator": stamp.parent.name,
                "build_seconds": float(fields.get("build_seconds", "nan")),
                "worker_peak_rss_mb": int(float(fields.get("peak_child_rss_mb", "0"))),
            }
        )
    rows.sort(key=lambda r: -r["build_seconds"])
    return rows[:most]


def run(
    out: Path,
    *,
    builds=((3, "all"), (3, "ports"), (8, "ports")),
    sizes=(2, 4, 8, 16),
    preset_name: str = "tiny",
) -> dict:
    load_at_start = os.getloadavg()[0]
    print(f"Mesh Verilog generation ({preset_name} router):", flush=True)
    gen = _generation(preset_name, sizes)
    print("Verilator builds (fresh process each, all cores):", flush=True)
    built = [_build(preset_name, n, visibility) for n, visibility in builds]
    results = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            # Times scale with what else ran: the 1-minute load average at the start and the end.
            "load_average": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        },
        "generation": gen,
        "verilator_builds": built,
        "suite_builds_in_cache": suite_stamps(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return results
