"""Packets from the mesh to RECV frames for the host."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.host.protocol import Op

from .framer import FrameByte

__all__ = ["HostFlit", "RecvFramer"]


def HostFlit(cfg: TatamiConfig) -> data.StructLayout:
    """A flit of a packet delivered to the host: its data, and ``last`` on the tail flit."""
    return data.StructLayout({"data": cfg.noc.flit_bits, "last": 1})


class RecvFramer(wiring.Component):
    """Turns each packet on ``i`` into a RECV frame body: ``seq`` (packets received so far, mod
    256), ``0x85``, status 0, then every flit, ``flit_bits / 8`` bytes each, least significant
    first. Independent of the request path, so packets for the host always drain.

    Attributes
    ----------
    i : In(stream.Signature(HostFlit(cfg)))
        Packets for the host.
    o : Out(stream.Signature(FrameByte))
        Frame bodies (to the :class:`~tatami.hw.bridge.framer.Framer`).
    packets : Out(32)
        Packets received (wrapping); ``clear`` zeroes it.
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"RecvFramer needs a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        super().__init__(
            {
                "i": In(stream.Signature(HostFlit(cfg))),
                "o": Out(stream.Signature(FrameByte)),
                "packets": Out(32),
                "clear": In(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        nbytes = self.cfg.noc.flit_bytes
        flit = Signal(self.cfg.noc.flit_bits)
        last = Signal()
        k = Signal(range(max(nbytes, 3)))
        with m.FSM():
            with m.State("IDLE"), m.If(self.i.valid):
                m.d.sync += k.eq(0)
                m.next = "HEAD"
            with m.State("HEAD"):
                m.d.comb += self.o.valid.eq(1)
                with m.Switch(k):
                    with m.Case(0):
                        m.d.comb += self.o.payload.data.eq(self.packets[:8])
                    with m.Case(1):
                        m.d.comb += self.o.payload.data.eq(Op.RECV)
                    with m.Default():
                        m.d.comb += self.o.payload.data.eq(0)
                with m.If(self.o.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == 2):
                        m.next = "TAKE"
            with m.State("TAKE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [flit.eq(self.i.payload.data), last.eq(self.i.payload.last), k.eq(0)]
                    m.next = "FLIT"
            with m.State("FLIT"):
                end = (k == nbytes - 1) & last
                m.d.comb += [
                    self.o.valid.eq(1),
                    self.o.payload.data.eq(flit[:8]),
                    self.o.payload.last.eq(end),
                ]
                with m.If(self.o.ready):
                    m.d.sync += [flit.eq(flit >> 8), k.eq(k + 1)]
                    with m.If(k == nbytes - 1):
                        with m.If(last):
                            m.d.sync += self.packets.eq(self.packets + 1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "TAKE"
        with m.If(self.clear):
            m.d.sync += self.packets.eq(0)
        return m
