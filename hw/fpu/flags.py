"""Sticky exception flags: the OR of every operation's flags since the last clear."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import FLAGS

__all__ = ["StickyFlags"]


class StickyFlags(wiring.Component):
    """A readable, clearable flag register (RISC-V ``fflags`` semantics plus Dojo's denormal bit).

    Each cycle: ``flags <= (clear ? 0 : flags) | (update ? set : 0)``, so the flags of an operation
    completing in the cycle of a clear are kept.

    Attributes
    ----------
    set : In(FLAGS)
        Flags of the operation completing this cycle.
    update : In(1)
        An operation completes this cycle (``set`` is valid).
    clear : In(1)
        Clear the register.
    flags : Out(FLAGS)
        The sticky flags (registered).
    """

    def __init__(self):
        super().__init__({"set": In(FLAGS), "update": In(1), "clear": In(1), "flags": Out(FLAGS)})

    def elaborate(self, platform):
        m = Module()
        kept = self.flags.as_value() & ~self.clear.replicate(6)
        new = self.set.as_value() & self.update.replicate(6)
        m.d.sync += self.flags.eq(kept | new)
        return m
