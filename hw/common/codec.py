"""Codecs between Python values and packed bit vectors, derived from Amaranth layouts.

Golden models and testbenches never re-type a format by hand: they build a :class:`Codec` from the
same :class:`amaranth.lib.data.Layout` the RTL uses, so a field moved in the layout moves
everywhere.

>>> from amaranth.lib import data
>>> c = Codec(data.StructLayout({"a": 4, "b": 8}))
>>> c.pack(a=1, b=2)
33
>>> c.unpack(33)
{'a': 1, 'b': 2}
"""

from __future__ import annotations

import contextlib
import enum

from amaranth.hdl import Shape, ShapeCastable
from amaranth.lib import data

__all__ = ["Codec", "CodecError"]


class CodecError(ValueError):
    """A value does not fit the field it is packed into."""


class Codec:
    """Packs and unpacks the fields of a :class:`~amaranth.lib.data.StructLayout` (nested layouts
    become nested dicts, enum-shaped fields become enum members, signed fields signed ints).

    Parameters
    ----------
    layout : StructLayout or ShapeCastable
        The layout; anything :meth:`Layout.cast` accepts.
    """

    def __init__(self, layout):
        self.layout = data.Layout.cast(layout)
        self.width = self.layout.size
        self._fields = []
        for name, fld in self.layout:
            shape = fld.shape
            sub = Codec(shape) if isinstance(shape, data.Layout) else None
            enum_cls = shape if isinstance(shape, type) and issubclass(shape, enum.Enum) else None
            signed = Shape.cast(shape).signed if sub is None else False
            self._fields.append((name, fld.offset, fld.width, signed, sub, enum_cls))
        self.names = tuple(f[0] for f in self._fields)

    def pack(self, value: dict | None = None, /, **fields) -> int:
        """Fields (a dict, keywords, or both) to an unsigned int. Missing fields are zero."""
        values = dict(value or {}, **fields)
        unknown = set(values) - set(self.names)
        if unknown:
            raise CodecError(f"unknown field(s) {sorted(unknown)}; the layout has {list(self.names)}")
        word = 0
        for name, offset, width, signed, sub, _ in self._fields:
            v = values.get(name, 0)
            if sub is not None:
                v = sub.pack(v) if isinstance(v, dict) else int(v)
            elif isinstance(v, enum.Enum):
                v = v.value
            v = int(v)
            lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
            if not lo <= v <= hi:
                raise CodecError(
                    f"field {name!r} = {v} does not fit {width} bits "
                    f"({'signed' if signed else 'unsigned'}: {lo}..{hi})"
                )
            word |= (v & ((1 << width) - 1)) << offset
        return word

    def unpack(self, word: int) -> dict:
        """An unsigned int to a dict of fields."""
        word = int(word)
        if not 0 <= word < (1 << self.width):
            raise CodecError(f"{word:#x} is not a {self.width}-bit unsigned value")
        out = {}
        for name, offset, width, signed, sub, enum_cls in self._fields:
            v = (word >> offset) & ((1 << width) - 1)
            if sub is not None:
                v = sub.unpack(v)
            elif signed and v >> (width - 1):
                v -= 1 << width
            elif enum_cls is not None:
                # An undefined encoding stays an int: the caller decides if that is an error.
                with contextlib.suppress(ValueError):
                    v = enum_cls(v)
            out[name] = v
        return out

    def __repr__(self):
        return f"Codec({self.layout!r})"


def shape_width(shape) -> int:
    """Width in bits of anything Amaranth accepts as a shape."""
    if isinstance(shape, ShapeCastable):
        return Shape.cast(shape.as_shape()).width
    return Shape.cast(shape).width
