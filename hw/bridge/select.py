"""``select(index, values)``: ``values[index]`` as a chain of 2-way multiplexers.

Used instead of :class:`~amaranth.hdl.Array` indexing where the values can sit still from reset:
Yosys writes an ``Array`` read as an ``always @*`` case statement, and Icarus Verilog does not
evaluate one whose inputs never change after time zero (its output stays X). A ``Mux`` chain
becomes continuous assignments, which every simulator evaluates.
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value

__all__ = ["select"]


def select(index, values, default=0):
    values = list(values)
    if not values:
        raise ValueError("select() needs at least one value")
    out = Value.cast(values[-1]) if len(values) > 0 else Const(default)
    for i in reversed(range(len(values) - 1)):
        out = Mux(index == i, values[i], out)
    return out
