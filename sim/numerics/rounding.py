"""Rounding of exact values into a :class:`~tatami.sim.numerics.formats.FloatFormat`.

Every golden model computes its exact result as an integer significand times a power of two (Python
integers are unbounded, so sums and products of floating-point numbers are exact), then calls
:func:`round_pack` once. That single function is the reference for the rounding logic of every Tatami
floating-point unit: its steps are written the way the hardware does them (align to the result
quantum, split kept and discarded bits, decide, increment, renormalise) so the RTL can follow it.

Stochastic rounding (see ``docs/numerics.md``, "Stochastic rounding"): the discarded bits of the exact
significand are read as a fraction of one unit in the last place; the ``SR_BITS`` most significant of
them (padded with zeros on the right when fewer are discarded) form the integer ``D``; the low ``SR_BITS``
bits of the caller's random word form ``R``; the result is rounded away from zero iff ``D + R`` carries
out of ``SR_BITS`` bits. Discarded bits below the window only affect the inexact flag.
"""

import enum

from .flags import Flags
from .formats import FloatFormat

__all__ = ["SR_BITS", "RoundingMode", "round_pack", "special_inf", "special_nan"]

#: Width of the stochastic-rounding window and of the random word it consumes.
SR_BITS = 16


class RoundingMode(enum.IntEnum):
    """Rounding modes. Values of RNE and RTZ are the RISC-V ``frm`` encodings; STOCHASTIC uses a code
    (5) that RISC-V reserves, proposed for Tatami's convert instructions."""

    RNE = 0  #: round to nearest, ties to even
    RTZ = 1  #: round toward zero (truncate)
    STOCHASTIC = 5  #: round away from zero with probability equal to the discarded fraction


def check_mode(mode, rand):
    mode = RoundingMode(mode)
    if not isinstance(rand, int) or isinstance(rand, bool) or rand < 0:
        raise ValueError(f"rand must be a non-negative int (the random word), not {rand!r}")
    return mode


def _round_at(sig, exp, q, mode, rand):
    """Round ``sig * 2**exp`` to a multiple of ``2**q``: return ``(k, round_up, inexact)`` where the
    result is ``(k + round_up) * 2**q``."""
    n = q - exp  # number of discarded bits
    if n <= 0:
        return sig << -n, 0, False
    k = sig >> n
    rem = sig & ((1 << n) - 1)
    if rem == 0:
        return k, 0, False
    if mode is RoundingMode.RNE:
        half = 1 << (n - 1)
        up = rem > half or (rem == half and (k & 1) == 1)
    elif mode is RoundingMode.RTZ:
        up = False
    else:
        window = rem >> (n - SR_BITS) if n >= SR_BITS else rem << (SR_BITS - n)
        up = (window + (rand & ((1 << SR_BITS) - 1))) >> SR_BITS == 1
    return k, int(up), True


def special_inf(fmt: FloatFormat, sign, saturate=False):
    """Encode an infinite value: Inf where the format has it (and not ``saturate``), otherwise the
    largest finite magnitude with OVERFLOW | INEXACT; in an unsigned format -Inf gives 0 and INVALID."""
    if not fmt.signed and sign:
        return 0, int(Flags.INVALID)
    if fmt.has_inf and not saturate:
        return fmt.inf_code(sign), 0
    return fmt.max_code(sign), int(Flags.OVERFLOW | Flags.INEXACT)


def special_nan(fmt: FloatFormat, sign, signalling):
    """Encode a NaN result: the canonical NaN (INVALID only if a signalling NaN was consumed), or, in a
    format without NaN, the largest finite magnitude with the NaN's sign and INVALID."""
    if fmt.has_nan:
        return fmt.canonical_nan, int(Flags.INVALID) if signalling else 0
    return fmt.max_code(sign if fmt.signed else 0), int(Flags.INVALID)


def round_pack(fmt: FloatFormat, sign, sig, exp, mode=RoundingMode.RNE, rand=0, saturate=False):
    """Round the exact value ``(-1)**sign * sig * 2**exp`` into ``fmt``.

    Parameters
    ----------
    fmt : FloatFormat
        Destination format.
    sign : int
        0 or 1.
    sig : int
        Non-negative exact significand (any width).
    exp : int
        Exponent of the significand's least significant bit.
    mode : RoundingMode
        RNE, RTZ or STOCHASTIC.
    rand : int
        Random word for STOCHASTIC (low :data:`SR_BITS` bits used); ignored otherwise.
    saturate : bool
        For formats with Inf: overflow gives the largest finite value instead of Inf. Formats without
        Inf always saturate.

    Returns
    -------
    (int, int)
        The encoding and the flags (:class:`~tatami.sim.numerics.flags.Flags` bits). Tininess is detected
        after rounding (as RISC-V) for RNE and RTZ; for STOCHASTIC a result is tiny when the rounded
        result is below ``2**emin``. UNDERFLOW is raised only for inexact tiny results. DENORMAL is raised
        when the result is a nonzero subnormal.
    """
    mode = check_mode(mode, rand)
    if sig < 0:
        raise ValueError("sig must be non-negative; pass the sign separately")
    if sig == 0:
        return fmt.zero_code(sign if fmt.signed else 0), 0
    if sign and not fmt.signed:
        return 0, int(Flags.INVALID)

    p = fmt.precision
    e = exp + sig.bit_length() - 1  # exponent of the leading bit of the exact value
    q = max(e, fmt.emin) - (p - 1)  # quantum of the result: the exponent of its last place
    k, up, inexact = _round_at(sig, exp, q, mode, rand)
    k += up
    if k >> p:  # rounding carried into a new binade
        k >>= 1
        q += 1

    flags = Flags.INEXACT if inexact else Flags(0)
    if q + k.bit_length() - 1 > fmt.emax:
        flags |= Flags.OVERFLOW | Flags.INEXACT
        if fmt.has_inf and not saturate and mode is not RoundingMode.RTZ:
            return fmt.inf_code(sign), int(flags)
        return fmt.max_code(sign), int(flags)

    if inexact and e < fmt.emin:
        if mode is RoundingMode.STOCHASTIC:
            tiny = k < (1 << (p - 1))
        else:
            # After rounding: round to p bits as if the exponent range were unbounded below.
            k2, up2, _ = _round_at(sig, exp, e - (p - 1), mode, rand)
            tiny = e + ((k2 + up2) >> p) < fmt.emin
        if tiny:
            flags |= Flags.UNDERFLOW

    if k < (1 << (p - 1)):  # subnormal or zero: exponent field 0
        if k:
            flags |= Flags.DENORMAL
        return fmt.pack(sign, 0, k), int(flags)
    return fmt.pack(sign, q + p - 1 + fmt.bias, k - (1 << (p - 1))), int(flags)
