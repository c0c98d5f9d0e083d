"""cocotb driver of :class:`tatami.hw.datapath.vector_node.VectorNode`, shared by the tests and
``tatami bench vector``: memory in and out through the network ports (and the SRAM's injection
hook), instruction words in through ``insn``, the status read back."""

from __future__ import annotations

from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.codec import Codec
from tatami.hw.datapath.vector_core import insn_layout
from tatami.sim.cocotb_env import BackPressure

from .node_ports import NodePortsDriver

__all__ = ["VectorNodeDriver"]


class VectorNodeDriver(NodePortsDriver):
    def __init__(self, dut, cfg):
        super().__init__(dut, cfg)
        self.insn = Codec(insn_layout())
        for name in ("insn__valid", "flags_clear", "seed_load", "status_clear", "core__req__valid"):
            getattr(dut, name).value = 0
        dut.core__resp__ready.value = 0
        dut.cf8e4_bias.value, dut.cf8e5_bias.value, dut.cf16_bias.value = 7, 15, 15
        dut.mode.value = 0

    async def run(self, program, *, pressure: BackPressure | None = None, timeout: int = 100_000) -> int:
        """Send ``program`` (``(word, rs1, rs2)`` triples) and wait until the node is idle.
        Returns the cycles from the first instruction offered to idle."""
        dut = self.dut
        pressure = pressure or BackPressure(1.0)
        cycles, i = 0, 0
        while i < len(program):
            if pressure():
                w, rs1, rs2 = program[i]
                dut.insn__payload.value = self.insn.pack(word=w, rs1=rs1 & 0xFFFFFFFF, rs2=rs2 & 0xFFFFFFFF)
                dut.insn__valid.value = 1
                await ReadOnly()
                taken = bool(dut.insn__ready.value)
            else:
                dut.insn__valid.value = 0
                taken = False
            await RisingEdge(dut.clk)
            cycles += 1
            i += taken
            if cycles > timeout:
                raise AssertionError(f"only {i} of {len(program)} instructions taken after {timeout} cycles")
        dut.insn__valid.value = 0
        while True:
            await ReadOnly()
            if dut.idle.value:
                break
            await RisingEdge(dut.clk)
            cycles += 1
            if cycles > timeout:
                raise AssertionError("the vector node does not become idle")
        await RisingEdge(dut.clk)
        return cycles

    def status(self) -> dict:
        d = self.dut
        names = ("issued", "illegal", "fault", "fault_seq", "fault_kind", "fault_addr", "fault_count")
        out = {n: int(getattr(d, n).value) for n in names}
        out["ecc_corrected"] = int(d.ecc_corrected.value)
        out["flags"] = int(d.flags.value)
        return out
