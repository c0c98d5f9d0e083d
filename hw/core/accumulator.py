"""An example unit for the custom-instruction port: one accumulator per thread.

It takes custom instructions with ``funct7 == 0x7F`` on any custom opcode: ``funct3 = 0``
(``acc.add rd, rs1, rs2``: acc += x[rs1] + x[rs2]; rd = acc) and ``funct3 = 1``
(``acc.swap rd, rs1``: rd = acc; acc = x[rs1]); anything else answers ``err`` (an illegal
instruction trap). It handles one instruction at a time and answers ``latency`` cycles after
accepting it, holding ``ready`` low meanwhile, which exercises the port's stall path. Golden
model: :class:`tatami.sim.core.model.AccumulatorModel`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from tatami.hw.common.select import select

from .bus import CustomSignature

__all__ = ["Accumulator"]

FUNCT7 = 0x7F


class Accumulator(wiring.Component):
    """Example custom unit.

    Parameters
    ----------
    threads : int
        Accumulators (one per hardware thread), 1..4.
    latency : int
        Cycles from accepting an instruction to its response, at least 1.

    Attributes
    ----------
    cx : In(CustomSignature)
        The core's custom-instruction port (this unit is its target).
    """

    def __init__(self, threads: int, latency: int = 2):
        if not isinstance(threads, int) or not 1 <= threads <= 4:
            raise ValueError(f"threads must be 1..4, not {threads!r}")
        if not isinstance(latency, int) or latency < 1:
            raise ValueError(f"latency must be a positive number of cycles, not {latency!r}")
        self.threads, self.latency = threads, latency
        super().__init__({"cx": In(CustomSignature())})

    def elaborate(self, platform):
        m = Module()
        accs = [Signal(32, name=f"acc{i}") for i in range(self.threads)]
        req, resp = self.cx.req, self.cx.resp
        busy = Signal()
        count = Signal(range(self.latency + 1))
        m.d.comb += req.ready.eq(~busy)
        m.d.sync += resp.valid.eq(0)
        p = req.payload
        funct3, funct7 = p.insn[12:15], p.insn[25:32]
        tid = p.thread if self.threads > 1 else 0
        current = select(tid, accs)
        with m.If(req.valid & req.ready):
            m.d.sync += [busy.eq(1), count.eq(self.latency - 1), resp.payload.thread.eq(p.thread)]
            with m.If((funct7 == FUNCT7) & (funct3 == 0)):
                total = current + p.a + p.b
                m.d.sync += [resp.payload.data.eq(total), resp.payload.wb.eq(1)]
                for i, acc in enumerate(accs):
                    with m.If(tid == i):
                        m.d.sync += acc.eq(total)
                m.d.sync += resp.payload.err.eq(0)
            with m.Elif((funct7 == FUNCT7) & (funct3 == 1)):
                m.d.sync += [resp.payload.data.eq(current), resp.payload.wb.eq(1)]
                for i, acc in enumerate(accs):
                    with m.If(tid == i):
                        m.d.sync += acc.eq(p.a)
                m.d.sync += resp.payload.err.eq(0)
            with m.Else():
                m.d.sync += [resp.payload.err.eq(1), resp.payload.wb.eq(0)]
        with m.Elif(busy):
            with m.If(count == 0):
                m.d.sync += [busy.eq(0), resp.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count - 1)
        return m
