"""``CoreTile``: the scalar core with its own SRAM model and the example custom unit, the test and
``tatami run`` top until the node's banked SRAM exists.

The SRAM is ``cfg.node.sram.size_bytes`` of 32-bit words at ``cfg.node.core.reset_pc`` with two
ports: instruction fetch (read) and data (read/write, byte mask). Each port accepts one request
per cycle unless its ``*_stall`` input is high, and answers the next cycle. A host port writes
and reads words while the core is stopped (program loading, result read-back); it has priority
over the core's data port.

For fast co-simulation (``trace_depth > 0``) the tile also keeps a **retire log**: every retire
record is written to a ``trace_depth``-entry memory (``retire_log``, index = record number mod
depth) and ``retire_count`` counts them, so a testbench can let many cycles pass and then read
the new records instead of waking up every cycle; and a free-running xorshift generator refuses
each bus request with probability ``stall_rate / 256`` (random back-pressure without the
testbench driving the stall inputs every cycle).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from tatami.config import TatamiConfig

from .accumulator import Accumulator
from .bus import RetireRecord, ValidSignature
from .core import Core

__all__ = ["CoreTile"]


class CoreTile(wiring.Component):
    """Core + SRAM + example accumulator unit.

    Parameters
    ----------
    cfg : TatamiConfig
    cx_latency : int
        Latency of the example custom unit.
    trace_depth : int
        Entries of the retire log (0: none; else a power of two).

    Attributes
    ----------
    node : In(16)
        Node index (``mhartid`` base).
    start, stop : In(threads)
    start_pc : In(32)
    running : Out(threads)
        Thread control, as on :class:`~tatami.hw.core.core.Core`.
    irq_soft, irq_timer, irq_ext : In(threads)
        Interrupt lines.
    retire : Out(ValidSignature(RetireRecord))
        The core's retire trace.
    ibus_stall, dbus_stall : In(1)
        Refuse the core's fetch / data request this cycle (random back-pressure in tests).
    host_we : In(1)
        Write ``host_wdata`` to the SRAM word at byte offset ``host_addr``.
    host_addr : In(32)
        Byte offset into the SRAM (bits 1..0 ignored).
    host_wdata : In(32)
    host_rdata : Out(32)
        The word at ``host_addr`` of the previous cycle.
    retire_count : Out(32)
        Records written to the retire log (only with ``trace_depth``).
    stall_rate : In(8)
        Each cycle each bus is refused with probability ``stall_rate / 256`` (only with
        ``trace_depth``). While it is 0 the generator's state is ``stall_seed``.
    stall_seed : In(32)
    """

    def __init__(self, cfg: TatamiConfig, *, cx_latency: int = 2, trace_depth: int = 0):
        self.cfg = cfg
        self.cx_latency = cx_latency
        self.trace_depth = trace_depth
        n = cfg.node.core.threads
        if cfg.node.sram.size_bytes % 4:
            raise ValueError(f"SRAM size {cfg.node.sram.size_bytes} is not a whole number of words")
        if trace_depth < 0 or trace_depth & (trace_depth - 1):
            raise ValueError(f"trace_depth must be 0 or a power of two, not {trace_depth}")
        extra = {}
        if trace_depth:
            extra = {"retire_count": Out(32), "stall_rate": In(8), "stall_seed": In(32)}
        super().__init__(
            extra
            | {
                "node": In(16),
                "start": In(n),
                "stop": In(n),
                "start_pc": In(32),
                "running": Out(n),
                "irq_soft": In(n),
                "irq_timer": In(n),
                "irq_ext": In(n),
                "retire": Out(ValidSignature(RetireRecord)),
                "ibus_stall": In(1),
                "dbus_stall": In(1),
                "host_we": In(1),
                "host_addr": In(32),
                "host_wdata": In(32),
                "host_rdata": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        words = cfg.node.sram.size_bytes // 4
        abits = max(ceil_log2(words), 1)
        base = cfg.node.core.reset_pc
        m.submodules.core = core = Core(cfg)
        m.submodules.acc = acc = Accumulator(cfg.node.core.threads, self.cx_latency)
        wiring.connect(m, core.cx, acc.cx)
        for name in ("node", "start", "stop", "start_pc", "irq_soft", "irq_timer", "irq_ext"):
            m.d.comb += getattr(core, name).eq(getattr(self, name))
        m.d.comb += [
            self.running.eq(core.running),
            self.retire.valid.eq(core.retire.valid),
            self.retire.payload.eq(core.retire.payload),
        ]

        m.submodules.sram = sram = Memory(shape=32, depth=words, init=[])
        iport, dport, hport = sram.read_port(), sram.read_port(), sram.read_port()
        wport = sram.write_port(granularity=8)

        def index(addr):
            return (addr - base)[2 : 2 + abits]

        # instruction port
        ib = core.ibus
        m.d.comb += [ib.req.ready.eq(~self.ibus_stall), iport.addr.eq(index(ib.req.payload.addr))]
        m.d.sync += ib.resp.valid.eq(ib.req.valid & ib.req.ready)
        m.d.comb += [ib.resp.payload.rdata.eq(iport.data), ib.resp.payload.err.eq(0)]

        # data port (the host port wins)
        db = core.dbus
        accept = db.req.valid & db.req.ready
        m.d.comb += [
            db.req.ready.eq(~self.dbus_stall & ~self.host_we),
            dport.addr.eq(index(db.req.payload.addr)),
        ]
        m.d.sync += db.resp.valid.eq(accept)
        m.d.comb += [db.resp.payload.rdata.eq(dport.data), db.resp.payload.err.eq(0)]
        with m.If(self.host_we):
            m.d.comb += [
                wport.addr.eq(self.host_addr[2 : 2 + abits]),
                wport.data.eq(self.host_wdata),
                wport.en.eq(0xF),
            ]
        with m.Else():
            m.d.comb += [
                wport.addr.eq(index(db.req.payload.addr)),
                wport.data.eq(db.req.payload.wdata),
                wport.en.eq(db.req.payload.mask & (accept & db.req.payload.we).replicate(4)),
            ]
        m.d.comb += [hport.addr.eq(self.host_addr[2 : 2 + abits]), self.host_rdata.eq(hport.data)]

        if self.trace_depth:  # (replaces the ready assignments above)
            ibus_stall, dbus_stall = self._trace(m, core)
            m.d.comb += [ib.req.ready.eq(~ibus_stall), db.req.ready.eq(~dbus_stall & ~self.host_we)]
        return m

    def _trace(self, m, core):
        """Retire log and random back-pressure (see the module docs); returns the stall bits."""
        width = Shape.cast(RetireRecord).width
        m.submodules.retire_log = log = Memory(shape=width, depth=self.trace_depth, init=[])
        wp = log.write_port()
        count = Signal(32)
        m.d.comb += [
            wp.addr.eq(count),
            wp.data.eq(core.retire.payload.as_value()),
            wp.en.eq(core.retire.valid),
            self.retire_count.eq(count),
        ]
        m.d.sync += count.eq(count + core.retire.valid)
        # xorshift32: state <<13 >>17 <<5
        state = Signal(32, reset_less=True)
        a = state ^ (state << 13)[:32]
        b = a ^ (a >> 17)
        c = b ^ (b << 5)[:32]
        m.d.sync += state.eq(Mux(self.stall_rate == 0, self.stall_seed | 1, c))
        rate = self.stall_rate
        return self.ibus_stall | (state[0:8] < rate), self.dbus_stall | (state[8:16] < rate)
