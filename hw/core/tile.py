"""``CoreTile``: the scalar core on the node's banked ECC SRAM, with the example custom unit: the
test, ``tatami run`` and ``tatami bench core`` top.

The core's ``ibus`` and ``dbus`` share the SRAM's ``core`` port through a
:class:`~tatami.hw.mem.core_port.CoreMemPort` (round-robin arbitration, word and slot selection,
read-modify-write of stores, ECC errors as access faults). The SRAM is
:class:`~tatami.hw.mem.sram.Sram` for ``cfg`` (``cfg.node.sram``: banks, word width, SECDED per
64-bit lane) at ``cfg.node.core.reset_pc``. A host bus (``host``, the same 32-bit
``MemBusSignature``, through a second adapter on the SRAM's ``net_wr`` port, where the network
interface's writes will come from) loads programs and reads results, also while the core runs.
The datapath and ``net_rd`` ports are idle. ``ibus_stall`` / ``dbus_stall`` refuse the core's
requests (random back-pressure in tests); ``inject`` and the ECC counters are the SRAM's test hook
and status.

For fast co-simulation (``trace_depth > 0``) the tile also keeps a **retire log**: every retire
record is written to a ``trace_depth``-entry memory (``retire_log``, index = record number mod
depth) and ``retire_count`` counts them, so a testbench can let many cycles pass and then read
the new records instead of waking up every cycle; and a free-running xorshift generator refuses
each bus request with probability ``stall_rate / 256`` (random back-pressure without the
testbench driving the stall inputs every cycle).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.mem.core_port import CoreMemPort
from tatami.hw.mem.ports import inject_layout
from tatami.hw.mem.sram import Sram

from .accumulator import Accumulator
from .bus import MemBusSignature, RetireRecord, ValidSignature
from .core import Core

__all__ = ["CoreTile"]


class CoreTile(wiring.Component):
    """Core + node SRAM + example accumulator unit.

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
    host : In(MemBusSignature())
        Host access to the SRAM (byte addresses as the core sees them; ``err`` outside the SRAM
        or on an uncorrectable word).
    inject : In(stream.Signature(inject_layout(cfg)))
        The SRAM's error-injection hook (tie ``valid`` low outside tests).
    ecc_corrected, ecc_detected : Out(32)
        The SRAM's counters of reads with a corrected / uncorrectable lane.
    retire_count : Out(32)
        Records written to the retire log (only with ``trace_depth``).
    stall_rate : In(8)
        Each cycle each bus is refused with probability ``stall_rate / 256`` (only with
        ``trace_depth``). While it is 0 the generator's state is ``stall_seed``.
    stall_seed : In(32)
    """

    def __init__(self, cfg: TatamiConfig, *, cx_latency: int = 2, trace_depth: int = 0):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"CoreTile takes a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        self.cx_latency = cx_latency
        self.trace_depth = trace_depth
        n = cfg.node.core.threads
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
                "host": In(MemBusSignature()),
                "inject": In(stream.Signature(inject_layout(cfg))),
                "ecc_corrected": Out(32),
                "ecc_detected": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
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

        m.submodules.sram = sram = Sram(cfg)
        m.submodules.port = port = CoreMemPort(cfg, names=("ibus", "dbus"))
        m.submodules.host_port = host_port = CoreMemPort(cfg, names=("host",))
        wiring.connect(m, port.sram, sram.core)
        wiring.connect(m, host_port.sram, sram.net_wr)
        wiring.connect(m, wiring.flipped(self.host), host_port.host)
        wiring.connect(m, wiring.flipped(self.inject), sram.inject)
        m.d.comb += [self.ecc_corrected.eq(sram.ecc_corrected), self.ecc_detected.eq(sram.ecc_detected)]

        ibus_stall, dbus_stall = self.ibus_stall, self.dbus_stall
        if self.trace_depth:
            ibus_stall, dbus_stall = self._trace(m, core)
        # the core's buses, through the stall hooks (a stalled request is not offered to the port)
        for bus, theirs, stall in ((core.ibus, port.ibus, ibus_stall), (core.dbus, port.dbus, dbus_stall)):
            m.d.comb += [
                theirs.req.valid.eq(bus.req.valid & ~stall),
                theirs.req.payload.eq(bus.req.payload),
                bus.req.ready.eq(theirs.req.ready & ~stall),
                bus.resp.valid.eq(theirs.resp.valid),
                bus.resp.payload.eq(theirs.resp.payload),
            ]
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
