"""The core on the node's banked ECC SRAM (:class:`tatami.hw.core.tile.CoreTile` with
:class:`tatami.hw.mem.core_port.CoreMemPort`): stores of every size at every byte offset of an
SRAM word, threads storing and loading bytes of the same words at once (the read-modify-write
must not lose another thread's bytes), the host bus, and ECC outcomes: a single-bit error in a
loaded word is corrected and counted, a double-bit error in a loaded or stored word is a load /
store access fault (``mcause`` 5 / 7, ``mtval`` = the address, the store writes nothing) and in a
fetched instruction an instruction access fault (``mcause`` 1, ``mtval`` = the pc).
"""

import cocotb

from tatami.asm import assemble
from tatami.hw.mem.ports import stored_lane_bits
from tatami.sim.benches.core import Mismatch, TileDriver, tile_design
from tatami.sim.cocotb_env import design_config
from tb.core.test_cosim import CONFIGS, SUITE
from tb.core.test_programs import fresh_model

SUBWORD = """
    .globl _start
_start:
    la s0, buf
    li t1, 0
    li t5, 64
bytes:                        # sb at every byte offset of four SRAM words, read back
    add t2, s0, t1
    addi t3, t1, 0x41
    sb t3, 0(t2)
    lbu t4, 0(t2)
    addi t1, t1, 1
    blt t1, t5, bytes
    li t1, 0
halves:                       # sh at every half, read back signed and unsigned
    add t2, s0, t1
    li t3, 0x8001
    add t3, t3, t1
    sh t3, 0(t2)
    lh t4, 0(t2)
    lhu t4, 0(t2)
    andi t6, t2, -4
    lw t6, 0(t6)
    addi t1, t1, 2
    blt t1, t5, halves
    li t1, 0
words:                        # sw of every word after a byte store in it, read back
    add t2, s0, t1
    sb t1, 3(t2)
    lw t4, 0(t2)
    xori t4, t4, -1
    sw t4, 0(t2)
    lw t6, 0(t2)
    lb t6, 1(t2)
    addi t1, t1, 4
    blt t1, t5, words
    la t0, tohost
    li t1, 1
    sw t1, 0(t0)
1:  j 1b
    .data
    .align 6
buf: .space 64
tohost: .word 0
"""


async def _finish(drv, cond, cycles, what):
    assert await drv.run_until(cond, cycles), f"{what} did not finish in {cycles} cycles\n{drv.debug_state()}"


@cocotb.test()
async def subword_stores(dut):
    """sb at all 64 byte offsets of four SRAM words, sh at every half, sw at every word, each read
    back by the program (every instruction compared with the golden model, under random
    back-pressure); then the host reads the buffer back and compares it with the model's memory."""
    cfg = design_config()
    prog = assemble(SUBWORD, base=cfg.node.core.reset_pc)
    drv = TileDriver(dut, cfg, model=fresh_model(cfg), stall_p=0.3)
    await drv.start_clock()
    await drv.reset()
    base, img = prog.image()
    await drv.load([(base, img)])
    sym = {k: (v.value if hasattr(v, "value") else v) for k, v in prog.symbols.items()}
    done = {}
    drv.on_retire = [
        lambda r: done.setdefault("v", r.mem[1]) if r.mem and r.mem[0] == sym["tohost"] else None
    ]
    await drv.start(0, prog.entry)
    await _finish(drv, lambda: "v" in done, 100_000, "the sub-word store program")
    assert done["v"] == 1
    got = await drv.read_words(sym["buf"], 16)
    want = drv.model.read(sym["buf"], 64)
    assert got == [int.from_bytes(want[4 * i : 4 * i + 4], "little") for i in range(16)]


def shared_program(threads: int) -> str:
    return f"""
    .globl _start
_start:
    csrr a0, mhartid          # node 0: the thread index
    la s0, shared
    li s1, 24                 # rounds
    mv s2, a0
round:
    mv t1, a0                 # my bytes: offsets a0, a0 + {threads}, ...
    li t5, 48
mine:
    add t2, s0, t1
    add t3, s2, t1
    sb t3, 0(t2)
    lbu t4, 0(t2)             # my byte, whatever the other threads stored meanwhile
    andi t3, t3, 255
    bne t3, t4, lost
    addi t1, t1, {threads}
    blt t1, t5, mine
    andi t1, s1, 1            # every other round a halfword of mine too (threads 0 and 1)
    li t6, 2
    bgeu a0, t6, skip
    beqz t1, skip
    slli t2, a0, 1
    addi t2, t2, 48
    add t2, s0, t2
    sh s2, 0(t2)
    lhu t4, 0(t2)
skip:
    addi s2, s2, 37
    addi s1, s1, -1
    bnez s1, round
    thread.stop a0
lost:
    ebreak                    # (a trap record the bench reports)
    j lost
    .data
    .align 6
shared: .space 64
"""


@cocotb.test()
async def threads_share_words(dut):
    """Every thread stores its own bytes (and halves) of the same SRAM words, round after round,
    and loads them back: each load must see the thread's own last store, whatever the others
    stored into the same lanes meanwhile (atomic read-modify-write). Every instruction is compared
    with the golden model; the host then reads the words back and compares them."""
    cfg = design_config()
    n = cfg.node.core.threads
    prog = assemble(shared_program(n), base=cfg.node.core.reset_pc)
    drv = TileDriver(dut, cfg, model=fresh_model(cfg), stall_p=0.2)
    await drv.start_clock()
    await drv.reset()
    base, img = prog.image()
    await drv.load([(base, img)])
    sym = {k: (v.value if hasattr(v, "value") else v) for k, v in prog.symbols.items()}
    for t in range(n):
        await drv.start(t, prog.entry)
    await _finish(drv, lambda: drv.running() == 0, 200_000, "the shared-word program")
    assert min(drv.retired) > 24 * 12, drv.retired
    got = await drv.read_words(sym["shared"], 16)
    want = drv.model.read(sym["shared"], 64)
    assert got == [int.from_bytes(want[4 * i : 4 * i + 4], "little") for i in range(16)]


ECC = """
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    la s0, good
    lw a1, 0(s0)              # a single-bit error: corrected
    la s1, bad
    lw a2, 0(s1)              # a double-bit error: load access fault
    li a3, 0x77
    sb a3, 1(s1)              # store access fault, nothing written
    la t0, badcode
    jalr ra, 0(t0)            # instruction access fault at badcode, back at ra
    la t0, tohost
    li t1, 1
    sw t1, 0(t0)
1:  j 1b
handler:
    csrr t0, mcause
    li t1, 1
    beq t0, t1, fetch
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
fetch:
    csrw mepc, ra
    mret
    .align 6
badcode:
    addi a4, a4, 1
    ret
    .data
    .align 6
good: .word 0x12345678, 0x9abcdef0
    .align 6
bad: .word 0x0badf00d, 0xfeedface
    .align 6
tohost: .word 0
"""


@cocotb.test()
async def ecc_errors(dut):
    """Injected single error in a loaded word: the load returns the right value and the SRAM
    counts one correction. Double errors: the load and the store trap (5 / 7, ``mtval`` = the
    address), the fetch traps (1, ``mtval`` = the pc); the store leaves the word uncorrectable."""
    cfg = design_config()
    prog = assemble(ECC, base=cfg.node.core.reset_pc)
    drv = TileDriver(dut, cfg, stall_p=0.2)
    await drv.start_clock()
    await drv.reset()
    base, img = prog.image()
    await drv.load([(base, img)])
    sym = {k: (v.value if hasattr(v, "value") else v) for k, v in prog.symbols.items()}
    st = stored_lane_bits(cfg)
    await drv.inject(sym["good"], [5])  # lane 0, data bit 5 (the word 0x12345678)
    await drv.inject(sym["bad"], [3, st - 2])  # lane 0: a data bit and a Hamming bit
    await drv.inject(sym["badcode"], [0, 40])  # lane 0: two data bits (the addi)
    corrected0, detected0 = int(dut.ecc_corrected.value), int(dut.ecc_detected.value)
    records = []
    drv.on_retire = [records.append]
    await drv.start(0, prog.entry)
    await _finish(
        drv, lambda: any(r.mem and r.mem[0] == sym["tohost"] for r in records), 5000, "the ECC program"
    )
    traps = [(r.pc, r.trap, r.tval) for r in records if r.trap is not None]
    lw_good = [r for r in records if r.trap is None and r.rd == 11 and r.insn & 0x7F == 0x03]
    assert lw_good and lw_good[0].rd_value == 0x12345678, lw_good
    causes = [(c, t) for _, c, t in traps]
    assert causes == [(5, sym["bad"]), (7, sym["bad"] + 1), (1, sym["badcode"])], [
        (hex(p), c, hex(t)) for p, c, t in traps
    ]
    assert traps[2][0] == sym["badcode"]
    assert int(dut.ecc_corrected.value) - corrected0 == 1
    assert int(dut.ecc_detected.value) - detected0 == 3  # the load, the store's read, the fetch
    try:
        await drv.read_words(sym["bad"], 1)
    except Mismatch as e:
        assert "error response" in str(e)
    else:
        raise AssertionError("the faulting store rewrote the uncorrectable word")
    assert await drv.read_words(sym["good"], 2) == [0x12345678, 0x9ABCDEF0]


def test_node_sram(sim, cocotb_run):
    """On the directed-test build of each simulator (4 threads on Verilator, 2 on Icarus)."""
    cocotb_run(tile_design(CONFIGS[SUITE[sim][0]]), "tb.core.test_node_sram")
