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

__all__ = [
    "bench_units",
    "check_testfloat_files",
    "long_runs",
    "long_runs_table",
    "markdown_table",
    "register",
]

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "fpu.json"


def register(commands):
    from tatami.hw.fpu import UNITS
    from tatami.sim.numerics.testfloat import MODE_NAMES, OPERATIONS

    fpu = commands.command("fpu", help="floating-point units: TestFloat files, long-run records")
    sub = fpu.add_subparsers(dest="fpu_command", metavar="COMMAND", required=True)
    t = sub.add_parser(
        "testfloat",
        help="run Berkeley TestFloat vector files through the golden model and the RTL",
        description="Check every line (result and the five IEEE flags) of each TestFloat file "
        "(testfloat_gen output, plain or gzip) against the golden model and the RTL unit that "
        "computes it. The operation and rounding mode come from the file name "
        "(f32_add_rne_level2.tv.gz, f32_to_bf16_rtz.tv) or from --op/--mode. Operations: "
        f"{', '.join(OPERATIONS)}. The arithmetic units round to nearest-even only (an RTZ file "
        "of theirs is checked on the model and reported as not run on the RTL); conversions "
        "support nearest-even and toward zero. Exit status 0 only if nothing differs.",
    )
    t.add_argument("files", nargs="+", metavar="FILE", help="TestFloat vector files")
    t.add_argument("--op", choices=list(OPERATIONS), help="operation of every FILE (default: from its name)")
    t.add_argument(
        "--mode", choices=list(MODE_NAMES), help="rounding mode of every FILE (default: from its name)"
    )
    t.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    t.add_argument("--model-only", action="store_true", help="check the golden model only")
    t.add_argument("--rtl-only", action="store_true", help="check the RTL only")
    t.add_argument("--json", metavar="OUT", help="also write the counts as JSON")
    commands.add_config_args(t)
    t.set_defaults(func=lambda args: _testfloat(commands, args))
    r = sub.add_parser(
        "long-runs",
        help="file the records of the long (-m long) sweeps in docs/results/fpu.json",
        description="Read the JSON lines the long sweeps append to build/fpu_long/records.jsonl "
        "(one per operation and format: cases, mismatches, seeds) and store them, the latest per "
        "unit, operation and stall setting, as the long_runs section of the results file.",
    )
    r.add_argument("records", nargs="?", help="records file (default build/fpu_long/records.jsonl)")
    r.add_argument("-o", "--output", default=str(RESULTS), help=f"results JSON (default {RESULTS})")
    r.set_defaults(func=_long_runs)

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
            internals=False,  # (the bench drives and reads ports only)
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
        **({"long_runs": previous["long_runs"]} if "long_runs" in previous else {}),
        "config": cfg.name,
        "fpu": {
            "add_stages": cfg.node.fpu.add_stages,
            "mul_stages": cfg.node.fpu.mul_stages,
            "fma_stages": cfg.node.fpu.fma_stages,
            "convert_stages": cfg.node.fpu.convert_stages,
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


# -- tatami fpu testfloat -------------------------------------------------------------------------


def check_testfloat_files(
    cfg, files, *, op=None, mode=None, sim="verilator", model=True, rtl=True, log=print
) -> list:
    """Check TestFloat ``files`` against the golden model and/or the RTL units of ``cfg``.

    Returns one dict per file: ``path``, ``op``, ``mode``, and ``model`` / ``rtl`` results
    (``{"lines", "mismatches", "first"}``, or ``{"skipped": reason}``). Raises ``ValueError`` for
    a file whose operation or mode cannot be told or is not implemented.
    """
    from tatami.hw import fpu
    from tatami.sim.harness import Design, run_cocotb
    from tatami.sim.numerics import RoundingMode
    from tatami.sim.numerics.testfloat import check_model, identify

    jobs = []
    for path in files:
        path = Path(path).resolve()
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        operation, rounding = identify(path, op, mode)
        jobs.append({"path": str(path), "op": operation.name, "mode": int(rounding), "operation": operation})
    out = []
    for job in jobs:
        operation = job.pop("operation")
        rounding = RoundingMode(job["mode"])
        row = {"path": job["path"], "op": job["op"], "mode": rounding.name}
        if model:
            row["model"] = check_model(job["path"], operation, rounding)
            log(
                f"  model  {Path(job['path']).name}: {row['model']['lines']} lines, "
                f"{row['model']['mismatches']} differ"
            )
        if rtl and not operation.exact and rounding not in operation.unit_modes:
            row["rtl"] = {
                "skipped": f"unit {operation.unit} implements "
                f"{', '.join(m.name for m in operation.unit_modes)} only"
            }
            log(f"  rtl    {Path(job['path']).name}: not run ({row['rtl']['skipped']})")
        out.append((row, job, operation))
    if rtl:
        by_unit = {}
        for row, job, operation in out:
            if "rtl" not in row:
                by_unit.setdefault(operation.unit, []).append((row, job))
        for unit, items in by_unit.items():
            design = Design(
                f"fpu_{unit}_{cfg.name.replace('-', '_').replace('+', '_')}",
                lambda unit=unit: fpu.build(unit, cfg),
                config=cfg,
                params={"unit": unit},
                internals=False,  # (ports only, as the unit tests' builds of the same Verilog)
            )
            with tempfile.TemporaryDirectory() as tmp:
                result = Path(tmp) / "testfloat.json"
                run_cocotb(
                    design,
                    "tatami.sim.benches.fpu_testfloat",
                    sim=sim,
                    extra_env={
                        "TATAMI_TESTFLOAT_JOBS": json.dumps([job for _, job in items]),
                        "TATAMI_TESTFLOAT_OUT": str(result),
                    },
                )
                for (row, _), got in zip(items, json.loads(result.read_text())):
                    row["rtl"] = {k: got[k] for k in ("lines", "mismatches", "first")}
                    row["rtl"]["unit"], row["rtl"]["sim"] = unit, sim
                    log(
                        f"  rtl    {Path(row['path']).name} on {unit} ({sim}): {got['lines']} lines, "
                        f"{got['mismatches']} differ"
                    )
    return [row for row, _, _ in out]


def _testfloat(commands, args) -> int:
    cfg = commands.config(args)
    if args.model_only and args.rtl_only:
        raise commands.CliError("--model-only and --rtl-only exclude each other")
    try:
        rows = check_testfloat_files(
            cfg,
            args.files,
            op=args.op,
            mode=args.mode,
            sim=args.sim,
            model=not args.rtl_only,
            rtl=not args.model_only,
        )
    except ValueError as e:
        raise commands.CliError(str(e)) from None
    failed = 0
    for row in rows:
        for side in ("model", "rtl"):
            r = row.get(side, {})
            if r.get("mismatches"):
                failed += 1
                name = Path(row["path"]).name
                print(f"{name} ({side}): {r['mismatches']} of {r['lines']} lines differ; first:")
                for line in r["first"]:
                    print(f"    {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    print("all lines match" if not failed else f"{failed} file/side combination(s) differ")
    return 1 if failed else 0


# -- tatami fpu long-runs --------------------------------------------------------------------------


def long_runs(records: Path) -> dict:
    """The ``long_runs`` section from a records file: the latest record per unit, spec and stall."""
    latest = {}
    for line in records.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            latest[(r["unit"], r["spec"], r.get("stall", 0.0))] = r
    rows = sorted(latest.values(), key=lambda r: (r["unit"], r["spec"], r.get("stall", 0.0)))
    return {
        "what": "edge-biased random cases per operation and format against the golden model, "
        "results and all six flags (tb/fpu, pytest -m long --sim verilator)",
        "total_cases": sum(r["cases"] for r in rows),
        "total_mismatches": sum(r["mismatches"] for r in rows),
        "runs": rows,
    }


def _long_runs(args) -> int:
    from tatami.sim.harness import build_root

    records = Path(args.records) if args.records else build_root() / "fpu_long" / "records.jsonl"
    if not records.is_file():
        print(f"tatami: error: {records}: no records; run pytest tb/fpu -m long --sim verilator first")
        return 2
    output = Path(args.output)
    result = json.loads(output.read_text()) if output.exists() else {}
    result["long_runs"] = long_runs(records)
    output.write_text(json.dumps(result, indent=1) + "\n")
    lr = result["long_runs"]
    print(f"{len(lr['runs'])} runs, {lr['total_cases']:,} cases, {lr['total_mismatches']} mismatches")
    print(f"wrote {output}")
    print(long_runs_table(lr))
    return 0


def long_runs_table(section: dict) -> str:
    """The long-run table of docs/numerics.md from a ``long_runs`` section."""
    lines = [
        "| unit | operation, formats (spec) | stall | cases | per rounding mode | mismatches "
        "| seeds (run / test) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in section["runs"]:
        modes = ", ".join(f"{k} {v:,}" for k, v in r.get("cases_per_mode", {}).items()) or "RNE"
        lines.append(
            f"| {r['unit']} | {r['spec']} | {r.get('stall', 0.0)} | {r['cases']:,} | {modes} | "
            f"{r['mismatches']} | {r.get('run_seed')} / {r.get('seed')} |"
        )
    return "\n".join(lines)
