"""FIFOs with stream interfaces."""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.data import Layout
from amaranth.lib.wiring import In, Out

from .codec import shape_width

__all__ = ["HeadRegisterFIFO", "StreamFIFO"]


class HeadRegisterFIFO(Elaboratable):
    """A first-word fall-through FIFO whose front entry is held in flip-flops.

    Cycle for cycle it behaves as :class:`~amaranth.lib.fifo.SyncFIFO` of the same depth (an entry
    written in one cycle can be read the next; ``w_rdy`` is ``level != depth``), but ``r_rdy`` and
    ``r_data`` come straight from registers, so logic that decides on the front entry does not
    start at a LUT-RAM read. The other ``depth - 1`` entries are a ``SyncFIFO`` behind the front
    register; on a read its front moves into the register. Same interface as ``SyncFIFO``
    (``w_en``, ``w_data``, ``w_rdy``, ``r_en``, ``r_data``, ``r_rdy``, ``level``); reading an
    empty or writing a full FIFO does nothing.
    """

    def __init__(self, *, width: int, depth: int):
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"a head-register FIFO holds at least 2 entries, not {depth!r}")
        self.width, self.depth = width, depth
        self.w_en, self.w_data, self.w_rdy = Signal(), Signal(width), Signal()
        self.r_en, self.r_data, self.r_rdy = Signal(), Signal(width), Signal()
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        m.submodules.rest = rest = fifo.SyncFIFO(width=self.width, depth=self.depth - 1)
        full = Signal()
        m.d.comb += [
            full.eq(self.r_rdy & ~rest.w_rdy),
            self.w_rdy.eq(~full),
            self.level.eq(self.r_rdy + rest.level),
        ]
        write = self.w_en & ~full
        read = self.r_en & self.r_rdy
        # The rest is never ahead of the front: it holds entries only while the front does.
        to_front = write & (~self.r_rdy | (read & ~rest.r_rdy))
        m.d.comb += [
            rest.w_data.eq(self.w_data),
            rest.w_en.eq(write & ~to_front),
            rest.r_en.eq(read & rest.r_rdy),
        ]
        with m.If(read & rest.r_rdy):
            m.d.sync += self.r_data.eq(rest.r_data)
        with m.Elif(to_front):
            m.d.sync += [self.r_data.eq(self.w_data), self.r_rdy.eq(1)]
        with m.Elif(read):
            m.d.sync += self.r_rdy.eq(0)
        return m


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
    head_register : bool
        With ``buffered=False``: a :class:`HeadRegisterFIFO` (the same timing as ``SyncFIFO``, the
        output from registers; ``depth`` at least 2).

    Attributes
    ----------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))
    level : Out(range(depth + 1))
        Entries held.
    """

    def __init__(self, shape, depth: int, *, buffered: bool = True, head_register: bool = False):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"FIFO depth must be a positive integer, not {depth!r}")
        if head_register and (buffered or depth < 2):
            raise ValueError("a head-register FIFO is unbuffered and at least 2 deep")
        self._shape, self._depth, self._buffered = shape, depth, buffered
        self._head_register = head_register
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
        if self._head_register:
            cls = HeadRegisterFIFO
        else:
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
