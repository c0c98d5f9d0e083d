"""Latency-vs-load sweeps of the RTL network, measured the way BookSim measures, and the driver of
the network tester that runs them.

:class:`TesterDriver` drives a :class:`~tatami.hw.noc.tester.NocTester` through its register bus
only (any object with ``async write(addr, value)`` and ``async read(addr)``, and ``async
wait_done()``): the same driver runs against the Verilator model (:mod:`tatami.sim.benches.noc_tester`)
and, through the host bridge, against an FPGA. A load point is one tester run: warm-up, measurement,
drain, flush, all in hardware; the host only writes the settings and reads the counters.

Definitions (BookSim 2.0): the offered load is in flits per node per cycle (Bernoulli packet
creation with probability ``rate / packet_flits``); latency runs from a packet's creation to the
ejection of its tail flit, source queueing included, averaged over the packets created during the
measurement phase; the accepted rate is flits ejected per live node per cycle during the
measurement phase; the zero-load latency is measured at 0.01 (or a tenth of the pattern's ideal
throughput if lower) and fitted per Manhattan distance as
``a + b*D``; saturation is the highest offered load whose latency is at most 3x the zero-load
latency (and whose measured packets all drained in time).

:func:`run_sweep` builds the tester for a configuration once and runs a whole sweep in one
simulation; :func:`booksim_curve` reads the reference curves shipped in ``sim/noc/data``.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tatami.config import MeshConfig, NocConfig, TatamiConfig, preset
from tatami.hw.noc.ports import node_index
from tatami.hw.noc.tester_regs import (
    TESTER_ID,
    Classes,
    Counter,
    Ctrl,
    FaultKind,
    Pattern,
    Reg,
    Status,
    dist_addr,
    fault_word,
    live_entry_word,
    max_distance,
    node_addr,
    node_alive_word,
    table_word,
    total_addr,
)

__all__ = [
    "DATA",
    "PointResult",
    "SweepPlan",
    "SweepResult",
    "TesterDriver",
    "booksim_curve",
    "booksim_summary",
    "random_dead_nodes",
    "run_sweep",
    "sweep_config",
]

DATA = Path(__file__).resolve().parent / "data"
ZERO_LOAD_RATE = 0.01


@dataclass
class PointResult:
    """One load point."""

    offered: float  # configured, flits/node/cycle
    injected: float  # flits created per live node per measurement cycle
    accepted: float  # flits ejected per live node per measurement cycle
    latency: float  # mean, creation to tail ejection, measured packets
    latency_max: int
    measured: int  # measured packets received intact
    drain_timeout: bool
    overflow: bool
    counters: dict = field(default_factory=dict)
    cycles: int = 0

    @property
    def stable(self) -> bool:
        return not self.drain_timeout and not self.overflow and self.measured > 0


@dataclass
class SweepPlan:
    """What the bench runs in one simulation (passed to it as JSON)."""

    pattern: str = "uniform"
    packet_flits: int = 1
    classes: str = "both"
    hotspot: int = 0
    seed: int = 1
    warmup: int = 1000
    measure: int = 4000
    drain_limit: int = 6000
    watchdog: int = 5000
    rates: list | None = None  # explicit rates, or None for an adaptive sweep
    step: float = 0.05
    max_rate: float = 1.0
    refine: int = 3
    zero_load_measure: int = 4000
    zero_rate: float = ZERO_LOAD_RATE  # the zero-load point (BookSim: 0.01; less for hotspot)
    dead_nodes: list = field(default_factory=list)  # [(x, y)], set at run time
    tables: dict | None = None  # router -> entries, for table routing (filled by run_sweep)


@dataclass
class SweepResult:
    config: dict
    plan: dict
    zero_load: float
    fit_a: float
    fit_b: float
    per_distance: dict
    saturation: float | None
    points: list
    wall_seconds: float = 0.0  # everything: Verilog generation, simulator build, simulation
    sim_cycles: int = 0
    sim_seconds: float = 0.0  # the simulation alone (wall_seconds less generation and build)

    def to_dict(self) -> dict:
        return asdict(self)


class TesterDriver:
    """Register-level driver of the network tester. ``bus`` has ``async write(addr, value)``,
    ``async read(addr)`` and ``async wait_done(limit_cycles)``."""

    def __init__(self, bus, cfg: TatamiConfig):
        self.bus, self.cfg = bus, cfg
        self.live = cfg.mesh.live_count
        self.cycles = 0

    async def check_id(self):
        got = await self.bus.read(Reg.ID)
        if got != TESTER_ID:
            raise RuntimeError(f"no network tester on the bus: ID reads {got:#x}, not {TESTER_ID:#x}")

    async def load_tables(self, tables: dict):
        """Write every router's routing table, then route by the tables."""
        for router, entries in tables.items():
            r = int(router)
            for addr, port in enumerate(entries):
                await self.bus.write(Reg.TABLE_WRITE, table_word(r, addr, port))
        await self.bus.write(Reg.CTRL, Ctrl.USE_TABLE)
        self.use_table = True

    async def set_dead(self, dead_nodes):
        """Mark ``dead_nodes`` dead and every other node live (generators, uniform traffic's live
        list); the routing tables must avoid them too (:meth:`load_tables`)."""
        mesh = self.cfg.mesh
        dead = {tuple(n) for n in dead_nodes}
        live = [n for n in mesh.live_nodes() if n not in dead]
        for y in range(mesh.height):
            for x in range(mesh.width):
                k = node_index(x, y, mesh.width)
                await self.bus.write(Reg.NODE_ALIVE, node_alive_word(k, (x, y) not in dead))
        for i, (x, y) in enumerate(live):
            await self.bus.write(Reg.LIVE_ENTRY, live_entry_word(i, x, y))
        await self.bus.write(Reg.LIVE_COUNT, len(live))
        self.live = len(live)

    async def prepare(self, plan: SweepPlan):
        """Dead nodes and routing tables of the plan."""
        if plan.dead_nodes:
            await self.set_dead(plan.dead_nodes)
        if plan.tables:
            await self.load_tables(plan.tables)

    async def configure(self, plan: SweepPlan, rate: float, *, measure: int | None = None):
        pf = plan.packet_flits
        threshold = round(rate / pf * 65536)
        for reg, value in (
            (Reg.RATE, threshold),
            (Reg.PATTERN, Pattern.named(plan.pattern).value),
            (Reg.PACKET_FLITS, pf),
            (Reg.CLASSES, Classes[plan.classes.upper()].value),
            (Reg.HOTSPOT, plan.hotspot),
            (Reg.SEED, plan.seed),
            (Reg.WARMUP, plan.warmup),
            (Reg.MEASURE, measure or plan.measure),
            (Reg.DRAIN_LIMIT, plan.drain_limit),
            (Reg.WATCHDOG, plan.watchdog),
        ):
            await self.bus.write(reg, value)

    async def run(self, limit_cycles: int) -> int:
        """Start a run and wait for it; returns STATUS."""
        ctrl = Ctrl.START | (Ctrl.USE_TABLE if getattr(self, "use_table", False) else 0)
        await self.bus.write(Reg.CTRL, ctrl)
        await self.bus.wait_done(limit_cycles)
        status = await self.bus.read(Reg.STATUS)
        if not status & Status.DONE:
            raise RuntimeError(f"the tester did not finish within {limit_cycles} cycles (status {status:#x})")
        return status

    async def totals(self) -> dict:
        out = {c.name.lower(): await self.bus.read(total_addr(c)) for c in Counter}
        out["lat_sum"] = out.pop("lat_sum_lo") | out.pop("lat_sum_hi") << 32
        out["holes"] = _signed(out["holes"])
        for reg in (Reg.DRAIN_CYCLES, Reg.FLUSH_CYCLES, Reg.MAX_STALL, Reg.CYCLE_LO):
            out[reg.name.lower()] = await self.bus.read(reg)
        return out

    async def node_counters(self, node: int) -> dict:
        out = {c.name.lower(): await self.bus.read(node_addr(node, c)) for c in Counter}
        out["lat_sum"] = out.pop("lat_sum_lo") | out.pop("lat_sum_hi") << 32
        out["holes"] = _signed(out["holes"])
        return out

    async def per_distance(self) -> dict:
        """Distance -> (latency sum, count) over all live nodes' checkers."""
        mesh = self.cfg.mesh
        acc = {}
        for x, y in mesh.live_nodes():
            k = node_index(x, y, mesh.width)
            for d in range(max_distance(mesh.width, mesh.height) + 1):
                count = await self.bus.read(dist_addr(k, d) + 1)
                if count:
                    s = await self.bus.read(dist_addr(k, d))
                    a = acc.setdefault(d, [0, 0])
                    a[0] += s
                    a[1] += count
        return acc

    async def fault(self, node: int, kind: FaultKind):
        await self.bus.write(Reg.FAULT, fault_word(node, kind))

    async def point(self, plan: SweepPlan, rate: float, *, measure: int | None = None) -> PointResult:
        measure = measure or plan.measure
        await self.configure(plan, rate, measure=measure)
        budget = 2 * self.cfg.mesh.nodes + plan.warmup + measure + 2 * plan.drain_limit + 100
        status = await self.run(budget)
        t = await self.totals()
        self.cycles += t["cycle_lo"]
        n = self.live * measure
        return PointResult(
            offered=rate,
            injected=t["measured_created"] * plan.packet_flits / n,
            accepted=t["win_flits"] / n,
            latency=t["lat_sum"] / t["lat_count"] if t["lat_count"] else float("nan"),
            latency_max=t["lat_max"],
            measured=t["lat_count"],
            drain_timeout=bool(status & Status.DRAIN_TIMEOUT),
            overflow=bool(status & Status.OVERFLOW),
            counters={**t, "status": status},
            cycles=t["cycle_lo"],
        )

    async def sweep(self, plan: SweepPlan, log=print) -> dict:
        """Zero-load point and fit, then the load points; returns a dict of the sweep."""
        zero = await self.point(plan, plan.zero_rate, measure=plan.zero_load_measure)
        dist = await self.per_distance()
        a, b = fit_line({d: s / c for d, (s, c) in dist.items()}, {d: c for d, (s, c) in dist.items()})
        z = zero.latency
        log(f"zero load ({plan.zero_rate}): latency {z:.2f} = {a:.2f} + {b:.2f} * D")
        points = [zero]

        def saturated(p: PointResult) -> bool:
            return not p.stable or p.latency > 3 * z

        async def run(rate):
            p = await self.point(plan, rate)
            points.append(p)
            log(
                f"offered {rate:.4f}: accepted {p.accepted:.4f}, latency {p.latency:.2f} "
                f"(max {p.latency_max}){' DRAIN TIMEOUT' if p.drain_timeout else ''}"
                f"{' OVERFLOW' if p.overflow else ''}"
            )
            return p

        if plan.rates:
            for r in plan.rates:
                await run(r)
        else:
            good, bad = plan.zero_rate, None
            r = plan.step
            while r <= plan.max_rate + 1e-9:
                p = await run(round(r, 6))
                if saturated(p):
                    bad = r
                    break
                good = r
                r += plan.step
            if bad is not None:
                for _ in range(plan.refine):
                    mid = round((good + bad) / 2, 6)
                    p = await run(mid)
                    if saturated(p):
                        bad = mid
                    else:
                        good = mid
        ok = [p.offered for p in points if not saturated(p)]
        saturation = max(ok) if ok else None
        points.sort(key=lambda p: p.offered)
        return {
            "zero_load": z,
            "fit_a": a,
            "fit_b": b,
            "per_distance": {d: {"latency": s / c, "packets": c} for d, (s, c) in sorted(dist.items())},
            "saturation": saturation,
            "points": [asdict(p) | {"stable": p.stable} for p in points],
            "sim_cycles": self.cycles,
        }


def _signed(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def fit_line(means: dict, weights: dict) -> tuple[float, float]:
    """Weighted least squares ``y = a + b*x``."""
    sw = sum(weights.values())
    if sw == 0 or len(means) < 2:
        only = next(iter(means.values()), float("nan"))
        return only, 0.0
    mx = sum(weights[d] * d for d in means) / sw
    my = sum(weights[d] * means[d] for d in means) / sw
    sxx = sum(weights[d] * (d - mx) ** 2 for d in means)
    sxy = sum(weights[d] * (d - mx) * (means[d] - my) for d in means)
    b = sxy / sxx if sxx else 0.0
    return my - b * mx, b


# ----- configurations ------------------------------------------------------------------------


def random_dead_nodes(width: int, height: int, count: int, seed: int, keep=((0, 0),)) -> tuple:
    """``count`` random dead nodes that leave every pair of live nodes connected (and keep the
    nodes in ``keep`` alive)."""
    from .routes import compile_routes

    rng = random.Random(seed)
    candidates = [(x, y) for y in range(height) for x in range(width) if (x, y) not in set(keep)]
    for _ in range(1000):
        dead = tuple(sorted(rng.sample(candidates, count)))
        mesh = MeshConfig(width, height, dead_nodes=dead)
        if not compile_routes(mesh).unreachable:
            return dead
    raise ValueError(f"no {count} dead nodes of a {width}x{height} mesh leave it connected")


def sweep_config(
    width: int,
    height: int,
    *,
    vcs: int = 2,
    buf: int = 8,
    packet_flits: int = 1,
    flit_bits: int = 128,
    base: TatamiConfig | None = None,
    buffers: str = "lookpast",
    router_stages: int = 1,
) -> TatamiConfig:
    """The configuration a sweep builds (BookSim's: ``vcs`` VCs of ``buf`` flits). Routing is by
    tables, loaded per sweep (XY tables, or up*/down* around the sweep's dead nodes), so one build
    measures every pattern and every set of dead nodes. ``buffers`` and ``router_stages`` choose
    the router (:class:`~tatami.config.NocConfig`; ``"fifo"`` and 2 are the ``fpga-2x2`` router)."""
    base = base or preset("tiny")
    router = "" if (buffers, router_stages) == ("lookpast", 1) else f"-{buffers}{router_stages}"
    return base.replace(
        name=f"sweep-{width}x{height}-vc{vcs}-buf{buf}{router}",
        mesh=MeshConfig(width, height),
        noc=NocConfig(
            flit_bits=flit_bits,
            vcs=vcs,
            vc_depth=buf,
            max_packet_flits=max(packet_flits, 4),
            routing="table",
            buffers=buffers,
            router_stages=router_stages,
        ),
    )


def with_dead(cfg: TatamiConfig, dead_nodes) -> MeshConfig:
    """The mesh of ``cfg`` with ``dead_nodes`` dead (for routes, ideal throughput, models)."""
    m = cfg.mesh
    return MeshConfig(m.width, m.height, dead_nodes=tuple(tuple(n) for n in dead_nodes))


def plan_tables(cfg: TatamiConfig, dead_nodes) -> dict:
    """Routing tables for the tester (router number -> entries) around ``dead_nodes``."""
    from .routes import compile_routes

    mesh = with_dead(cfg, dead_nodes)
    tables = compile_routes(mesh)
    return {
        node_index(x, y, mesh.width): tables.entries((x, y))
        for y in range(mesh.height)
        for x in range(mesh.width)
    }


# ----- running a sweep in Verilator ----------------------------------------------------------


def tester_design(cfg: TatamiConfig):
    from tatami.hw.noc.tester import NocTester
    from tatami.sim.harness import Design

    m = cfg.mesh
    # The benches use the register bus only: a ports-only Verilator build is a fraction of the size,
    # and the router, generator and checker are each verilated and compiled once, not per node.
    # (Measured on the 4x4 tester: a flat build takes 5x as long to build and simulates 40% slower,
    # although the blocks' wrappers make Verilator iterate the mesh's combinational logic about 4
    # times per clock edge, UNOPTFLAT in the build log: every wrapper output depends on every input.)
    return Design(
        f"noc_tester_{m.width}x{m.height}",
        lambda: NocTester(cfg),
        cfg,
        {},
        internals=False,
        hier_blocks=HIER_BLOCKS,
    )


#: The tester's shared modules that Verilator builds once each (``Design.hier_blocks``).
HIER_BLOCKS = ("tatami_router_", "tatami_traffic_generator_", "tatami_traffic_checker_")


def run_sweep(cfg: TatamiConfig, plan: SweepPlan, *, sim: str = "verilator", log=print) -> SweepResult:
    """Build the tester for ``cfg`` (cached) and run ``plan`` in one simulation."""
    from tatami.sim import harness
    from tatami.sim.harness import generate, run_cocotb

    if cfg.noc.routing == "table" and plan.tables is None:
        plan.tables = plan_tables(cfg, plan.dead_nodes)
    design = tester_design(cfg)
    start = time.perf_counter()
    gen = generate(design)
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        plan_file, result_file = Path(tmp) / "plan.json", Path(tmp) / "result.json"
        plan_file.write_text(json.dumps(asdict(plan)))
        run_cocotb(
            design,
            "tatami.sim.benches.noc_tester",
            sim=sim,
            testcase="sweep",
            extra_env={"TATAMI_NOC_PLAN": str(plan_file), "TATAMI_NOC_RESULT": str(result_file)},
        )
        data = json.loads(result_file.read_text())
    sim_seconds = time.perf_counter() - generated - harness.last_build_seconds
    meta = gen.meta_data()
    log(f"tester Verilog {meta['verilog_bytes'] / 1024:.0f} KiB, generated in {meta['generation_seconds']} s")
    plan_d = asdict(plan)
    plan_d.pop("tables", None)
    return SweepResult(
        config=cfg.to_dict(),
        plan=plan_d,
        zero_load=data["zero_load"],
        fit_a=data["fit_a"],
        fit_b=data["fit_b"],
        per_distance=data["per_distance"],
        saturation=data["saturation"],
        points=data["points"],
        wall_seconds=round(time.perf_counter() - start, 1),
        sim_cycles=data["sim_cycles"],
        sim_seconds=round(sim_seconds, 1),
    )


CSV_FIELDS = [
    "offered",
    "injected",
    "accepted",
    "latency",
    "latency_max",
    "measured",
    "stable",
    "drain_timeout",
    "overflow",
]


def write_csv(result: SweepResult, path: str | os.PathLike):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_FIELDS)
        for p in result.points:
            out.writerow([_fmt(p[k]) for k in CSV_FIELDS])


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else v


# ----- BookSim reference -------------------------------------------------------------------


def booksim_curve(k: int, packet_flits: int, vcs: int, buf: int, delays: str = "fast") -> list[dict]:
    """BookSim's uniform-random curve for a k x k mesh (``delays``: ``def`` or ``fast``)."""
    name = f"mesh{k}x{k}_{delays}_ps{packet_flits}_vc{vcs}_buf{buf}_uniform"
    with open(DATA / "uniform_results.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["config"] == name]
    return sorted(
        (
            {
                "offered": float(r["injection_rate"]),
                "latency": float(r["avg_latency"]),
                "accepted": float(r["accepted_rate"]),
                "stable": r["status"] == "stable",
            }
            for r in rows
        ),
        key=lambda r: r["offered"],
    )


def booksim_summary() -> dict:
    """config name -> BookSim's summary row (saturation, zero-load) and its hop fit."""
    out = {}
    with open(DATA / "uniform_summary.csv") as f:
        for r in csv.DictReader(f):
            out[r["config"]] = dict(r)
    with open(DATA / "zero_load_hop_fit.csv") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["config"], {}).update(
                {"fit_a": float(r["plat_intercept"]), "fit_b": float(r["plat_per_hop"])}
            )
    return out


def plot(result: SweepResult, path: str | os.PathLike, *, title: str | None = None):
    """Latency vs offered load, Tatami's curve and BookSim's (both router variants) where one
    exists for the configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = TatamiConfig.from_dict(result.config)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    pts = [p for p in result.points if p["measured"]]
    ax.plot([p["offered"] for p in pts], [p["latency"] for p in pts], "o-", label="Tatami RTL (Verilator)")
    m = cfg.mesh
    dead = result.plan.get("dead_nodes") or []
    if m.width == m.height and not dead and result.plan["pattern"] == "uniform":
        for delays, style in (("fast", "s--"), ("def", "^:")):
            ref = booksim_curve(m.width, result.plan["packet_flits"], cfg.noc.vcs, cfg.noc.vc_depth, delays)
            ref = [r for r in ref if r["stable"]]
            if ref:
                label = "BookSim 2.0, " + ("lookahead" if delays == "fast" else "default") + " router"
                ax.plot([r["offered"] for r in ref], [r["latency"] for r in ref], style, label=label, ms=3)
    if result.zero_load == result.zero_load:
        ax.axhline(3 * result.zero_load, color="grey", lw=0.8, ls="--", label="3x zero-load (Tatami)")
    ax.set_xlabel("offered load (flits/node/cycle)")
    ax.set_ylabel("average latency (cycles, creation to tail ejection)")
    top = max([p["latency"] for p in pts if p["latency"] == p["latency"]] + [10])
    ax.set_ylim(0, min(top * 1.1, 12 * max(result.zero_load, 1)))
    ax.set_title(
        title
        or f"{m.width}x{m.height} mesh, {result.plan['pattern']}, "
        f"{cfg.noc.vcs} VCs x {cfg.noc.vc_depth} flits, "
        f"{result.plan['packet_flits']}-flit packets"
        + (f", {len(dead)} dead" if dead else "")
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def ideal_throughput(mesh: MeshConfig, pattern: str, hotspot: int = 0) -> float:
    """The load (flits/node/cycle) at which the busiest channel of the routes -- a link, or a node's
    injection or ejection port -- carries one flit per cycle: the ideal saturation throughput of the
    pattern on the routing in use (BookSim's 4/k for uniform traffic on a k x k mesh)."""
    from .routes import compile_routes
    from .traffic import make_pattern

    tables = compile_routes(mesh)
    live = mesh.live_nodes()
    load: dict = {}
    if Pattern.named(pattern) is Pattern.UNIFORM:
        dests = {s: {d: 1 / len(live) for d in live} for s in live}
    elif Pattern.named(pattern) is Pattern.HOTSPOT:
        h = (hotspot % mesh.width, hotspot // mesh.width)
        dests = {s: {h: 1.0} for s in live}
    else:
        fn = make_pattern(pattern, mesh)
        dests = {s: ({fn(s, None): 1.0} if fn(s, None) is not None else {}) for s in live}
    for s, ds in dests.items():
        for d, p in ds.items():
            load[("inj", s)] = load.get(("inj", s), 0) + p
            load[("ej", d)] = load.get(("ej", d), 0) + p
            path = tables.path(s, d)
            for a, b in itertools.pairwise(path):
                load[(a, b)] = load.get((a, b), 0) + p
    return 1 / max(load.values())


def delivery(points: list) -> dict:
    """Counters summed over a sweep's points (dicts or :class:`SweepPoint`), and ``all_delivered``:
    every packet sent arrived intact, once and in order (or was dropped and counted)."""
    points = [p if isinstance(p, dict) else asdict(p) for p in points]
    keys = ("sent", "received", "duplicated", "corrupted", "misordered", "holes", "drops", "overflow")
    tot = {k: sum(p["counters"].get(k, 0) for p in points) for k in keys}
    tot["max_stall"] = max((p["counters"].get("max_stall", 0) for p in points), default=0)
    tot["all_delivered"] = tot["received"] - tot["duplicated"] + tot["drops"] == tot["sent"] and not any(
        tot[k] for k in ("duplicated", "corrupted", "misordered", "holes")
    )
    return tot


def delivery_report(points: list) -> tuple[bool, str]:
    """(faulty, one line for people) over a sweep's points: every packet delivered; or some still in
    flight when a point's flush limit ran out (far above saturation: not a fault); or a fault
    (a corrupted, duplicated, misordered or lost packet)."""
    points = [p if isinstance(p, dict) else asdict(p) for p in points]
    d = delivery(points)
    faults = {k: d[k] for k in ("duplicated", "corrupted", "misordered", "holes") if d[k]}
    undrained = [p["offered"] for p in points if p["counters"].get("status", 0) & Status.FLUSH_TIMEOUT]
    if d["all_delivered"]:
        return False, f"delivered: all {d['sent']} packets intact, once and in order"
    if not faults and undrained:
        return False, (
            f"delivered: {d['received']} of {d['sent']} packets intact, once and in order; the rest "
            f"were still in flight when the flush limit ran out, at loads {undrained} "
            "(a longer --measure gives a longer drain and flush)"
        )
    if not faults:
        faults = {"lost": d["sent"] - d["received"] + d["duplicated"] - d["drops"]}
    return True, f"DELIVERY FAULT: sent {d['sent']}, received {d['received']}, drops {d['drops']}; {faults}"


# ----- the standard benchmark (tatami bench noc) -------------------------------------------------

#: (case, mesh size, pattern, dead nodes): the standard set, 2 VCs x 8 flits, 1-flit packets.
BENCH_CASES = (
    ("uniform_4x4", 4, "uniform", 0),
    ("uniform_8x8", 8, "uniform", 0),
    ("transpose_8x8", 8, "transpose", 0),
    ("bitcomp_8x8", 8, "bitcomp", 0),
    ("hotspot_8x8", 8, "hotspot", 0),
    ("neighbor_8x8", 8, "neighbor", 0),
    ("dead1_8x8", 8, "uniform", 1),
    ("dead2_8x8", 8, "uniform", 2),
    ("dead3_8x8", 8, "uniform", 3),
)
GENERATION_SIZES = (2, 4, 8, 16)
BENCH_SEED = 1


def generation_cost(sizes=GENERATION_SIZES) -> list[dict]:
    """Verilog generation time and size of the mesh (``routing = "table"``, 2 VCs x 8 flits)."""
    import tempfile as _tf

    from tatami.hw.noc.mesh import Mesh
    from tatami.sim.harness import Design, generate

    out = []
    with _tf.TemporaryDirectory() as tmp:
        for k in sizes:
            cfg = sweep_config(k, k)
            gen = generate(
                Design(f"mesh_{k}x{k}", lambda cfg=cfg: Mesh(cfg), cfg, {}), Path(tmp) / str(k), force=True
            )
            meta = gen.meta_data()
            out.append(
                {
                    "mesh": f"{k}x{k}",
                    "generation_seconds": meta["generation_seconds"],
                    "verilog_bytes": meta["verilog_bytes"],
                    "verilog_modules": meta["verilog_modules"],
                }
            )
    return out


def run_bench(out_dir: Path, *, full: bool = False, docs: Path | None = None, only=None, log=print) -> dict:
    """``tatami bench noc``: the standard set; writes noc.json, noc.csv, plots, and the docs table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = booksim_summary()
    results = {}
    cases = [c for c in BENCH_CASES if not only or c[0] in only]
    # Group by mesh size: one tester build each, one simulation per case.
    for name, k, pattern, dead in cases:
        cfg = sweep_config(k, k, vcs=2, buf=8, packet_flits=1)
        dead_nodes = random_dead_nodes(k, k, dead, BENCH_SEED + dead) if dead else ()
        mesh = with_dead(cfg, dead_nodes)
        ideal = ideal_throughput(mesh, pattern)
        plan = SweepPlan(
            pattern=pattern,
            seed=BENCH_SEED,
            warmup=2000 if full else (300 if k >= 8 else 500),
            measure=10000 if full else (1200 if k >= 8 else 2000),
            drain_limit=10000 if full else 2000,
            zero_load_measure=10000 if full else (1500 if k >= 8 else 3000),
            step=round(ideal / (20 if full else 8), 4),
            max_rate=min(1.0, 1.6 * ideal),
            refine=4 if full else 3,
            dead_nodes=[list(n) for n in dead_nodes],
            zero_rate=min(ZERO_LOAD_RATE, round(ideal / 10, 4)),
        )
        log(f"== {name}: {k}x{k}, {pattern}, dead {list(dead_nodes) or 'none'}, ideal {ideal:.4f}")
        r = run_sweep(cfg, plan, log=log)
        bs = (
            summary.get(f"mesh{k}x{k}_fast_ps1_vc2_buf8_uniform", {})
            if pattern == "uniform" and not dead
            else {}
        )
        bd = (
            summary.get(f"mesh{k}x{k}_def_ps1_vc2_buf8_uniform", {})
            if pattern == "uniform" and not dead
            else {}
        )
        results[name] = {
            "mesh": f"{k}x{k}",
            "pattern": pattern,
            "dead_nodes": [list(n) for n in dead_nodes],
            "ideal": round(ideal, 4),
            "saturation": r.saturation,
            "saturation_vs_ideal": round(r.saturation / ideal, 3) if r.saturation else None,
            "zero_load_latency": round(r.zero_load, 3),
            "fit_a": round(r.fit_a, 3),
            "fit_b": round(r.fit_b, 3),
            "latency_at_half_saturation": _latency_at(r.points, (r.saturation or 0) / 2),
            "peak_accepted": round(max(p["accepted"] for p in r.points), 4),
            "delivery": delivery(r.points),
            "sim_cycles": r.sim_cycles,
            "wall_seconds": r.wall_seconds,
            "sim_seconds": r.sim_seconds,
            "booksim_lookahead": _bs(bs),
            "booksim_default": _bs(bd),
            "points": r.points,
        }
        log(
            f"   saturation {r.saturation} ({results[name]['saturation_vs_ideal']} of ideal), zero-load "
            f"{r.zero_load:.2f} = {r.fit_a:.2f} + {r.fit_b:.2f} D, delivery {results[name]['delivery']}"
        )
        if pattern == "uniform" and not dead:
            plot(r, out_dir / f"noc_{name}.png")
    gen = generation_cost() if not only else []
    doc = {
        "bench": "noc",
        "definitions": "BookSim 2.0: rate in flits/node/cycle, latency creation to tail ejection incl. "
        "source queueing, saturation = highest load with latency <= 3x zero-load",
        "config": "2 VCs x 8 flits, 1-flit packets, 128-bit flits, "
        "table routing (XY tables when nothing is dead)",
        "full": full,
        "cases": results,
        "generation": gen,
    }
    old = out_dir / "noc.json"
    if only and old.exists():  # a partial run updates the cases it ran
        prev = json.loads(old.read_text())
        prev["cases"].update(results)
        doc["cases"], doc["generation"] = prev["cases"], prev.get("generation", [])
        if prev.get("note"):  # (the provenance note is written by hand: keep it)
            doc["note"] = prev["note"]
    old.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    with open(out_dir / "noc.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", *CSV_FIELDS])
        for name, c in doc["cases"].items():
            for p in c["points"]:
                w.writerow([name, *[_fmt(p[k]) for k in CSV_FIELDS]])
    _plot_cases(doc["cases"], out_dir / "noc_8x8_cases.png")
    log(f"wrote {old}, {out_dir / 'noc.csv'}")
    if docs is not None:
        fill_docs(doc, docs)
        log(f"updated {docs}")
    return doc


def _bs(row: dict) -> dict | None:
    if not row:
        return None
    return {
        "saturation": float(row["sat_offered"]),
        "zero_load_latency": float(row["zero_load_plat"]),
        "fit_a": row.get("fit_a"),
        "fit_b": row.get("fit_b"),
    }


def _latency_at(points, rate):
    ok = [p for p in points if p["offered"] <= rate + 1e-9 and p["measured"]]
    return round(max(ok, key=lambda p: p["offered"])["latency"], 2) if ok else None


def _plot_cases(cases: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, c in cases.items():
        if c["mesh"] != "8x8":
            continue
        pts = [p for p in c["points"] if p["measured"] and p["latency"] < 8 * c["zero_load_latency"]]
        ax.plot([p["offered"] for p in pts], [p["latency"] for p in pts], "o-", ms=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("offered load (flits/node/cycle, log scale)")
    ax.set_ylabel("average latency (cycles)")
    ax.set_title("8x8 mesh, 2 VCs x 8 flits, 1-flit packets: patterns and dead nodes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


BEGIN, END = "<!-- noc-bench:begin -->", "<!-- noc-bench:end -->"


def fill_docs(doc: dict, path: Path):
    """Replace the figures between the bench markers of docs/noc.md."""
    cases = doc["cases"]
    lines = [
        BEGIN,
        "",
        "| case | ideal | saturation (of ideal) | zero-load `a + b*D` | latency at half sat. | peak accepted "
        "| delivered (packets) | BookSim saturation, lookahead / default |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in cases.items():
        sat = f"{c['saturation']:.3f} ({c['saturation_vs_ideal']:.0%})" if c["saturation"] else "-"
        d = c["delivery"]
        ok = ("all" if d["all_delivered"] else "**NO**") + (
            f" ({d['sent']})" if d.get("sent") is not None else ""
        )
        bl, bd = c.get("booksim_lookahead"), c.get("booksim_default")
        bs = f"{bl['saturation']:.3f} / {bd['saturation']:.3f}" if bl and bd else "-"
        dead = f", dead {c['dead_nodes']}" if c["dead_nodes"] else ""
        lines.append(
            f"| {name}{dead} | {c['ideal']:.3f} | {sat} | {c['fit_a']:.2f} + {c['fit_b']:.2f} D "
            f"| {c['latency_at_half_saturation']} | {c['peak_accepted']:.3f} | {ok} | {bs} |"
        )
    lines += [
        "",
        "BookSim zero-load on the same definition: `7.0 + 5.0 D` (default router), "
        "`6.0 + 4.0 D` (lookahead).",
        "",
    ]
    if doc.get("generation"):
        lines += ["| mesh | Verilog generation | Verilog size | modules |", "|---|---|---|---|"]
        for g in doc["generation"]:
            lines.append(
                f"| {g['mesh']} | {g['generation_seconds']:.2f} s | {g['verilog_bytes'] / 1024:.0f} KiB "
                f"| {g['verilog_modules']} |"
            )
        lines.append("")
    plots = [f"noc_{n}.png" for n, c in cases.items() if c["pattern"] == "uniform" and not c["dead_nodes"]]
    if any(c["mesh"] == "8x8" for c in cases.values()):
        plots.append("noc_8x8_cases.png")
    lines.append(
        f"(`tatami bench noc{' --full' if doc['full'] else ''}`; curves in docs/results/noc.csv, plots "
        f"{', '.join('docs/results/' + p for p in plots)}.)"
    )
    if doc.get("note"):
        lines += ["", doc["note"]]
    lines.append(END)
    text = path.read_text()
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + "\n".join(lines) + text[b:]
    else:
        raise ValueError(f"{path} has no {BEGIN} ... {END} markers for the bench figures")
    path.write_text(text)


SOAK_BEGIN, SOAK_END = "<!-- noc-soak:begin -->", "<!-- noc-soak:end -->"


def fill_soak_docs(results: dict, path: Path):
    """Replace the soak table between the soak markers of docs/noc.md with ``results`` (the
    contents of docs/results/noc_soak.json, written by ``tb/noc/test_soak.py``)."""
    lines = [
        SOAK_BEGIN,
        "",
        "| pattern | flits per packet | load (x ideal) | dead nodes | packets | cycles | accepted "
        "| latency mean / max | longest stall | measured drained "
        "| corrupted, duplicated, misordered, holes, drops |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    totals = []
    for key, runs in results.items():
        if key == "note":
            continue
        for r in runs:
            faults = [r[x] for x in ("corrupted", "duplicated", "misordered", "holes", "drops")]
            lines.append(
                f"| {r['pattern']} | {r.get('packet_flits', 1)} "
                f"| {r['rate']:.4f} ({r['rate'] / r['ideal']:.2f}) "
                f"| {', '.join(f'({x},{y})' for x, y in r['dead_nodes'])} | {r['packets']:,} "
                f"| {r['cycles']:,} | {r['accepted']:.4f} | {r['latency']:.1f} / {r['latency_max']:,} "
                f"| {r['max_stall']} | {'no (limit)' if r['drain_timeout'] else 'yes'} "
                f"| {' '.join(map(str, faults))} |"
            )
        totals.append(f"{key} {sum(r['packets'] for r in runs):,}")
    lines += ["", "Packets per pattern: " + "; ".join(totals) + ".", ""]
    if results.get("note"):
        lines += [results["note"], ""]
    lines.append(SOAK_END)
    text = path.read_text()
    if SOAK_BEGIN not in text or SOAK_END not in text:
        raise ValueError(f"{path} has no {SOAK_BEGIN} ... {SOAK_END} markers for the soak figures")
    a, b = text.index(SOAK_BEGIN), text.index(SOAK_END) + len(SOAK_END)
    path.write_text(text[:a] + "\n".join(lines) + text[b:])
