"""Matrix unit on the ECC SRAM (GemmNode) against the golden model: random shapes with ragged edges,
BF16 and CFloat8 operands, A row- or column-major and B row-major or given as B^T (the loader's
two modes), C in FP32, BF16 or CFloat8 with every rounding, overwritten or
accumulated, bit-exact (the bytes around C's elements must survive too); edge values (NaN,
infinities, CFloat8 saturation); K split into two descriptors; utilization of K = 256 GEMMs (both
layouts, converted and accumulated C); ECC errors injected in A, B and C (corrected, or reported
and never laundered); descriptors outside the RTL limits end with an error."""

import copy
import random

import cocotb
import pytest

from tatami.config import preset
from tatami.hw.datapath.descriptors import MATRIX_CODEC
from tatami.hw.datapath.matrix import MatrixUnit, block_shape
from tatami.hw.fpu.layouts import FpFormat, RoundMode
from tatami.hw.mem.ports import stored_lane_bits
from tatami.sim.benches.datapath_gemm import ESIZE, Node, check_gemm, design, make_gemm, run_checked
from tatami.sim.cocotb_env import StreamSink, clock_and_reset, knob
from tatami.sim.datapath.matrix import MatrixModel

IN_FORMATS = [FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152]
OUT_FORMATS = [FpFormat.FP32, FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152]
MODES = [RoundMode.RNE, RoundMode.RTZ, RoundMode.STOCHASTIC]


def _random_options(rng, edge=0.0):
    return {
        "fc": rng.choice(OUT_FORMATS),
        "bias_c": rng.randrange(0, 24),
        "mode": rng.choice(MODES),
        "seed": rng.getrandbits(32),
        "accumulate": rng.random() < 0.5,
        "c_pad": rng.randrange(0, 2),
        "edge": edge,
        "a_major": rng.choice("km"),
        "b_major": rng.choice("kn"),
    }


@cocotb.test()
async def random_shapes_bit_exact(dut):
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED)
    mx = node.cfg.node.matrix
    bm, bn = block_shape(node.cfg)
    for _ in range(knob("gemms", 6)):
        m = rng.randrange(1, 2 * bm * mx.m + 2)
        n = rng.randrange(1, 2 * bn * mx.n + 3)
        k = rng.randrange(1, 3 * node.cfg.node.sram.word_bits // 16 + 3)
        fa, fb = rng.choice(IN_FORMATS), rng.choice(IN_FORMATS)
        opts = _random_options(rng)
        stats = await check_gemm(node, rng, m, n, k, fa, fb, **opts)
        dut._log.info(f"{m}x{n}x{k} {fa.name}x{fb.name} {opts}: {stats}")


@cocotb.test()
async def edge_values_bit_exact(dut):
    """NaN, infinities, largest values and zeros among the operands and the accumulated C: every
    output format and rounding, including CFloat8 saturation."""
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED + 1)
    for fc in OUT_FORMATS:
        for _ in range(knob("edge_gemms", 2)):
            m, n, k = rng.randrange(1, 6), rng.randrange(1, 8), rng.randrange(1, 20)
            opts = _random_options(rng, edge=0.15)
            opts["fc"] = fc
            fa, fb = rng.choice(IN_FORMATS), rng.choice(IN_FORMATS)
            await check_gemm(node, rng, m, n, k, fa, fb, **opts)


@cocotb.test()
async def splitting_k_with_accumulate_changes_nothing(dut):
    """C = A[:, :K1] B[:K1] then C += A[:, K1:] B[K1:] (FP32 C) gives the bits of one descriptor."""
    await clock_and_reset(dut)
    node = Node(dut)
    rng = random.Random(cocotb.RANDOM_SEED + 2)
    w16 = node.cfg.node.sram.word_bits // 16
    for fmt in (FpFormat.BF16, FpFormat.CF8_152):
        # A and B of the second part start on whole words.
        k1 = node.cfg.node.sram.word_bytes // ESIZE[fmt] * rng.randrange(1, 3)
        m, n, k = rng.randrange(1, 9), rng.randrange(1, 13), k1 + rng.randrange(1, 2 * w16)
        mem, desc, end = make_gemm(node.cfg, rng, m, n, k, fmt, fmt, 3, 9)
        await node.load(mem, end)
        first, second = copy.deepcopy(desc), copy.deepcopy(desc)
        first["k"] = k1
        second["k"] = k - k1
        second["accumulate"] = 1
        second["a"]["addr"] += k1 * ESIZE[fmt]
        second["b"]["addr"] += k1 * ESIZE[fmt]
        for part in (first, second):
            stats = await node.run(part)
            assert not stats["error"]
        # The golden model runs the whole K in one descriptor; the node holds the split result.
        await run_checked(node, mem, desc, end, load=False, run=False)


@cocotb.test()
async def ecc_errors_in_operands_and_c(dut):
    """Errors injected after the operands are loaded. Single-bit errors in A, B and C are
    corrected: C is bit-exact. A double-bit error in a word of A or B sets ``uncorrectable`` in
    ``done``; so does one in a word of C that a row only partly covers (a read-modify-write), and
    that word is not rewritten: it still reads as uncorrectable afterwards (fresh check bits would
    have hidden its corrupt bytes), and C's other words are bit-exact. A double-bit error far from
    the operands changes nothing."""
    await clock_and_reset(dut)
    node = Node(dut)
    cfg, wb = node.cfg, node.wb
    rng = random.Random(cocotb.RANDOM_SEED + 5)
    lane_st = stored_lane_bits(cfg)

    def flip(byte_addr, bits):
        """A flip of ``bits`` stored bits in the 64-bit lane holding ``byte_addr``."""
        lane = byte_addr % wb // 8
        return sum(1 << (lane * lane_st + b) for b in rng.sample(range(lane_st), bits))

    for case in ("single", "double_a", "double_b", "double_c", "double_outside"):
        # BF16 C with 3 columns: every row covers a 64-bit lane in part, so each C word is
        # written by a read-modify-write.
        m, k = rng.randrange(2, 7), rng.randrange(4, 24)
        fa, fb = rng.choice(IN_FORMATS), rng.choice(IN_FORMATS)
        mem, desc, end = make_gemm(cfg, rng, m, 3, k, fa, fb, fc=FpFormat.BF16, mode=rng.choice(MODES))
        c = desc["c"]
        row = rng.randrange(m)
        c_row = c["addr"] + row * c["row_stride"]
        targets = {
            "single": [(desc["a"]["addr"], 1), (desc["b"]["addr"], 1), (c_row, 1)],
            "double_a": [(desc["a"]["addr"] + rng.randrange(k * ESIZE[fa]) // wb * wb, 2)],
            "double_b": [(desc["b"]["addr"], 2)],
            "double_c": [(c_row, 2)],
            # The SRAM's last word: far beyond the lines of a partial block that the unit reads
            # past an operand's last row (and reports too).
            "double_outside": [(cfg.node.sram.size_bytes - wb, 2)],
        }[case]
        errors = [
            (a // wb, int.from_bytes(mem.load_bytes(a // wb * wb, wb), "little"), flip(a, bits))
            for a, bits in targets
        ]
        corrected0, detected0 = int(dut.ecc_corrected.value), int(dut.ecc_detected.value)
        await node.load(mem, end)
        await node.inject(errors)
        if case in ("single", "double_outside"):
            stats = await run_checked(node, mem, desc, end, load=False)
            if case == "single":
                assert int(dut.ecc_corrected.value) > corrected0, "no single-bit error was corrected"
            else:
                await node.inject([(a, d, 0) for a, d, _ in errors])  # scrubbed, as below
            continue
        stats = await node.run(desc)
        assert not stats["error"]
        assert stats["uncorrectable"] == 1, f"{case}: a double-bit error was read and not reported"
        assert int(dut.ecc_detected.value) > detected0
        if case == "double_c":
            bad = c_row // wb
            (r,) = await node.read_words([bad])
            assert r["uncorrectable"], f"C word {bad:#x} was rewritten with fresh check bits over its error"
            MatrixModel(cfg).run(MATRIX_CODEC.pack(desc), mem, flags=False)
            first, last = c["addr"] // wb, (c["addr"] + m * c["row_stride"] + wb - 1) // wb
            words = await node.read_words(range(first, last))
            for a, r in zip(range(first, last), words):
                if a != bad:
                    want = int.from_bytes(mem.load_bytes(a * wb, wb), "little")
                    assert (r["data"], r["uncorrectable"]) == (want, 0), f"C word {a:#x}: {r}, want {want:#x}"
        dut._log.info(f"{case}: {m}x3x{k} {fa.name}x{fb.name}, reported")
        # Scrub the injected words: the next case's GEMM may end before one of them and still read
        # it as padding past an operand's last line (which the unit reports too).
        await node.inject([(a, d, 0) for a, d, _ in errors])


@cocotb.test()
async def rejects_descriptor_outside_rtl_limits(dut):
    await clock_and_reset(dut)
    node = Node(dut)
    _mem, desc, _ = make_gemm(node.cfg, random.Random(1), 2, 2, 4, FpFormat.BF16, FpFormat.BF16)
    desc["c"]["col_stride"] = 8  # C with a gap between columns
    stats = await node.run(desc, timeout=100)
    assert stats["error"] == 1


@cocotb.test()
async def utilization(dut):
    """K = 256 GEMMs of 2 x 2 blocks run at >= 97% of the ideal cycle count: both operand layouts
    of A and B, FP32, BF16 (stochastic) and accumulated CFloat8 C (the issue's target)."""
    await clock_and_reset(dut)
    node = Node(dut)
    mx = node.cfg.node.matrix
    bm, bn = block_shape(node.cfg)
    m, n, k = 2 * bm * mx.m, 2 * bn * mx.n, 256
    cases = [
        (FpFormat.BF16, {}),
        (FpFormat.BF16, {"a_major": "m", "b_major": "n"}),
        (FpFormat.BF16, {"fc": FpFormat.BF16, "mode": RoundMode.STOCHASTIC}),
        (FpFormat.CF8_143, {"fc": FpFormat.CF8_143, "accumulate": True}),
    ]
    rng = random.Random(cocotb.RANDOM_SEED)
    for fmt, opts in cases[: knob("utilization_gemms", len(cases))]:
        stats = await check_gemm(node, rng, m, n, k, fmt, fmt, **opts)
        dut._log.info(f"{m}x{n}x{k} {fmt.name} {opts}: {stats}")
        assert stats["utilization"] >= 0.97, (
            f"{fmt.name} {opts}: utilization {stats['utilization']:.3f} below 0.97: {stats}"
        )


@cocotb.test()
async def store_port_contention_during_write_back(dut):
    """Directed: the network port writes to every bank while C is written back, so ``store0`` is
    often refused and rows wait in the write-back queue. A row is then queued beside an older row
    of its word when that row covers its lanes whole (FP32 C with N odd: a ragged last column
    beside a whole one) or is the head with its write offered; the younger row's read-modify-write
    must not disturb the older row's bytes (section "Write-back" of docs/datapath.md). Short K and
    four blocks per row of C, FP32, BF16 and CFloat8 C. Checks every C bit-exact, every network
    write, and that two rows of one word were queued (the test is void otherwise)."""
    from cocotb.triggers import ReadOnly, RisingEdge

    await clock_and_reset(dut)
    node = Node(dut)
    cfg = node.cfg
    rng = random.Random(cocotb.RANDOM_SEED + 3)
    mx = cfg.node.matrix
    bm, bn = block_shape(cfg)
    wb = cfg.node.sram.word_bytes
    mxu = dut.matrix
    wq = [getattr(mxu, f"wq_addr{e}") for e in range(4)]
    partial = [getattr(mxu, f"wq_partial{e}") for e in range(4)]
    dup_total = waits_total = 0
    cases = [
        (k, fc, pressure)
        for k in (2, 6)
        for fc in (FpFormat.FP32, FpFormat.BF16, FpFormat.CF8_143)
        for pressure in (1.0, 0.6)
    ]
    for k, fc, pressure in cases[: knob("contention_gemms", len(cases))]:
        # FP32 with N odd: the last tile column's rows are partial lanes next to whole ones.
        m, n = 2 * bm * mx.m, 4 * bn * mx.n - (fc == FpFormat.FP32)
        mem, desc, end = make_gemm(cfg, rng, m, n, k, FpFormat.BF16, FpFormat.BF16, 3, 9, fc=fc)
        await node.load(mem, end)
        # Scratch words after C, four per bank, written in turn.
        first = -(-end // wb)
        scratch = list(range(first, first + 4 * cfg.node.sram.banks))
        assert (scratch[-1] + 1) * wb <= cfg.node.sram.size_bytes
        written = {}
        state = {"stop": False, "dup": 0, "read_waits": 0, "sent": 0}
        sink = StreamSink(dut, "net_wr__resp")
        sink_task = cocotb.start_soon(sink.run())

        async def spray(state=state, written=written, scratch=scratch, pressure=pressure):
            while not state["stop"]:
                if rng.random() >= pressure:
                    dut.net_wr__req__valid.value = 0
                    await RisingEdge(dut.clk)
                    continue
                addr = scratch[state["sent"] % len(scratch)]
                data = rng.getrandbits(cfg.node.sram.word_bits)
                dut.net_wr__req__valid.value = 1
                dut.net_wr__req__payload.value = node.req.pack(
                    addr=addr, write=1, lanes=node.lanes, data=data
                )
                await ReadOnly()
                taken = bool(dut.net_wr__req__ready.value)
                await RisingEdge(dut.clk)
                if taken:
                    written[addr] = data
                    state["sent"] += 1
            dut.net_wr__req__valid.value = 0

        async def monitor(state=state):
            # Two live rows of one word in the write-back queue; and of those, a row whose
            # read is the next to issue while an older row of its word is still queued.
            while not state["stop"]:
                await ReadOnly()
                head, count = int(mxu.q_head.value), int(mxu.q_count.value)
                live = [int(wq[(head + a) % 4].value) for a in range(count)]
                if len(set(live)) < len(live):
                    state["dup"] += 1
                    rd, unread = int(mxu.q_rd.value), int(mxu.q_unread.value)
                    age = (rd - head) % 4
                    if unread and int(partial[rd].value) and live[age] in live[:age]:
                        state["read_waits"] += 1
                await RisingEdge(dut.clk)

        tasks = [cocotb.start_soon(spray()), cocotb.start_soon(monitor())]
        stats = await node.run(desc)
        state["stop"] = True
        for t in tasks:
            await t
        await sink.wait_for(state["sent"], 200)  # every accepted write is answered
        sink.stop()
        await sink_task
        assert not stats["error"]
        dut._log.info(
            f"{m}x{n}x{k}, C {fc.name}, network writes {state['sent']}: {stats}; two rows "
            f"of a word in {state['dup']} cycles, a read behind an older row of its word in "
            f"{state['read_waits']}"
        )
        await run_checked(node, mem, desc, end, load=False, run=False)
        for addr, data in written.items():
            got = await node.read(addr * wb, (addr + 1) * wb)
            assert int.from_bytes(got, "little") == data, f"network write to word {addr:#x} lost"
        dup_total += state["dup"]
        waits_total += state["read_waits"]
    assert dup_total > 0, "the write-back queue never held two rows of one word: the test is void"
    dut._log.info(f"two rows of a word in {dup_total} cycles, a read waiting behind one in {waits_total}")


def test_rejects_bad_config():
    with pytest.raises(TypeError, match="TatamiConfig"):
        MatrixUnit("d1")
    with pytest.raises(ValueError, match="must divide"):
        MatrixUnit(preset("fpga-2x2").replace(**{"node.matrix.k": 16}))
    with pytest.raises(ValueError, match="stochastic-rounding hash"):
        MatrixUnit(preset("tiny").replace(**{"node.matrix.k": 1}))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, overrides",
    [
        ("fpga-2x2", {}),
        # k = 4: 12 tiles in a block of 3 x 4, so port b's C rows start mid-row of tiles (tile 6:
        # row 1, column 2), which the default preset (port b at the start of a row) does not reach.
        pytest.param("fpga-2x2", {"node.matrix.k": 4}, marks=pytest.mark.long, id="fpga-2x2-k4"),
    ],
)
def test_matrix(cocotb_run, name, overrides, sim):
    env = (
        {}
        if sim == "verilator"
        else {
            "TATAMI_GEMMS": "2",
            "TATAMI_EDGE_GEMMS": "1",
            "TATAMI_UTILIZATION_GEMMS": "2",
            "TATAMI_CONTENTION_GEMMS": "4",
        }
    )
    cfg = preset(name).replace(**overrides) if overrides else preset(name)
    cocotb_run(design(cfg), "tb.datapath.test_matrix", extra_env=env)
