"""``select(index, values)``: ``values[index]`` as a chain of 2-way multiplexers.

Use it instead of :class:`~amaranth.hdl.Array` indexing where the selected values can sit still
from reset. Yosys writes an ``Array`` read (and a ``Switch``) as an ``always @*`` case statement,
and Icarus Verilog evaluates such a block only when one of its inputs changes: a selection whose
inputs never change after time zero (say the CSR of the only running thread, never written) reads
X there for ever. A ``Mux`` chain becomes continuous assignments, which every simulator evaluates.
Verilator is not affected; the cost in synthesis is nil (the same multiplexer tree).

Indexes past the end select the last value (or ``default`` when it is given).
"""

from __future__ import annotations

from amaranth.hdl import Mux, Value

__all__ = ["select"]


def select(index, values, default=None):
    """``values[index]`` for a short list of same-shape values, as continuous assignments.

    Parameters
    ----------
    index : Value
        Which value to pick.
    values : iterable of Value-castable
        The candidates, at least one.
    default : Value-castable, optional
        Result for an ``index`` at or past ``len(values)``; without it, the last value.
    """
    values = [Value.cast(v) for v in values]
    if not values:
        raise ValueError("select() needs at least one value")
    if default is None:
        out, rest = values[-1], values[:-1]
    else:
        out, rest = Value.cast(default), values
    for i in reversed(range(len(rest))):
        out = Mux(index == i, rest[i], out)
    return out
