"""Exception flags raised by the numeric golden models.

Bits 0..4 are the IEEE 754 flags at the positions used by Berkeley SoftFloat/TestFloat, which are also
the positions of the RISC-V ``fflags`` CSR (NX bit 0, UF bit 1, OF bit 2, DZ bit 3, NV bit 4). Bit 5 is
the Dojo "denormal" flag, which IEEE 754 does not have.
"""

import enum

__all__ = ["IEEE_FLAGS_MASK", "Flags"]


class Flags(enum.IntFlag):
    """Exception flags as an integer bitmask.

    Every model function returns its flags as a plain ``int`` built from these bits, so that results can
    be compared with hardware outputs and test-vector files directly.
    """

    #: The rounded result differs from the exact result.
    INEXACT = 1 << 0
    #: The result is tiny (detected after rounding) and inexact.
    UNDERFLOW = 1 << 1
    #: The rounded result (with an unbounded exponent) exceeds the largest finite value.
    OVERFLOW = 1 << 2
    #: Exact infinite result from finite operands (division by zero). No Tatami model raises it yet.
    INFINITE = 1 << 3
    #: Invalid operation: signalling NaN operand, inf - inf, 0 * inf, NaN or out-of-domain value
    #: converted to a format that cannot represent it.
    INVALID = 1 << 4
    #: Dojo flag: an operand was a subnormal encoding, or the result is a nonzero subnormal encoding.
    DENORMAL = 1 << 5


#: The flags that Berkeley TestFloat and RISC-V ``fflags`` know about.
IEEE_FLAGS_MASK = 0x1F
