"""The ``noc-tester`` design: the network tester (mesh, traffic generators and checkers at every
node, counters) run from the host through the bridge's register window."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.host.protocol import BridgeReg
from tatami.hw.bridge.bridge import HostBridge
from tatami.hw.noc.tester import NocTester

__all__ = ["NocTesterTop"]

WINDOW_BITS = 15  # the bridge's DESIGN window: 0x8000 registers
READ_LATENCY = 5  # cycles from the bridge's read strobe to valid rdata (1 here, 4 in the tester)


class NocTesterTop(wiring.Component):
    """:class:`~tatami.hw.noc.tester.NocTester` behind a :class:`HostBridge` without a mesh link.

    Bridge register ``PAGE`` and the ``DESIGN`` window (0x8000 - 0xFFFF) reach the tester's
    24-bit register space: tester address ``PAGE << 15 | (addr - 0x8000)``. The host drives it
    with :class:`tatami.host.host.DesignBus`, which the tester's own driver
    (:class:`tatami.sim.noc.sweep.TesterDriver`) accepts as its bus.

    Parameters
    ----------
    cfg : TatamiConfig
    divisor : int
        Clock cycles per UART bit.

    Attributes
    ----------
    uart_rx : In(1), uart_tx : Out(1)
    activity : Out(1)
        High while a tester run is in progress (``done`` low).
    """

    def __init__(self, cfg: TatamiConfig, divisor: int, queue_depth: int = 16):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"NocTesterTop needs a TatamiConfig, not {cfg!r}")
        self.cfg, self.divisor, self.queue_depth = cfg, divisor, queue_depth
        super().__init__({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1), "activity": Out(1)})

    def elaborate(self, platform):
        m = Module()
        # The tester's bus comes from registers of this top (address, data, write strobe: a write
        # lands a cycle after the bridge's strobe, which holds addr and wdata through it), so the
        # bridge's decoding and the tester's are not one path. The tester's read multiplexer is
        # pipelined too (each node's copy of the address, a register per node next to its
        # counters, then the final choice), so reads take READ_LATENCY cycles from the bridge's
        # strobe; the bridge waits in BUS_READ.
        m.submodules.bridge = bridge = HostBridge(
            self.cfg, self.divisor, packets=False, bus_read_latency=READ_LATENCY
        )
        # Writes are decoded into registers first (``write_stage``: the address decode was in
        # front of the copies' write enables, a 75 MHz build's critical path).
        # Every node reads the run's settings, phase flags and cycle count from copies of its own
        # (kept apart in synthesis by tatami.fpga.build.KEEP_NODE_COPIES); the phase flags through a
        # second register of its own (the 75 MHz builds' critical path after the router's per-VC
        # switch: a node's copy placed far from the generator reading it). Each generator's flit
        # crosses to its router through two registers (the 56 MHz build's critical path was the
        # generator's send decision reaching the link registers, placed by the router, and back).
        # Every packet is queued before it is sent (``gen_bypass=False``: the phase flags and
        # the draw were in front of the send decision and the credit counters),
        # each checker takes its router's flits through a register (its checks were placed far
        # from the router's output registers), and each node's counters are read through a
        # register per unit (one multiplexer over the generator's and the checker's counters,
        # and the distance table's LUT RAM, were long read paths).
        m.submodules.tester = tester = NocTester(
            self.cfg,
            queue_depth=self.queue_depth,
            read_latency=READ_LATENCY - 1,
            node_copies=True,
            gen_out_stages=2,
            gen_bypass=False,
            gen_class_queues=False,
            chk_in_stages=1,
            phase_stages=2,
            write_stage=True,
            trim_edges=True,
        )
        m.d.comb += [bridge.rx.eq(self.uart_rx), self.uart_tx.eq(bridge.tx), self.activity.eq(~tester.done)]
        bus = bridge.bus
        page = Signal(len(tester.addr) - WINDOW_BITS)
        in_window = bus.addr[WINDOW_BITS]
        assert BridgeReg.DESIGN == 1 << WINDOW_BITS
        read_page = Signal()
        m.d.sync += [
            tester.addr.eq(Cat(bus.addr[:WINDOW_BITS], page)),
            tester.wdata.eq(bus.wdata),
            tester.we.eq(bus.we & in_window),
        ]
        m.d.comb += bus.rdata.eq(Mux(read_page, page, tester.rdata))
        with m.If(bus.we & (bus.addr == BridgeReg.PAGE)):
            m.d.sync += page.eq(bus.wdata)
        m.d.sync += read_page.eq(bus.addr == BridgeReg.PAGE)
        return m
