"""The node's GEMM datapath: the matrix unit on the banked ECC SRAM (test and benchmark top)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from tatami.config import TatamiConfig
from tatami.hw.mem.ports import SramPortSignature, inject_layout
from tatami.hw.mem.sram import Sram

from .descriptors import MATRIX_DESCRIPTOR
from .matrix import DONE_LAYOUT, MatrixUnit

__all__ = ["GemmNode"]


class GemmNode(wiring.Component):
    """:class:`~tatami.hw.datapath.matrix.MatrixUnit` with A on SRAM port ``load0``, B on
    ``load1`` and C on ``store0`` of a :class:`~tatami.hw.mem.sram.Sram`; the network ports are
    the way in and out for data (as the NI will use them), the core port is idle and ``inject``
    is the SRAM's error-injection hook.

    Parameters
    ----------
    cfg : TatamiConfig

    Attributes
    ----------
    start : In(stream.Signature(MATRIX_DESCRIPTOR))
    done : Out(stream.Signature(DONE_LAYOUT))
    net_wr, net_rd : In(SramPortSignature(cfg))
        The SRAM's network write and read ports.
    inject : In(stream.Signature(inject_layout(cfg)))
    ecc_corrected, ecc_detected : Out(32)
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"GemmNode takes a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        super().__init__(
            {
                "start": In(stream.Signature(MATRIX_DESCRIPTOR)),
                "done": Out(stream.Signature(DONE_LAYOUT)),
                "net_wr": In(SramPortSignature(cfg)),
                "net_rd": In(SramPortSignature(cfg)),
                "inject": In(stream.Signature(inject_layout(cfg))),
                "ecc_corrected": Out(32),
                "ecc_detected": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.sram = sram = Sram(self.cfg)
        m.submodules.matrix = mx = MatrixUnit(self.cfg)
        connect(m, mx.a, sram.load0)
        connect(m, mx.b, sram.load1)
        connect(m, mx.c, sram.store0)
        connect(m, flipped(self.start), mx.start)
        connect(m, mx.done, flipped(self.done))
        connect(m, flipped(self.net_wr), sram.net_wr)
        connect(m, flipped(self.net_rd), sram.net_rd)
        connect(m, flipped(self.inject), sram.inject)
        m.d.comb += [
            sram.core.req.valid.eq(0),
            sram.core.resp.ready.eq(1),
            self.ecc_corrected.eq(sram.ecc_corrected),
            self.ecc_detected.eq(sram.ecc_detected),
        ]
        for name in [f"load{i}" for i in range(2, self.cfg.node.sram.load_ports)] + [
            f"store{i}" for i in range(1, self.cfg.node.sram.store_ports)
        ]:
            port = getattr(sram, name)
            m.d.comb += [port.req.valid.eq(0), port.resp.ready.eq(1)]
        return m
