"""Stream register slices."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .codec import shape_width

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """A full-throughput register slice between two streams.

    Both ``o.valid``/``o.payload`` and ``i.ready`` come straight from flip-flops, so the slice cuts
    every combinational path through it, in both directions, while still passing one transfer per
    cycle. It holds up to two payloads: the output register and the skid register that catches
    the transfer accepted in the cycle ``o.ready`` fell.

    Parameters
    ----------
    shape : ShapeLike
        Payload shape.

    Attributes
    ----------
    i : In(stream.Signature(shape))
        Upstream; ``i.ready`` is registered.
    o : Out(stream.Signature(shape))
        Downstream; ``o.valid`` and ``o.payload`` are registered and ``o.valid`` never waits for
        ``o.ready``.
    """

    def __init__(self, shape):
        shape_width(shape)  # raises a TypeError naming the value if it is not a shape
        self._shape = shape
        super().__init__(
            {
                "i": In(stream.Signature(shape)),
                "o": Out(stream.Signature(shape)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        skid = Signal(self._shape)
        skid_valid = Signal()
        m.d.comb += self.i.ready.eq(~skid_valid)

        with m.If(~self.o.valid | self.o.ready):
            # The output register is free (or being freed): fill it from the skid register
            # first, else straight from the input.
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                # ``i.valid`` as a condition, not as data: in Icarus an input computed by an
                # ``always @*`` block is X until one of its own inputs first changes, and X taken
                # into ``o.valid`` would stay there (``~o.valid | o.ready`` is then X, read as
                # false); as a condition X reads as 0.
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(0)]
                with m.If(self.i.valid):
                    m.d.sync += self.o.valid.eq(1)
        with m.Elif(self.i.valid & self.i.ready):
            # Output stalled and the input transfers: catch it in the skid register.
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
