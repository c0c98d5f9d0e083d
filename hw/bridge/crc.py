"""CRC-32 (zlib / Ethernet) one byte per cycle, as Amaranth expressions.

Reflected polynomial 0xEDB88320, register preset to 0xFFFFFFFF, result inverted: the CRC of
:func:`zlib.crc32`. Running the register over a message followed by its CRC (little-endian)
leaves :data:`CRC32_RESIDUE` in it, so a receiver checks a frame without knowing where it ends.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Value

__all__ = ["CRC32_INIT", "CRC32_POLY", "CRC32_RESIDUE", "crc32_byte", "crc32_byte_model"]

CRC32_POLY = 0xEDB88320
CRC32_INIT = 0xFFFF_FFFF
#: Register value after a message and its own CRC (before the final inversion).
CRC32_RESIDUE = 0xDEBB20E3


def crc32_byte(crc: Value, byte: Value) -> Value:
    """The CRC register after ``byte`` (combinational). The step is linear over GF(2): each new bit
    is the XOR of a fixed set of bits of ``crc ^ byte``, found by stepping the model on unit
    vectors, so the expression stays one XOR per output bit."""
    c = crc ^ Value.cast(byte).as_unsigned()
    return Cat(*(_xor_of(c, _TAPS[i]) for i in range(32)))


def _xor_of(c, bits):
    out = c[bits[0]]
    for b in bits[1:]:
        out = out ^ c[b]
    return out


def crc32_byte_model(crc: int, byte: int) -> int:
    c = crc ^ byte
    for _ in range(8):
        c = (c >> 1) ^ CRC32_POLY if c & 1 else c >> 1
    return c


#: ``_TAPS[i]``: the bits of ``crc ^ byte`` whose XOR is bit ``i`` of the next register.
_TAPS = [[j for j in range(32) if crc32_byte_model(1 << j, 0) >> i & 1] for i in range(32)]
