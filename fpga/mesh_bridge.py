"""The ``mesh-bridge`` design: the mesh, a loopback endpoint at every node, the host bridge."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.host.protocol import BridgeReg
from tatami.hw.bridge.bridge import HostBridge
from tatami.hw.bridge.endpoint import LoopbackEndpoint
from tatami.hw.common import hier
from tatami.hw.common.select import select
from tatami.hw.noc.mesh import Mesh
from tatami.hw.noc.ports import DropReason, node_index

__all__ = ["MeshBridgeTop"]


class MeshBridgeTop(wiring.Component):
    """Everything inside the FPGA except clocking and pins.

    The bridge injects at the west edge of the host node (``mesh.host_x`` must be 0) and gets the
    host's responses from the host node's endpoint. Its register bus reaches the routing-table
    load port (``TABLE``, ``USE_TABLE``) and every router's drop counters (``DROPS``).

    Parameters
    ----------
    cfg : TatamiConfig
    divisor : int
        Clock cycles per UART bit.
    words : int
        Memory words (flits) per endpoint.

    Attributes
    ----------
    uart_rx : In(1), uart_tx : Out(1)
        The UART pins (idle high).
    activity : Out(1)
        High for a cycle when a flit enters or leaves the bridge (for an LED).
    """

    def __init__(self, cfg: TatamiConfig, divisor: int, words: int = 16):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"MeshBridgeTop needs a TatamiConfig, not {cfg!r}")
        if cfg.mesh.host_x != 0:
            raise ValueError(
                f"mesh.host_x = {cfg.mesh.host_x}: the host bridge attaches at the west edge (x = 0)"
            )
        self.cfg, self.divisor, self.words = cfg, divisor, words
        super().__init__({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1), "activity": Out(1)})

    def elaborate(self, platform):
        m = Module()
        cfg, mesh = self.cfg, self.cfg.mesh
        w = mesh.width
        host = node_index(mesh.host_x, mesh.host_y, w)
        m.submodules.mesh = net = Mesh(cfg, expose_edges=True, trim_edges=True)
        m.submodules.bridge = bridge = HostBridge(cfg, self.divisor)
        m.d.comb += [bridge.rx.eq(self.uart_rx), self.uart_tx.eq(bridge.tx)]
        wiring.connect(m, bridge.o, net.i_edge_w[mesh.host_y])
        m.d.comb += self.activity.eq(bridge.o.valid | bridge.host.valid)

        for y in range(mesh.height):
            for x in range(w):
                k = node_index(x, y, w)
                if k == host:
                    ep = LoopbackEndpoint(cfg, self.words, host_port=True)
                    wiring.connect(m, ep.host, bridge.host)
                else:
                    ep = hier.shared(LoopbackEndpoint, cfg, self.words, False)
                m.submodules[f"node_{x}_{y}"] = ep
                m.d.comb += [ep.x.eq(x), ep.y.eq(y)]
                wiring.connect(m, net.eject[k], ep.i)
                wiring.connect(m, ep.o, net.inject[k])

        # ----- the bridge's register bus ----------------------------------------------------------
        bus = bridge.bus
        rdata = Signal(32)
        m.d.sync += bridge.bus.rdata.eq(rdata)
        table = cfg.noc.routing == "table"
        use_table = Signal()
        if table:
            m.d.comb += net.use_table.eq(use_table)
        with m.If(bus.we):
            with m.If(bus.addr == BridgeReg.USE_TABLE):
                m.d.sync += use_table.eq(bus.wdata[0])
            if table:
                with m.If(bus.addr == BridgeReg.TABLE):
                    m.d.sync += [
                        net.table_we.eq(1),
                        net.table_data.eq(bus.wdata[0:3]),
                        net.table_addr.eq(bus.wdata[8:16]),
                        net.table_router.eq(bus.wdata[16:24]),
                    ]
        if table:
            with m.If(~(bus.we & (bus.addr == BridgeReg.TABLE))):
                m.d.sync += net.table_we.eq(0)
        reasons = len(DropReason)
        node = (bus.addr - BridgeReg.DROPS) >> 3
        reason = (bus.addr - BridgeReg.DROPS)[:3]
        with m.If(bus.addr == BridgeReg.USE_TABLE):
            m.d.comb += rdata.eq(use_table)
        with m.Elif(
            (bus.addr >= BridgeReg.DROPS) & (bus.addr < BridgeReg.DROPS + 8 * mesh.nodes) & (reason < reasons)
        ):
            m.d.comb += rdata.eq(select(node, (select(reason, net.drops[k]) for k in range(mesh.nodes))))
        return m
