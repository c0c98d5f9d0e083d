"""SECDED (extended Hamming) code of the node SRAM: the code, defined once, and its logic.

A *lane* of ``k`` data bits (64 in every preset with words of 64 bits or more) is stored with
``r + 1`` check bits: ``r`` Hamming bits (``2**r >= k + r + 1``) and one overall parity bit.
The Hamming positions are the textbook ones: number the codeword bits ``1..k + r``; check bit
``j`` sits at position ``2**j``, data bits fill the other positions in increasing order, and
check bit ``j`` is the XOR of the data bits whose position has bit ``j`` set. The overall parity
bit makes the XOR of the whole stored lane zero.

Stored lane layout (systematic, from bit 0 up): ``data[k] | hamming[r] | parity[1]``.

Decoding: ``s`` = syndrome (recomputed Hamming bits XOR stored ones), ``p`` = XOR of the whole
stored lane.

====================  =========================================================================
``s == 0, p == 0``    no error
``p == 1``            one bit flipped: at position ``s`` (``s == 0``: the parity bit); a data bit
                      is corrected, a check bit needs nothing. ``s`` beyond the last position
                      cannot come from one flip: reported as uncorrectable (three or more flips)
``s != 0, p == 0``    two bits flipped: detected, reported as uncorrectable
====================  =========================================================================

:class:`SecdedCode` holds the tables; :func:`encode` and :func:`decode` build the logic; the
golden model :mod:`tatami.sim.mem.ecc` implements the same code independently in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from amaranth.hdl import Cat, Const, Module, Signal

__all__ = ["SecdedCode", "decode", "encode", "lane_bits_for"]


def lane_bits_for(word_bits: int) -> int:
    """ECC lane width for a word: 64 bits, or the whole word when it is narrower."""
    return min(64, word_bits)


@dataclass(frozen=True)
class SecdedCode:
    """The (k + r + 1, k) extended Hamming code.

    Parameters
    ----------
    data_bits : int
        ``k``, at least 4.
    """

    data_bits: int

    def __post_init__(self):
        if not isinstance(self.data_bits, int) or self.data_bits < 4:
            raise ValueError(f"a SECDED lane needs at least 4 data bits, not {self.data_bits!r}")

    @cached_property
    def hamming_bits(self) -> int:
        r = 1
        while (1 << r) < self.data_bits + r + 1:
            r += 1
        return r

    @property
    def check_bits(self) -> int:
        """Check bits per lane: Hamming bits plus the overall parity bit."""
        return self.hamming_bits + 1

    @property
    def stored_bits(self) -> int:
        return self.data_bits + self.check_bits

    @cached_property
    def positions(self) -> tuple[int, ...]:
        """Hamming position (1-based) of each data bit."""
        out, pos = [], 1
        while len(out) < self.data_bits:
            if pos & (pos - 1):
                out.append(pos)
            pos += 1
        return tuple(out)

    @cached_property
    def check_masks(self) -> tuple[int, ...]:
        """For each Hamming bit ``j``, the mask of data bits it covers."""
        return tuple(
            sum(1 << i for i, p in enumerate(self.positions) if p >> j & 1) for j in range(self.hamming_bits)
        )

    @property
    def last_position(self) -> int:
        return self.data_bits + self.hamming_bits

    @property
    def overhead(self) -> float:
        """Check bits per data bit."""
        return self.check_bits / self.data_bits


def _xor_masked(value, mask: int):
    bits = [value[i] for i in range(len(value)) if mask >> i & 1]
    return Cat(*bits).xor() if bits else Const(0, 1)


def encode(m: Module, code: SecdedCode, data, name="ecc"):
    """Logic: the stored lane (``data | hamming | parity``) for ``data`` (``code.data_bits`` wide)."""
    hamming = Signal(code.hamming_bits, name=f"{name}_ham")
    m.d.comb += hamming.eq(Cat(*[_xor_masked(data, mask) for mask in code.check_masks]))
    parity = Cat(data, hamming).xor()
    return Cat(data, hamming, parity)


def decode(m: Module, code: SecdedCode, stored, name="ecc"):
    """Logic: decode one stored lane. Returns ``(data, corrected, uncorrectable)``: the data with a
    single-bit error corrected, whether one was, and whether the lane holds an uncorrectable error
    (then ``data`` is the raw stored data)."""
    k, r = code.data_bits, code.hamming_bits
    data, hamming, parity = stored[:k], stored[k : k + r], stored[k + r]
    syndrome = Signal(r, name=f"{name}_syn")
    m.d.comb += syndrome.eq(Cat(*[_xor_masked(data, mask) for mask in code.check_masks]) ^ hamming)
    odd = Signal(name=f"{name}_odd")
    m.d.comb += odd.eq(Cat(data, hamming, parity).xor())
    flip = Cat(*[odd & (syndrome == p) for p in code.positions])
    corrected = Signal(name=f"{name}_cor")
    uncorrectable = Signal(name=f"{name}_unc")
    m.d.comb += [
        corrected.eq(odd & (syndrome <= code.last_position)),
        uncorrectable.eq((~odd & (syndrome != 0)) | (odd & (syndrome > code.last_position))),
    ]
    return data ^ flip, corrected, uncorrectable
