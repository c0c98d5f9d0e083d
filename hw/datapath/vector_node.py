"""The node's vector datapath: :class:`~tatami.hw.datapath.vector_core.VectorCore` on the banked ECC
SRAM (test and benchmark top, as :class:`~tatami.hw.datapath.gemm_node.GemmNode` for the matrix
unit)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from tatami.config import TatamiConfig
from tatami.hw.fpu.layouts import FLAGS, RoundMode
from tatami.hw.mem.ports import SramPortSignature, inject_layout
from tatami.hw.mem.sram import Sram

from .vector_core import VectorCore, insn_layout

__all__ = ["VectorNode"]

_STATUS = ("idle", "issued", "illegal", "fault", "fault_seq", "fault_kind", "fault_addr", "fault_count")


class VectorNode(wiring.Component):
    """:class:`VectorCore` with its loads on SRAM port ``load0`` and its stores on ``store0`` of a
    :class:`~tatami.hw.mem.sram.Sram`. The network ports are the way in and out for data, the
    ``core`` port is free for other traffic (tests use it to make bank conflicts) and ``inject`` is
    the SRAM's error-injection hook.

    Attributes
    ----------
    insn : In(stream.Signature(insn_layout()))
    net_wr, net_rd, core : In(SramPortSignature(cfg))
    inject : In(stream.Signature(inject_layout(cfg)))
    mode, cf8e4_bias, cf8e5_bias, cf16_bias, flags, flags_clear, seed, seed_load, status_clear
        As :class:`VectorCore`.
    idle, issued, illegal, fault, fault_seq, fault_kind, fault_addr, fault_count, ecc_corrected
        :class:`VectorCore` status.
    sram_corrected, sram_detected : Out(32)
        The SRAM's ECC counters (every port).
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"VectorNode takes a TatamiConfig, not {cfg!r}")
        self.cfg = cfg
        self.core_unit = VectorCore(cfg)  # checks the config
        sig = self.core_unit.signature.members
        super().__init__(
            {
                "insn": In(stream.Signature(insn_layout())),
                "net_wr": In(SramPortSignature(cfg)),
                "net_rd": In(SramPortSignature(cfg)),
                "core": In(SramPortSignature(cfg)),
                "inject": In(stream.Signature(inject_layout(cfg))),
                "mode": In(RoundMode),
                "cf8e4_bias": In(6, init=7),
                "cf8e5_bias": In(6, init=15),
                "cf16_bias": In(6, init=15),
                "flags": Out(FLAGS),
                "flags_clear": In(1),
                "seed": In(32),
                "seed_load": In(1),
                "status_clear": In(1),
                **{name: Out(sig[name].shape) for name in _STATUS},
                "ecc_corrected": Out(32),
                "sram_corrected": Out(32),
                "sram_detected": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.sram = sram = Sram(self.cfg)
        m.submodules.vector = vc = self.core_unit
        connect(m, vc.load, sram.load0)
        connect(m, vc.store, sram.store0)
        connect(m, flipped(self.insn), vc.insn)
        connect(m, flipped(self.net_wr), sram.net_wr)
        connect(m, flipped(self.net_rd), sram.net_rd)
        connect(m, flipped(self.core), sram.core)
        connect(m, flipped(self.inject), sram.inject)
        for name in (
            "mode",
            "cf8e4_bias",
            "cf8e5_bias",
            "cf16_bias",
            "flags_clear",
            "seed",
            "seed_load",
            "status_clear",
        ):
            m.d.comb += getattr(vc, name).eq(getattr(self, name))
        for name in (*_STATUS, "flags", "ecc_corrected"):
            m.d.comb += getattr(self, name).eq(getattr(vc, name))
        m.d.comb += [
            sram.status_clear.eq(self.status_clear),
            self.sram_corrected.eq(sram.ecc_corrected),
            self.sram_detected.eq(sram.ecc_detected),
        ]
        for name in [f"load{i}" for i in range(1, self.cfg.node.sram.load_ports)] + [
            f"store{i}" for i in range(1, self.cfg.node.sram.store_ports)
        ]:
            port = getattr(sram, name)
            m.d.comb += [port.req.valid.eq(0), port.resp.ready.eq(1)]
        return m
