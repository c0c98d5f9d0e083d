"""Frame sender: appends the CRC-32 and SLIP-encodes a frame."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.host.protocol import END, ESC, ESC_END, ESC_ESC

from .crc import CRC32_INIT, crc32_byte

__all__ = ["FrameByte", "Framer"]

#: A byte of a frame body; ``last`` marks the frame's final byte.
FrameByte = data.StructLayout({"data": 8, "last": 1})


class Framer(wiring.Component):
    """Sends each frame body from ``i`` as ``END``, the escaped body and its CRC-32, ``END``
    (:func:`tatami.host.protocol.encode_frame`).

    Attributes
    ----------
    i : In(stream.Signature(FrameByte))
        Frame bodies, one byte per transfer, ``last`` on the final byte.
    o : Out(stream.Signature(8))
        Bytes for the UART.
    """

    def __init__(self):
        super().__init__({"i": In(stream.Signature(FrameByte)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        crc = Signal(32, init=CRC32_INIT)
        in_crc = Signal()
        idx = Signal(2)
        escaping = Signal()
        state_end = Signal()  # sending the closing END
        started = Signal()  # the opening END is out

        crc_out = ~crc
        crc_byte = crc_out.word_select(idx, 8)
        cur = Signal(8)
        cur_valid = Signal()
        m.d.comb += [
            cur.eq(Mux(in_crc, crc_byte, self.i.payload.data)),
            cur_valid.eq(in_crc | self.i.valid),
        ]
        special = (cur == END) | (cur == ESC)
        advance = Signal()

        with m.If(state_end):
            m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(END)]
            with m.If(self.o.ready):
                m.d.sync += [state_end.eq(0), started.eq(0), in_crc.eq(0), crc.eq(CRC32_INIT)]
        with m.Elif(~started):
            m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(END)]
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += started.eq(1)
        with m.Elif(escaping):
            m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(Mux(cur == END, ESC_END, ESC_ESC))]
            with m.If(self.o.ready):
                m.d.sync += escaping.eq(0)
                m.d.comb += advance.eq(1)
        with m.Else():
            m.d.comb += [self.o.valid.eq(cur_valid), self.o.payload.eq(Mux(special, ESC, cur))]
            with m.If(self.o.valid & self.o.ready):
                with m.If(special):
                    m.d.sync += escaping.eq(1)
                with m.Else():
                    m.d.comb += advance.eq(1)

        with m.If(advance):
            with m.If(in_crc):
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == 3):
                    m.d.sync += state_end.eq(1)
            with m.Else():
                m.d.comb += self.i.ready.eq(1)
                m.d.sync += crc.eq(crc32_byte(crc, self.i.payload.data))
                with m.If(self.i.payload.last):
                    m.d.sync += [in_crc.eq(1), idx.eq(0)]
        return m
