"""The host bridge: UART pins on one side, the mesh's west edge link on the other."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.host.protocol import Limits
from tatami.hw.common.fifo import StreamFIFO
from tatami.hw.common.stream import SkidBuffer
from tatami.hw.noc.router import LinkSignature

from .core import BridgeCore, RegBusSignature
from .deframer import Deframer
from .framer import FrameByte, Framer
from .recv import HostFlit, RecvFramer
from .uart_rx import UartRx
from .uart_tx import UartTx

__all__ = ["HostBridge"]


class HostBridge(wiring.Component):
    """UART receiver -> byte FIFO -> register slice -> :class:`Deframer` -> :class:`BridgeCore` ->
    mesh; packets for the host -> :class:`RecvFramer`; responses and RECV frames share the
    :class:`Framer` (a whole frame at a time, responses first) -> :class:`UartTx`.

    Parameters
    ----------
    cfg : TatamiConfig
    divisor : int
        Clock cycles per UART bit (``clock_hz / baud``).
    rx_fifo_depth : int
        Bytes buffered between the UART and the deframer while a request executes.
    packets : bool
        ``False``: no mesh link (``o`` and ``host`` unused; SEND answered BAD_OP).
    bus_read_latency : int
        Cycles from ``bus.re`` to valid ``bus.rdata`` (:class:`BridgeCore`).

    Attributes
    ----------
    rx : In(1), tx : Out(1)
        The UART pins (idle high).
    o : Out(LinkSignature(cfg))
        To the host node's west edge input (``Mesh.i_edge_w[host_y]``).
    host : In(stream.Signature(HostFlit(cfg)))
        Packets the mesh delivered for the host.
    bus : Out(RegBusSignature())
        Register addresses outside the bridge.
    """

    def __init__(
        self,
        cfg: TatamiConfig,
        divisor: int,
        rx_fifo_depth: int = 256,
        packets: bool = True,
        bus_read_latency: int = 1,
    ):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"HostBridge needs a TatamiConfig, not {cfg!r}")
        if not isinstance(rx_fifo_depth, int) or rx_fifo_depth < 2:
            raise ValueError(f"rx_fifo_depth must be an integer >= 2, not {rx_fifo_depth!r}")
        self.cfg, self.divisor, self.rx_fifo_depth, self.packets = cfg, divisor, rx_fifo_depth, packets
        self.bus_read_latency = bus_read_latency
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"UART divisor (clock cycles per bit) must be an integer >= 4, not {divisor!r}")
        super().__init__(
            {
                "rx": In(1, init=1),
                "tx": Out(1, init=1),
                "o": Out(LinkSignature(cfg)),
                "host": In(stream.Signature(HostFlit(cfg))),
                "bus": Out(RegBusSignature()),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        m.submodules.uart_rx = urx = UartRx(self.divisor)
        m.submodules.uart_tx = utx = UartTx(self.divisor)
        m.submodules.rx_fifo = fifo = StreamFIFO(8, self.rx_fifo_depth)
        m.submodules.deframer = dfr = Deframer(Limits.of(cfg).max_frame)
        m.submodules.core = core = BridgeCore(cfg, self.packets, self.bus_read_latency)
        m.submodules.recv = recv = RecvFramer(cfg)
        m.submodules.framer = framer = Framer()

        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        # The skid buffer registers the FIFO's block-RAM output (slow clock-to-out) before the
        # deframer's byte decoding.
        m.submodules.rx_slice = rx_slice = SkidBuffer(8)
        wiring.connect(m, urx.o, fifo.i)
        wiring.connect(m, fifo.o, rx_slice.i)
        wiring.connect(m, rx_slice.o, dfr.i)
        m.d.comb += [
            core.frame_valid.eq(dfr.frame_valid),
            core.frame_len.eq(dfr.frame_len),
            dfr.frame_done.eq(core.frame_done),
            dfr.rd_addr.eq(core.rd_addr),
            core.rd_data.eq(dfr.rd_data),
            core.frames_ok.eq(dfr.frames_ok),
            core.crc_errors.eq(dfr.crc_errors),
            core.framing_errors.eq(dfr.framing_errors),
            core.overlong.eq(dfr.overlong),
            core.short.eq(dfr.short),
            core.packets_received.eq(recv.packets),
            core.rx_overrun.eq(urx.overruns),
            dfr.clear.eq(core.clear),
            recv.clear.eq(core.clear),
        ]
        wiring.connect(m, core.o, wiring.flipped(self.o))
        wiring.connect(m, core.bus, wiring.flipped(self.bus))
        wiring.connect(m, wiring.flipped(self.host), recv.i)

        # Frame-level arbiter: a source keeps the framer from its first byte to its last. A register
        # slice sits between it and the framer, so the framer's escape and CRC decisions do not
        # share a cycle with the response path's multiplexers (a 75 MHz build's critical path ran
        # from the core's state through both into the owner register); one cycle more per byte
        # of latency, none of throughput.
        m.submodules.tx_slice = tx_slice = SkidBuffer(FrameByte)
        owner = Signal(2)  # 0: none, 1: responses, 2: RECV frames
        pick = Signal(2)
        with m.If(owner != 0):
            m.d.comb += pick.eq(owner)
        with m.Elif(core.resp.valid):
            m.d.comb += pick.eq(1)
        with m.Elif(recv.o.valid):
            m.d.comb += pick.eq(2)
        with m.If(pick == 1):
            m.d.comb += [
                tx_slice.i.valid.eq(core.resp.valid),
                tx_slice.i.payload.eq(core.resp.payload),
                core.resp.ready.eq(tx_slice.i.ready),
            ]
        with m.Elif(pick == 2):
            m.d.comb += [
                tx_slice.i.valid.eq(recv.o.valid),
                tx_slice.i.payload.eq(recv.o.payload),
                recv.o.ready.eq(tx_slice.i.ready),
            ]
        with m.If(tx_slice.i.valid & tx_slice.i.ready):
            m.d.sync += owner.eq(pick)
            with m.If(tx_slice.i.payload.last):
                m.d.sync += owner.eq(0)
        wiring.connect(m, tx_slice.o, framer.i)
        wiring.connect(m, framer.o, utx.i)
        return m
