"""``tatami bench gemm-node``: single-node GEMM utilization in RTL simulation.

The matrix unit on the banked ECC SRAM (:class:`tatami.hw.datapath.gemm_node.GemmNode`) runs GEMMs
with K >= 256 on Verilator; each result is checked bit for bit against the golden model, and the
unit's own counters give the cycle count and the stall causes. Utilization = ideal cycles
(``M*N*K / (m*n*k)``) / cycles from the descriptor's acceptance to the last C write acknowledged.
Results go to ``docs/results/gemm_node.json``.

This module is also the cocotb test module the bench runs (``gemm_bench``), and it holds the
driver that ``tb/datapath/test_matrix.py`` uses.
"""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge

from tatami.hw.common.codec import Codec
from tatami.hw.datapath.descriptors import MATRIX_CODEC
from tatami.hw.datapath.matrix import DONE_LAYOUT, block_shape
from tatami.hw.fpu.layouts import FpFormat, RoundMode
from tatami.hw.mem.ports import request_layout, response_layout
from tatami.sim.cocotb_env import StreamSink, StreamSource, design_config
from tatami.sim.datapath.matrix import ByteMemory, MatrixModel

__all__ = ["Node", "check_gemm", "default_shapes", "design", "make_gemm", "run"]

ESIZE = {FpFormat.BF16: 2, FpFormat.CF8_143: 1, FpFormat.CF8_152: 1}


def _round_up(x, q):
    return -(-x // q) * q


def make_gemm(cfg, rng, m, n, k, fa, fb, bias_a=7, bias_b=7):
    """A memory image with random A (row-major) and B (given as B^T row-major) and a descriptor."""
    wb = cfg.node.sram.word_bytes
    mem = ByteMemory(cfg.node.sram.size_bytes)
    sa, sb = ESIZE[fa], ESIZE[fb]
    a_rs, b_cs = _round_up(k * sa, wb), _round_up(k * sb, wb)
    a_addr = 0
    b_addr = _round_up(a_addr + m * a_rs, wb)
    c_addr = _round_up(b_addr + n * b_cs, wb)
    c_rs = _round_up(n * 4, cfg.node.matrix.n * 4)
    if c_addr + m * c_rs > cfg.node.sram.size_bytes:
        raise ValueError(f"a {m} x {n} x {k} GEMM does not fit the SRAM")

    def rand(fmt):
        if fmt is FpFormat.BF16:
            return rng.getrandbits(1) << 15 | rng.randint(112, 140) << 7 | rng.getrandbits(7)
        return rng.getrandbits(8)

    for i in range(m):
        for kk in range(k):
            mem.store_bytes(a_addr + i * a_rs + kk * sa, rand(fa).to_bytes(sa, "little"))
    for j in range(n):
        for kk in range(k):
            mem.store_bytes(b_addr + j * b_cs + kk * sb, rand(fb).to_bytes(sb, "little"))
    desc = {
        "a": {"addr": a_addr, "row_stride": a_rs, "col_stride": sa, "format": fa, "bias": bias_a},
        "b": {"addr": b_addr, "row_stride": sb, "col_stride": b_cs, "format": fb, "bias": bias_b},
        "c": {"addr": c_addr, "row_stride": c_rs, "col_stride": 4, "format": FpFormat.FP32},
        "m": m,
        "n": n,
        "k": k,
        "round": RoundMode.RNE,
    }
    return mem, desc, c_addr + m * c_rs


class Node:
    """Drives a GemmNode: loads memory through ``net_wr``, runs descriptors, reads C on ``net_rd``."""

    def __init__(self, dut):
        self.dut = dut
        self.cfg = design_config()
        self.req = Codec(request_layout(self.cfg))
        self.resp = Codec(response_layout(self.cfg))
        self.done = Codec(DONE_LAYOUT)
        self.wb = self.cfg.node.sram.word_bytes
        self.lanes = (1 << (self.cfg.node.sram.word_bits // 64)) - 1
        dut.start__valid.value = 0
        dut.done__ready.value = 0

    async def load(self, mem, end):
        words = [
            self.req.pack(
                addr=a,
                write=1,
                lanes=self.lanes,
                data=int.from_bytes(mem.load_bytes(a * self.wb, self.wb), "little"),
            )
            for a in range(_round_up(end, self.wb) // self.wb)
        ]
        sink = StreamSink(self.dut, "net_wr__resp")
        task = cocotb.start_soon(sink.run())
        await StreamSource(self.dut, "net_wr__req").send(words)
        await sink.wait_for(len(words), 10 * len(words) + 100)
        sink.stop()
        await task

    async def read(self, start, end) -> bytes:
        first, last = start // self.wb, _round_up(end, self.wb) // self.wb
        reqs = [self.req.pack(addr=a, write=0, lanes=0, data=0) for a in range(first, last)]
        sink = StreamSink(self.dut, "net_rd__resp")
        task = cocotb.start_soon(sink.run())
        await StreamSource(self.dut, "net_rd__req").send(reqs)
        await sink.wait_for(len(reqs), 10 * len(reqs) + 100)
        sink.stop()
        await task
        out = b""
        for item in sink.items:
            r = self.resp.unpack(item)
            assert not r["uncorrectable"] and not r["bad_addr"], r
            out += r["data"].to_bytes(self.wb, "little")
        return out[start - first * self.wb : end - first * self.wb]

    async def run(self, desc, timeout=200_000) -> dict:
        dut = self.dut
        dut.start__payload.value = MATRIX_CODEC.pack(desc)
        dut.start__valid.value = 1
        while True:
            await RisingEdge(dut.clk)
            if dut.start__ready.value:
                break
        dut.start__valid.value = 0
        dut.done__ready.value = 1
        for _ in range(timeout):
            await RisingEdge(dut.clk)
            if dut.done__valid.value:
                break
        else:
            raise AssertionError(f"no done after {timeout} cycles")
        result = self.done.unpack(int(dut.done__payload.value))
        await RisingEdge(dut.clk)
        dut.done__ready.value = 0
        return result


async def check_gemm(node, rng, m, n, k, fa, fb):
    """One GEMM on the RTL and on the golden model; C compared bit for bit. Returns the stats."""
    cfg = node.cfg
    mem, desc, end = make_gemm(cfg, rng, m, n, k, fa, fb, rng.randrange(0, 12), rng.randrange(0, 20))
    await node.load(mem, end)
    stats = await node.run(desc)
    assert not stats["error"], f"{m}x{n}x{k}: the unit rejected the descriptor"
    MatrixModel(cfg).run(MATRIX_CODEC.pack(desc), mem, flags=False)
    c = desc["c"]
    got = await node.read(c["addr"], c["addr"] + m * c["row_stride"])
    for i in range(m):
        for j in range(n):
            off = i * c["row_stride"] + 4 * j
            want = mem.load_bytes(c["addr"] + off, 4)
            assert got[off : off + 4] == want, (
                f"{m}x{n}x{k} {fa.name} x {fb.name}: C[{i}][{j}] = {got[off : off + 4][::-1].hex()}, "
                f"golden model {want[::-1].hex()}"
            )
    ideal = -(-m * n * k // cfg.node.matrix.macs_per_cycle)
    stats["ideal"] = ideal
    stats["utilization"] = ideal / stats["cycles"]
    return stats


@cocotb.test()
async def gemm_bench(dut):
    """The shapes in ``TATAMI_GEMM_SHAPES`` (JSON list of [M, N, K, format]); results to
    ``TATAMI_GEMM_RESULTS``."""
    from tatami.sim.cocotb_env import clock_and_reset

    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(1)
    rows = []
    for m, n, k, fmt in json.loads(os.environ["TATAMI_GEMM_SHAPES"]):
        f = FpFormat[fmt]
        start = time.perf_counter()
        stats = await check_gemm(node, rng, m, n, k, f, f)
        row = {
            "m": m,
            "n": n,
            "k": k,
            "format": fmt,
            **stats,
            "wall_seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        dut._log.info(f"GEMM {row}")
    with open(os.environ["TATAMI_GEMM_RESULTS"], "w") as fh:
        json.dump(rows, fh, indent=1)


def default_shapes(cfg) -> list[list]:
    """K >= 256 GEMMs of two blocks by two (or four by four) of C tiles, BF16 and CFloat8."""
    mx = cfg.node.matrix
    bm, bn = block_shape(cfg)
    rm, rn = bm * mx.m, bn * mx.n
    big = 4 if cfg.node.matrix.macs_per_cycle >= 64 else 2
    return [
        [big * rm, big * rn, 256, "BF16"],
        [big * rm, big * rn, 512, "BF16"],
        [big * rm, big * rn, 256, "CF8_143"],
    ]


def design(cfg):
    """The GemmNode design for ``cfg`` (tests and the bench share its build)."""
    from tatami.hw.datapath.gemm_node import GemmNode
    from tatami.sim.harness import Design

    return Design(f"gemm_node_{cfg.name.replace('-', '_')}", lambda: GemmNode(cfg), cfg, {})


def run(presets=("fpga-2x2", "d1"), out: Path | None = None, shapes=None) -> dict:
    """Run the bench for each preset; write and return the results."""
    from tatami.config import preset
    from tatami.sim.harness import REPO_ROOT, run_cocotb

    results = {"bench": "gemm-node", "host": platform.node(), "configs": {}}
    for name in presets:
        cfg = preset(name)
        sh = shapes or default_shapes(cfg)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rows.json"
            start = time.perf_counter()
            run_cocotb(
                design(cfg),
                "tatami.sim.benches.datapath_gemm",
                sim="verilator",
                seed=1,
                testcase="gemm_bench",
                extra_env={"TATAMI_GEMM_SHAPES": json.dumps(sh), "TATAMI_GEMM_RESULTS": str(path)},
            )
            rows = json.loads(path.read_text())
        mx = cfg.node.matrix
        results["configs"][name] = {
            "matrix": f"{mx.m}x{mx.n}x{mx.k}",
            "macs_per_cycle": mx.macs_per_cycle,
            "ring_slots": mx.k * cfg.node.fpu.fma_stages,
            "block_tiles": list(block_shape(cfg)),
            "sram": f"{cfg.node.sram.banks} x {cfg.node.sram.word_bits} b",
            "gemms": rows,
            "build_and_run_seconds": round(time.perf_counter() - start, 1),
        }
    out = out or REPO_ROOT / "docs" / "results" / "gemm_node.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    return results
