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
from tatami.sim.cocotb_env import design_config
from tatami.sim.datapath.matrix import ByteMemory, MatrixModel
from tatami.sim.datapath.node_ports import NodePortsDriver

__all__ = [
    "Node",
    "check_gemm",
    "default_shapes",
    "design",
    "make_gemm",
    "rand_element",
    "run",
    "run_checked",
]

ESIZE = {FpFormat.BF16: 2, FpFormat.CF8_143: 1, FpFormat.CF8_152: 1}
CSIZE = {FpFormat.FP32: 4, **ESIZE}


def _round_up(x, q):
    return -(-x // q) * q


def rand_element(rng, fmt, edge=0.0):
    """A random encoding of ``fmt``: moderate values, and with probability ``edge`` an edge value
    (infinities, NaNs, the largest finite values, zeros, subnormals)."""
    if fmt is FpFormat.FP32:
        if rng.random() < edge:
            return rng.choice([0x7F800000, 0xFF800000, 0x7FC00000, 0x7F7FFFFF, 0x80000000, 0x00000001, 0])
        return rng.getrandbits(1) << 31 | rng.randint(112, 140) << 23 | rng.getrandbits(23)
    if fmt is FpFormat.BF16:
        if rng.random() < edge:
            return rng.choice([0x7F80, 0xFF80, 0x7FC0, 0x7F7F, 0xFF7F, 0x8000, 0x0001, 0])
        return rng.getrandbits(1) << 15 | rng.randint(112, 140) << 7 | rng.getrandbits(7)
    return rng.getrandbits(8)


def make_gemm(
    cfg,
    rng,
    m,
    n,
    k,
    fa,
    fb,
    bias_a=7,
    bias_b=7,
    *,
    fc=FpFormat.FP32,
    bias_c=0,
    mode=RoundMode.RNE,
    seed=1,
    accumulate=False,
    edge=0.0,
    c_pad=0,
    a_major="k",
    b_major="k",
):
    """A memory image with random A, B and C (when ``accumulate``; otherwise C's region holds
    random bytes, which must survive around the elements), and a descriptor.

    ``a_major``: ``"k"`` A row-major (K-contiguous lines), ``"m"`` column-major (A^T row-major,
    starting at a random element of a word). ``b_major``: ``"k"`` B given as B^T row-major,
    ``"n"`` B row-major (the natural layout, starting at a random element). ``c_pad`` adds that
    many tile rows' worth of bytes to C's row stride (so C rows start inside words). Returns
    ``(mem, desc, end)``."""
    wb = cfg.node.sram.word_bytes
    mem = ByteMemory(cfg.node.sram.size_bytes)
    sa, sb, sc = ESIZE[fa], ESIZE[fb], CSIZE[fc]

    def place(base, outer, size, major_k):
        """(addr, outer stride, k stride, end) of an operand with ``outer`` rows (A) / columns (B)."""
        if major_k:
            line = _round_up(k * size, wb)
            return base, line, size, base + outer * line
        addr = base + size * rng.randrange(0, wb // size)
        line = _round_up(addr - base + outer * size, wb)
        return addr, size, line, base + k * line

    a_addr, a_os, a_ks, a_end = place(0, m, sa, a_major == "k")
    b_addr, b_os, b_ks, b_end = place(_round_up(a_end, wb), n, sb, b_major == "k")
    c_addr = _round_up(b_end, wb)
    c_gran = cfg.node.matrix.n * sc
    c_rs = _round_up(n * sc, c_gran) + c_pad * c_gran
    c_end = c_addr + m * c_rs
    if c_end > cfg.node.sram.size_bytes:
        raise ValueError(f"a {m} x {n} x {k} GEMM does not fit the SRAM")
    for i in range(m):
        for kk in range(k):
            v = rand_element(rng, fa, edge)
            mem.store_bytes(a_addr + i * a_os + kk * a_ks, v.to_bytes(sa, "little"))
    for j in range(n):
        for kk in range(k):
            v = rand_element(rng, fb, edge)
            mem.store_bytes(b_addr + j * b_os + kk * b_ks, v.to_bytes(sb, "little"))
    mem.store_bytes(c_addr, rng.randbytes(c_end - c_addr))
    if accumulate:
        for i in range(m):
            for j in range(n):
                v = rand_element(rng, fc, edge)
                mem.store_bytes(c_addr + i * c_rs + j * sc, v.to_bytes(sc, "little"))
    desc = {
        "a": {"addr": a_addr, "row_stride": a_os, "col_stride": a_ks, "format": fa, "bias": bias_a},
        "b": {"addr": b_addr, "row_stride": b_ks, "col_stride": b_os, "format": fb, "bias": bias_b},
        "c": {"addr": c_addr, "row_stride": c_rs, "col_stride": sc, "format": fc, "bias": bias_c},
        "m": m,
        "n": n,
        "k": k,
        "accumulate": int(accumulate),
        "round": mode,
        "seed": seed,
    }
    return mem, desc, c_end


class Node(NodePortsDriver):
    """Drives a GemmNode: loads memory through ``net_wr``, runs descriptors, reads C on ``net_rd``,
    injects SRAM errors through ``inject``."""

    def __init__(self, dut):
        super().__init__(dut, design_config())
        self.done = Codec(DONE_LAYOUT)
        dut.start__valid.value = 0
        dut.done__ready.value = 0

    async def load(self, mem, end):
        await self.write_words(
            {
                a: int.from_bytes(mem.load_bytes(a * self.wb, self.wb), "little")
                for a in range(_round_up(end, self.wb) // self.wb)
            }
        )

    async def read(self, start, end) -> bytes:
        first, last = start // self.wb, _round_up(end, self.wb) // self.wb
        out = b""
        for a, r in zip(range(first, last), await self.read_words(range(first, last))):
            assert not r["uncorrectable"] and not r["bad_addr"], f"word {a:#x}: {r}"
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


async def check_gemm(node, rng, m, n, k, fa, fb, **kw):
    """One GEMM on the RTL and on the golden model (``make_gemm`` with random biases and ``kw``);
    C's whole region compared bit for bit (the bytes between elements too). Returns the stats."""
    cfg = node.cfg
    mem, desc, end = make_gemm(cfg, rng, m, n, k, fa, fb, rng.randrange(0, 12), rng.randrange(0, 20), **kw)
    stats = await run_checked(node, mem, desc, end)
    ideal = -(-m * n * k // cfg.node.matrix.macs_per_cycle)
    stats["ideal"] = ideal
    stats["utilization"] = ideal / stats["cycles"]
    return stats


async def run_checked(node, mem, desc, end, *, load=True, run=True):
    """Load ``mem`` up to ``end`` (unless ``load`` is false: the node already holds it), run
    ``desc`` on the RTL (unless ``run`` is false: the node holds its result) and on the golden
    model (which updates ``mem``), compare C's region."""
    if load:
        await node.load(mem, end)
    stats = await node.run(desc) if run else {"error": 0}
    m, n, k = desc["m"], desc["n"], desc["k"]
    c = desc["c"]
    what = (
        f"{m}x{n}x{k} {desc['a']['format'].name} x {desc['b']['format'].name} -> {c['format'].name} "
        f"{RoundMode(desc['round']).name} acc={desc['accumulate']}"
    )
    assert not stats["error"], f"{what}: the unit rejected the descriptor"
    assert not stats.get("uncorrectable"), f"{what}: the unit reported an uncorrectable read"
    MatrixModel(node.cfg).run(MATRIX_CODEC.pack(desc), mem, flags=False)
    size = CSIZE[FpFormat(c["format"])]
    got = await node.read(c["addr"], c["addr"] + m * c["row_stride"])
    want = mem.load_bytes(c["addr"], m * c["row_stride"])
    if got != want:
        for off in range(len(want)):
            if got[off] != want[off]:
                i, rest = divmod(off, c["row_stride"])
                j = rest // size
                el = slice(i * c["row_stride"] + j * size, i * c["row_stride"] + (j + 1) * size)
                where = f"C[{i}][{j}]" if j < n else f"byte {rest} of row {i} (between elements)"
                raise AssertionError(
                    f"{what}: {where} = {got[el][::-1].hex()}, golden model {want[el][::-1].hex()}"
                )
    return stats


async def _trace(dut, path):
    """Debugging aid (``TATAMI_GEMM_TRACE=<file>``): the loader's and the ring's state every
    cycle, to find where operand stalls come from."""
    mx = dut.matrix
    names = ["full", "ld_buf", "ex_buf", "ia", "ib", "ra", "rb", "slot", "ks", "ex_g", "ld_g"]
    with open(path, "w") as fh:
        fh.write("cycle " + " ".join(names) + " a_req a_rdy b_req b_rdy a_resp b_resp c_req c_rdy\n")
        cycle = 0
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            if not int(mx.running.value):
                continue
            vals = [str(int(getattr(mx, x).value)) for x in names]
            ports = [
                mx.a__req__valid,
                mx.a__req__ready,
                mx.b__req__valid,
                mx.b__req__ready,
                mx.a__resp__valid,
                mx.b__resp__valid,
                mx.c__req__valid,
                mx.c__req__ready,
            ]
            fh.write(f"{cycle} " + " ".join(vals + [str(int(p.value)) for p in ports]) + "\n")


@cocotb.test()
async def gemm_bench(dut):
    """The shapes in ``TATAMI_GEMM_SHAPES`` (JSON list of ``[M, N, K, format]`` or
    ``[M, N, K, format, options]``, options: ``layout`` (``a_major + b_major``, default ``"kk"``),
    ``c`` (C's format), ``round``, ``accumulate``); results to ``TATAMI_GEMM_RESULTS``."""
    from tatami.sim.cocotb_env import clock_and_reset

    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(1)
    if os.environ.get("TATAMI_GEMM_TRACE"):
        cocotb.start_soon(_trace(dut, os.environ["TATAMI_GEMM_TRACE"]))
    rows = []
    for shape in json.loads(os.environ["TATAMI_GEMM_SHAPES"]):
        m, n, k, fmt = shape[:4]
        opts = shape[4] if len(shape) > 4 else {}
        f = FpFormat[fmt]
        layout = opts.get("layout", "kk")
        kw = {
            "a_major": layout[0],
            "b_major": layout[1],
            "fc": FpFormat[opts.get("c", "FP32")],
            "mode": RoundMode[opts.get("round", "RNE")],
            "accumulate": bool(opts.get("accumulate", False)),
            "seed": 7,
        }
        start = time.perf_counter()
        stats = await check_gemm(node, rng, m, n, k, f, f, **kw)
        row = {
            "m": m,
            "n": n,
            "k": k,
            "format": fmt,
            "layout": {
                "kk": "A row-major, B^T row-major",
                "kn": "A row-major, B row-major",
                "mn": "A column-major, B row-major",
                "mk": "A column-major, B^T row-major",
            }[layout],
            "c": kw["fc"].name,
            "round": kw["mode"].name,
            "accumulate": int(kw["accumulate"]),
            **stats,
            "wall_seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        dut._log.info(f"GEMM {row}")
    with open(os.environ["TATAMI_GEMM_RESULTS"], "w") as fh:
        json.dump(rows, fh, indent=1)


def default_shapes(cfg) -> list[list]:
    """K >= 256 GEMMs of two blocks by two (or four by four) of C tiles, BF16 and CFloat8; the
    natural layouts (B row-major, A column-major); converted and accumulated C."""
    mx = cfg.node.matrix
    bm, bn = block_shape(cfg)
    rm, rn = bm * mx.m, bn * mx.n
    big = 4 if cfg.node.matrix.macs_per_cycle >= 64 else 2
    mm, nn = big * rm, big * rn
    return [
        [mm, nn, 256, "BF16"],
        [mm, nn, 512, "BF16"],
        [mm, nn, 256, "CF8_143"],
        [mm, nn, 256, "BF16", {"layout": "kn"}],
        [mm, nn, 256, "BF16", {"layout": "mn"}],
        [mm, nn, 256, "CF8_143", {"layout": "mn"}],
        [mm, nn, 256, "BF16", {"c": "BF16", "round": "STOCHASTIC"}],
        [mm, nn, 256, "CF8_143", {"c": "CF8_143", "round": "RNE", "accumulate": True}],
        [mm, nn, 256, "BF16", {"c": "FP32", "accumulate": True}],
    ]


def design(cfg):
    """The GemmNode design for ``cfg`` (tests and the bench share its build)."""
    from tatami.hw.datapath.gemm_node import GemmNode
    from tatami.sim.harness import Design

    name = f"gemm_node_{cfg.name.replace('-', '_')}"
    if os.environ.get("TATAMI_GEMM_TRACE"):  # (the trace reads the matrix unit's state: all visible)
        return Design(name, lambda: GemmNode(cfg), cfg, {})
    # Ports only, but for the matrix unit's write-queue registers (tb/datapath/test_matrix.py reads
    # them): a much smaller Verilator build than with every signal visible.
    queue = tuple(("*.matrix", f"{v}*") for v in ("wq_", "q_"))
    return Design(name, lambda: GemmNode(cfg), cfg, {}, internals=False, public=queue)


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
    # Presets not run this time and the other sections (ECP5 figures) keep their earlier results.
    if out.exists():
        old = json.loads(out.read_text())
        results = {**old, **results, "configs": {**old.get("configs", {}), **results["configs"]}}
    out.write_text(json.dumps(results, indent=1) + "\n")
    return results
