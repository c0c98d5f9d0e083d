"""The GNU toolchain as an independent oracle for the assembler, and a source generator.

Debian packages: ``binutils-riscv64-unknown-elf`` (as, ld, objdump) and ``gcc-riscv64-unknown-elf``.
Tests that need them call :func:`require` which skips with the install command when absent.

``python -m tb.sw.gnu`` regenerates ``gnu_encodings.txt``, the committed table of encodings the
core tests check without the toolchain.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tatami import isa

PREFIX = "riscv64-unknown-elf-"
MARCH = "rv32im_zicsr_zifencei"
AS_FLAGS = [f"-march={MARCH}", "-mabi=ilp32", "-mno-relax"]
TEXT_BASE = 0x200000  # far enough from 0 that backward jumps of 1 MiB stay in the address space
TABLE = Path(__file__).with_name("gnu_encodings.txt")
INSTALL = "apt-get install -y binutils-riscv64-unknown-elf gcc-riscv64-unknown-elf"


def tool(name: str) -> str | None:
    return shutil.which(PREFIX + name)


def require(*names: str):
    """Skip the calling test unless the GNU RISC-V tools ``names`` are installed."""
    missing = [n for n in names if tool(n) is None]
    if missing:
        pytest.skip(
            f"GNU RISC-V toolchain not installed ({', '.join(PREFIX + n for n in missing)} "
            f"missing); install it with: {INSTALL}"
        )


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def gnu_link(source: str, workdir: Path, name: str = "prog", script: str | None = None) -> Path:
    """Assemble and link ``source`` with GNU as + ld (no relaxation): text at TEXT_BASE, or as
    the linker script ``script`` says."""
    src = workdir / f"{name}.S"
    src.write_text(source)
    obj, elf = workdir / f"{name}.o", workdir / f"{name}.elf"
    run([tool("as"), *AS_FLAGS, str(src), "-o", str(obj)])
    if script is None:
        layout = [f"-Ttext={TEXT_BASE:#x}"]
    else:
        (workdir / "link.ld").write_text(script)
        layout = ["-T", str(workdir / "link.ld"), "--no-warn-rwx-segments"]
    run(
        [
            tool("ld"),
            "-m",
            "elf32lriscv",
            "--no-relax",
            "-e",
            f"{TEXT_BASE:#x}",
            *layout,
            str(obj),
            "-o",
            str(elf),
        ]
    )
    return elf


def gnu_line_words(lines: list[str]) -> list[list[int]]:
    """The words GNU as + ld make of each line (each line is a separate statement in .text)."""
    from elftools.elf.elffile import ELFFile

    source = "\n".join(f".Lline{i}:\n{line}" for i, line in enumerate(lines)) + f"\n.Lline{len(lines)}:\n"
    # .L labels are not kept in the symbol table: use ordinary labels instead
    source = source.replace(".Lline", "gnuline_")
    with tempfile.TemporaryDirectory() as tmp:
        elf_path = gnu_link(source, Path(tmp))
        with open(elf_path, "rb") as f:
            elf = ELFFile(f)
            text = elf.get_section_by_name(".text")
            data, base = text.data(), text["sh_addr"]
            syms = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
    out = []
    for i in range(len(lines)):
        a, b = syms[f"gnuline_{i}"] - base, syms[f"gnuline_{i + 1}"] - base
        out.append([int.from_bytes(data[j : j + 4], "little") for j in range(a, b, 4)])
    return out


# --------------------------------------------------------------------------------------------------
# Source generation: (our line, the GNU line) pairs
# --------------------------------------------------------------------------------------------------

I_EDGES = [-2048, 2047, 0, -1, 1, 0x7FF, -0x800, 42]
U_EDGES = [0, 0xFFFFF, 1, 0x80000, 0x7FFFF]
LI_EDGES = [
    0,
    1,
    -1,
    2047,
    2048,
    -2048,
    -2049,
    0x7FFFFFFF,
    -0x80000000,
    0x80000000,
    0xFFFFFFFF,
    0x12345678,
    0x12345000,
    0x800,
    0xFFFFF800,
    0x7FFFF800,
    0xFFF,
    0x1000,
    -4096,
]


def _reg(rng: random.Random) -> str:
    n = rng.randrange(32)
    return rng.choice([isa.ABI_NAMES[n], f"x{n}"])


def _fence_set(rng: random.Random) -> str:
    return isa.fence_set_str(rng.randrange(1, 16))


def _imm(rng: random.Random, edges: list[int], lo: int, hi: int) -> int:
    return rng.choice(edges) if rng.random() < 0.5 else rng.randint(lo, hi)


def operand_text(spec: isa.InsnSpec, rng: random.Random) -> tuple[str, dict[str, int]]:
    """Random operands for ``spec`` as assembly text, and their values."""
    values: dict[str, int] = {}
    parts = []
    for item in spec.items:
        if "(" in item:
            imm_name, base = item[:-1].split("(")
            reg = _reg(rng)
            values[base] = isa.parse_xreg(reg)
            if imm_name:
                imm = _imm(rng, I_EDGES, -2048, 2047)
                values[imm_name] = imm
                parts.append(f"{imm}({reg})")
            else:
                parts.append(f"({reg})")
            continue
        kind = isa.OPERANDS[item][1]
        if kind == "x":
            reg = _reg(rng)
            values[item] = isa.parse_xreg(reg)
            parts.append(reg)
        elif kind == "v":
            values[item] = rng.randrange(32)
            parts.append(f"v{values[item]}")
        elif kind == "csr":
            name = rng.choice(sorted(isa.CSR_NAMES))
            values[item] = isa.CSR_NAMES[name]
            parts.append(name if rng.random() < 0.8 else hex(values[item]))
        elif kind == "fence":
            text = _fence_set(rng)
            values[item] = sum(8 >> "iorw".index(c) for c in text)
            parts.append(text)
        elif kind == "u":
            values[item] = rng.randrange(32)
            parts.append(str(values[item]))
        elif spec.fmt is isa.Format.U:
            values[item] = _imm(rng, U_EDGES, 0, 0xFFFFF)
            parts.append(hex(values[item]))
        elif item == "offset":
            lo, hi = spec.imm_range()
            lo, hi = lo // 4, hi // 4
            off = 4 * (rng.choice([lo, hi, 0, 1, -1]) if rng.random() < 0.5 else rng.randint(lo, hi))
            values[item] = off
            parts.append(f". + {off}" if off >= 0 else f". - {-off}")
        else:
            values[item] = _imm(rng, I_EDGES, -2048, 2047)
            parts.append(str(values[item]))
    text = f"{spec.name} {', '.join(parts)}" if parts else spec.name
    return text, values


def gnu_spelling(spec: isa.InsnSpec, text: str, values: dict[str, int]) -> str:
    """The line GNU as understands: custom instructions become ``.insn r``."""
    if spec.ext != "Xtatami":
        return text
    f = spec.fixed
    regs = {"rd": 0, "rs1": 0, "rs2": 0}
    for op, value in values.items():
        fld = isa.OPERANDS[op][0]
        regs[fld] = value
    return (
        f".insn r {f['opcode']:#x}, {f['funct3']}, {f['funct7']:#x}, "
        f"x{regs['rd']}, x{regs['rs1']}, x{regs['rs2']}"
    )


def instruction_lines(seed: int, per_spec: int) -> list[tuple[str, str]]:
    """``per_spec`` random instances of every instruction in the table."""
    rng = random.Random(seed)
    out = []
    for spec in isa.INSTRUCTIONS.values():
        for _ in range(per_spec):
            text, values = operand_text(spec, rng)
            out.append((text, gnu_spelling(spec, text, values)))
    return out


def pseudo_lines(seed: int) -> list[str]:
    """Pseudo-instructions and aliases, spelled the same for GNU as and for us (position
    independent, so their encodings can go in the committed table)."""
    rng = random.Random(seed)
    r = lambda: _reg(rng)  # noqa: E731
    lines = [f"li {r()}, {v:#x}" if v >= 0 and rng.random() < 0.5 else f"li {r()}, {v}" for v in LI_EDGES]
    lines += [f"li {r()}, {rng.randint(-(1 << 31), (1 << 32) - 1)}" for _ in range(20)]
    for _ in range(3):
        lines += [
            f"mv {r()}, {r()}",
            f"not {r()}, {r()}",
            f"neg {r()}, {r()}",
            f"seqz {r()}, {r()}",
            f"snez {r()}, {r()}",
            f"sltz {r()}, {r()}",
            f"sgtz {r()}, {r()}",
            "nop",
            "ret",
            f"jr {r()}",
            f"jalr {r()}",
            f"jalr {r()}, {r()}, {rng.randint(-2048, 2047)}",
            f"jal . + {4 * rng.randint(-1000, 1000)}",
            f"j . - {4 * rng.randint(0, 1000)}",
            "fence",
            "fence.i",
            f"fence {_fence_set(rng)}, {_fence_set(rng)}",
            f"csrr {r()}, {rng.choice(sorted(isa.CSR_NAMES))}",
            f"csrw mscratch, {r()}",
            f"csrs mie, {r()}",
            f"csrc mip, {r()}",
            f"csrwi mtvec, {rng.randrange(32)}",
            f"csrsi mstatus, {rng.randrange(32)}",
            f"csrci mstatus, {rng.randrange(32)}",
            f"csrw mstatus, {rng.randrange(32)}",
            f"rdcycle {r()}",
            f"rdcycleh {r()}",
            f"rdinstret {r()}",
            f"rdinstreth {r()}",
            f"rdtime {r()}",
            f"add {r()}, {r()}, {rng.randint(-2048, 2047)}",
            f"and {r()}, {r()}, {rng.randint(-2048, 2047)}",
            f"sll {r()}, {r()}, {rng.randrange(32)}",
            f"lw {r()}, ({r()})",
            f"sw {r()}, ({r()})",
        ]
        for b in ("beqz", "bnez", "blez", "bgez", "bltz", "bgtz"):
            lines.append(f"{b} {r()}, . + {4 * rng.randint(-1000, 1000)}")
        for b in ("bgt", "ble", "bgtu", "bleu"):
            lines.append(f"{b} {r()}, {r()}, . - {4 * rng.randint(-1000, 1000)}")
        lines += [
            f"lui {r()}, %hi({rng.randint(0, (1 << 32) - 1):#x})",
            f"addi {r()}, {r()}, %lo({rng.randint(0, (1 << 32) - 1):#x})",
            f"lw {r()}, %lo({rng.randint(0, (1 << 32) - 1):#x})({r()})",
            f"addi {r()}, {r()}, (3 + 4) * 2 - 1",
            f"addi {r()}, {r()}, 1 << 3 + 1",
            f"addi {r()}, {r()}, 'A'",
            f"addi {r()}, {r()}, -0x10 | 3",
            f"addi {r()}, {r()}, ~5",
            f"addi {r()}, {r()}, 017",
            f"addi {r()}, {r()}, 0b1011",
            f"addi {r()}, {r()}, 7 / 2 % 3",
        ]
    lines.append("unimp")
    return lines


def write_table(path: Path = TABLE) -> None:
    """Regenerate the committed table of encodings from GNU as."""
    pairs = instruction_lines(seed=1, per_spec=3)
    ours = [t for t, _ in pairs] + pseudo_lines(seed=2)
    gnu = [g for _, g in pairs] + pseudo_lines(seed=2)
    words = gnu_line_words(gnu)
    version = run([tool("as"), "--version"]).stdout.splitlines()[0]
    with open(path, "w") as f:
        f.write("# Encodings by the GNU toolchain (tb/sw/gnu.py, `python -m tb.sw.gnu`), checked by\n")
        f.write(f"# tb/sw/test_isa.py without it. Generated with {version},\n")
        f.write(f"# as {' '.join(AS_FLAGS)}; ld --no-relax. Custom instructions were given to GNU as\n")
        f.write("# as `.insn r opcode, funct3, funct7, rd, rs1, rs2`. Format: line | words (hex).\n")
        for line, ws in zip(ours, words):
            f.write(f"{line} | {' '.join(f'{w:08x}' for w in ws)}\n")


def read_table(path: Path = TABLE) -> list[tuple[str, list[int]]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        text, _, words = line.rpartition(" | ")
        out.append((text, [int(w, 16) for w in words.split()]))
    return out


if __name__ == "__main__":
    write_table()
    print(f"wrote {TABLE}")
