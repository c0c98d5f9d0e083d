"""The network tester: the mesh, a traffic generator and checker at every live node, and a register
bus to run BookSim-style measurements without a host in the per-cycle loop.

A run (CTRL.START) goes through the phases of :class:`~tatami.hw.noc.tester_regs.Phase`:

CLEAR (``2 * nodes`` cycles)
    counters and sequence tables cleared, seeds loaded, the cycle counter restarted at 0;
WARMUP (WARMUP cycles)
    packets created, not measured;
MEASURE (MEASURE cycles)
    packets created are measured (their latency is recorded when they arrive); flits ejected are
    counted (accepted rate);
DRAIN
    creation continues until every measured packet has arrived, or DRAIN_LIMIT cycles
    (STATUS.DRAIN_TIMEOUT: the offered load is above saturation);
FLUSH
    creation stops; until every sent packet has arrived or was dropped at admission
    (``SENT == RECEIVED - DUPLICATED + DROPS`` summed over the nodes) and every source queue is empty,
    or DRAIN_LIMIT cycles (STATUS.FLUSH_TIMEOUT);
IDLE
    STATUS.DONE; the counters hold the run's figures.

The register map, and the bus protocol, are in :mod:`tatami.hw.noc.tester_regs`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common import hier

from .checker import PIPELINE, TrafficChecker
from .mesh import Mesh
from .ports import node_index
from .tester_regs import (
    ADDR_BITS,
    DIST_BASE,
    NODE_BASE,
    NODE_STRIDE,
    TESTER_ID,
    TOTAL_BASE,
    Classes,
    Counter,
    Ctrl,
    FaultKind,
    Pattern,
    Phase,
    Reg,
    Status,
    check_geometry,
)
from .traffic import TrafficGenerator, node_seed

__all__ = ["NODE_COPY", "NocTester", "clear_cycles"]

#: Marks the names of the per-node copies of broadcast registers (``NocTester(node_copies=True)``).
NODE_COPY = "_nodecopy"

_GEN_COUNTERS = {
    Counter.CREATED: "created",
    Counter.OVERFLOW: "overflow",
    Counter.SENT: "sent",
    Counter.FLITS_SENT: "flits_sent",
    Counter.MEASURED_CREATED: "measured_created",
}
_CHK_COUNTERS = {
    Counter.RECEIVED: "received",
    Counter.FLITS_RECEIVED: "flits",
    Counter.CORRUPTED: "corrupted",
    Counter.DUPLICATED: "duplicated",
    Counter.MISORDERED: "misordered",
    Counter.HOLES: "holes",
    Counter.LAT_COUNT: "lat_count",
    Counter.LAT_MAX: "lat_max",
    Counter.WIN_FLITS: "win_flits",
    Counter.MEASURED_RECEIVED: "measured_received",
}


def clear_cycles(cfg: TatamiConfig) -> int:
    """Cycles of the CLEAR phase; the first WARMUP cycle has cycle count (and stamp) this value."""
    return 2 * cfg.mesh.nodes


def _tree(values, op):
    values = list(values)
    if not values:
        return Const(0, 32)
    while len(values) > 1:
        values = [
            op(values[i], values[i + 1]) if i + 1 < len(values) else values[i]
            for i in range(0, len(values), 2)
        ]
    return values[0]


def _registered(m, value, name):
    reg = Signal(len(value), name=name)
    m.d.sync += reg.eq(value)
    return reg


class NocTester(wiring.Component):
    """Mesh + per-node traffic generators and checkers + control/status registers.

    Parameters
    ----------
    cfg : TatamiConfig
        The network under test (dead nodes get no generator or checker).
    queue_depth : int
        Source-queue entries per generator.
    read_latency : int
        Cycles from ``addr`` to ``rdata``: 1 (the bus protocol of :mod:`~tatami.hw.noc.tester_regs`,
        one multiplexer from ``addr`` to ``rdata``), 2 (a register per block of registers: the
        globals and each node, then the final choice) or 3 (``addr`` registered first too; for an
        FPGA top where the address comes from far away; with ``node_copies`` every node registers
        its own copy) or 4 (and each node's generator counters and checker counters, with its
        distance table, pass a multiplexer and a register of their own, addressed by the node's
        copy, before the node's multiplexer, which decodes a second register of the copy; the
        global registers' multiplexer gets an address register of its own).
        Reads have no side effects, so only when the value is sampled changes.
    node_copies : bool
        Give every node its own copy of each register the tester broadcasts to the nodes (the
        run's settings, the phase flags, the cycle counter), written in the same cycle with the
        same value as the original, so each node reads them from a flip-flop placed next to it
        rather than one flip-flop across the die. Behaviour is identical; the copies are named
        ``*{NODE_COPY}<node>`` so that a synthesis flow can keep Yosys from merging them back
        (:data:`NODE_COPY`; ``tatami fpga build`` does). The total LAT_MAX then has a register
        after each level of its comparator tree (read after a run, it is the same). With
        ``read_latency`` 4 the global read multiplexer reads a copy of its own too.
    gen_out_stages : int
        Registers between each generator's send decision and its router (1 or 2,
        :class:`~tatami.hw.noc.traffic.TrafficGenerator` ``out_stages``); the checkers' clock is
        delayed to match, so the latencies measured are the same.
    gen_bypass : bool
        The generators' ``bypass`` (:class:`~tatami.hw.noc.traffic.TrafficGenerator`): ``False``
        (an FPGA top) queues every packet a cycle before it can be sent; the checkers' clock and
        measurement window are delayed a cycle more to match, so the measured packets' figures
        and the window's flits are the same while no source queue fills (DRAIN, which ends on
        the last measured packet, lasts a cycle longer, and may create unmeasured packets).
    gen_class_queues : bool
        The generators' ``class_queues``: ``True``, a source queue per message class; ``False``
        (the FPGA top), one queue in creation order.
    chk_in_stages : int
        Registers in front of each checker (0 or 1, :class:`~tatami.hw.noc.checker.TrafficChecker`
        ``in_stages``); the checkers' clock and the run control's snapshot follow, so the
        latencies and the run's decisions are the same.
    phase_stages : int
        Registers between the phase and the flags each node's generator and checker follow
        (``clearing``, ``creating``, ``marking``, and the run's start, which loads the generators'
        seeds): 1, or 2 for an FPGA top, where the second register (one per node and unit,
        generator or checker, named as a node copy) can sit by the unit while the first sits by
        the phase logic. With 2 every node sees each phase a cycle later; the run control's
        snapshot takes the phase a cycle older to match, so its decisions stay exact (DRAIN and
        FLUSH last a cycle longer). With 2 the generator's sender also has a ``clearing``
        register of its own (``send_clear``), apart from the one its counters' clears follow.
    write_stage : bool
        Decode bus writes into registers (a hit per writable address, and the data): every write
        then lands a cycle later, and the address decode sits in a cycle of its own instead of in
        front of the write enables of registers and copies all over the die (an FPGA top).
    trim_edges : bool
        The mesh's ``trim_edges`` (:class:`~tatami.hw.noc.mesh.Mesh`): each router built for its
        place, without the ports off the mesh edge (an FPGA top). Same behaviour.

    Attributes
    ----------
    addr : In(24)
        Register address (words), :mod:`~tatami.hw.noc.tester_regs`.
    wdata : In(32), we : In(1)
        Write ``wdata`` to ``addr`` on a rising edge with ``we`` high.
    rdata : Out(32)
        The register at the ``addr`` of ``read_latency`` cycles before (registered).
    done : Out(1)
        STATUS.DONE, for a testbench to wait on without polling the bus.
    """

    def __init__(
        self,
        cfg: TatamiConfig,
        *,
        queue_depth: int = 64,
        read_latency: int = 1,
        node_copies: bool = False,
        gen_out_stages: int = 1,
        gen_bypass: bool = True,
        gen_class_queues: bool = True,
        chk_in_stages: int = 0,
        phase_stages: int = 1,
        write_stage: bool = False,
        trim_edges: bool = False,
    ):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"NocTester needs a TatamiConfig, not {cfg!r}")
        check_geometry(cfg.mesh.width, cfg.mesh.height)
        self.mesh = Mesh(cfg, trim_edges=trim_edges)  # validates the config for the network
        self.cfg, self.queue_depth, self.read_latency = cfg, queue_depth, read_latency
        self.node_copies = bool(node_copies)
        if not isinstance(queue_depth, int) or queue_depth < 2:
            raise ValueError(f"queue_depth must be an integer of at least 2, not {queue_depth!r}")
        if read_latency not in (1, 2, 3, 4):
            raise ValueError(f"read_latency must be 1, 2, 3 or 4 cycles, not {read_latency!r}")
        if gen_out_stages not in (1, 2):
            raise ValueError(f"gen_out_stages must be 1 or 2, not {gen_out_stages!r}")
        self.gen_out_stages = gen_out_stages
        self.gen_bypass = bool(gen_bypass)
        self.gen_class_queues = bool(gen_class_queues)
        if chk_in_stages not in (0, 1):
            raise ValueError(f"chk_in_stages must be 0 or 1, not {chk_in_stages!r}")
        self.chk_in_stages = chk_in_stages
        if phase_stages not in (1, 2):
            raise ValueError(f"phase_stages must be 1 or 2, not {phase_stages!r}")
        self.phase_stages = phase_stages
        self.write_stage = bool(write_stage)
        super().__init__(
            {
                "addr": In(ADDR_BITS),
                "wdata": In(32),
                "we": In(1),
                "rdata": Out(32),
                "done": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        mesh_cfg, noc = cfg.mesh, cfg.noc
        w, h = mesh_cfg.width, mesh_cfg.height
        nodes = mesh_cfg.nodes
        table_mode = noc.routing == "table"
        m.submodules.mesh = mesh = self.mesh

        # ----- control registers ---------------------------------------------------------------
        # A register broadcast to every node may have per-node copies (node_copies): ``each``
        # gives the statements that write it and its copies alike, ``at`` a node's copy.
        live_nodes = [node_index(x, y, w) for x, y in mesh_cfg.live_nodes()]
        copies = {}

        def broadcast(name, shape, init=0):
            master = Signal(shape, init=init, name=name)
            if self.node_copies:
                copies[id(master)] = {
                    k: Signal(shape, init=init, name=f"{name}{NODE_COPY}{k}") for k in live_nodes
                }
                if self.read_latency == 4:
                    # and one for the read multiplexer: Yosys merges the master into a node's
                    # copy (same input), which put the global multiplexer's inputs by one node,
                    # across the die from the bus (a 16.8 ns read path)
                    copies[id(master)]["rd"] = Signal(shape, init=init, name=f"{name}{NODE_COPY}rd")
            return master

        def each(master, statements):
            out = list(statements(master))
            for copy in copies.get(id(master), {}).values():
                out += statements(copy)
            return out

        def at(master, k):
            return copies.get(id(master), {}).get(k, master)

        rate = broadcast("rate", 17)
        pattern = broadcast("pattern", Pattern)
        packet_flits = broadcast("packet_flits", range(noc.max_packet_flits + 1), init=1)
        classes = broadcast("classes", Classes, init=Classes.BOTH)
        hotspot = broadcast("hotspot", range(nodes))
        seed = broadcast("seed", 32, init=1)
        warmup = Signal(32, init=1000)
        measure = Signal(32, init=1000)
        drain_limit = Signal(32, init=100_000)
        watchdog = Signal(32, init=10_000)
        use_table = Signal()
        start = Signal()
        stop = Signal()
        table_we = Signal()
        fault_arm = Signal()
        xy = data.StructLayout({"x": 6, "y": 6})
        live_init = mesh_cfg.live_nodes()
        live_list = broadcast(
            "live_list",
            data.ArrayLayout(xy, nodes),
            init=[{"x": x, "y": y} for x, y in live_init] + [{"x": 0, "y": 0}] * (nodes - len(live_init)),
        )
        live_count = broadcast("live_count", range(nodes + 1), init=len(live_init))
        live_mask = broadcast("live_mask", nodes, init=sum(1 << node_index(x, y, w) for x, y in live_init))

        phase = Signal(Phase)
        timer = Signal(32)
        cycle = Signal(64)
        status = Signal(16)
        drain_cycles = Signal(32)
        flush_cycles = Signal(32)
        stall = Signal(32)
        max_stall = Signal(32)

        writable = {
            Reg.RATE: rate,
            Reg.PATTERN: pattern,
            Reg.PACKET_FLITS: packet_flits,
            Reg.CLASSES: classes,
            Reg.HOTSPOT: hotspot,
            Reg.SEED: seed,
            Reg.WARMUP: warmup,
            Reg.MEASURE: measure,
            Reg.DRAIN_LIMIT: drain_limit,
            Reg.WATCHDOG: watchdog,
            Reg.LIVE_COUNT: live_count,
        }
        # The bus write, decoded: a hit per writable address, and the data. With write_stage both
        # are registers, so a write lands a cycle later and the address decode is not in front of
        # the write enables of copies all over the die (a 75 MHz build's critical path).
        write_addrs = [*writable, Reg.CTRL, Reg.TABLE_WRITE, Reg.FAULT, Reg.LIVE_ENTRY, Reg.NODE_ALIVE]
        hit = {reg: Signal(name=f"wr_{reg.name.lower()}") for reg in write_addrs}
        wdata = self.wdata
        if self.write_stage:
            wdata = Signal(32, name="wr_data")
            m.d.sync += wdata.eq(self.wdata)
        decode = m.d.sync if self.write_stage else m.d.comb
        decode += [hit[reg].eq(self.we & (self.addr == reg)) for reg in write_addrs]
        for reg, sig in writable.items():
            with m.If(hit[reg]):
                m.d.sync += each(sig, lambda s: [s.eq(wdata)])
        with m.If(hit[Reg.CTRL]):
            m.d.comb += [start.eq(wdata[0]), stop.eq(wdata[1])]
            m.d.sync += use_table.eq(wdata[2])
        m.d.comb += [table_we.eq(hit[Reg.TABLE_WRITE]), fault_arm.eq(hit[Reg.FAULT])]
        for i in range(nodes):
            with m.If(hit[Reg.LIVE_ENTRY] & (wdata[:12] == i)):
                m.d.sync += each(live_list, lambda s, i=i: [s[i].x.eq(wdata[12:18]), s[i].y.eq(wdata[18:24])])
            with m.If(hit[Reg.NODE_ALIVE] & (wdata[:12] == i)):
                m.d.sync += each(live_mask, lambda s, i=i: [s[i].eq(wdata[12])])
        if table_mode:
            m.d.comb += [
                mesh.use_table.eq(use_table),
                mesh.table_we.eq(table_we),
                mesh.table_router.eq(wdata[:12]),
                mesh.table_addr.eq(wdata[12:24]),
                mesh.table_data.eq(wdata[24:27]),
            ]

        # ----- generators and checkers -------------------------------------------------------------
        # The phase decoded into registers, set together with the phase (``goto``): what every
        # generator and checker follows comes straight from a flip-flop.
        clearing = broadcast("clearing", 1)  # phase == CLEAR
        stats_clear = Signal(name="stats_clear")  # phase == CLEAR, for the run's figures
        creating = broadcast("creating", 1)  # phase in (WARMUP, MEASURE, DRAIN)
        marking = broadcast("marking", 1)  # phase == MEASURE

        followed = {}

        def follow(flag, k, unit):
            """The phase flag node ``k``'s ``unit`` (generator or checker) follows: the node's copy,
            after ``phase_stages - 1`` more registers of the unit's own (one register shared by
            both was placed between them, far from each, in 75 MHz builds). (Also the run's
            ``start``, the generators' ``load``: it keeps its cycle relative to the phase the
            nodes see.)"""
            key = (flag.name, k, unit)
            if key not in followed:
                value = at(flag, k)
                for i in range(self.phase_stages - 1):
                    reg = Signal(name=f"{flag.name}_s{i + 2}_{unit}{NODE_COPY}{k}")
                    m.d.sync += reg.eq(value)
                    value = reg
                followed[key] = value
            return followed[key]

        def goto(p):
            creates = p in (Phase.WARMUP, Phase.MEASURE, Phase.DRAIN)
            m.d.sync += [phase.eq(p), stats_clear.eq(p == Phase.CLEAR)]
            m.d.sync += each(clearing, lambda s: [s.eq(p == Phase.CLEAR)])
            m.d.sync += each(creating, lambda s: [s.eq(creates)])
            m.d.sync += each(marking, lambda s: [s.eq(p == Phase.MEASURE)])

        # The checkers' clock runs gen_out_stages cycles behind the generators': a generator's
        # flit goes on the link from its output registers that many cycles after its decision
        # (hw/noc/traffic.py), so latencies (now - stamp at the tail's ejection) count creation
        # to ejection without those registers.
        # With node_copies each node counts its own ``now`` (the low half of ``cycle``, restarted
        # with it: see the phases) and delays it for its checker.
        def delayed(value, cycles, name):
            for i in range(cycles):
                reg = Signal.like(value, name=f"{name}_d{i + 1}")
                m.d.sync += reg.eq(value)
                value = reg
            return value

        # (and a cycle more for a generator without bypass, and for each register in front of a
        # checker)
        chk_delay = self.gen_out_stages + (not self.gen_bypass) + self.chk_in_stages
        if self.node_copies:
            now = {k: Signal(32, name=f"now{NODE_COPY}{k}") for k in live_nodes}
            for k in live_nodes:
                m.d.sync += now[k].eq(now[k] + 1)
            chk_now = {k: delayed(now[k], chk_delay, f"cycle_chk{NODE_COPY}{k}") for k in live_nodes}
        else:
            cycle_chk = delayed(cycle[:32], chk_delay, "cycle_chk")
            now = dict.fromkeys(live_nodes, cycle[:32])
            chk_now = dict.fromkeys(live_nodes, cycle_chk)
        # (the checkers' window, MEASURE, follows the flits: a cycle later without bypass)
        chk_window = {
            k: delayed(follow(marking, k, "chk"), int(not self.gen_bypass), f"window{NODE_COPY}{k}")
            for k in live_nodes
        }
        gens, chks = {}, {}
        # The read address each node's multiplexer decodes (and its checker's distance-table
        # index): ``addr``, or with read_latency 3 a register of it (one per node with node_copies).
        stride_bits = NODE_STRIDE.bit_length() - 1
        rd_addr = self.addr
        if self.read_latency >= 3:
            # (with read_latency 4 and node copies: named as a copy, so that synthesis keeps it
            # apart from the nodes' copies, which have the same input)
            copy_name = (
                f"rd_addr{NODE_COPY}glob" if self.read_latency == 4 and self.node_copies else "rd_addr"
            )
            rd_addr = Signal(ADDR_BITS, name=copy_name)
            m.d.sync += rd_addr.eq(self.addr)
        node_addr = dict.fromkeys(range(nodes), rd_addr)
        if self.read_latency >= 3 and self.node_copies:
            node_addr = {k: Signal(ADDR_BITS, name=f"rd_addr{NODE_COPY}{k}") for k in range(nodes)}
            m.d.sync += [a.eq(self.addr) for a in node_addr.values()]
        # With read_latency 4 each node's checker reads its distance table at the address of its
        # copy, into a register, and the node's multiplexer decodes a second register of the copy.
        node_sel_addr = node_addr
        if self.read_latency == 4:
            node_sel_addr = {k: delayed(a, 1, f"rd_addr2_{k}") for k, a in node_addr.items()}
        node_offset, dist_index = {}, {}
        for k in range(nodes):
            node_offset[k] = Signal(stride_bits, name=f"rd_offset_{k}")
            dist_index[k] = Signal(range(w + h - 1), name=f"dist_index_{k}")
            m.d.comb += [
                node_offset[k].eq(node_sel_addr[k][:stride_bits]),
                dist_index[k].eq((node_addr[k][:stride_bits] - DIST_BASE) >> 1),
            ]
        for x, y in mesh_cfg.live_nodes():
            k = node_index(x, y, w)
            g = hier.shared(
                TrafficGenerator,
                cfg,
                queue_depth=self.queue_depth,
                out_stages=self.gen_out_stages,
                bypass=self.gen_bypass,
                class_queues=self.gen_class_queues,
                send_clear=self.phase_stages == 2,
            )
            c = hier.shared(TrafficChecker, cfg, in_stages=self.chk_in_stages)
            m.submodules[f"gen_{x}_{y}"] = g
            m.submodules[f"chk_{x}_{y}"] = c
            gens[k], chks[k] = g, c
            wiring.connect(m, g.link, mesh.inject[k])
            wiring.connect(m, mesh.eject[k], c.link)
            m.d.comb += [
                g.x.eq(x),
                g.y.eq(y),
                g.now.eq(now[k]),
                g.seed.eq(Cat(at(seed, k), at(seed, k)) ^ (node_seed(0, k))),
                g.load.eq(follow(start, k, "gen")),
                g.clear.eq(follow(clearing, k, "gen")),
                *([g.send_clear.eq(follow(clearing, k, "gensend"))] if self.phase_stages == 2 else []),
                g.create.eq(follow(creating, k, "gen")),
                g.mark.eq(follow(marking, k, "gen")),
                g.threshold.eq(at(rate, k)),
                g.pattern.eq(at(pattern, k)),
                g.packet_flits.eq(at(packet_flits, k)),
                g.classes.eq(at(classes, k)),
                g.hotspot_x.eq(at(hotspot, k) % w),
                g.hotspot_y.eq(at(hotspot, k) // w),
                g.fault.eq(wdata[12:15]),
                g.fault_arm.eq(fault_arm & (wdata[:12] == k)),
                g.enable.eq(at(live_mask, k)[k]),
                g.live_count.eq(at(live_count, k)),
                g.live_list.eq(at(live_list, k)),
                g.live_mask.eq(at(live_mask, k)),
                c.x.eq(x),
                c.y.eq(y),
                c.now.eq(chk_now[k]),
                c.clear.eq(follow(clearing, k, "chk")),
                c.window.eq(chk_window[k]),
                c.packet_flits.eq(at(packet_flits, k)),
                c.dist_addr.eq(dist_index[k]),
            ]

        # Per-node counter values (dead nodes read 0), and their totals. The totals are registers
        # (adder trees over every node's counters, one cycle behind the counters; the drops, summed
        # per node first, two), and so is every figure the phases decide on: see "run control" below.
        drops_node = {}
        for k in range(nodes):
            reg = Signal(32, name=f"drops_{k}")
            m.d.sync += reg.eq(
                _tree([mesh.drops[k][r] for r in range(len(mesh.drops[k]))], lambda a, b: a + b)
            )
            drops_node[k] = reg

        per_node = {}
        for k in range(nodes):
            vals = {}
            if k in gens:
                for cnt, name in _GEN_COUNTERS.items():
                    vals[cnt] = getattr(gens[k], name)
                for cnt, name in _CHK_COUNTERS.items():
                    vals[cnt] = getattr(chks[k], name)
                vals[Counter.LAT_SUM_LO] = chks[k].lat_sum[:32]
                vals[Counter.LAT_SUM_HI] = chks[k].lat_sum[32:]
            vals[Counter.DROPS] = drops_node[k]
            per_node[k] = vals
        totals = {}
        for cnt in Counter:
            if cnt in (Counter.LAT_SUM_LO, Counter.LAT_SUM_HI):
                continue
            items = [per_node[k][cnt] for k in range(nodes) if cnt in per_node[k]]
            if cnt == Counter.LAT_MAX and self.node_copies:
                # (FPGA top) a register after each level of comparators: the total of the
                # largest latencies trails the nodes' by one cycle per level. Nothing reads it
                # during a run (the phases do not use it).
                t = _tree(items, lambda a, b: _registered(m, Mux(a > b, a, b), "lat_max_level"))
            elif cnt == Counter.LAT_MAX:
                t = _tree(items, lambda a, b: Mux(a > b, a, b))
            else:
                t = _tree(items, lambda a, b: (a + b)[:32])
            sig = Signal(32, name=f"total_{cnt.name.lower()}")
            m.d.sync += sig.eq(t)
            totals[cnt] = sig
        lat_sum_total = Signal(64)
        m.d.sync += lat_sum_total.eq(_tree([c.lat_sum for c in chks.values()], lambda a, b: (a + b)[:64]))
        totals[Counter.LAT_SUM_LO] = lat_sum_total[:32]
        totals[Counter.LAT_SUM_HI] = lat_sum_total[32:]

        # ----- run control: a consistent snapshot, ``lag`` cycles old ------------------------------
        # The phases end on sums over every node (every measured packet received; every packet
        # received or dropped, every source queue empty), and the watchdog counts cycles with packets
        # outstanding and no flit ejected. These decisions are taken on a snapshot of cycle t - lag,
        # in registers: the checkers count a packet PIPELINE cycles after the counters of the
        # generators would, so the generators' totals and the drops are delayed to line up with
        # the checkers' (a packet counted as received in the snapshot was counted as sent in it),
        # and the phase, the idle flags and the ejections of cycle t - lag come along. The
        # decisions are then exactly those of cycle t - lag without the pipelines, taken lag
        # cycles later: a phase ends lag cycles later (DRAIN_CYCLES and FLUSH_CYCLES count them);
        # the watchdog's stall lengths are the same.
        # A register in front of each checker (chk_in_stages) delays its counters and ``ejected``
        # by as much.
        pipeline = PIPELINE + self.chk_in_stages
        lag = pipeline + 2

        snap_sent = delayed(totals[Counter.SENT], pipeline, "snap_sent")
        snap_mcreated = delayed(totals[Counter.MEASURED_CREATED], pipeline, "snap_mcreated")
        snap_drops = delayed(totals[Counter.DROPS], pipeline - 1, "snap_drops")
        snap_received, snap_duplicated = totals[Counter.RECEIVED], totals[Counter.DUPLICATED]
        snap_mreceived = totals[Counter.MEASURED_RECEIVED]
        outstanding = Signal(32)  # at cycle t - lag
        measured_out = Signal()  # at cycle t - lag: measured packets created and not yet received
        m.d.sync += [
            outstanding.eq(snap_sent - snap_received + snap_duplicated - snap_drops),
            measured_out.eq(snap_mreceived != snap_mcreated),
        ]
        all_idle = Signal()
        m.d.comb += all_idle.eq(Cat(*[g.idle for g in gens.values()]).all())
        any_eject = Signal()
        m.d.comb += any_eject.eq(Cat(*[c.ejected for c in chks.values()]).any())
        snap_idle = delayed(all_idle, lag, "snap_idle")
        snap_eject = delayed(any_eject, lag - self.chk_in_stages, "snap_eject")
        # (the nodes follow the phase phase_stages - 1 cycles late: the snapshot's phase is older by
        # as much, so a phase the snapshot shows is one every node was in at cycle t - lag)
        snap_phase = delayed(phase.as_value(), lag + self.phase_stages - 1, "snap_phase")
        overflow_any = Signal()
        m.d.comb += overflow_any.eq(totals[Counter.OVERFLOW] != 0)
        dropped_any = Signal()
        m.d.comb += dropped_any.eq(Cat(*[mesh.drop_flags[k] for k in range(nodes)]).any())

        # ----- phases --------------------------------------------------------------------------------
        # ``timer + 1 >= limit`` for the three limits, kept in registers a cycle ahead: outside
        # IDLE the timer either counts up or restarts at 0 (``restart``), so next cycle's value
        # is known now; the phase decision then starts at flip-flops instead of 32-bit compares.
        # (A limit written by the host mid-phase takes effect a cycle late.)
        restart = Signal()
        reached = {}
        for name, limit in (("warmup", warmup), ("measure", measure), ("drain", drain_limit)):
            reached[name] = flag = Signal(name=f"reached_{name}")
            m.d.sync += flag.eq(Mux(restart, limit <= 1, timer + 2 >= limit))
        m.d.sync += cycle.eq(cycle + 1)
        with m.Switch(phase):
            with m.Case(Phase.IDLE), m.If(start):
                goto(Phase.CLEAR)
                m.d.comb += restart.eq(1)
                m.d.sync += [timer.eq(0), cycle.eq(0), status.eq(0)]
                if self.node_copies:
                    m.d.sync += [now[k].eq(0) for k in live_nodes]
            with m.Case(Phase.CLEAR):
                m.d.sync += timer.eq(timer + 1)
                with m.If(timer == clear_cycles(cfg) - 1):
                    goto(Phase.WARMUP)
                    m.d.comb += restart.eq(1)
                    m.d.sync += timer.eq(0)
            with m.Case(Phase.WARMUP):
                m.d.sync += timer.eq(timer + 1)
                with m.If(reached["warmup"]):
                    goto(Phase.MEASURE)
                    m.d.comb += restart.eq(1)
                    m.d.sync += timer.eq(0)
            with m.Case(Phase.MEASURE):
                m.d.sync += timer.eq(timer + 1)
                with m.If(reached["measure"]):
                    goto(Phase.DRAIN)
                    m.d.comb += restart.eq(1)
                    m.d.sync += timer.eq(0)
            with m.Case(Phase.DRAIN):
                m.d.sync += [timer.eq(timer + 1), drain_cycles.eq(timer + 1)]
                with m.If((snap_phase == Phase.DRAIN.value) & ~measured_out):
                    goto(Phase.FLUSH)
                    m.d.comb += restart.eq(1)
                    m.d.sync += timer.eq(0)
                with m.Elif(reached["drain"]):
                    goto(Phase.FLUSH)
                    m.d.comb += restart.eq(1)
                    m.d.sync += [timer.eq(0), status[5].eq(1)]
            with m.Case(Phase.FLUSH):
                m.d.sync += [timer.eq(timer + 1), flush_cycles.eq(timer + 1)]
                with m.If((snap_phase == Phase.FLUSH.value) & snap_idle & (outstanding == 0)):
                    goto(Phase.IDLE)
                    m.d.sync += status[4].eq(1)
                with m.Elif(reached["drain"]):
                    goto(Phase.IDLE)
                    m.d.sync += [status[4].eq(1), status[6].eq(1)]
        with m.If(stop & (phase != Phase.IDLE) & (phase != Phase.CLEAR) & (phase != Phase.FLUSH)):
            goto(Phase.FLUSH)
            m.d.comb += restart.eq(1)
            m.d.sync += timer.eq(0)

        with m.If((snap_phase != Phase.IDLE.value) & (outstanding != 0) & ~snap_eject):
            m.d.sync += stall.eq(stall + 1)
            with m.If(stall + 1 > max_stall):
                m.d.sync += max_stall.eq(stall + 1)
            with m.If(stall + 1 >= watchdog):
                m.d.sync += status[9].eq(1)
        with m.Else():
            m.d.sync += stall.eq(0)
        # The run's figures start at zero: cleared through the CLEAR phase (nothing is sent then),
        # from a register of their own (set with the phase), not by the start decision's decode
        # (in a 75 MHz build its wire to these 96 register inputs was the critical path).
        with m.If(stats_clear):
            m.d.sync += [drain_cycles.eq(0), flush_cycles.eq(0), max_stall.eq(0)]
        with m.If((phase != Phase.IDLE) & overflow_any):
            m.d.sync += status[7].eq(1)
        with m.If(dropped_any):
            m.d.sync += status[8].eq(1)
        m.d.comb += self.done.eq(status[4])
        assert Status.DONE == 1 << 4 and Status.STALLED == 1 << 9 and Status.DRAIN_TIMEOUT == 1 << 5
        assert Status.FLUSH_TIMEOUT == 1 << 6 and Status.OVERFLOW == 1 << 7 and Status.DROPPED == 1 << 8
        assert Ctrl.START == 1 and Ctrl.STOP == 2 and Ctrl.USE_TABLE == 4
        assert FaultKind.REORDER.value < 8

        # ----- read mux --------------------------------------------------------------------------------
        readable = {
            Reg.ID: Const(TESTER_ID, 32),
            Reg.GEOMETRY: Const(w | h << 8 | noc.vcs << 16 | noc.vc_depth << 24, 32),
            Reg.CTRL: use_table << 2,
            Reg.STATUS: status | phase.as_value(),
            Reg.CYCLE_LO: cycle[:32],
            Reg.CYCLE_HI: cycle[32:],
            Reg.DRAIN_CYCLES: drain_cycles,
            Reg.FLUSH_CYCLES: flush_cycles,
            Reg.MAX_STALL: max_stall,
            **{reg: Value.cast(at(sig, "rd")) for reg, sig in writable.items()},
        }
        assert NODE_BASE % NODE_STRIDE == 0 and NODE_BASE >= 0x100
        addr = rd_addr if self.read_latency < 4 else delayed(rd_addr, 1, "rd_addr2")
        # Decoded by comparing address bits with constants (no subtraction in front of the
        # multiplexer); an address outside every block reads 0. One multiplexer per block (the
        # global registers, each node's counters next to them), then the choice of block; with
        # read_latency >= 2 each block's value is a register and the choice uses the address of
        # the cycle before.
        glob_val = Signal(32)
        with m.Switch(addr[:8]):
            for reg, value in readable.items():
                with m.Case(reg):
                    m.d.comb += glob_val.eq(value)
            for cnt, value in totals.items():
                with m.Case(TOTAL_BASE + cnt):
                    m.d.comb += glob_val.eq(value)
        node_val = {}
        for k in range(nodes):
            node_val[k] = val = Signal(32, name=f"rd_node_{k}")
            values = dict(per_node[k])
            dist_val = None
            if k in chks:
                dist_val = Mux(node_addr[k][0], chks[k].dist_count, chks[k].dist_sum)
            if self.read_latency == 4 and k in chks:
                # Each unit's counters (the generator's; the checker's and its distance table)
                # go through a multiplexer and a register of their own, next to the unit,
                # addressed by the node's first copy; the node's multiplexer then chooses
                # among those registers and the drops (the generator's and the checker's
                # counters sit apart: one multiplexer over both was a long path).
                offset = node_addr[k][:stride_bits]
                units = {
                    "gen": sorted(_GEN_COUNTERS),
                    "chk": sorted(set(values) - set(_GEN_COUNTERS) - {Counter.DROPS}),
                }
                regs = {}
                for unit, cnts in units.items():
                    regs[unit] = reg = Signal(32, name=f"rd_{unit}_{k}")
                    m.d.sync += reg.eq(0)
                    with m.Switch(offset):
                        for cnt in cnts:
                            with m.Case(cnt):
                                m.d.sync += reg.eq(values[cnt])
                # The distance table's read (LUT RAM, 64 bits wide) into a register of its own,
                # not through the checker counters' multiplexer (a 75 MHz build's critical path).
                regs["dist"] = reg = Signal(32, name=f"rd_dist_{k}")
                m.d.sync += reg.eq(dist_val)
                groups = [(tuple(units["gen"]), regs["gen"]), (tuple(units["chk"]), regs["chk"])]
                groups.append(((Counter.DROPS,), values[Counter.DROPS]))
                dist_val = regs["dist"]
            else:
                groups = [((cnt,), value) for cnt, value in values.items()]
            with m.Switch(node_offset[k]):
                for cnts, value in groups:
                    with m.Case(*cnts):
                        m.d.comb += val.eq(value)
                if dist_val is not None:
                    with m.Default(), m.If(node_offset[k] >= DIST_BASE):
                        m.d.comb += val.eq(dist_val)
        sel_addr = addr
        if self.read_latency >= 2:
            sel_addr = Signal(ADDR_BITS, name="rd_sel_addr")
            m.d.sync += sel_addr.eq(addr)

            def registered(value):
                reg = Signal(32, name=f"{value.name}_q")
                m.d.sync += reg.eq(value)
                return reg

            glob_val = registered(glob_val)
            node_val = {k: registered(v) for k, v in node_val.items()}
        rdata = Signal(32)
        with m.If(sel_addr[8:] == 0):
            m.d.comb += rdata.eq(glob_val)
        with m.Else(), m.Switch(sel_addr[stride_bits:]):
            for k in range(nodes):
                with m.Case(NODE_BASE // NODE_STRIDE + k):
                    m.d.comb += rdata.eq(node_val[k])
        m.d.sync += self.rdata.eq(rdata)
        return m
