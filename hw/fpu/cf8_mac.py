"""CFloat8 x CFloat8 products into FP32 (per-operand layout and bias), with or without the FP32
accumulate step."""

from __future__ import annotations

from .arith import ArithUnit, check_config
from .datapath import unpack, unpack_cf8
from .layouts import mac_op

__all__ = ["Cf8Mac"]


class Cf8Mac(ArithUnit):
    """``acc + a * b`` with CFloat8 ``a``, ``b`` (each with its own run-time layout, 1-4-3 or 1-5-2,
    and 6-bit bias) and FP32 ``acc``, fused (one rounding, nearest-even); or, with
    ``accumulate=False``, the product ``a * b`` in FP32 (always exact, possibly an FP32 subnormal).
    Bit-exact with :func:`tatami.sim.numerics.cf8_mac_f32` / :func:`~tatami.sim.numerics.cf8_mul_f32`.

    Parameters
    ----------
    cfg : TatamiConfig
        Latency: ``cfg.node.fpu.fma_stages`` (``mul_stages`` without accumulator).
    accumulate : bool
        Whether the unit has the accumulator input.

    Attributes
    ----------
    i : In(stream.Signature(mac_op("cf8", accumulate)))
        ``a``, ``b`` (CFloat8 encodings), ``layout_a``, ``layout_b`` (:class:`Cf8Layout`),
        ``bias_a``, ``bias_b`` (0..63), and ``acc`` (FP32 encoding) when accumulating.
    o, flags, flags_clear
        See :class:`~tatami.hw.fpu.arith.ArithUnit`.
    """

    def __init__(self, cfg, accumulate: bool = True):
        fpu = check_config(cfg, "Cf8Mac")
        if not isinstance(accumulate, bool):
            raise TypeError(f"accumulate must be True or False, not {accumulate!r}")
        self.accumulate = accumulate
        super().__init__(mac_op("cf8", accumulate), fpu.fma_stages if accumulate else fpu.mul_stages)

    def operands(self, m, op):
        a = unpack_cf8(m, op.a, op.layout_a.as_value(), op.bias_a, name="a")
        b = unpack_cf8(m, op.b, op.layout_b.as_value(), op.bias_b, name="b")
        acc = unpack(m, op.acc, 8, 23, 127, ieee=True, name="acc") if self.accumulate else None
        return [a, b], acc
