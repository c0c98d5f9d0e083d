"""cocotb driver of :class:`tatami.hw.datapath.vector_node.VectorNode`, shared by the tests and
``tatami bench vector``: memory in and out through the network ports (and the SRAM's injection
hook), instruction words in through ``insn``, the status read back."""

from __future__ import annotations

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from tatami.hw.common.codec import Codec
from tatami.hw.datapath.vector_core import insn_layout
from tatami.hw.mem.ports import inject_layout, request_layout, response_layout
from tatami.sim.cocotb_env import BackPressure, StreamSink, StreamSource

__all__ = ["VectorNodeDriver"]


class VectorNodeDriver:
    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg
        self.req = Codec(request_layout(cfg))
        self.resp = Codec(response_layout(cfg))
        self.inj = Codec(inject_layout(cfg))
        self.insn = Codec(insn_layout())
        self.wb = cfg.node.sram.word_bytes
        self.lanes = (1 << (cfg.node.sram.word_bits // 64)) - 1
        for name in ("insn__valid", "inject__valid", "flags_clear", "seed_load", "status_clear"):
            getattr(dut, name).value = 0
        for port in ("net_wr", "net_rd", "core"):
            getattr(dut, f"{port}__req__valid").value = 0
            getattr(dut, f"{port}__resp__ready").value = 0
        dut.cf8e4_bias.value, dut.cf8e5_bias.value, dut.cf16_bias.value = 7, 15, 15
        dut.mode.value = 0

    async def write_words(self, words: dict[int, int]):
        """Write ``{word address: data}`` through ``net_wr``."""
        reqs = [self.req.pack(addr=a, write=1, lanes=self.lanes, data=d) for a, d in words.items()]
        sink = StreamSink(self.dut, "net_wr__resp")
        task = cocotb.start_soon(sink.run())
        await StreamSource(self.dut, "net_wr__req").send(reqs)
        await sink.wait_for(len(reqs), 10 * len(reqs) + 100)
        sink.stop()
        await task

    async def read_words(self, addrs) -> list[dict]:
        """Responses (data and flags) of reads of ``addrs`` through ``net_rd``."""
        reqs = [self.req.pack(addr=a, write=0, lanes=0, data=0) for a in addrs]
        sink = StreamSink(self.dut, "net_rd__resp")
        task = cocotb.start_soon(sink.run())
        await StreamSource(self.dut, "net_rd__req").send(reqs)
        await sink.wait_for(len(reqs), 10 * len(reqs) + 100)
        sink.stop()
        await task
        return [self.resp.unpack(i) for i in sink.items]

    async def inject(self, items):
        """``(word address, data, flip)`` through the SRAM's injection hook."""
        await StreamSource(self.dut, "inject").send(
            [self.inj.pack(addr=a, data=d, flip=f) for a, d, f in items]
        )
        for _ in range(4):
            await RisingEdge(self.dut.clk)

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
