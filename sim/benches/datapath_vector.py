"""``tatami bench vector``: vector kernels on the VectorUnit RTL (Verilator), each checked bit for
bit against :class:`tatami.sim.datapath.vector.VectorModel`, with their cycles per element.

The unit computes and holds no registers, so the bench plays the rest of the node: an in-order
issuer with the 32-register file, a scoreboard (an operation waits until the registers it reads
are not the destination of an operation still in the unit; results are written back the cycle
they leave the unit and may be read by an operation issued in that cycle), and loads and stores
of whole registers served from a memory image. **Loads and stores cost no unit cycle**: the node
has two SRAM load ports and one store port of one word (= ``vlen`` in every preset) per cycle,
and each kernel needs at most one load and one store per unit operation, so the ports are not
the limit; the SRAM side of the vector unit (address generation, gather) is not RTL yet.

Kernels (``n`` elements, programs written software-pipelined so independent operations fill the
unit's latency):

- ``elementwise``: ``y = relu(x * w + b)`` in BF16 (``vmul``, ``vadd``, ``vrelu`` per register);
- ``reduce``: the reductions of a softmax or a norm on one FP32 row: ``m = max(x)`` (``vmax``
  into 8 partial registers, a ``vmax`` tree, ``vredmax``), ``m`` broadcast (on the unit bench
  ``vbcast`` of element 0, a scalar move; on the node ``vshuf`` with an index register of zeros),
  then ``s = sum(x - m)`` (``vsub``, ``vadd`` into 8 partials, an ``vadd`` tree, ``vredsum``); no
  exponential (the unit has none); loads run one group of 8 registers ahead;
- ``convert``: FP32 to BF16 with stochastic rounding (``vcvt.bf16.f32``, one register of FP32 in,
  the BF16 results in the low half of the destination).

Cycles are counted from the first operation entering the unit to the last result leaving it.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cocotb
import numpy as np

from tatami.hw.common.codec import Codec
from tatami.hw.datapath.vector import (
    VectorUnit,
    vector_latency,
    vector_op_layout,
    vector_passes,
    vector_result_layout,
)
from tatami.isa import INSTRUCTIONS, VecFormat, VecOp, encode
from tatami.sim.datapath.matrix import ByteMemory
from tatami.sim.datapath.vector import VectorModel
from tatami.sim.numerics import RoundingMode

__all__ = ["KERNELS", "design", "kernel_program", "run"]

F = VecFormat
KERNELS = ("elementwise", "reduce", "convert")
LD, ST, BCAST0 = "ld", "st", "bcast0"  # issuer-side instructions (loads, stores, scalar move)
GROUP = 8  # registers in flight per software-pipelined group (>= the unit's latency)


def _ins(op, fmt=F.FP32, vd=0, vs1=0, vs2=0, x=0, mode=RoundingMode.RNE):
    return {"op": op, "fmt": fmt, "vd": vd, "vs1": vs1, "vs2": vs2, "x": x, "mode": mode}


def kernel_program(cfg, kernel: str, n: int, rng: np.random.Generator):
    """(program, memory image, elements) of ``kernel`` over ``n`` elements."""
    vlen = cfg.node.vector.vlen_bits
    nbytes = vlen // 8
    if kernel == "elementwise":
        lanes = vlen // 16
        chunks = max(1, n // lanes)
        data = (rng.standard_normal(chunks * lanes) * 4).astype(np.float32)
        x = (data.view(np.uint32) >> 16).astype(np.uint16)  # BF16 (truncated) inputs
        mem = ByteMemory(nbytes * (2 * chunks + 4))
        mem.store_bytes(0, x.tobytes())
        out = nbytes * chunks
        prog = [
            _ins(VecOp.VBCAST, F.BF16, vd=30, x=0x3FC0),  # w = 1.5
            _ins(VecOp.VBCAST, F.BF16, vd=31, x=0xBF00),  # b = -0.5
        ]
        stores = []
        for g in range(0, chunks, GROUP):
            ks = range(g, min(chunks, g + GROUP))
            prog += [_ins(LD, vd=j, x=k * nbytes) for j, k in enumerate(ks)]
            prog += [_ins(VecOp.VMUL, F.BF16, vd=8 + j, vs1=j, vs2=30) for j, _ in enumerate(ks)]
            prog += stores  # the previous group's results, long since ready
            prog += [_ins(VecOp.VADD, F.BF16, vd=8 + j, vs1=8 + j, vs2=31) for j, _ in enumerate(ks)]
            prog += [_ins(VecOp.VRELU, F.BF16, vd=16 + j, vs1=8 + j) for j, _ in enumerate(ks)]
            stores = [_ins(ST, vs2=16 + j, x=out + k * nbytes) for j, k in enumerate(ks)]
        prog += stores
        return prog, mem, chunks * lanes
    if kernel == "reduce":
        lanes = vlen // 32
        chunks = max(GROUP, n // lanes // GROUP * GROUP)
        data = (rng.standard_normal(chunks * lanes) * 8).astype(np.float32)
        mem = ByteMemory(nbytes * (chunks + 4))
        mem.store_bytes(0, data.tobytes())
        groups = list(range(0, chunks, GROUP))

        def loads(gi):  # group gi into one of two banks of load registers (v0..v7, v16..v23)
            bank = 16 * (gi % 2)
            return [_ins(LD, vd=bank + j, x=(groups[gi] + j) * nbytes) for j in range(GROUP)], bank

        # Loads run one group ahead of the operations that use them (software pipelining).
        prog = loads(0)[0]
        for gi in range(len(groups)):  # phase 1: 8 partial maxima (v8..v15)
            if gi + 1 < len(groups):
                prog += loads(gi + 1)[0]
            bank = loads(gi)[1]
            prog += [
                _ins(VecOp.VMAX, F.FP32, vd=8 + j, vs1=bank + j if gi == 0 else 8 + j, vs2=bank + j)
                for j in range(GROUP)
            ]
        prog += _tree(VecOp.VMAX, 8)
        prog.append(_ins(VecOp.VREDMAX, F.FP32, vd=24, vs1=8))
        prog.append(_ins(BCAST0, F.FP32, vd=25, vs1=24))  # m in every element
        prog += loads(0)[0]
        for gi in range(len(groups)):  # phase 2: 8 partial sums (v8..v15) of x - m (in place)
            if gi + 1 < len(groups):
                prog += loads(gi + 1)[0]
            bank = loads(gi)[1]
            prog += [_ins(VecOp.VSUB, F.FP32, vd=bank + j, vs1=bank + j, vs2=25) for j in range(GROUP)]
            acc = [26 if gi == 0 else 8 + j for j in range(GROUP)]  # v26 = +0
            prog += [_ins(VecOp.VADD, F.FP32, vd=8 + j, vs1=acc[j], vs2=bank + j) for j in range(GROUP)]
        prog += _tree(VecOp.VADD, 8)
        prog.append(_ins(VecOp.VREDSUM, F.FP32, vd=27, vs1=8))
        prog.append(_ins(ST, vs2=24, x=chunks * nbytes))
        prog.append(_ins(ST, vs2=27, x=(chunks + 1) * nbytes))
        return prog, mem, chunks * lanes
    if kernel == "convert":
        lanes = vlen // 32
        chunks = max(1, n // lanes)
        data = (rng.standard_normal(chunks * lanes) * 100).astype(np.float32)
        mem = ByteMemory(nbytes * (2 * chunks + 4))
        mem.store_bytes(0, data.tobytes())
        out = nbytes * chunks
        prog, stores = [], []
        for g in range(0, chunks, GROUP):
            ks = range(g, min(chunks, g + GROUP))
            bank = 8 + 8 * (g // GROUP % 2)  # two banks, so the stores of the previous group
            prog += [_ins(LD, vd=j, x=k * nbytes) for j, k in enumerate(ks)]  # read the other one
            prog += [
                _ins(VecOp.VCVT_BF16, F.FP32, vd=bank + j, vs1=j, mode=RoundingMode.STOCHASTIC)
                for j, _ in enumerate(ks)
            ]
            prog += stores
            stores = [_ins(ST, vs2=bank + j, x=out + k * nbytes) for j, k in enumerate(ks)]
        prog += stores
        return prog, mem, chunks * lanes
    raise ValueError(f"unknown kernel {kernel!r}; known: {', '.join(KERNELS)}")


def _tree(op, regs):
    """Combine v8..v(8+regs-1) pairwise into v8."""
    prog, step = [], 1
    while step < regs:
        for i in range(0, regs, 2 * step):
            prog.append(_ins(op, F.FP32, vd=8 + i, vs1=8 + i, vs2=8 + i + step))
        step *= 2
    return prog


def _reads(ins):
    op = ins["op"]
    if op == ST:
        return {ins["vs2"]}
    if op == LD:
        return set()
    if op == BCAST0:
        return {ins["vs1"]}
    if op is VecOp.VBCAST:
        return set()
    regs = {ins["vs1"], ins["vs2"]}
    if op in (VecOp.VFMA, VecOp.VPAD):
        regs.add(ins["vd"])
    return regs


def model_run(cfg, prog, mem, seed=1):
    """The program on the golden model; returns the model."""
    v = VectorModel(cfg, mem, seed=seed)
    for ins in prog:
        op = ins["op"]
        v.mode = RoundingMode(ins["mode"])
        if op == LD:
            v.execute(VecOp.VLD, 0, ins["vd"], 0, 0, ins["x"])
        elif op == ST:
            v.execute(VecOp.VST, 0, 0, 0, ins["vs2"], ins["x"])
        elif op == BCAST0:
            w = v.width(ins["fmt"])
            v.execute(VecOp.VBCAST, ins["fmt"], ins["vd"], 0, 0, v.regs[ins["vs1"]] & ((1 << w) - 1))
        else:
            v.execute(op, ins["fmt"], ins["vd"], ins["vs1"], ins["vs2"], ins["x"])
    return v


async def issue(dut, cfg, prog, mem):
    """Run ``prog`` on the unit (see the module docstring); returns (registers, cycles, unit ops)."""
    from cocotb.triggers import FallingEdge

    op_codec, res_codec = Codec(vector_op_layout(cfg)), Codec(vector_result_layout(cfg))
    nbytes = cfg.node.vector.vlen_bits // 8
    regs = [0] * cfg.node.vector.registers
    inflight = []  # destination registers, in order
    pc, cycles, started, unit_ops, hold = 0, 0, False, 0, 0
    dut.o__ready.value = 1
    while pc < len(prog) or inflight:
        await FallingEdge(dut.clk)
        if started:
            cycles += 1
        if dut.o__valid.value:
            word = res_codec.unpack(int(dut.o__payload.value))
            regs[inflight.pop(0)] = word["result"]
        if hold:  # an operation of several passes holds the input (vector_passes)
            hold -= 1
            continue
        busy = set(inflight)
        dut.i__valid.value = 0
        while pc < len(prog):
            ins = prog[pc]
            if _reads(ins) & busy:
                break
            if ins["op"] == LD:
                regs[ins["vd"]] = int.from_bytes(mem.load_bytes(ins["x"], nbytes), "little")
                pc += 1
                continue
            if ins["op"] == ST:
                mem.store_bytes(ins["x"], regs[ins["vs2"]].to_bytes(nbytes, "little"))
                pc += 1
                continue
            if ins["vd"] in busy:  # in-order results make this safe, but keep it simple
                break
            op, x = ins["op"], ins["x"]
            if op == BCAST0:
                w = VectorModel.width(ins["fmt"])
                op, x = VecOp.VBCAST, regs[ins["vs1"]] & ((1 << w) - 1)
            dut.i__valid.value = 1
            dut.i__payload.value = op_codec.pack(
                op=op,
                fmt=ins["fmt"],
                mode=int(ins["mode"]),
                x=x,
                a=regs[ins["vs1"]],
                b=regs[ins["vs2"]],
                c=regs[ins["vd"]],
                cf8e4_bias=7,
                cf8e5_bias=15,
                cf16_bias=15,
            )
            inflight.append(ins["vd"])
            hold = vector_passes(cfg, op, ins["fmt"]) - 1
            started, unit_ops = True, unit_ops + 1
            pc += 1
            break
        if cycles > 100 * len(prog) + 1000:
            raise AssertionError("the program does not finish")
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0
    return regs, cycles, unit_ops


@cocotb.test()
async def vector_kernels(dut):
    """The kernels in ``TATAMI_VECTOR_KERNELS`` (JSON list of [kernel, n]); results to
    ``TATAMI_VECTOR_RESULTS``."""
    from cocotb.triggers import FallingEdge

    from tatami.sim.cocotb_env import clock_and_reset, design_config

    cfg = design_config()
    dut.i__valid.value = 0
    dut.flags_clear.value = 0
    dut.seed_load.value = 0
    await clock_and_reset(dut)
    rows = []
    for kernel, n in json.loads(os.environ["TATAMI_VECTOR_KERNELS"]):
        rng = np.random.default_rng(1)
        prog, mem, elements = kernel_program(cfg, kernel, n, rng)
        model_mem = _copy(mem)
        await FallingEdge(dut.clk)
        dut.seed.value = 1  # the model's seed: every kernel starts from the same LFSR state
        dut.seed_load.value = 1
        await FallingEdge(dut.clk)
        dut.seed_load.value = 0
        regs, cycles, unit_ops = await issue(dut, cfg, prog, mem)
        model = model_run(cfg, prog, model_mem)
        if regs != model.regs or mem.data != model_mem.data:
            bad = [i for i, (a, b) in enumerate(zip(regs, model.regs)) if a != b]
            raise AssertionError(f"kernel {kernel}: RTL differs from the golden model (registers {bad})")
        rows.append(
            {
                "kernel": kernel,
                "elements": elements,
                "unit_ops": unit_ops,
                "cycles": cycles,
                "cycles_per_element": round(cycles / elements, 4),
                "bit_exact": True,
            }
        )
        dut._log.info(f"kernel {rows[-1]}")
    with open(os.environ["TATAMI_VECTOR_RESULTS"], "w") as fh:
        json.dump(rows, fh, indent=1)


# -- SRAM to SRAM: the programs as instruction words on VectorNode -----------------------------------

NODE_KERNELS = ("elementwise", "reduce", "convert", "convert_cf8")
ZERO_IDX = 28  # vshuf index register of zeros (broadcast of element 0)


def _words(prog):
    """The bench program as ``(word, x[rs1], x[rs2])`` instruction triples (docs/isa.md):
    ``ld``/``st`` are ``vld``/``vst``; the broadcast of element 0 is ``vshuf`` with an index
    register of zeros (one ``vbcast.i32 v28, zero`` first); every operation named by op and format."""
    out = [(encode("vbcast.i32", vd=ZERO_IDX, rs1=0), 0, 0), (encode("vbcast.i32", vd=26, rs1=0), 0, 0)]
    for ins in prog:
        op = ins["op"]
        if op == LD:
            out.append((encode("vld", vd=ins["vd"], rs1=1), ins["x"], 0))
        elif op == ST:
            out.append((encode("vst", vs2=ins["vs2"], rs1=1), ins["x"], 0))
        elif op == BCAST0:
            name = f"vshuf.{F(ins['fmt']).suffix}"
            out.append((encode(name, vd=ins["vd"], vs1=ins["vs1"], vs2=ZERO_IDX), 0, 0))
        else:
            suffix = F(ins["fmt"]).suffix
            if VecOp.VCVT_F32 <= op <= VecOp.VCVT_CF16:
                name = f"vcvt.{F(op - VecOp.VCVT_F32).suffix}.{suffix}"
            else:
                name = f"{VecOp(op).name.lower()}.{suffix}"
            spec = INSTRUCTIONS[name]
            operands = {k: ins[k] for k in ("vd", "vs1", "vs2") if k in spec.operands}
            if "rs1" in spec.operands:
                operands["rs1"] = 1
            if "rs2" in spec.operands:
                operands["rs2"] = 2
            x = ins["x"]
            out.append((encode(name, **operands), x, x))
    return out


def node_kernel_program(cfg, kernel: str, n: int, rng: np.random.Generator):
    """(instruction triples, memory image, elements, rounding mode) of ``kernel`` on VectorNode."""
    if kernel == "convert_cf8":
        # BF16 -> CFloat8 1-4-3 (bias 7), round to nearest even; 2 registers of BF16 give 1 of CF8
        vlen = cfg.node.vector.vlen_bits
        nbytes = vlen // 8
        lanes = vlen // 16
        chunks = max(2, n // lanes // 2 * 2)
        data = (rng.standard_normal(chunks * lanes) * 4).astype(np.float32)
        x = (data.view(np.uint32) >> 16).astype(np.uint16)
        mem = ByteMemory(nbytes * (2 * chunks + 4))
        mem.store_bytes(0, x.tobytes())
        out = nbytes * chunks
        prog, stores = [], []
        for g in range(0, chunks, GROUP):
            ks = range(g, min(chunks, g + GROUP))
            bank = 8 + 8 * (g // GROUP % 2)
            prog += [_ins(LD, vd=j, x=k * nbytes) for j, k in enumerate(ks)]
            prog += [_ins(VecOp.VCVT_CF8E4, F.BF16, vd=bank + j, vs1=j) for j, _ in enumerate(ks)]
            prog += stores
            stores = [_ins(ST, vs2=bank + j, x=out + k * nbytes) for j, k in enumerate(ks)]
        prog += stores
        return _words(prog), mem, chunks * lanes, RoundingMode.RNE
    prog, mem, elements = kernel_program(cfg, kernel, n, rng)
    mode = RoundingMode.STOCHASTIC if kernel == "convert" else RoundingMode.RNE
    return _words(prog), mem, elements, mode


@cocotb.test()
async def vector_node_kernels(dut):
    """The kernels in ``TATAMI_VECTOR_KERNELS`` from SRAM to SRAM on VectorNode, each checked
    word for word (memory) and status for status against VectorCoreModel; rows to
    ``TATAMI_VECTOR_RESULTS``."""
    from cocotb.triggers import RisingEdge

    from tatami.sim.cocotb_env import clock_and_reset, design_config
    from tatami.sim.datapath.vector_core import VectorCoreModel
    from tatami.sim.datapath.vector_driver import VectorNodeDriver
    from tatami.sim.mem.sram import SramModel

    cfg = design_config()
    drv = VectorNodeDriver(dut, cfg)
    await clock_and_reset(dut)
    wb = cfg.node.sram.word_bytes
    sram = SramModel(cfg)
    model = VectorCoreModel(cfg, sram)
    rows = []
    for kernel, n in json.loads(os.environ["TATAMI_VECTOR_KERNELS"]):
        rng = np.random.default_rng(1)
        prog, mem, elements, mode = node_kernel_program(cfg, kernel, n, rng)
        nwords = len(mem.data) // wb
        image = {a: int.from_bytes(mem.load_bytes(a * wb, wb), "little") for a in range(nwords)}
        await drv.write_words(image)
        for a, d in image.items():
            sram.write(a, d)
        dut.mode.value = int(mode)
        model.set_state(mode)
        dut.seed.value = 1
        dut.seed_load.value = 1
        await RisingEdge(dut.clk)
        dut.seed_load.value = 0
        model.unit.seed(1)
        cycles = await drv.run(prog)
        for w, rs1, rs2 in prog:
            model.step(w, rs1, rs2)
        resp = await drv.read_words(range(nwords))
        bad = [a for a, r in zip(range(nwords), resp) if r["data"] != sram.read(a).data]
        if bad or model.faults or drv.status()["fault"]:
            raise AssertionError(f"kernel {kernel}: memory differs from the golden model (words {bad[:8]})")
        unit_ops = sum(1 for w, _, _ in prog if w >> 25 not in (VecOp.VLD, VecOp.VST))
        rows.append(
            {
                "kernel": kernel,
                "elements": elements,
                "instructions": len(prog),
                "unit_ops": unit_ops,
                "memory_ops": len(prog) - unit_ops,
                "cycles": cycles,
                "cycles_per_element": round(cycles / elements, 4),
                "bit_exact": True,
            }
        )
        dut._log.info(f"kernel {rows[-1]}")
    with open(os.environ["TATAMI_VECTOR_RESULTS"], "w") as fh:
        json.dump(rows, fh, indent=1)


def _copy(mem):
    new = ByteMemory(len(mem.data))
    new.data[:] = mem.data
    return new


def design(cfg):
    from tatami.sim.harness import Design

    # (ports only: the benches and tests drive and read the unit's ports; Verilator's C++ is then
    # a fraction of a full-visibility build's, and builds that much faster)
    return Design(
        f"vector_unit_{cfg.name.replace('-', '_')}", lambda: VectorUnit(cfg), config=cfg, internals=False
    )


def node_design(cfg):
    from tatami.hw.datapath.vector_node import VectorNode
    from tatami.sim.harness import Design

    return Design(
        f"vector_node_{cfg.name.replace('-', '_')}", lambda: VectorNode(cfg), config=cfg, internals=False
    )


def default_kernels(cfg) -> list[list]:
    return [["elementwise", 4096], ["reduce", 2048], ["convert", 2048]]


def default_node_kernels(cfg) -> list[list]:
    return [["elementwise", 4096], ["reduce", 2048], ["convert", 2048], ["convert_cf8", 4096]]


def run(presets=("fpga-2x2",), out: Path | None = None, kernels=None, sim="verilator", node=True) -> dict:
    """Run the kernels for each preset on the unit (``kernels``) and, with ``node``, from SRAM to
    SRAM on VectorNode (``node_kernels``); write and return the results."""
    from tatami.config import preset
    from tatami.sim.harness import REPO_ROOT, run_cocotb

    results = {"bench": "vector", "host": platform.node(), "configs": {}}
    for name in presets:
        cfg = preset(name)
        ks = kernels or default_kernels(cfg)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rows.json"
            start = time.perf_counter()
            run_cocotb(
                design(cfg),
                "tatami.sim.benches.datapath_vector",
                sim=sim,
                seed=1,
                testcase="vector_kernels",
                extra_env={"TATAMI_VECTOR_KERNELS": json.dumps(ks), "TATAMI_VECTOR_RESULTS": str(path)},
            )
            rows = json.loads(path.read_text())
        node_rows = []
        if node:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "rows.json"
                run_cocotb(
                    node_design(cfg),
                    "tatami.sim.benches.datapath_vector",
                    sim=sim,
                    seed=1,
                    testcase="vector_node_kernels",
                    extra_env={
                        "TATAMI_VECTOR_KERNELS": json.dumps(default_node_kernels(cfg)),
                        "TATAMI_VECTOR_RESULTS": str(path),
                    },
                )
                node_rows = json.loads(path.read_text())
        vlen = cfg.node.vector.vlen_bits
        results["configs"][name] = {
            "vlen_bits": vlen,
            "latency": vector_latency(cfg),
            "lanes": {"fp32": vlen // 32, "bf16": vlen // 16, "convert": vlen // 16, "int8": vlen // 8},
            "kernels": rows,
            "node_kernels": node_rows,
            "build_and_run_seconds": round(time.perf_counter() - start, 1),
        }
    if out is not False:
        out = out or REPO_ROOT / "docs" / "results" / "vector.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():  # presets not run and the ECP5 figures (measured by hand) are kept
            old = json.loads(out.read_text()).get("configs", {})
            for name, conf in results["configs"].items():
                if "ecp5" in old.get(name, {}):
                    conf["ecp5"] = old[name]["ecp5"]
            results["configs"] = {**old, **results["configs"]}
        out.write_text(json.dumps(results, indent=1) + "\n")
    return results
