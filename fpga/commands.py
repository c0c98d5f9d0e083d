"""``tatami fpga build|program|boards`` and ``tatami bench fpga``."""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

__all__ = ["register"]

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "fpga.json"


def register(commands):
    p = commands.command("fpga", help="FPGA boards: build a bitstream, program a board")
    sub = p.add_subparsers(dest="fpga_command", metavar="FPGA_COMMAND", required=True)

    q = sub.add_parser("boards", help="list the supported boards")
    q.set_defaults(func=lambda args: boards(args))

    q = sub.add_parser("build", help="elaborate, synthesize, place and route, check timing, pack a bitstream")
    _build_args(commands, q)
    q.add_argument("--elaborate-only", action="store_true", help="stop after elaboration (no tools needed)")
    q.set_defaults(func=lambda args: build(commands, args))

    q = sub.add_parser("program", help="load a bitstream into a board with openFPGALoader")
    q.add_argument("--board", "-b", default=None, help="board (default: ulx3s-85f)")
    q.add_argument("--bitstream", help="bitstream file (default: the latest build for the board)")
    q.add_argument("--flash", action="store_true", help="write the configuration flash, not just SRAM")
    q.set_defaults(func=lambda args: program(commands, args))

    q = commands.bench(
        "fpga", help="a full FPGA build recorded in the results (utilization, Fmax per clock, step times)"
    )
    q.add_argument("--board", "-b", default="ulx3s-85f")
    q.add_argument("--design", "-d", default="noc-tester", help="design (default noc-tester)")
    q.add_argument("--freq", type=float, default=None, help="clock in MHz (default: the config's)")
    _pnr_args(q)
    q.add_argument(
        "--parts",
        action="store_true",
        help="also place the bridge, endpoint and router out of context (mesh-bridge size estimate)",
    )
    q.add_argument("--out", default=str(RESULTS), help=f"results JSON (default {RESULTS})")
    commands.add_config_args(q)
    q.set_defaults(func=lambda args: bench(commands, args))


def _seed_list(text: str) -> list[int]:
    """``1-4`` or ``1,5,9`` (or both: ``1-3,7``) as a list of seeds."""
    seeds = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            seeds += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seeds: {text!r} (e.g. 1-4 or 1,5,9)") from None
    if not seeds or min(seeds) < 1:
        raise argparse.ArgumentTypeError(f"seeds are numbers from 1: {text!r}")
    return seeds


def _pnr_args(q):
    """The place-and-route arguments of ``fpga build`` and ``bench fpga``."""
    q.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    q.add_argument(
        "--pnr-freq",
        type=float,
        default=None,
        metavar="MHZ",
        help="clock nextpnr places and routes for (ECP5 with a PLL clock; default --freq): above "
        "--freq it asks for margin; timing is still judged at --freq",
    )
    q.add_argument(
        "--pnr-opt",
        action="append",
        default=[],
        metavar="OPT",
        help="extra nextpnr argument, repeatable; replaces the design's own (noc-tester: "
        "--placer static); use the = form (e.g. --pnr-opt=--placer-heap-beta --pnr-opt=0.6)",
    )


def _build_args(commands, q):
    from .boards import DEFAULT_BOARD

    q.add_argument(
        "--board",
        "-b",
        default=DEFAULT_BOARD,
        help=f"board (default {DEFAULT_BOARD}; see `tatami fpga boards`)",
    )
    q.add_argument("--design", "-d", default="mesh-bridge", help="design: mesh-bridge, noc-tester")
    q.add_argument("--freq", type=float, default=None, help="clock in MHz (default: the config's clock_hz)")
    q.add_argument("--baud", type=int, default=115200, help="UART baud rate (default 115200)")
    _pnr_args(q)
    q.add_argument(
        "--seeds",
        type=_seed_list,
        default=None,
        metavar="LIST",
        help="placement seeds to try in turn until one meets timing, e.g. 1-4 or 1,5,9 (a build "
        "directory each); the first that meets gives the bitstream",
    )
    q.add_argument(
        "--out", default=None, help="build directory (default build/fpga/<board>-<design>-<config>-<freq>)"
    )
    commands.add_config_args(q)


def boards(args) -> int:
    from .boards import BOARDS, DEFAULT_BOARD

    print(f"{'board':15} {'FPGA':16} {'LUTs':>6} {'clock':>8}  {'preset':9} {'cost':16} note")
    for b in BOARDS.values():
        mark = " (default)" if b.name == DEFAULT_BOARD else ""
        print(
            f"{b.name:15} {b.family + ' ' + b.synth_device:16} {b.luts:>6} {b.clock_mhz:>5g} MHz  "
            f"{b.preset:9} {b.cost_class:16} {b.note}{mark}"
        )
    return 0


def build(commands, args) -> int:
    from .build import BuildError, TimingError
    from .build import build as run_build
    from .tools import ToolMissing

    cfg = commands.config(args)
    seeds = args.seeds or [args.seed]
    missed = []
    for seed in seeds:
        out = args.out
        if out and len(seeds) > 1:
            out = str(Path(out) / f"seed{seed}")
        if len(seeds) > 1:
            print(f"placement seed {seed} ({len(missed) + 1} of {len(seeds)})")
        try:
            report = run_build(
                args.board,
                cfg,
                args.design,
                freq_mhz=args.freq,
                baud=args.baud,
                out_dir=out,
                seed=seed,
                pnr_opts=tuple(args.pnr_opt),
                pnr_freq_mhz=args.pnr_freq,
                do_build=not args.elaborate_only,
            )
            break
        except TimingError as e:
            missed.append(f"seed {seed}: {e}")
            if len(missed) == len(seeds):
                tried = "\n".join(missed) if len(seeds) > 1 else str(e)
                raise commands.CliError(tried) from None
            print(f"seed {seed} missed timing; trying the next seed")
        except (BuildError, ToolMissing, ValueError) as e:
            raise commands.CliError(str(e)) from None
    if args.elaborate_only:
        print(f"elaborated into {report['out_dir']} (no synthesis)")
        return 0
    print(_summary(report))
    print(f"bitstream: {report['bitstream']}")
    print(f"program it with: tatami fpga program --board {args.board} --bitstream {report['bitstream']}")
    return 0


def _summary(r: dict) -> str:
    lines = [
        f"{r['board']} {r['design']} {r['config']} ({r['mesh']}): "
        f"{r['luts']} / {r['luts_available']} LUTs ({100 * r['luts'] / r['luts_available']:.1f}%), "
        f"{r['ffs'] if r['ffs'] is not None else '-'} FFs, {r['brams']} BRAMs, {r['dsps']} DSPs"
    ]
    for name, c in r["clocks"].items():
        lines.append(
            f"  clock {name}: Fmax {c['achieved_mhz']:.1f} MHz (constraint {c['constraint_mhz']:.1f} MHz)"
        )
    return "\n".join(lines)


def program(commands, args) -> int:
    from .boards import DEFAULT_BOARD, board
    from .tools import ToolMissing, find_tool

    try:
        b = board(args.board or DEFAULT_BOARD)
        tool = find_tool("openFPGALoader")
    except (ValueError, ToolMissing) as e:
        raise commands.CliError(str(e)) from None
    if args.bitstream:
        bit = Path(args.bitstream)
    else:
        suffix = "tatami.bit" if b.family == "ecp5" else "tatami.bin"
        found = sorted(Path("build/fpga").glob(f"{b.name}-*/{suffix}"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise commands.CliError(
                f"no bitstream for {b.name} under build/fpga/: run `tatami fpga build --board {b.name}` first"
            )
        bit = found[-1]
    if not bit.exists():
        raise commands.CliError(f"no such bitstream: {bit}")
    cmd = [tool, "-b", b.programmer, *(["-f"] if args.flash else []), str(bit)]
    print(f"programming {b.name} with {bit}: {' '.join(cmd)}", flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise commands.CliError("openFPGALoader did not finish within 5 minutes") from None
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise commands.CliError(
            f"openFPGALoader could not program the {b.name} (exit {proc.returncode}). Is the board "
            "plugged in over USB, powered, and accessible (udev rules / permissions)?\n"
            f"--- openFPGALoader ---\n{output}"
        )
    print(output)
    return 0


def bench(commands, args) -> int:
    """A full build of the design on the board, recorded in the results JSON under
    ``builds["<board> <design> <config> <mesh> <freq>MHz"]`` (other entries are kept; the one it
    replaces goes to ``history`` if it came from another commit, :func:`record_build`): utilization,
    Fmax and constraint per clock, the timing verdict, each step's time, the commit and tools. A
    build that misses timing is recorded too (no bitstream). ``--parts`` adds the out-of-context
    areas of the bridge, endpoint and router and the largest mesh-bridge mesh they allow."""
    from .boards import board
    from .build import BuildError, TimingError
    from .build import build as run_build

    cfg = commands.config(args)
    b = board(args.board)
    freq = args.freq or cfg.clock_hz / 1e6
    commit = _commit()  # what the build elaborates (the tree may change while it runs)
    t = time.perf_counter()
    try:
        report = run_build(
            b.name,
            cfg,
            args.design,
            freq_mhz=freq,
            seed=args.seed,
            pnr_opts=tuple(args.pnr_opt),
            pnr_freq_mhz=args.pnr_freq,
        )
    except TimingError as e:
        print(e)
        report = json.loads((Path(_out_of(e)) / "tatami-report.json").read_text())
    except (BuildError, ValueError) as e:
        raise commands.CliError(str(e)) from None
    report["wall_s"] = round(time.perf_counter() - t, 1)
    report["date"] = time.strftime("%Y-%m-%d")
    report["commit"] = commit
    report["tools"] = _tool_versions(b.family)
    report["command"] = (
        f"tatami fpga build --board {b.name} --config {args.config} --design {args.design} --freq {freq:g}"
        + "".join(f" --set {s}" for s in args.set)
        + (f" --seed {args.seed}" if args.seed != 1 else "")
        + (f" --pnr-freq {args.pnr_freq:g}" if args.pnr_freq else "")
        + "".join(f" --pnr-opt={o}" for o in args.pnr_opt)
    )
    print(_summary(report))
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    key = (
        f"{b.name} {args.design} {cfg.name} {report['mesh']} {freq:g}MHz"
        + (f" seed {args.seed}" if args.seed != 1 else "")
        + (f" pnr {args.pnr_freq:g}MHz" if args.pnr_freq and args.pnr_freq != freq else "")
        + (f" pnr-opt {' '.join(args.pnr_opt)}" if args.pnr_opt else "")
    )
    record_build(results, key, report)
    if args.parts:
        results["parts_out_of_context"] = parts = _parts(cfg, b, freq)
        results["largest_mesh_bridge_mesh"] = largest_mesh(parts, b.luts)
        print(f"largest mesh-bridge mesh that fits the {b.name}: {results['largest_mesh_bridge_mesh']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out} (builds[{key!r}])")
    return 0


#: What ``history`` keeps of a replaced build record.
HISTORY_FIELDS = ("commit", "date", "fmax_mhz", "timing_met", "luts", "ffs", "command")


def record_build(results: dict, key: str, report: dict) -> None:
    """Put ``report`` in ``results["builds"][key]``. A record it replaces that came from another
    commit is not lost: its summary (:data:`HISTORY_FIELDS`) is appended to ``results["history"]``
    under the same key, so a results file keeps every commit's Fmax, not only the latest build's."""
    builds = results.setdefault("builds", {})
    old = builds.get(key)
    if old is not None and old.get("commit") != report.get("commit"):
        entry = {"key": key, **{f: old.get(f) for f in HISTORY_FIELDS}}
        history = results.setdefault("history", [])
        if entry not in history:
            history.append(entry)
    builds[key] = report


def _parts(cfg, b, freq) -> dict:
    from tatami.hw.bridge.bridge import HostBridge
    from tatami.hw.bridge.endpoint import LoopbackEndpoint
    from tatami.hw.noc.router import Router

    from .build import uart_divisor
    from .synth import synthesize

    parts = {}
    divisor = uart_divisor(freq, 115200)
    for name, make in (
        ("bridge", lambda: HostBridge(cfg, divisor)),
        ("endpoint", lambda: LoopbackEndpoint(cfg)),
        ("router", lambda: Router(cfg)),
    ):
        r = synthesize(make(), b.synth_device, b.synth_package, freq, top=name)
        parts[name] = {k: r[k] for k in ("luts", "ffs", "brams", "dsps", "fmax_mhz")}
        print(f"{name}: {parts[name]}")
    return parts


def _commit() -> str | None:
    """The checked-out commit, with ``+dirty`` when the tree has changes the build may include."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty.stdout.strip() else "")


def _tool_versions(family: str) -> dict:
    from .tools import ToolMissing, find_tool

    out = {}
    for name in ("yosys", f"nextpnr-{family}"):
        try:
            proc = subprocess.run([find_tool(name), "--version"], capture_output=True, text=True, timeout=120)
            out[name] = (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.returncode == 0 else None
        except (ToolMissing, OSError, subprocess.TimeoutExpired, IndexError):
            out[name] = None
    return out


def largest_mesh(parts: dict, luts_available: int, headroom: float = 0.85) -> dict:
    """Largest N x N with bridge + N^2 (router + endpoint) LUTs within ``headroom`` of the part."""
    per_node = parts["router"]["luts"] + parts["endpoint"]["luts"]
    n = 1
    while parts["bridge"]["luts"] + (n + 1) ** 2 * per_node <= headroom * luts_available:
        n += 1
    used = parts["bridge"]["luts"] + n * n * per_node
    return {"mesh": f"{n}x{n}", "estimated_luts": used, "luts_per_node": per_node, "headroom": headroom}


def _out_of(err) -> str:
    text = str(err)
    marker = "Report: "
    return str(Path(text[text.index(marker) + len(marker) :].strip()).parent)
