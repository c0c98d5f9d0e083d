"""cocotb driver of a node-level DUT's memory ports, shared by the matrix and vector benches: words
written through ``net_wr``, read back (with their ECC flags) through ``net_rd``, and errors planted
through the SRAM's ``inject`` hook."""

from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge

from tatami.hw.common.codec import Codec
from tatami.hw.mem.ports import inject_layout, request_layout, response_layout
from tatami.sim.cocotb_env import StreamSink, StreamSource

__all__ = ["NodePortsDriver"]


class NodePortsDriver:
    """``dut`` has the streams ``net_wr__req``/``net_wr__resp``, ``net_rd__req``/``net_rd__resp``
    and ``inject`` of :mod:`tatami.hw.mem.ports`, for the SRAM of ``cfg``."""

    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg
        self.req = Codec(request_layout(cfg))
        self.resp = Codec(response_layout(cfg))
        self.inj = Codec(inject_layout(cfg))
        self.wb = cfg.node.sram.word_bytes
        self.lanes = (1 << (cfg.node.sram.word_bits // 64)) - 1
        dut.inject__valid.value = 0
        for port in ("net_wr", "net_rd"):
            getattr(dut, f"{port}__req__valid").value = 0
            getattr(dut, f"{port}__resp__ready").value = 0

    async def _exchange(self, port: str, reqs: list[int]) -> list[int]:
        sink = StreamSink(self.dut, f"{port}__resp")
        task = cocotb.start_soon(sink.run())
        await StreamSource(self.dut, f"{port}__req").send(reqs)
        await sink.wait_for(len(reqs), 10 * len(reqs) + 100)
        sink.stop()
        await task
        return sink.items

    async def write_words(self, words: dict[int, int]):
        """Write ``{word address: data}`` through ``net_wr`` (all lanes)."""
        await self._exchange(
            "net_wr", [self.req.pack(addr=a, write=1, lanes=self.lanes, data=d) for a, d in words.items()]
        )

    async def read_words(self, addrs) -> list[dict]:
        """The responses (``data``, ``corrected``, ``uncorrectable``, ``bad_addr``) to reads of the
        word addresses ``addrs`` through ``net_rd``."""
        items = await self._exchange(
            "net_rd", [self.req.pack(addr=a, write=0, lanes=0, data=0) for a in addrs]
        )
        return [self.resp.unpack(i) for i in items]

    async def inject(self, items):
        """``(word address, data, flip)``: word ``addr`` written with ``data`` and the stored bits in
        ``flip`` inverted (the SRAM's error-injection hook)."""
        await StreamSource(self.dut, "inject").send(
            [self.inj.pack(addr=a, data=d, flip=f) for a, d, f in items]
        )
        for _ in range(4):
            await RisingEdge(self.dut.clk)
