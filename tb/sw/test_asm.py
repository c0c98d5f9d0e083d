"""tatami.asm: directives, pseudo-instructions, labels, layout and error messages."""

from __future__ import annotations

import re

import pytest

from tatami import isa
from tatami.asm import AsmError, assemble, assemble_file, disassemble


def words(source: str, **kwargs) -> list[int]:
    return assemble(source, **kwargs).words()


def texts(source: str, **kwargs) -> list[str]:
    prog = assemble(source, **kwargs)
    text = prog.section(".text")
    return [line.split("  ", 2)[2] for line in disassemble(text.data, text.address)]


def error_of(source: str, **kwargs) -> str:
    with pytest.raises(AsmError) as info:
        assemble(source, filename="t.S", **kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, ["addi a0, zero, 0"]),
        (-2048, ["addi a0, zero, -2048"]),
        (2048, ["lui a0, 0x1", "addi a0, a0, -2048"]),
        (0x12345000, ["lui a0, 0x12345"]),
        (0x80000000, ["lui a0, 0x80000"]),
        (0xFFFFFFFF, ["addi a0, zero, -1"]),
        (0x7FFFFFFF, ["lui a0, 0x80000", "addi a0, a0, -1"]),
        (-2049, ["lui a0, 0xfffff", "addi a0, a0, 2047"]),
    ],
)
def test_li(value, expected):
    assert texts(f"li a0, {value}") == expected


def test_li_with_a_label_is_always_two_instructions():
    assert texts("li a0, end\nend:", base=0x10) == ["lui a0, 0x0", "addi a0, a0, 24"]


def test_pseudo_instructions():
    src = """
    nop; mv a0, a1; not a0, a1; neg a0, a1; seqz a0, a1; snez a0, a1; sltz a0, a1; sgtz a0, a1
    ret; jr t0; jalr t0; jal . + 8; j .
    beqz a0, .; bnez a0, .; blez a0, .; bgez a0, .; bltz a0, .; bgtz a0, .
    bgt a0, a1, .; ble a0, a1, .; bgtu a0, a1, .; bleu a0, a1, .
    csrr a0, mstatus; csrw mtvec, a0; csrs mie, a0; csrc mip, a0; csrwi mscratch, 3
    csrsi mstatus, 8; csrci mstatus, 8; csrw mscratch, 5; rdcycle a0; rdcycleh a0; rdinstret a0
    rdinstreth a0; fence; add a0, a1, 5
    """
    assert texts(src, base=0) == [
        "addi zero, zero, 0",
        "addi a0, a1, 0",
        "xori a0, a1, -1",
        "sub a0, zero, a1",
        "sltiu a0, a1, 1",
        "sltu a0, zero, a1",
        "slt a0, a1, zero",
        "slt a0, zero, a1",
        "jalr zero, 0(ra)",
        "jalr zero, 0(t0)",
        "jalr ra, 0(t0)",
        "jal ra, 0x34",
        "jal zero, 0x30",
        "beq a0, zero, 0x34",
        "bne a0, zero, 0x38",
        "bge zero, a0, 0x3c",
        "bge a0, zero, 0x40",
        "blt a0, zero, 0x44",
        "blt zero, a0, 0x48",
        "blt a1, a0, 0x4c",
        "bge a1, a0, 0x50",
        "bltu a1, a0, 0x54",
        "bgeu a1, a0, 0x58",
        "csrrs a0, mstatus, zero",
        "csrrw zero, mtvec, a0",
        "csrrs zero, mie, a0",
        "csrrc zero, mip, a0",
        "csrrwi zero, mscratch, 3",
        "csrrsi zero, mstatus, 8",
        "csrrci zero, mstatus, 8",
        "csrrwi zero, mscratch, 5",
        "csrrs a0, cycle, zero",
        "csrrs a0, cycleh, zero",
        "csrrs a0, instret, zero",
        "csrrs a0, instreth, zero",
        "fence iorw, iorw",
        "addi a0, a1, 5",
    ]


def test_la_call_tail_and_pcrel():
    src = """
    la a0, data
    call func
    tail func
1:  auipc a1, %pcrel_hi(data)
    lw a1, %pcrel_lo(1b)(a1)
    lui a2, %hi(data)
    sw a2, %lo(data)(a2)
    lw a3, data
    sw a3, data, t0
func: ret
    .data
data: .word 1
    """
    prog = assemble(src, base=0x1000)
    data = prog.symbols["data"].value
    assert data == 0x103C
    assert texts(src, base=0x1000)[:14] == [
        "auipc a0, 0x0",
        "addi a0, a0, 60",
        "auipc ra, 0x0",
        "jalr ra, 48(ra)",
        "auipc t1, 0x0",
        "jalr zero, 40(t1)",
        "auipc a1, 0x0",
        "lw a1, 36(a1)",
        "lui a2, 0x1",
        "sw a2, 60(a2)",
        "auipc a3, 0x0",
        "lw a3, 20(a3)",
        "auipc t0, 0x0",
        "sw a3, 12(t0)",
    ]


def test_vector_and_custom_syntax():
    src = """
    vadd.f32 v1, v2, v3
    vfma.cf8e4 v31, v0, v7
    vrelu.i16 v1, v2
    vld v4, (a0)
    vst v4, 0(sp)
    vbcast.bf16 v2, t1
    sem.add a0, a1; sem.wait a0, a1; barrier t0; thread.start a0, a1; thread.stop a0; unit.fence
    dma.start a0, a1; dma.wait a0; dma.poll a0, a1; mx.start a0, a1; mx.wait a0; mx.poll a0, a1
    """
    out = texts(src)
    assert out[:6] == [
        "vadd.f32 v1, v2, v3",
        "vfma.cf8e4 v31, v0, v7",
        "vrelu.i16 v1, v2",
        "vld v4, (a0)",
        "vst v4, (sp)",
        "vbcast.bf16 v2, t1",
    ]
    assert out[6:] == [line.strip() for line in src.split("\n")[7:9] for line in line.split(";")]


def test_data_directives_and_sections():
    src = """
    .section .rodata
    .byte 1, -1, 'a'
    .half 0x1234
    .align 2
    .word 0xdeadbeef, -1
    .dword 0x0102030405060708
    .string "hi\\n"
    .ascii "xy"
    .asciz "\\101\\x42"
    .balign 4, 0xee
    .fill 2, 2, 0x55aa
    .space 3, 7
    .zero 1
    .bss
    .space 100
    """
    prog = assemble(src)
    ro = prog.section(".rodata")
    assert ro.data == (
        bytes([1, 0xFF, 0x61])
        + bytes.fromhex("3412")
        + bytes(3)
        + bytes.fromhex("efbeadde ffffffff 0807060504030201")
        + b"hi\n\0xy"
        + b"AB\0"
        + b"\xee" * 3
        + bytes.fromhex("aa55aa55")
        + b"\7\7\7\0"
    )
    assert prog.section(".bss").nobits and prog.section(".bss").size == 100


def test_alignment_in_code_pads_with_nops():
    # GNU as also pads the end of a code section to its alignment
    assert words("nop\n.align 4\naddi a0, a0, 1") == [0x13] * 4 + [0x00150513] + [0x13] * 3


def test_local_labels_and_equ():
    src = """
    .equ N, 3
    .set M, N * 2
    size = end - start
start:
1:  addi a0, a0, N
    bnez a0, 1b
    j 1f
1:  j 1b
2:  j 2f
2:  addi a0, a0, M + size
end:
    """
    assert texts(src) == [
        "addi a0, a0, 3",
        "bne a0, zero, 0x0",
        "jal zero, 0xc",
        "jal zero, 0xc",
        "jal zero, 0x14",
        "addi a0, a0, 30",
    ]


def test_macros_rept_irp_and_conditionals(tmp_path):
    (tmp_path / "inc.S").write_text(".equ FROM_INCLUDE, 9\n")
    src = f"""
    .include "{tmp_path / "inc.S"}"
    .macro push reg, off=0
    sw \\reg, \\off(sp)
    .endm
    push a0
    push a1, 4
    .rept 2
    nop
    .endr
    .irp r, t0, t1
    mv \\r, zero
    .endr
    .if FROM_INCLUDE > 8
    addi a0, a0, 1
    .else
    addi a0, a0, 2
    .endif
    .ifdef NOT_DEFINED
    .error "not here"
    .endif
    """
    assert texts(src) == [
        "sw a0, 0(sp)",
        "sw a1, 4(sp)",
        "addi zero, zero, 0",
        "addi zero, zero, 0",
        "addi t0, zero, 0",
        "addi t1, zero, 0",
        "addi a0, a0, 1",
    ]


def test_layout_symbols_entry_and_image():
    src = """
    .data
    d: .word 0x11223344
    .text
    .globl _start
    nop
    _start: j _start
    .bss
    b: .space 8
    """
    prog = assemble(src, base=0x100, sections={".data": 0x400})
    assert prog.entry == 0x104
    assert prog.symbols["_start"].is_global and not prog.symbols["d"].is_global
    assert (prog.symbols["d"].value, prog.symbols["b"].value) == (0x400, 0x404)
    base, image = prog.image()
    assert base == 0x100 and len(image) == 0x304
    assert image[:4] == bytes.fromhex("13000000") and image[-4:] == bytes.fromhex("44332211")


def test_weak_symbols_and_unimp(tmp_path):
    """``.weak``: global with binding STB_WEAK when defined, 0 when not (riscv-tests'
    ``la t0, mtvec_handler; beqz t0, ...``); ``unimp`` is GNU's ``csrrw x0, cycle, x0``."""
    from elftools.elf.elffile import ELFFile

    from tatami.asm import load_elf

    prog = assemble(".weak h, missing\n_start: lui a0, %hi(missing)\nh: unimp\n.word missing", base=0x1000)
    assert prog.words() == [0x00000537, 0xC0001073, 0]
    assert prog.symbols["h"].is_weak and prog.symbols["h"].is_global and "missing" not in prog.symbols
    assert isa.decode(0xC0001073).name == "csrrw"
    path = tmp_path / "w.elf"
    prog.write_elf(path)
    with open(path, "rb") as f:
        binds = {
            s.name: s["st_info"]["bind"] for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()
        }
    assert binds["h"] == "STB_WEAK" and binds["_start"] == "STB_LOCAL"
    assert load_elf(path).symbols["h"] == 0x1004


def test_assemble_file_and_comments(tmp_path):
    path = tmp_path / "p.S"
    path.write_text("/* block\n comment */ addi a0, a0, 1 # trailing\n// line\naddi a0, a0, '#'\n")
    assert assemble_file(path).words() == [0x00150513, 0x02350513]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("  frob a0, a1", "t.S:1: unknown instruction 'frob'"),
        ("nop\naddi a0, a0, 2048", r"t.S:2: addi: immediate 2048 out of range -2048..2047"),
        ("j nowhere", "t.S:1: undefined symbol 'nowhere'"),
        ("beq a0, a1, 1f", "t.S:1: undefined symbol '1f .no '1:' label follows"),
        ("beq a0, a1, 0x102", "t.S:1: beq: target 0x102 is not 4-byte aligned"),
        ("beq a0, a1, 0x2000", r"t.S:1: beq: target 0x2000 is \+8192 bytes away; the range is -4096..4095"),
        ("add a0, a1", r"t.S:1: add takes 3 operands \(add rd, rs1, rs2\), got 2"),
        ("add a0, a1, q9", "t.S:1: undefined symbol 'q9'"),
        ("sub a0, a1, q9", "t.S:1: expected a register .x0..x31 or an ABI name., got 'q9'"),
        ("vadd.f32 v1, a0, v2", r"t.S:1: expected a vector register v0..v31, got 'a0' \(that is a scalar"),
        (
            "vand.f32 v1, v2, v3",
            "unknown instruction 'vand.f32'; vand takes the element formats i8, i16, i32",
        ),
        ("lui a0, 0x100000", r"lui: immediate 0x100000 out of range 0..0xfffff"),
        ("addi a0, a0, %hi(x)\nx:", r"%hi cannot be used in addi"),
        ("csrr a0, mbogus", "unknown CSR 'mbogus'"),
        ("x:\nx:", "t.S:2: symbol 'x' is already defined"),
        (".data\n.byte 256", r"t.S:2: value 256 does not fit in .byte \(-128..255\)"),
        (".frobnicate", "unknown directive '.frobnicate'"),
        (".bss\n.word 1", "NOBITS"),
        (".space N\n.equ N, 4", ".space needs a constant known at this point"),
        ("li a0, 0x100000000", "li: value 0x100000000 does not fit in 32 bits"),
        ("fence rx, w", "bad fence set 'rx'"),
        (".globl main", "symbol 'main' is declared global but never defined"),
        ("slli a0, a0, 32", r"shamt 32 out of range 0..31"),
        ("lw a0, 0(a1", "expected a register|cannot|expected"),
    ],
)
def test_errors_for_people(source, message):
    assert re.search(message, error_of(source))


def test_all_errors_are_reported_together():
    text = error_of("frob\nnop\naddi a0, a0, 5000\nj missing")
    assert [line.split(":")[1] for line in text.splitlines()] == ["1", "3", "4"]


def test_encode_via_assembler_matches_isa():
    for spec in isa.INSTRUCTIONS.values():
        word = spec.match
        text = isa.decode(word).format(0)
        assert words(text) == [word], text
