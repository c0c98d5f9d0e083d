"""``tatami bench fpu``: latency, throughput, ECP5 area and Fmax of every floating-point unit.

Latency and throughput are measured in cycles on Verilator (:mod:`tatami.sim.benches.fpu`); area
and Fmax come from Yosys ``synth_ecp5`` and nextpnr-ecp5 (85k, CABGA381, out of context) through
:func:`tatami.fpga.synth.synthesize`. Results go to ``docs/results/fpu.json``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

__all__ = ["bench_units", "markdown_table", "register"]

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "fpu.json"


def register(commands):
    from tatami.hw.fpu import UNITS

    p = commands.bench("fpu", help="FPU units: latency, throughput (Verilator), ECP5 LUTs/FFs/DSPs and Fmax")
    commands.add_config_args(p)
    p.add_argument("--units", nargs="+", choices=list(UNITS), default=list(UNITS), help="units to measure")
    p.add_argument("--ops", type=int, default=1000, help="operations streamed per unit (default 1000)")
    p.add_argument("--freq", type=float, default=100.0, help="nextpnr target clock in MHz (default 100)")
    p.add_argument("--no-synth", action="store_true", help="skip Yosys/nextpnr (cycle figures only)")
    p.add_argument("-o", "--output", default=str(RESULTS), help=f"results JSON (default {RESULTS})")
    p.set_defaults(func=lambda args: _main(commands, args))


def bench_units(cfg, units, *, ops=1000, freq_mhz=100.0, synth=True, log=print) -> dict:
    """Measure ``units`` (names in :data:`tatami.hw.fpu.UNITS`) for ``cfg``; returns the figures."""
    from tatami.hw import fpu
    from tatami.sim.harness import Design, run_cocotb

    out = {}
    for name in units:
        row = {"description": fpu.UNITS[name][0]}
        design = Design(
            f"fpu_bench_{name}",
            lambda name=name: fpu.build(name, cfg),
            config=cfg,
            params={"unit": name, "ops": ops},
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "figures.json"
            run_cocotb(
                design,
                "tatami.sim.benches.fpu",
                sim="verilator",
                extra_env={"TATAMI_FPU_BENCH_OUT": str(path)},
            )
            row.update(json.loads(path.read_text()))
        if synth:
            from tatami.fpga.synth import synthesize

            start = time.perf_counter()
            r = synthesize(fpu.build(name, cfg), freq_mhz=freq_mhz, top=f"fpu_{name}")
            row.update(
                {
                    "luts": r["luts"],
                    "ffs": r["ffs"],
                    "dsps": r["dsps"],
                    "fmax_mhz": r["fmax_mhz"],
                    "synth_seconds": round(time.perf_counter() - start, 1),
                }
            )
        log(f"  {name:9s} " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "description"))
        out[name] = row
    return out


def _main(commands, args) -> int:
    cfg = commands.config(args)
    print(f"FPU bench, config {cfg.name}: {', '.join(args.units)}", flush=True)
    units = bench_units(cfg, args.units, ops=args.ops, freq_mhz=args.freq, synth=not args.no_synth)
    output = Path(args.output)
    previous = json.loads(output.read_text()) if output.exists() else {}
    merged = previous.get("units", {}) if previous.get("config") == cfg.name else {}
    merged.update(units)
    result = {
        "config": cfg.name,
        "fpu": {
            "add_stages": cfg.node.fpu.add_stages,
            "mul_stages": cfg.node.fpu.mul_stages,
            "fma_stages": cfg.node.fpu.fma_stages,
            "cf16": cfg.node.fpu.cf16,
            "stochastic_rounding": cfg.node.fpu.stochastic_rounding,
        },
        "fpga": {
            "device": "ECP5-85F",
            "package": "CABGA381",
            "target_mhz": args.freq,
            "flow": "yosys synth_ecp5 + nextpnr-ecp5 --out-of-context",
        },
        "units": merged,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {output}")
    print(markdown_table(result))
    return 0


def markdown_table(result: dict) -> str:
    """The summary table of docs/numerics.md from a results dict (as written to fpu.json)."""
    lines = [
        "| unit | latency (cycles) | throughput (ops/cycle) | LUTs | FFs | DSPs (MULT18X18D) | Fmax (MHz) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in result["units"].items():
        cells = [
            r.get(k, "-")
            for k in ("latency_cycles", "throughput_ops_per_cycle", "luts", "ffs", "dsps", "fmax_mhz")
        ]
        lines.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
