"""VectorCore on the node SRAM (:class:`tatami.hw.datapath.vector_node.VectorNode`) against
:class:`tatami.sim.datapath.vector_core.VectorCoreModel`: random programs of encoded VECTOR
instructions (loads, stores, gathers at 8 and 16 bytes, arithmetic, conversions, permutations,
illegal words) over a few registers, so that most instructions depend on recent ones; random
addresses and gather offsets (aligned, misaligned, beyond the SRAM) in a small window with
injected single and double bit errors, and reads on the SRAM's core port at the same time
(bank conflicts). The memory window and the registers (stored at the end) are compared with the
model, and so are the fault report, the counters and the sticky flags. Each cocotb test runs on
Verilator and Icarus."""

import random

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.datapath.vector_core import VectorCore
from tatami.hw.mem.ports import stored_lane_bits
from tatami.isa import encode
from tatami.sim.benches.datapath_vector import node_design
from tatami.sim.cocotb_env import BackPressure, StreamSink, StreamSource, clock_and_reset, design_config, knob
from tatami.sim.datapath.vector_core import Fault, VectorCoreModel
from tatami.sim.datapath.vector_driver import VectorNodeDriver
from tatami.sim.mem.sram import SramModel
from tatami.sim.numerics import RoundingMode

WINDOW = 24  # words of the random-access window (word 0 up)
IDX = 32  # word address of the gather index table
DUMP = 48  # word address where the registers are stored at the end
TRACE = 64  # words where some loaded registers are stored at once (TRACE_WORDS of them, in turn)
TRACE_WORDS = 16
DATA_REGS = 8  # v0..v7 take results; v8..v11 hold gather offsets

# (mnemonic, syntax kind) of the compute instructions in the random programs: ops the RTL has.
COMPUTE = [
    "vadd.f32", "vsub.bf16", "vmul.bf16", "vfma.f32", "vfma.bf16", "vmax.f32", "vmin.bf16",
    "vrelu.f32", "vcmplt.bf16", "vadd.i32", "vmul.i16", "vxor.i8", "vsra.i16", "vredsum.f32",
    "vredsum.bf16", "vredmax.i8", "vcvt.bf16.f32", "vcvt.i32.f32", "vcvt.f32.i16", "vcvt.cf8e4.bf16",
    "vshuf.i8", "vtrans.i16", "vpad.f32", "vbcast.i16",
]  # fmt: skip


#: Words that are no VECTOR instruction: vand.f32 (integer formats only), vld with funct3 1, vrelu
#: with an rs2 field, an unused funct7 (0x07), and an RV32 add.
ILLEGAL = [0x2000_000B, 0x7000_100B, 0x0C10_000B, 0x0E00_000B, 0x0000_0033]


def _address(rng, cfg, granule):
    """A byte address: mostly aligned in the window, some misaligned, some beyond the SRAM."""
    wb = cfg.node.sram.word_bytes
    r = rng.random()
    if r < 0.08:
        return cfg.node.sram.size_bytes + rng.randrange(0, 4) * granule
    base = rng.randrange(0, WINDOW * wb // granule) * granule
    if r < 0.16:
        return base + rng.randrange(1, granule)
    return base


def _offsets(rng, cfg, base, granule, n):
    return [(_address(rng, cfg, granule) - base) & 0xFFFFFFFF for _ in range(n)]


def random_program(cfg, rng: random.Random, n: int):
    """``n`` instructions ``(word, x[rs1], x[rs2])`` and the initial SRAM contents."""
    wb = cfg.node.sram.word_bytes
    vlen = cfg.node.vector.vlen_bits
    words = {a: rng.getrandbits(vlen) for a in range(WINDOW)}
    # gather index table: one register of offsets per granule, relative to base 0x40
    for k in range(4):
        g = 8 if k % 2 == 0 else 16
        offs = _offsets(rng, cfg, 0x40, g, vlen // 32)
        words[IDX + k] = sum(o << (32 * i) for i, o in enumerate(offs))
    prog = [(encode("vld", vd=8 + k, rs1=1), (IDX + k) * wb, 0) for k in range(4)]
    src = list(range(12))
    dst = list(range(DATA_REGS))
    trace = 0
    for _ in range(n):
        r = rng.random()
        if prog and prog[-1][0] & 0x7F == 0x0B and prog[-1][0] >> 25 in (0x38, 0x3A, 0x3B) and r < 0.4:
            vd = prog[-1][0] >> 7 & 31
            prog.append((encode("vst", vs2=vd, rs1=1), (TRACE + trace % TRACE_WORDS) * wb, 0))
            trace += 1
        elif r < 0.2:
            prog.append((encode("vld", vd=rng.choice(dst), rs1=1), _address(rng, cfg, wb), 0))
        elif r < 0.35:
            prog.append((encode("vst", vs2=rng.choice(src), rs1=1), _address(rng, cfg, wb), 0))
        elif r < 0.5:
            k = rng.randrange(4)
            name = "vgather8" if k % 2 == 0 else "vgather16"
            base = 0x40 if rng.random() < 0.8 else rng.randrange(0, 0x100)
            prog.append((encode(name, vd=rng.choice(dst), vs2=8 + k, rs1=1), base, 0))
        elif r < 0.53:
            prog.append((rng.choice(ILLEGAL) | rng.choice(dst) << 7, 0, 0))
        else:
            name = rng.choice(COMPUTE)
            ops = {"vd": rng.choice(dst), "vs1": rng.choice(src), "vs2": rng.choice(src)}
            rs1 = rs2 = 0
            if name.startswith("vbcast"):
                ops = {"vd": ops["vd"], "rs1": 1}
                rs1 = rng.getrandbits(32)
            elif name.startswith(("vrelu", "vredsum", "vredmax", "vcvt")):
                del ops["vs2"]
            elif name.startswith("vtrans"):
                ops = {"vd": ops["vd"], "vs1": ops["vs1"], "rs2": 2}
                rs2 = 1 << rng.randrange(0, (vlen // 16).bit_length())
            elif name.startswith("vpad"):
                ops = {"vd": ops["vd"], "vs1": ops["vs1"], "rs2": 2}
                rs2 = rng.randrange(0, vlen // 32 + 2)
            prog.append((encode(name, **ops), rs1, rs2))
    prog += [(encode("vst", vs2=r, rs1=1), (DUMP + r) * wb, 0) for r in range(12)]
    return prog, words


def _errors(rng, cfg, n):
    """``n`` (word, data, flip): single flips (corrected) and double flips in one lane. The last one
    is always a double flip (it is injected last, so it stands even if another error hit its word)."""
    lane_st = stored_lane_bits(cfg)
    lanes = cfg.node.sram.word_bits // 64
    out = []
    for i in range(n):
        lane = rng.randrange(lanes)
        bits = rng.sample(range(lane_st), 2 if i == n - 1 or rng.random() < 0.5 else 1)
        out.append(
            (
                rng.randrange(WINDOW),
                rng.getrandbits(cfg.node.sram.word_bits),
                sum(1 << (lane * lane_st + b) for b in bits),
            )
        )
    return out


async def _background_reads(dut, cfg, rng, stop):
    """Random reads on the core port while the program runs (bank conflicts)."""
    from tatami.hw.common.codec import Codec
    from tatami.hw.mem.ports import request_layout

    req = Codec(request_layout(cfg))
    sink = StreamSink(dut, "core__resp", BackPressure(0.7, rng))
    task = cocotb.start_soon(sink.run())
    src = StreamSource(dut, "core__req", BackPressure(0.5, rng))
    while not stop[0]:
        await src.send([req.pack(addr=rng.randrange(TRACE + TRACE_WORDS), write=0, lanes=0, data=0)])
    await sink.wait_for(src.sent, 200)
    sink.stop()
    await task


@cocotb.test()
async def random_programs(dut):
    """Random programs with injected errors, random instruction gaps and core-port traffic."""
    cfg = design_config()
    seed = random.getrandbits(32)
    rng = random.Random(seed)
    drv = VectorNodeDriver(dut, cfg)
    mode = rng.choice(list(RoundingMode))
    dut.mode.value = int(mode)
    await clock_and_reset(dut)
    n = knob("cases", 300)
    prog, words = random_program(cfg, rng, n)
    sram = SramModel(cfg)
    for a, d in words.items():
        sram.write(a, d)
    model = VectorCoreModel(cfg, sram)
    model.set_state(mode)
    await drv.write_words(words)
    errors = _errors(rng, cfg, 10)
    # Right after the index loads, one load of each fault kind (the double-flipped word, a
    # misaligned address, an address beyond the SRAM): every run reports all three, whatever the
    # random program does later (the coverage check below).
    wb = cfg.node.sram.word_bytes
    prog[4:4] = [
        (encode("vld", vd=0, rs1=1), errors[-1][0] * wb, 0),
        (encode("vld", vd=1, rs1=1), rng.randrange(WINDOW) * wb + rng.randrange(1, wb), 0),
        (encode("vld", vd=2, rs1=1), cfg.node.sram.size_bytes + rng.randrange(4) * wb, 0),
    ]
    for a, d, f in errors:
        sram.inject(a, d, f)
    await drv.inject(errors)
    for w, rs1, rs2 in prog:
        model.step(w, rs1, rs2)
    stop = [False]
    bg = cocotb.start_soon(_background_reads(dut, cfg, rng, stop))
    cycles = await drv.run(prog, pressure=BackPressure(0.8, rng))
    stop[0] = True
    await bg
    got = drv.status()
    first = model.first_fault()
    want = {
        "issued": model.seq,
        "illegal": model.illegal,
        "fault": int(first is not None),
        "fault_count": len(model.faults),
        "ecc_corrected": model.corrected,
        "flags": int(model.unit.flags),
    }
    if first:
        want.update(fault_seq=first.seq, fault_kind=int(first.kind), fault_addr=first.addr)
    bad = {k: (v, got[k]) for k, v in want.items() if got[k] != v}
    assert not bad, f"seed {seed}: status (expected, got) {bad}"
    kinds = Fault(0)
    for f in model.faults:
        kinds |= f.kind
    dut._log.info(
        f"seed {seed}: {len(prog)} instructions in {cycles} cycles, {len(model.faults)} faults ({kinds!r})"
    )
    addrs = [*range(WINDOW), *range(IDX, IDX + 4), *range(DUMP, DUMP + 12)]
    addrs += range(TRACE, TRACE + TRACE_WORDS)
    resp = await drv.read_words(addrs)
    mism = []
    for a, r in zip(addrs, resp):
        e = sram.read(a)
        if (r["data"], r["uncorrectable"]) != (e.data, int(e.uncorrectable)):
            mism.append(
                f"word {a}: expected {e.data:#x} (unc {int(e.uncorrectable)}), "
                f"got {r['data']:#x} (unc {r['uncorrectable']})"
            )
    assert not mism, f"seed {seed}: {len(mism)} words differ:\n" + "\n".join(mism[:6])
    assert kinds == Fault.MISALIGNED | Fault.BAD_ADDR | Fault.UNCORRECTABLE, (
        f"seed {seed}: the program hit only {kinds!r}"
    )


def design(config="fpga-2x2"):
    return node_design(preset(config))  # (the bench's: one build for both)


@pytest.mark.slow
def test_vector_node(cocotb_run, sim):
    # (a fresh seed each run: the suite's runs add up; the long run takes 3000 instructions)
    cases = 250 if sim == "verilator" else 150
    cocotb_run(design(), "tb.datapath.test_vector_core", extra_env={"TATAMI_CASES": str(cases)})


@pytest.mark.long
def test_vector_node_long(cocotb_run, sim):
    if sim != "verilator":
        pytest.skip("the long random programs run on Verilator")
    cocotb_run(
        design(),
        "tb.datapath.test_vector_core",
        testcase="random_programs",
        extra_env={"TATAMI_CASES": "3000"},
    )


def test_rejects_bad_configs():
    with pytest.raises(TypeError, match="TatamiConfig"):
        VectorCore("d1")
    cfg = preset("tiny")
    from dataclasses import replace

    bad = replace(cfg, node=replace(cfg.node, vector=replace(cfg.node.vector, vlen_bits=256)))
    with pytest.raises(ValueError, match="word_bits"):
        VectorCore(bad)
