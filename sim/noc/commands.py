"""``tatami noc ...``: network tools."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["register"]


def register(commands):
    from .routes import ALGORITHMS

    p = commands.command("noc", help="network tools: routing tables around dead nodes")
    noc = p.add_subparsers(dest="noc_command", metavar="NOC_COMMAND", required=True)
    q = noc.add_parser(
        "routes", help="compile routing tables around dead nodes and links, prove them deadlock-free"
    )
    commands.add_config_args(q)
    q.add_argument("--algorithm", choices=ALGORITHMS, default="auto")
    q.add_argument("-o", "--output", help="write the per-router tables as JSON")
    q.set_defaults(func=lambda args: routes(commands, args))

    q = noc.add_parser(
        "sweep",
        help="latency vs offered load of the RTL mesh in Verilator (BookSim's definitions), "
        "with BookSim's curve on the plot",
    )
    q.add_argument("--mesh", default="4x4", help="WxH (default 4x4)")
    q.add_argument("--pattern", default="uniform", help="uniform, transpose, bitcomp, hotspot, neighbor")
    q.add_argument("--vcs", type=int, default=2, help="virtual channels per port (default 2)")
    q.add_argument("--buf", type=int, default=8, help="flits per VC buffer (default 8)")
    q.add_argument("--packet-flits", type=int, default=1, help="flits per packet (default 1)")
    q.add_argument(
        "--buffers",
        default="lookpast",
        help="link-input buffers: lookpast (default) or fifo (the fpga-2x2 router's LUT-RAM FIFOs)",
    )
    q.add_argument(
        "--router-stages",
        type=int,
        default=1,
        help="router cycles per hop: 1 (default, 2 cycles/hop) or 2 (fpga-2x2: 3 cycles/hop, "
        "one more at injection)",
    )
    q.add_argument("--dead", type=int, default=0, help="random dead nodes (table routing around them)")
    q.add_argument("--seed", type=int, default=1, help="traffic and dead-node seed")
    q.add_argument("--hotspot", type=int, default=0, help="hotspot node number (pattern hotspot)")
    q.add_argument("--warmup", type=int, default=1000, help="warm-up cycles per load point")
    q.add_argument("--measure", type=int, default=4000, help="measurement cycles per load point")
    q.add_argument("--step", type=float, default=None, help="load step (default: a tenth of ideal)")
    q.add_argument("--rates", help="comma-separated loads instead of an adaptive sweep")
    q.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    q.add_argument("--out", required=True, help="CSV of the load points")
    q.add_argument("--plot", help="PNG: Tatami's curve and BookSim's")
    q.add_argument("--json", help="also write the whole result as JSON")
    q.set_defaults(func=lambda args: sweep(commands, args))

    b = commands.bench(
        "noc",
        help="network figures: uniform 4x4/8x8, other patterns and dead nodes on 8x8, generation cost; "
        "writes docs/results/noc.json (+ csv, png) and the tables in docs/noc.md",
    )
    b.add_argument("--full", action="store_true", help="BookSim-length runs and finer load steps (slow)")
    b.add_argument("--out-dir", default="docs/results", help="where results go (default docs/results)")
    b.add_argument("--docs", default="docs/noc.md", help="page whose figure tables are filled ('' to skip)")
    b.add_argument("--only", help="comma-separated case names to run (for a quick look)")
    b.set_defaults(func=lambda args: bench(commands, args))


def _mesh_arg(commands, text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise commands.CliError(f"--mesh takes WxH, e.g. 8x8, not {text!r}") from None
    return w, h


def sweep(commands, args) -> int:
    from tatami.config import ConfigError
    from tatami.hw.noc.ports import node_xy
    from tatami.hw.noc.tester_regs import Pattern
    from tatami.sim.noc.sweep import (
        SweepPlan,
        delivery_report,
        ideal_throughput,
        plot,
        random_dead_nodes,
        run_sweep,
        sweep_config,
        with_dead,
        write_csv,
    )

    w, h = _mesh_arg(commands, args.mesh)
    try:
        Pattern.named(args.pattern)
        cfg = sweep_config(
            w,
            h,
            vcs=args.vcs,
            buf=args.buf,
            packet_flits=args.packet_flits,
            buffers=args.buffers,
            router_stages=args.router_stages,
        )
        dead = random_dead_nodes(w, h, args.dead, args.seed, keep=[(0, 0), node_xy(args.hotspot, w)])
        if args.pattern == "transpose" and w != h:
            raise ValueError(f"transpose needs a square mesh, not {w}x{h}")
        ideal = ideal_throughput(with_dead(cfg, dead), args.pattern, args.hotspot)
    except (ValueError, ConfigError) as e:
        raise commands.CliError(str(e)) from None
    plan = SweepPlan(
        pattern=args.pattern,
        packet_flits=args.packet_flits,
        hotspot=args.hotspot,
        seed=args.seed,
        warmup=args.warmup,
        measure=args.measure,
        drain_limit=max(2000, args.measure),
        step=args.step or round(ideal / 10, 4),
        max_rate=min(1.0, 1.5 * ideal),
        rates=[float(r) for r in args.rates.split(",")] if args.rates else None,
        dead_nodes=[list(n) for n in dead],
        zero_rate=min(0.01, round(ideal / 10, 4)),
    )
    print(f"{cfg.summary()}; dead nodes {list(dead) or 'none'}; ideal throughput {ideal:.4f}")
    result = run_sweep(cfg, plan, sim=args.sim)
    write_csv(result, args.out)
    print(
        f"zero-load latency {result.zero_load:.2f} cycles = {result.fit_a:.2f} + {result.fit_b:.2f} * D; "
        f"saturation {result.saturation} flits/node/cycle ({(result.saturation or 0) / ideal:.0%} of ideal)"
    )
    faulty, text = delivery_report(result.points)
    print(text)
    print(f"wrote {args.out}")
    if args.plot:
        plot(result, args.plot)
        print(f"wrote {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1))
    return 1 if faulty else 0


def bench(commands, args) -> int:
    from tatami.sim.noc.sweep import run_bench

    run_bench(
        Path(args.out_dir),
        full=args.full,
        docs=Path(args.docs) if args.docs else None,
        only=args.only.split(",") if args.only else None,
    )
    return 0


def routes(commands, args) -> int:
    from tatami.sim.noc.routes import RouteError, compile_routes

    cfg = commands.config(args)
    try:
        tables = compile_routes(cfg.mesh, algorithm=args.algorithm)
    except RouteError as e:
        raise commands.CliError(str(e)) from None
    m = cfg.mesh
    print(
        f"{m.width}x{m.height} mesh, dead nodes {list(m.dead_nodes) or 'none'}, "
        f"dead links {list(m.dead_links) or 'none'}"
    )
    for key, value in tables.stats().items():
        print(f"  {key}: {value}")
    print("  channel dependency graph acyclic per message class: proven (deadlock-free)")
    if args.output:
        Path(args.output).write_text(
            json.dumps(
                {f"{x},{y}": tables.entries((x, y)) for y in range(m.height) for x in range(m.width)},
                indent=1,
            )
        )
        print(f"wrote {args.output}")
    return 0
