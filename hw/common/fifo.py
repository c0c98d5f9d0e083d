"""FIFOs with stream interfaces."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.data import Layout
from amaranth.lib.wiring import In, Out

from .codec import shape_width

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """A synchronous FIFO between two streams.

    Parameters
    ----------
    shape : ShapeLike
        Payload shape (a layout is carried as its bits and viewed again at the output).
    depth : int
        Entries, at least 1.
    buffered : bool
        ``True`` (default): :class:`~amaranth.lib.fifo.SyncFIFOBuffered`, whose output comes
        from a register and which maps to block RAM; one cycle more latency. ``False``:
        :class:`~amaranth.lib.fifo.SyncFIFO`, first-word fall-through from the storage.

    Attributes
    ----------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))
    level : Out(range(depth + 1))
        Entries held.
    """

    def __init__(self, shape, depth: int, *, buffered: bool = True):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"FIFO depth must be a positive integer, not {depth!r}")
        self._shape, self._depth, self._buffered = shape, depth, buffered
        self._width = shape_width(shape) if not isinstance(shape, Layout) else shape.size
        super().__init__(
            {
                "i": In(stream.Signature(shape)),
                "o": Out(stream.Signature(shape)),
                "level": Out(range(depth + 1)),
            }
        )

    @property
    def depth(self) -> int:
        return self._depth

    def elaborate(self, platform):
        m = Module()
        cls = fifo.SyncFIFOBuffered if self._buffered else fifo.SyncFIFO
        m.submodules.fifo = q = cls(width=self._width, depth=self._depth)
        m.d.comb += [
            q.w_data.eq(self.i.payload.as_value() if hasattr(self.i.payload, "as_value") else self.i.payload),
            q.w_en.eq(self.i.valid),
            self.i.ready.eq(q.w_rdy),
            self.o.payload.eq(q.r_data),
            self.o.valid.eq(q.r_rdy),
            q.r_en.eq(self.o.ready),
            self.level.eq(q.level),
        ]
        return m
