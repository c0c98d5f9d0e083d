"""``pick(values, index)``: one of a few per-thread values, selected by a thread index.

Written as a chain of ``Mux`` (continuous assignments in Verilog) rather than an ``Array``
(a ``case`` in an ``always @*`` block): Icarus evaluates such a block only when one of its inputs
changes, so a selection whose inputs never change after time zero (a CSR of the only running
thread that is never written) would read X there.
"""

from __future__ import annotations

from amaranth.hdl import Mux

__all__ = ["pick"]


def pick(values, index):
    """``values[index]`` for a short list of same-shape values (one per hardware thread)."""
    out = values[0]
    for i in range(1, len(values)):
        out = Mux(index == i, values[i], out)
    return out
