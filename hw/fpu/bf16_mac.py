"""BF16 x BF16 products into FP32, with or without the FP32 accumulate step."""

from __future__ import annotations

from .arith import ArithUnit, check_config
from .datapath import unpack
from .layouts import mac_op

__all__ = ["Bf16Mac"]


class Bf16Mac(ArithUnit):
    """``acc + a * b`` with BF16 ``a``, ``b`` and FP32 ``acc``, fused (one rounding, nearest-even);
    or, with ``accumulate=False``, the product ``a * b`` delivered in FP32. Bit-exact with
    :func:`tatami.sim.numerics.bf16_mac_f32` / :func:`~tatami.sim.numerics.bf16_mul_f32`.

    Parameters
    ----------
    cfg : TatamiConfig
        Latency: ``cfg.node.fpu.fma_stages`` (``mul_stages`` without accumulator).
    accumulate : bool
        Whether the unit has the accumulator input.

    Attributes
    ----------
    i : In(stream.Signature(mac_op("bf16", accumulate)))
        ``a``, ``b`` (BF16 encodings) and ``acc`` (FP32 encoding) when accumulating.
    o, flags, flags_clear
        See :class:`~tatami.hw.fpu.arith.ArithUnit`.
    """

    def __init__(self, cfg, accumulate: bool = True):
        fpu = check_config(cfg, "Bf16Mac")
        if not isinstance(accumulate, bool):
            raise TypeError(f"accumulate must be True or False, not {accumulate!r}")
        self.accumulate = accumulate
        super().__init__(mac_op("bf16", accumulate), fpu.fma_stages if accumulate else fpu.mul_stages)

    def operands(self, m, op):
        a = unpack(m, op.a, 8, 7, 127, ieee=True, name="a")
        b = unpack(m, op.b, 8, 7, 127, ieee=True, name="b")
        acc = unpack(m, op.acc, 8, 23, 127, ieee=True, name="acc") if self.accumulate else None
        return [a, b], acc
