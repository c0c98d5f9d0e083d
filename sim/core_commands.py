"""``tatami run PROGRAM.elf`` and ``tatami bench core``: the scalar core's commands.

``tatami run`` loads an ELF into the node SRAM of a ``CoreTile`` (the core on the banked ECC SRAM and
the example custom unit) at its link addresses, starts thread 0 at the entry point and simulates the
RTL until the program writes its ``tohost`` word (HTIF: 1 = pass, ``(code << 1) | 1`` = fail
code) or the cycle limit. ``tatami bench core`` measures IPC for 1, 2 and 4 threads on the
kernels of :mod:`tatami.sim.core.kernels` and, with ``--synth``, ECP5 LUTs and Fmax.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

__all__ = [
    "COSIM_CONFIG",
    "check_image",
    "expand_programs",
    "register",
    "run_cosim",
    "run_elf",
    "run_elfs",
    "verdict",
]

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "core.json"


def register(commands):
    p = commands.command(
        "run",
        help="run a RISC-V ELF on the scalar core RTL until it writes tohost",
        description="Load PROGRAM.elf into node SRAM at its link addresses (the SRAM is at "
        "node.core.reset_pc, 0x80000000 by default), start thread 0 at the entry point and "
        "simulate until the program writes its tohost symbol (1 = pass, (code << 1) | 1 = fail) "
        "or --max-cycles. Several programs (or directories of ELF files, such as a riscv-tests "
        "build) run one after the other in one simulator run, the tile reset between them. Exit "
        "status 0 only if every program passes.",
    )
    p.add_argument(
        "program",
        nargs="+",
        help="ELF executables (RV32IM, linked at 0x80000000) or directories of them, run one after "
        "the other in one simulator run",
    )
    p.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    p.add_argument("--threads", type=int, help="hardware threads of the core (default: the config's)")
    p.add_argument("--max-cycles", type=int, default=2_000_000, help="cycle limit (default 2,000,000)")
    p.add_argument("--check", action="store_true", help="compare every instruction with the golden model")
    commands.add_config_args(p)
    p.set_defaults(func=lambda args: _cmd_run(commands, args))

    c = commands.command(
        "cosim",
        help="random co-simulation of the core RTL vs the golden model and unicorn, in batches",
        description="Run random programs with seeds FIRST .. FIRST+COUNT-1 (one program per hardware "
        "thread per seed) on the golden model, unicorn and the RTL, comparing every retired "
        "instruction; BATCH seeds per simulator run. Totals are added to the results file so a long "
        "run can be done in pieces (distinct seed ranges). Exit status 0 only without divergence.",
    )
    c.add_argument("--first", type=int, default=1_000_000, help="first seed (default 1,000,000)")
    c.add_argument("--count", type=int, default=1000, help="seeds to run (default 1000)")
    c.add_argument("--batch", type=int, default=2000, help="seeds per simulator run (default 2000)")
    c.add_argument("--threads", type=int, default=4, help="hardware threads (default 4)")
    c.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    c.add_argument("-o", "--output", default=str(RESULTS), help=f"results JSON to add to (default {RESULTS})")
    c.add_argument("--no-record", action="store_true", help="do not write the results file")
    c.set_defaults(func=lambda args: _cmd_cosim(commands, args))

    b = commands.bench("core", help="scalar core IPC for 1, 2 and 4 threads on small kernels; ECP5 area/Fmax")
    commands.add_config_args(b)
    b.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    b.add_argument("--synth", action="store_true", help="also synthesize the core for ECP5 (minutes)")
    b.add_argument("-o", "--output", default=str(RESULTS), help=f"results JSON (default {RESULTS})")
    b.set_defaults(func=lambda args: _cmd_bench(commands, args))


def _config(commands, args):
    from tatami.config import ConfigError

    cfg = commands.config(args)
    if getattr(args, "threads", None) is not None:
        try:
            cfg = cfg.replace(**{"node.core.threads": args.threads})
        except ConfigError as e:
            raise commands.CliError(f"--threads {args.threads}: {e}") from None
    return cfg


def check_image(cfg, image) -> list[str]:
    """Problems that stop ``image`` (an :class:`~tatami.asm.ElfImage`) from running on ``cfg``'s
    node: segments outside the SRAM."""
    base, size = cfg.node.core.reset_pc, cfg.node.sram.size_bytes
    problems = []
    for seg in image.segments:
        if not (base <= seg.address and seg.address + seg.size <= base + size):
            problems.append(
                f"segment at {seg.address:#010x}..{seg.address + seg.size:#010x} ({seg.size} bytes) is "
                f"outside the node SRAM {base:#010x}..{base + size:#010x} ({size // 1024} KiB, config "
                f"{cfg.name}): link at {base:#x} and keep the image within the SRAM, or choose a config "
                "with more SRAM (--config, --set node.sram.size_bytes=...)"
            )
    return problems


def run_elf(
    cfg, elf: Path, *, sim="verilator", max_cycles=2_000_000, threads_to_start=1, check=False
) -> dict:
    """Simulate ``elf`` on a ``CoreTile`` for ``cfg``; returns the bench's result dict
    (``finished``, ``tohost``, ``cycles``, ``retired``, ``retired_per_thread``, ``running``)."""
    return run_elfs(
        cfg, [elf], sim=sim, max_cycles=max_cycles, threads_to_start=threads_to_start, check=check
    )[0]


def run_elfs(
    cfg, elfs, *, sim="verilator", max_cycles=2_000_000, threads_to_start=1, check=False
) -> list[dict]:
    """Simulate the ELF files ``elfs`` one after the other in one simulator run (the tile reset
    between them), each until it writes ``tohost`` or ``max_cycles``; one result dict each, in
    order (see :func:`run_elf`)."""
    from tatami.sim.benches.core import tile_design
    from tatami.sim.harness import run_cocotb

    design = tile_design(cfg)
    with tempfile.TemporaryDirectory(prefix="tatami-run-") as tmp:
        result = Path(tmp) / "result.json"
        job = {
            "elfs": [str(Path(e).resolve()) for e in elfs],
            "max_cycles": max_cycles,
            "threads_to_start": threads_to_start,
            "result": str(result),
            "check": check,
        }
        run_cocotb(
            design,
            "tatami.sim.benches.core",
            sim=sim,
            seed=1,
            testcase="core_job",
            extra_env={"TATAMI_CORE_JOB": json.dumps(job)},
        )
        return json.loads(result.read_text())


def expand_programs(paths) -> list[Path]:
    """The ELF files named by ``paths``: files as given, directories replaced by the ELF files
    directly inside them (by their magic number; other files, such as riscv-tests' ``.dump``
    listings, are skipped), sorted by name. Raises ``ValueError`` for a missing path or a directory
    without ELF files."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and _is_elf(f))
            if not found:
                raise ValueError(f"{p}: no ELF files in this directory")
            out += found
        elif p.exists():
            out.append(p)
        else:
            raise ValueError(f"no such file: {p}")
    return out


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def verdict(r: dict, max_cycles: int) -> tuple[bool, str]:
    """(passed, text) for a :func:`run_elf` result: HTIF ``tohost`` 1 passes, ``(code << 1) | 1``
    fails with ``code`` (riscv-tests: the failing test case)."""
    if r["tohost"] is not None:
        value = r["tohost"]
        if value == 1:
            return True, "PASS"
        return False, f"FAIL (tohost = {value:#x}, code {value >> 1})"
    if r["finished"]:
        return False, "ENDED (all threads stopped without writing tohost)"
    return False, f"TIMEOUT (no tohost write in {max_cycles} cycles)"


def _cmd_run(commands, args) -> int:
    from tatami.asm import ElfError, load_elf, uses_rvc
    from tatami.sim.harness import HarnessError

    cfg = _config(commands, args)
    if args.max_cycles < 1:
        raise commands.CliError(f"--max-cycles must be positive, not {args.max_cycles}")
    try:
        paths = expand_programs(args.program)
    except ValueError as e:
        raise commands.CliError(str(e)) from None
    problems = []
    for path in paths:
        try:
            image = load_elf(path, allow_rvc=True)
        except ElfError as e:
            problems.append(str(e))
            continue
        if uses_rvc(path):
            print(
                f"note: {path} is flagged as containing compressed instructions (EF_RISCV_RVC); the "
                "core has no C extension: one that it reaches traps as an illegal instruction"
            )
        misfit = check_image(cfg, image)
        if misfit:
            problems.append(f"{path} does not fit: " + "; ".join(misfit))
        elif "tohost" not in image.symbols:
            print(f"note: {path} has no tohost symbol; running until every thread stops or the cycle limit")
    if problems:
        raise commands.CliError("\n".join(problems))
    start = time.perf_counter()
    try:
        results = run_elfs(cfg, paths, sim=args.sim, max_cycles=args.max_cycles, check=args.check)
    except HarnessError as e:
        print(f"tatami run: simulation failed: {e}")
        return 1
    seconds = time.perf_counter() - start
    failed = []
    for path, r in zip(paths, results):
        passed, text = verdict(r, args.max_cycles)
        ipc = r["retired"] / r["cycles"] if r["cycles"] else 0.0
        print(f"{path.name}: {text}")
        print(f"  cycles {r['cycles']}, retired instructions {r['retired']}, IPC {ipc:.3f}")
        if not passed:
            failed.append(path.name)
    print(f"  config {cfg.name}, {cfg.node.core.threads} threads, {args.sim}, {seconds:.1f} s wall")
    if len(paths) > 1:
        print(
            f"{len(paths) - len(failed)} passed, {len(failed)} failed"
            + (f": {' '.join(failed)}" if failed else "")
        )
    return 0 if not failed else 1


def COSIM_CONFIG(threads: int):
    """The co-simulation configuration: ``tiny`` with ``threads`` hardware threads and 4 KiB of
    SRAM per thread (the tests' ``t1``/``t2``/``t4``)."""
    from tatami.config import preset

    cfg = preset("tiny").replace(**{"node.core.threads": threads})
    if threads > 2:
        cfg = cfg.replace(**{"node.sram.size_bytes": 16384})
    return cfg


def run_cosim(cfg, first: int, count: int, *, batch: int = 2000, sim: str = "verilator", log=print) -> dict:
    """Co-simulate seeds ``first .. first + count - 1`` on ``cfg``'s ``CoreTile``, ``batch`` seeds
    per simulator run (:func:`tatami.sim.benches.core.cosim_random`); returns the totals."""
    from tatami.sim.benches.core import tile_design
    from tatami.sim.harness import run_cocotb

    keys = ("runs", "programs", "unicorn_programs", "instructions", "unicorn_instructions", "cycles")
    total = dict.fromkeys(keys, 0) | {"divergences": 0, "divergent_seeds": [], "seconds": 0.0}
    design = tile_design(cfg, trace=True)
    with tempfile.TemporaryDirectory(prefix="tatami-cosim-") as tmp:
        for lo in range(first, first + count, batch):
            n = min(batch, first + count - lo)
            result = Path(tmp) / f"{lo}.json"
            job = {"first_seed": lo, "count": n, "result": str(result)}
            run_cocotb(
                design,
                "tatami.sim.benches.core",
                sim=sim,
                seed=lo,
                testcase="random_cosim_job",
                extra_env={"TATAMI_COSIM_JOB": json.dumps(job)},
            )
            r = json.loads(result.read_text())
            for k in keys:
                total[k] += r[k]
            total["divergences"] += r["divergences"]
            total["divergent_seeds"] += r["divergent_seeds"]
            total["seconds"] += r["seconds"]
            log(
                f"seeds {lo}..{lo + n - 1}: {r['programs']} programs, {r['instructions']} instructions, "
                f"{r['divergences']} divergences ({r['seconds']} s)"
            )
    total["seconds"] = round(total["seconds"], 1)
    return total


def _cmd_cosim(commands, args) -> int:
    from tatami.sim.harness import HarnessError

    if not 1 <= args.threads <= 4:
        raise commands.CliError(f"--threads must be 1..4, not {args.threads}")
    if args.count < 1 or args.batch < 1 or args.first < 0:
        raise commands.CliError("--count and --batch must be positive and --first non-negative")
    cfg = COSIM_CONFIG(args.threads)
    try:
        t = run_cosim(cfg, args.first, args.count, batch=args.batch, sim=args.sim)
    except HarnessError as e:
        print(f"tatami cosim: simulation failed: {e}")
        return 1
    print(
        f"seeds {args.first}..{args.first + args.count - 1}, {args.threads} threads, {args.sim}: "
        f"{t['programs']} programs ({t['unicorn_programs']} also on unicorn), {t['instructions']} "
        f"instructions, {t['divergences']} divergences {t['divergent_seeds'][:10]}"
    )
    if not args.no_record:
        record_cosim(
            Path(args.output),
            {
                "threads": args.threads,
                "sim": args.sim,
                "memory": NODE_SRAM,
                "seeds": [args.first, args.first + args.count],
            }
            | t,
        )
        print(f"recorded in {args.output}")
    return 0 if t["divergences"] == 0 else 1


#: What the core ran from, in the results file's co-simulation runs: the node SRAM through
#: ``CoreMemPort`` (runs without the field predate it: the core's private 1-cycle SRAM model).
NODE_SRAM = "node SRAM"
PRIVATE_SRAM = "private SRAM model (before 2026-11-25)"


def record_cosim(path: Path, run: dict) -> None:
    """Add a co-simulation run to the results file's ``cosim`` section and update its totals
    (the file is locked meanwhile: pieces of a long run may finish together)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text()
        data = json.loads(text) if text.strip() else {}
        sec = data.setdefault("cosim", {"runs": []})
        run = dict(run, divergent_seeds=run["divergent_seeds"][:100])
        sec["runs"].append(run)
        totals = {}
        for r in sec["runs"]:
            key = f"{r['threads']} threads, {r['sim']}, {r.get('memory', PRIVATE_SRAM)}"
            t = totals.setdefault(
                key, {"seeds": 0, "programs": 0, "unicorn_programs": 0, "instructions": 0, "divergences": 0}
            )
            t["seeds"] += r["seeds"][1] - r["seeds"][0]
            for k in ("programs", "unicorn_programs", "instructions", "divergences"):
                t[k] += r[k]
        sec["totals"] = totals
        path.write_text(json.dumps(data, indent=2) + "\n")


def _cmd_bench(commands, args) -> int:
    from tatami.asm import assemble
    from tatami.sim.core.kernels import KERNELS, kernel_source

    cfg = commands.config(args)
    cfg = cfg.replace(**{"node.core.threads": 4})
    rows = []
    with tempfile.TemporaryDirectory(prefix="tatami-bench-core-") as tmp:
        for name in KERNELS:
            prog = assemble(kernel_source(name), base=cfg.node.core.reset_pc)
            elf = Path(tmp) / f"{name}.elf"
            prog.write_elf(elf)
            for n in (1, 2, 4):
                r = run_elf(cfg, elf, sim=args.sim, max_cycles=400_000, threads_to_start=n, check=True)
                if not r["finished"]:
                    raise commands.CliError(f"kernel {name} with {n} threads did not finish")
                ipc = r["retired"] / r["cycles"]
                rows.append(
                    {
                        "kernel": name,
                        "threads": n,
                        "cycles": r["cycles"],
                        "retired": r["retired"],
                        "ipc": round(ipc, 3),
                    }
                )
                print(
                    f"{name:14s} {n} thread(s): {r['retired']:6d} instructions in "
                    f"{r['cycles']:6d} cycles, IPC {ipc:.3f}"
                )
    out = {
        "config": cfg.name,
        "hardware_threads": 4,
        "kernels": rows,
        "note": "IPC = instructions retired by all started threads / cycles from start until every "
        "started thread has stopped; the core runs from the node SRAM (banked, ECC) through "
        "CoreMemPort: loads and fetches answer 5 cycles after acceptance, stores 7 "
        "(read-modify-write); core pipeline F I R X; every instruction checked against the golden model",
    }
    if args.synth:
        from tatami.fpga.synth import synthesize
        from tatami.hw.core.core import Core

        # 4 threads (the fpga-2x2 core); place and route takes about 20 minutes
        r = synthesize(Core(cfg), freq_mhz=cfg.clock_hz / 1e6)
        c = r["yosys_cells"]
        out["ecp5"] = [
            {
                "threads": 4,
                "config": cfg.name,
                "device": "LFE5U-85F CABGA381 (out of context)",
                "source": "Yosys synth_ecp5 + nextpnr-ecp5 (fpga/synth.py synthesize, seed 1)",
                "yosys_lut4": c.get("LUT4"),
                "yosys_ccu2c": c.get("CCU2C"),
                "yosys_pfumx": c.get("PFUMX"),
                "yosys_l6mux21": c.get("L6MUX21"),
                "trellis_comb": r["luts"],
                "ffs": r["ffs"],
                "brams_dp16kd": r["brams"],
                "dsps_mult18x18d": r["dsps"],
                "fmax_mhz": r["fmax_mhz"] and round(r["fmax_mhz"], 2),
                "constraint_mhz": r["freq_mhz"],
                "timing_met": r["timing_met"],
                "seconds": r["seconds"],
            }
        ]
        print(f"ECP5 core, 4 threads: {r['luts']} LUTs, {r['ffs']} FFs, Fmax {r['fmax_mhz']} MHz")
    else:
        old = Path(args.output)
        if old.exists():
            prev = json.loads(old.read_text())
            if "ecp5" in prev:
                out["ecp5"] = prev["ecp5"]
    old = Path(args.output)
    if old.exists():
        prev = json.loads(old.read_text())
        for key in ("cosim", "conformance", "history"):  # (recorded by other commands, kept)
            if key in prev:
                out[key] = prev[key]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0
