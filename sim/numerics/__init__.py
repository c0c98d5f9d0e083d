"""Bit-exact golden models of Tatami's number formats and floating-point operations.

Everything here works on plain Python ints: encodings are bit patterns, results are
``(result_bits, flags)`` pairs with ``flags`` an int bitmask of :class:`Flags`. Hardware units are compared
against these models transaction by transaction; the models themselves are checked against numpy,
ml_dtypes, gfloat and Berkeley TestFloat vectors (``tb/numerics``). The formats, rounding rules and every
choice made where the public description of Dojo's CFloat formats is silent are in ``docs/numerics.md``.
"""

from .convert import (
    bf16_to_cf8,
    bf16_to_f32,
    cf8_to_bf16,
    cf8_to_f32,
    cf16_to_f32,
    convert,
    f32_to_bf16,
    f32_to_cf8,
    f32_to_cf16,
)
from .flags import IEEE_FLAGS_MASK, Flags
from .formats import (
    BF16,
    FP32,
    FloatClass,
    FloatFormat,
    Unpacked,
    cfloat8_143,
    cfloat8_152,
    cfloat16_shp,
    cfloat16_uhp,
)
from .ops import (
    bf16_mac_f32,
    bf16_mul_f32,
    cf8_mac_f32,
    cf8_mul_f32,
    f32_accumulate,
    f32_add,
    f32_fma,
    f32_mul,
    f32_sub,
    fp_add,
    fp_fma,
    fp_mul,
    fp_sub,
    mac_widening,
    mul_widening,
)
from .rounding import SR_BITS, RoundingMode, round_pack
from .vector import convert_f32_array, decode_array

__all__ = [
    "BF16",
    "FP32",
    "IEEE_FLAGS_MASK",
    "SR_BITS",
    "Flags",
    "FloatClass",
    "FloatFormat",
    "RoundingMode",
    "Unpacked",
    "bf16_mac_f32",
    "bf16_mul_f32",
    "bf16_to_cf8",
    "bf16_to_f32",
    "cf8_mac_f32",
    "cf8_mul_f32",
    "cf8_to_bf16",
    "cf8_to_f32",
    "cf16_to_f32",
    "cfloat8_143",
    "cfloat8_152",
    "cfloat16_shp",
    "cfloat16_uhp",
    "convert",
    "convert_f32_array",
    "decode_array",
    "f32_accumulate",
    "f32_add",
    "f32_fma",
    "f32_mul",
    "f32_sub",
    "f32_to_bf16",
    "f32_to_cf8",
    "f32_to_cf16",
    "fp_add",
    "fp_fma",
    "fp_mul",
    "fp_sub",
    "mac_widening",
    "mul_widening",
    "round_pack",
]
