"""Floating-point hardware units (issue 4): FP32 add/sub, multiply, fused multiply-add; BF16 and
CFloat8 widening products and multiply-accumulates into FP32; format conversions with RNE, RTZ
and stochastic rounding; sticky exception flags.

Every unit is a fixed-latency pipeline that accepts one operation per cycle, with stream ports
``i`` and ``o`` (see ``docs/numerics.md``, "Hardware units"). The bit-exact golden models are in
:mod:`tatami.sim.numerics`.
"""

from __future__ import annotations

__all__ = ["UNITS", "build"]


def _add(cfg):
    from .fp32_add import FP32Add

    return FP32Add(cfg)


def _mul(cfg):
    from .fp32_mul import FP32Mul

    return FP32Mul(cfg)


def _fma(cfg):
    from .fp32_fma import FP32FMA

    return FP32FMA(cfg)


def _bf16(accumulate):
    def build(cfg):
        from .bf16_mac import Bf16Mac

        return Bf16Mac(cfg, accumulate)

    return build


def _cf8(accumulate):
    def build(cfg):
        from .cf8_mac import Cf8Mac

        return Cf8Mac(cfg, accumulate)

    return build


def _convert(cfg):
    from .convert import Convert

    return Convert(cfg)


#: The FPU units by name: (description, builder from a TatamiConfig).
UNITS = {
    "fp32_add": ("FP32 add/subtract, RNE, full IEEE", _add),
    "fp32_mul": ("FP32 multiply, RNE, full IEEE", _mul),
    "fp32_fma": ("FP32 fused multiply-add (one rounding), RNE, full IEEE", _fma),
    "bf16_mul": ("BF16 x BF16 product into FP32", _bf16(False)),
    "bf16_mac": ("FP32 acc + BF16 x BF16, fused", _bf16(True)),
    "cf8_mul": ("CFloat8 x CFloat8 product into FP32 (run-time layouts and biases)", _cf8(False)),
    "cf8_mac": ("FP32 acc + CFloat8 x CFloat8, fused", _cf8(True)),
    "convert": ("conversions FP32/BF16/CFloat8/CFloat16, RNE/RTZ/stochastic (LFSR)", _convert),
}


def build(name, cfg):
    """Build FPU unit ``name`` (a key of :data:`UNITS`) for ``cfg``."""
    try:
        return UNITS[name][1](cfg)
    except KeyError:
        raise KeyError(f"unknown FPU unit {name!r}; known: {', '.join(UNITS)}") from None
