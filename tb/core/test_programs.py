"""Directed programs on the RTL core, each instruction compared with the golden model: one
program per instruction group and per trap cause (tb/core/programs/*.S, riscv-tests style:
``_start``, an mtvec handler, ``tohost``), assembled with our assembler and, when Debian's RISC-V
GCC is installed, with GNU as and a GCC-compiled C program; interrupts and ``wfi`` driven from
the interrupt lines; host start/stop of threads.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import cocotb
import pytest

from tatami.asm import assemble, assemble_file, load_elf
from tatami.config import preset
from tatami.sim.benches.core import TileDriver, tile_design
from tatami.sim.cocotb_env import design_config
from tatami.sim.core.model import AccumulatorModel, CoreModel
from tb.core.test_cosim import CONFIGS, SUITE

PROGRAMS = Path(__file__).parent / "programs"
ASM_TESTS = ("alu", "muldiv", "mem", "branch", "csr", "traps", "threads", "custom", "rvtest")
GNU_TESTS = ("alu", "muldiv", "mem", "branch", "csr", "traps", "rvtest")  # no Tatami mnemonics
GCC = shutil.which("riscv64-unknown-elf-gcc")
MARCH = ["-march=rv32im_zicsr_zifencei", "-mabi=ilp32"]


def fresh_model(cfg):
    return CoreModel(cfg, custom=AccumulatorModel(cfg.node.core.threads))


async def run_elf(drv: TileDriver, path: str, max_cycles: int = 200_000) -> int:
    """Reset, load, start thread 0 at the entry, run until tohost; returns tohost's value."""
    image = load_elf(path)
    drv.model = fresh_model(drv.cfg)
    await drv.reset()
    for seg in image.segments:
        await drv.load([(seg.address, seg.padded())])
    tohost = image.symbols["tohost"]
    got = {}

    def watch(rec):
        if rec.mem and rec.mem[0] == tohost and "v" not in got:
            got["v"] = rec.mem[1]

    drv.on_retire = [watch]
    await drv.start(0, image.entry)
    ok = await drv.run_until(lambda: "v" in got, max_cycles)
    await drv.stop((1 << drv.threads) - 1)
    await drv.run_until(lambda: False, 8)
    assert ok, f"{path}: tohost not written within {max_cycles} cycles"
    return got["v"]


@cocotb.test()
async def directed(dut):
    cfg = design_config()
    drv = TileDriver(dut, cfg)
    await drv.start_clock()
    failures = []
    for path in json.loads(os.environ["TATAMI_CORE_ELFS"]):
        for stall in [float(p) for p in os.environ.get("TATAMI_CORE_STALLS", "0,0.3").split(",")]:
            drv.stall_p = stall
            value = await run_elf(drv, path)
            if value != 1:
                failures.append(f"{Path(path).name} (stall {stall}): test {value >> 1} failed")
    assert not failures, "; ".join(failures)


IRQ_PROGRAM = """
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s0, 0                  # interrupts taken
    li t0, 0x888
    csrw mie, t0              # MSIE, MTIE, MEIE
    csrsi mstatus, 8          # MIE
spin:
    addi s1, s1, 1
    li t0, 3
    blt s0, t0, spin
    csrci mstatus, 8          # MIE off: wfi still wakes on a pending enabled interrupt
    la t0, flag
    li t1, 1
    sw t1, 0(t0)              # tell the bench we are about to sleep
    wfi
    csrr a0, mip
    la t0, tohost
    li t1, 1
    sw t1, 0(t0)
1:  j 1b
handler:
    csrr t0, mcause
    la t1, causes
    slli t2, s0, 2
    add t1, t1, t2
    sw t0, 0(t1)
    addi s0, s0, 1
    mret
    .data
    .align 2
flag: .word 0
causes: .word 0, 0, 0
tohost: .word 0
"""


@cocotb.test()
async def interrupts_and_wfi(dut):
    """External, software and timer interrupts taken between instructions (mcause, mepc), then
    ``wfi`` sleeping until an enabled interrupt is pending while the other threads run."""
    cfg = design_config()
    prog = assemble(IRQ_PROGRAM, base=cfg.node.core.reset_pc)
    drv = TileDriver(dut, cfg, model=fresh_model(cfg))
    await drv.start_clock()
    await drv.reset()
    base, img = prog.image()
    await drv.load([(base, img)])
    sym = {k: (v.value if hasattr(v, "value") else v) for k, v in prog.symbols.items()}
    traps = []
    stores = {}

    def watch(rec):
        if rec.trap is not None:
            traps.append(rec)
        if rec.mem:
            stores[rec.mem[0]] = rec.mem[1]

    drv.on_retire = [watch]
    await drv.start(0, prog.entry)
    await drv.run_until(lambda: False, 200)
    for kind in ("ext", "soft", "timer"):
        n = len(traps)
        drv.set_irq(0, **{kind: 1})
        assert await drv.run_until(lambda n=n: len(traps) > n, 200), f"{kind} interrupt not taken"
        drv.set_irq(0, **{kind: 0})
        await drv.run_until(lambda: False, 30)
    causes = [r.trap for r in traps]
    assert causes == [(1 << 31) | 11, (1 << 31) | 3, (1 << 31) | 7], [hex(c) for c in causes]
    assert await drv.run_until(lambda: sym["flag"] in stores, 500)
    await drv.run_until(lambda: False, 100)
    assert sym["tohost"] not in stores, "wfi did not wait"
    if drv.threads > 1:
        # the sleeping thread leaves the pipeline to the others: start thread 1 on a loop
        await drv.start(1, sym["spin"])
        before = drv.retired[1]
        await drv.run_until(lambda: False, 200)
        # a lone thread retires an ALU instruction every 9 cycles (5-cycle fetch from the SRAM)
        assert drv.retired[1] - before >= 15, "thread 1 did not run while thread 0 slept"
        await drv.stop(2)
        await drv.run_until(lambda: False, 10)
        drv.ignore_threads.add(1)
    drv.set_irq(0, timer=1)
    assert await drv.run_until(lambda: sym["tohost"] in stores, 200), "wfi did not wake"
    drv.set_irq(0, timer=0)


HOST_PROGRAM = """
    .globl _start
_start:
    addi a0, a0, 1
    j _start
other:
    addi a1, a1, 1
    j other
"""


@cocotb.test()
async def host_start_stop(dut):
    """The host starts and stops threads; a start of a running thread is ignored."""
    cfg = design_config()
    prog = assemble(HOST_PROGRAM, base=cfg.node.core.reset_pc)
    drv = TileDriver(dut, cfg, model=fresh_model(cfg))
    await drv.start_clock()
    await drv.reset()
    base, img = prog.image()
    await drv.load([(base, img)])
    other = prog.symbols["other"]
    other = other.value if hasattr(other, "value") else other
    assert drv.running() == 0
    for t in range(drv.threads):
        await drv.start(t, prog.entry)
    assert await drv.run_until(lambda: min(drv.retired) >= 5, 2000), "threads did not start"
    assert drv.running() == (1 << drv.threads) - 1
    await drv.start(0, other)  # ignored: thread 0 is running (the model ignores it too)
    await drv.run_until(lambda: False, 50)
    assert drv.model.harts[0].x[11] == 0, "a start of a running thread was not ignored"
    await drv.stop(1)
    await drv.run_until(lambda: False, 10)
    assert drv.running() & 1 == 0
    count = drv.retired[0]
    await drv.run_until(lambda: False, 30)
    assert drv.retired[0] == count, "a stopped thread kept retiring"
    await drv.start(0, other)
    assert await drv.run_until(lambda: drv.model.harts[0].x[11] > 0, 500), (
        "restart did not happen\n" + drv.debug_state()
    )
    assert drv.running() & 1


# ----------------------------------------------------------------------------- pytest launchers


def design(cfg):
    return tile_design(cfg)


def our_elfs(tmp_path: Path) -> list[str]:
    out = []
    for name in ASM_TESTS:
        prog = assemble_file(PROGRAMS / f"{name}.S", base=0x8000_0000)
        path = tmp_path / f"{name}.elf"
        prog.write_elf(path)
        out.append(str(path))
    return out


def gnu_elfs(tmp_path: Path) -> list[str]:
    out = []
    for name in GNU_TESTS:
        path = tmp_path / f"{name}-gnu.elf"
        subprocess.run(
            [GCC, *MARCH, "-nostdlib", "-nostartfiles", "-Wl,-Ttext=0x80000000", "-Wl,--no-relax", "-Wl,-N",
             f"-Wa,-I{PROGRAMS}", str(PROGRAMS / f"{name}.S"), "-o", str(path)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        out.append(str(path))
    path = tmp_path / "csum-gcc.elf"
    subprocess.run(
        [GCC, *MARCH, "-O2", "-nostdlib", "-nostartfiles", "-ffreestanding", "-Wl,-Ttext=0x80000000",
         "-Wl,--no-relax", "-Wl,-N", str(PROGRAMS / "crt0.S"), str(PROGRAMS / "csum.c"), "-o", str(path),
         "-lgcc"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out.append(str(path))
    return out


def test_directed_programs(sim, cocotb_run, tmp_path):
    """Verilator: every program, with and without bus back-pressure; Icarus: ours, stalled."""
    elfs = our_elfs(tmp_path)
    if GCC and sim == "verilator":
        elfs += gnu_elfs(tmp_path)
    cocotb_run(
        design(CONFIGS[SUITE[sim][0]]),
        "tb.core.test_programs",
        testcase="directed",
        extra_env={
            "TATAMI_CORE_ELFS": json.dumps(elfs),
            "TATAMI_CORE_STALLS": "0,0.3" if sim == "verilator" else "0.3",
        },
    )


def test_gcc_programs_present():
    if not GCC:
        pytest.skip(
            "riscv64-unknown-elf-gcc not installed (Debian package gcc-riscv64-unknown-elf): "
            "the GCC-built programs are skipped"
        )


def test_interrupts_and_host_control(sim, cocotb_run):
    cocotb_run(
        design(CONFIGS[SUITE[sim][0]]),
        "tb.core.test_programs",
        testcase=["interrupts_and_wfi", "host_start_stop"],
    )


@pytest.mark.parametrize("name", ASM_TESTS)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_directed_on_golden_model(name, threads):
    """The directed programs pass on the golden model alone (every thread count)."""
    cfg = preset("tiny").replace(**{"node.core.threads": threads, "node.sram.size_bytes": 16384})
    prog = assemble_file(PROGRAMS / f"{name}.S", base=0x8000_0000)
    m = fresh_model(cfg)
    base, img = prog.image()
    m.write(base, img)
    tohost = prog.symbols["tohost"]
    tohost = tohost.value if hasattr(tohost, "value") else tohost
    m.start(0, prog.entry)
    recs = m.run(50_000, until=lambda r: r.mem is not None and r.mem[0] == tohost)
    assert recs[-1].mem and recs[-1].mem[1] == 1, (
        f"{name}: test {recs[-1].mem and recs[-1].mem[1] >> 1} failed"
    )
