"""The Tatami instruction set, defined once: RV32IM + Zicsr + Zifencei + the Tatami extension.

Everything that knows what an instruction looks like reads it from here: the scalar core's
decoder (through the :class:`~amaranth.lib.data.StructLayout` formats and the opcode / function
enums, which are Amaranth shape-castables), the assembler and disassembler in :mod:`tatami.asm`,
and the golden model and co-simulation (through :func:`encode` and :func:`decode`). See
docs/isa.md for the encoding diagrams and the meaning of the custom instructions.

The table
---------
:data:`INSTRUCTIONS` maps each mnemonic to an :class:`InsnSpec`: the instruction format (one of
the layouts in :data:`LAYOUTS`), the values of its fixed fields (opcode, funct3, funct7...), and
its assembly syntax, e.g. ``"rd, imm(rs1)"``. Operand names in the syntax are layout fields
(``rd``, ``rs1``, ``rs2``, ``shamt``, ``csr``, ``pred``, ``succ``), the immediate (``imm``, or
``offset`` when it is pc-relative) or aliases that say a register is a vector register (``vd``,
``vs1``, ``vs2`` in the ``rd``, ``rs1``, ``rs2`` fields) or that ``rs1`` holds a 5-bit immediate
(``zimm``). Every layout field that is neither fixed nor an operand must be zero. From that each
spec derives a ``mask`` and ``match`` (as in riscv-opcodes): a word is that instruction iff
``word & mask == match``, and no two specs overlap.

Adding an instruction is adding a row: the custom extension is generated from :data:`SYNC_OPS`,
:data:`DMA_OPS`, :data:`MATRIX_OPS` and :data:`VECTOR_OPS`.

>>> hex(encode("addi", rd=10, rs1=0, imm=-1))
'0xfff00513'
>>> str(decode(0xfff00513))
'addi a0, zero, -1'
>>> str(decode(encode("vfma.bf16", vd=1, vs1=2, vs2=3)))
'vfma.bf16 v1, v2, v3'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from amaranth.lib import data, enum

__all__ = [
    "ABI_NAMES",
    "CSR_NAMES",
    "INSTRUCTIONS",
    "LAYOUTS",
    "OPERANDS",
    "VECTOR_OPS",
    "XLEN",
    "Csr",
    "DmaOp",
    "EncodingError",
    "Format",
    "Funct3Branch",
    "Funct3Csr",
    "Funct3Load",
    "Funct3MiscMem",
    "Funct3MulDiv",
    "Funct3Op",
    "Funct3Store",
    "Funct7",
    "Funct12",
    "IllegalInstruction",
    "InsnSpec",
    "Instruction",
    "MatrixOp",
    "Opcode",
    "SyncOp",
    "VecFormat",
    "VecOp",
    "csr_name",
    "decode",
    "encode",
    "fence_set_str",
    "hi_lo",
    "parse_csr",
    "parse_vreg",
    "parse_xreg",
    "reg_name",
    "sign_extend",
]

XLEN = 32


class EncodingError(ValueError):
    """An operand does not fit the instruction (a register number, an immediate out of range...)."""


class IllegalInstruction(ValueError):
    """A word is not an instruction of this ISA. ``word`` holds it."""

    def __init__(self, word: int, message: str):
        self.word = word
        super().__init__(message)


# --------------------------------------------------------------------------------------------------
# Opcodes and function codes
# --------------------------------------------------------------------------------------------------


class Opcode(enum.IntEnum, shape=7):
    """Major opcode, ``inst[6:0]`` (32-bit instructions have ``inst[1:0] == 0b11``)."""

    LOAD = 0b0000011
    CUSTOM_0 = 0b0001011
    MISC_MEM = 0b0001111
    OP_IMM = 0b0010011
    AUIPC = 0b0010111
    STORE = 0b0100011
    CUSTOM_1 = 0b0101011
    OP = 0b0110011
    LUI = 0b0110111
    CUSTOM_2 = 0b1011011
    BRANCH = 0b1100011
    JALR = 0b1100111
    JAL = 0b1101111
    SYSTEM = 0b1110011
    CUSTOM_3 = 0b1111011
    #: Tatami's use of the custom opcodes.
    VECTOR = CUSTOM_0
    MATRIX = CUSTOM_1
    DMA = CUSTOM_2
    SYNC = CUSTOM_3


class Funct3Branch(enum.IntEnum, shape=3):
    BEQ = 0
    BNE = 1
    BLT = 4
    BGE = 5
    BLTU = 6
    BGEU = 7


class Funct3Load(enum.IntEnum, shape=3):
    LB = 0
    LH = 1
    LW = 2
    LBU = 4
    LHU = 5


class Funct3Store(enum.IntEnum, shape=3):
    SB = 0
    SH = 1
    SW = 2


class Funct3Op(enum.IntEnum, shape=3):
    """ALU operation of OP and OP_IMM (``funct7`` tells ADD from SUB and SRL from SRA)."""

    ADD = 0
    SLL = 1
    SLT = 2
    SLTU = 3
    XOR = 4
    SR = 5
    OR = 6
    AND = 7


class Funct3MulDiv(enum.IntEnum, shape=3):
    """M extension operations (OP with ``funct7 == Funct7.MULDIV``)."""

    MUL = 0
    MULH = 1
    MULHSU = 2
    MULHU = 3
    DIV = 4
    DIVU = 5
    REM = 6
    REMU = 7


class Funct7(enum.IntEnum, shape=7):
    BASE = 0b0000000
    ALT = 0b0100000  # SUB, SRA, SRAI
    MULDIV = 0b0000001


class Funct3MiscMem(enum.IntEnum, shape=3):
    FENCE = 0
    FENCE_I = 1


class Funct3Csr(enum.IntEnum, shape=3):
    """SYSTEM ``funct3``: 0 is a privileged instruction told apart by ``funct12``."""

    PRIV = 0
    CSRRW = 1
    CSRRS = 2
    CSRRC = 3
    CSRRWI = 5
    CSRRSI = 6
    CSRRCI = 7


class Funct12(enum.IntEnum, shape=12):
    """SYSTEM/PRIV instructions, ``inst[31:20]``."""

    ECALL = 0x000
    EBREAK = 0x001
    WFI = 0x105
    MRET = 0x302


class SyncOp(enum.IntEnum, shape=3):
    """``funct3`` of the SYNC (custom-3) instructions."""

    SEM_ADD = 0
    SEM_WAIT = 1
    BARRIER = 2
    THREAD_START = 3
    THREAD_STOP = 4
    UNIT_FENCE = 5


class DmaOp(enum.IntEnum, shape=3):
    """``funct3`` of the DMA (custom-2) instructions."""

    START = 0
    WAIT = 1
    POLL = 2


class MatrixOp(enum.IntEnum, shape=3):
    """``funct3`` of the MATRIX (custom-1) instructions."""

    START = 0
    WAIT = 1
    POLL = 2


class VecFormat(enum.IntEnum, shape=3):
    """Element format of a vector instruction, its ``funct3``. The mnemonic suffix is
    :attr:`suffix` (``vadd.bf16``)."""

    FP32 = 0
    BF16 = 1
    CF8E4 = 2  # configurable FP8, 1 sign, 4 exponent, 3 mantissa bits
    CF8E5 = 3  # configurable FP8, 1 sign, 5 exponent, 2 mantissa bits
    INT8 = 4
    INT16 = 5
    INT32 = 6
    CF16 = 7  # configurable FP16

    @property
    def suffix(self) -> str:
        return _VEC_SUFFIX[self]

    @property
    def is_int(self) -> bool:
        return self in (VecFormat.INT8, VecFormat.INT16, VecFormat.INT32)


_VEC_SUFFIX = {
    VecFormat.FP32: "f32",
    VecFormat.BF16: "bf16",
    VecFormat.CF8E4: "cf8e4",
    VecFormat.CF8E5: "cf8e5",
    VecFormat.INT8: "i8",
    VecFormat.INT16: "i16",
    VecFormat.INT32: "i32",
    VecFormat.CF16: "cf16",
}


class VecOp(enum.IntEnum, shape=7):
    """``funct7`` of the VECTOR (custom-0) instructions. Groups of 8 leave room to grow."""

    # element-wise arithmetic
    VADD = 0x00
    VSUB = 0x01
    VMUL = 0x02
    VFMA = 0x03  # vd += vs1 * vs2
    VMIN = 0x04
    VMAX = 0x05
    VRELU = 0x06  # unary
    # comparisons: element = 1 if true else 0, in the element format
    VCMPLT = 0x08
    VCMPEQ = 0x09
    # bitwise and shifts (integer formats only)
    VAND = 0x10
    VOR = 0x11
    VXOR = 0x12
    VSLL = 0x13
    VSRL = 0x14
    VSRA = 0x15
    # reductions into element 0 of vd
    VREDSUM = 0x20
    VREDMAX = 0x21
    # moves between scalar registers / memory and vector registers
    # conversions: funct7 = 0x28 + destination format, funct3 = source format (vcvt.<dst>.<src>)
    VCVT_F32 = 0x28
    VCVT_BF16 = 0x29
    VCVT_CF8E4 = 0x2A
    VCVT_CF8E5 = 0x2B
    VCVT_I8 = 0x2C
    VCVT_I16 = 0x2D
    VCVT_I32 = 0x2E
    VCVT_CF16 = 0x2F
    VBCAST = 0x30  # vd[i] = x[rs1] (low bits, in the element format)
    # permutations
    VSHUF = 0x31  # vd[i] = vs1[vs2[i] mod lanes]
    VTRANS = 0x32  # vs1 as an x[rs2]-row row-major tile, transposed
    VPAD = 0x33  # vd[i] = vs1[i] for i < x[rs2], else vd[i] unchanged
    VLD = 0x38  # vd = mem[x[rs1]]
    VST = 0x39  # mem[x[rs1]] = vs2
    VGATHER8 = 0x3A  # 8-byte chunk j of vd = mem[x[rs1] + vs2.i32[j]]
    VGATHER16 = 0x3B  # 16-byte chunks


# --------------------------------------------------------------------------------------------------
# Instruction formats
# --------------------------------------------------------------------------------------------------


class Format(enum.Enum):
    """The instruction formats: the six of the RISC-V spec, and I-type variants whose 12-bit
    immediate holds named sub-fields."""

    R = "R"
    I = "I"
    S = "S"
    B = "B"
    U = "U"
    J = "J"
    SHIFT = "I-shift"  # imm[11:5] is a funct7, imm[4:0] the shift amount
    CSR = "I-csr"  # imm is the CSR address
    FENCE = "I-fence"  # imm is fm | pred | succ
    PRIV = "I-priv"  # imm is funct12


_HEAD = {"opcode": 7}
#: One StructLayout per format, fields from bit 0 up. Immediate fields are named ``imm_HI_LO``
#: (or ``imm_N``): the field holds bits HI..LO of the immediate.
LAYOUTS: Mapping[Format, data.StructLayout] = MappingProxyType(
    {
        Format.R: data.StructLayout({**_HEAD, "rd": 5, "funct3": 3, "rs1": 5, "rs2": 5, "funct7": 7}),
        Format.I: data.StructLayout({**_HEAD, "rd": 5, "funct3": 3, "rs1": 5, "imm_11_0": 12}),
        Format.S: data.StructLayout({**_HEAD, "imm_4_0": 5, "funct3": 3, "rs1": 5, "rs2": 5, "imm_11_5": 7}),
        Format.B: data.StructLayout(
            {**_HEAD, "imm_11": 1, "imm_4_1": 4, "funct3": 3, "rs1": 5, "rs2": 5, "imm_10_5": 6, "imm_12": 1}
        ),
        Format.U: data.StructLayout({**_HEAD, "rd": 5, "imm_31_12": 20}),
        Format.J: data.StructLayout(
            {**_HEAD, "rd": 5, "imm_19_12": 8, "imm_11": 1, "imm_10_1": 10, "imm_20": 1}
        ),
        Format.SHIFT: data.StructLayout({**_HEAD, "rd": 5, "funct3": 3, "rs1": 5, "shamt": 5, "funct7": 7}),
        Format.CSR: data.StructLayout({**_HEAD, "rd": 5, "funct3": 3, "rs1": 5, "csr": 12}),
        Format.FENCE: data.StructLayout(
            {**_HEAD, "rd": 5, "funct3": 3, "rs1": 5, "succ": 4, "pred": 4, "fm": 4}
        ),
        Format.PRIV: data.StructLayout({**_HEAD, "rd": 5, "funct3": 3, "rs1": 5, "funct12": 12}),
    }
)

_IMM_RE = re.compile(r"imm_(\d+)(?:_(\d+))?$")


@dataclass(frozen=True)
class _FormatInfo:
    fields: tuple[tuple[str, int, int], ...]  # (name, offset, width) of every field
    imm: tuple[tuple[str, int, int, int], ...]  # (name, offset, width, lowest immediate bit)
    imm_bits: int  # immediate width: highest bit + 1
    imm_lsb: int  # lowest immediate bit (1 for B/J: offsets are even; 12 for U)


def _format_info(layout: data.StructLayout) -> _FormatInfo:
    fields, imm = [], []
    for name, fld in layout:
        fields.append((name, fld.offset, fld.width))
        m = _IMM_RE.match(name)
        if m:
            lo = int(m.group(2) if m.group(2) is not None else m.group(1))
            assert int(m.group(1)) - lo + 1 == fld.width, name
            imm.append((name, fld.offset, fld.width, lo))
    bits = max((lo + w for _, _, w, lo in imm), default=0)
    lsb = min((lo for _, _, _, lo in imm), default=0)
    assert layout.size == 32
    return _FormatInfo(tuple(fields), tuple(imm), bits, lsb)


_INFO = {fmt: _format_info(layout) for fmt, layout in LAYOUTS.items()}


def sign_extend(value: int, bits: int) -> int:
    """``value``'s low ``bits`` bits as a two's complement number."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def hi_lo(value: int) -> tuple[int, int]:
    """Split a 32-bit value for ``lui``/``auipc`` + a 12-bit signed immediate: returns ``(hi20,
    lo12)`` with ``(hi20 << 12) + lo12 == value`` modulo 2**32 (``%hi`` and ``%lo`` in GNU as)."""
    lo = sign_extend(value, 12)
    hi = ((value - lo) >> 12) & 0xFFFFF
    return hi, lo


# --------------------------------------------------------------------------------------------------
# Registers and CSRs
# --------------------------------------------------------------------------------------------------

ABI_NAMES = (
    "zero",
    "ra",
    "sp",
    "gp",
    "tp",
    "t0",
    "t1",
    "t2",
    "s0",
    "s1",
    "a0",
    "a1",
    "a2",
    "a3",
    "a4",
    "a5",
    "a6",
    "a7",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "s8",
    "s9",
    "s10",
    "s11",
    "t3",
    "t4",
    "t5",
    "t6",
)
_XREGS = {name: i for i, name in enumerate(ABI_NAMES)} | {f"x{i}": i for i in range(32)} | {"fp": 8}
_VREGS = {f"v{i}": i for i in range(32)}


def parse_xreg(text: str) -> int | None:
    """Number of an integer register named ``xN`` or by its ABI name; None if not a register."""
    return _XREGS.get(text.strip().lower())


def parse_vreg(text: str) -> int | None:
    """Number of a vector register ``v0``..``v31``; None if not one."""
    return _VREGS.get(text.strip().lower())


def reg_name(n: int, *, abi: bool = True, vector: bool = False) -> str:
    if vector:
        return f"v{n}"
    return ABI_NAMES[n] if abi else f"x{n}"


class Csr(enum.IntEnum, shape=12):
    """CSR addresses implemented by the Tatami scalar core (machine mode only, plus the
    unprivileged counter views). ``csr[11:10] == 0b11`` marks a read-only CSR."""

    # unprivileged counters (read-only shadows of mcycle / minstret; time is mcycle too)
    CYCLE = 0xC00
    TIME = 0xC01
    INSTRET = 0xC02
    CYCLEH = 0xC80
    TIMEH = 0xC81
    INSTRETH = 0xC82
    # machine information
    MVENDORID = 0xF11
    MARCHID = 0xF12
    MIMPID = 0xF13
    MHARTID = 0xF14
    MCONFIGPTR = 0xF15
    # machine trap setup
    MSTATUS = 0x300
    MISA = 0x301
    MEDELEG = 0x302
    MIDELEG = 0x303
    MIE = 0x304
    MTVEC = 0x305
    MCOUNTEREN = 0x306
    MSTATUSH = 0x310
    MCOUNTINHIBIT = 0x320
    # machine trap handling
    MSCRATCH = 0x340
    MEPC = 0x341
    MCAUSE = 0x342
    MTVAL = 0x343
    MIP = 0x344
    # machine counters
    MCYCLE = 0xB00
    MINSTRET = 0xB02
    MCYCLEH = 0xB80
    MINSTRETH = 0xB82


def _csr_names() -> dict[str, int]:
    names = {member.name.lower(): int(member) for member in Csr}
    for i in range(3, 32):
        names[f"hpmcounter{i}"] = 0xC00 + i
        names[f"hpmcounter{i}h"] = 0xC80 + i
        names[f"mhpmcounter{i}"] = 0xB00 + i
        names[f"mhpmcounter{i}h"] = 0xB80 + i
        names[f"mhpmevent{i}"] = 0x320 + i
    return names


#: CSR name (as GNU as spells it) -> address.
CSR_NAMES: Mapping[str, int] = MappingProxyType(_csr_names())
_CSR_BY_ADDR = {addr: name for name, addr in CSR_NAMES.items()}


def parse_csr(text: str) -> int | None:
    """Address of a CSR given by name; None if the name is unknown."""
    return CSR_NAMES.get(text.strip().lower())


def csr_name(addr: int) -> str:
    """The CSR's name, or its address in hex if it has none."""
    return _CSR_BY_ADDR.get(addr, f"{addr:#x}")


# --------------------------------------------------------------------------------------------------
# The instruction table
# --------------------------------------------------------------------------------------------------

#: Operand name in a syntax string -> (layout field, kind). Kinds: ``x`` integer register, ``v``
#: vector register, ``u`` 5-bit unsigned immediate, ``csr`` CSR address, ``fence`` fence set
#: (iorw bits), ``imm`` the format's immediate (``offset``: pc-relative), spread over its fields.
OPERANDS: Mapping[str, tuple[str | None, str]] = {
    "rd": ("rd", "x"),
    "rs1": ("rs1", "x"),
    "rs2": ("rs2", "x"),
    "vd": ("rd", "v"),
    "vs1": ("rs1", "v"),
    "vs2": ("rs2", "v"),
    "zimm": ("rs1", "u"),
    "shamt": ("shamt", "u"),
    "csr": ("csr", "csr"),
    "pred": ("pred", "fence"),
    "succ": ("succ", "fence"),
    "imm": (None, "imm"),
    "offset": (None, "imm"),
}
_SYNTAX_ITEM = re.compile(r"^(?:(\w+)|(\w*)\((\w+)\))$")


def _parse_syntax(syntax: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"rd, imm(rs1)"`` -> (items ``("rd", "imm(rs1)")``, operand names ``("rd", "imm", "rs1")``)."""
    items = tuple(s.strip() for s in syntax.split(",")) if syntax.strip() else ()
    names = []
    for item in items:
        m = _SYNTAX_ITEM.match(item)
        if not m:
            raise ValueError(f"bad syntax item {item!r}")
        names += [n for n in m.groups() if n]
    for n in names:
        if n not in OPERANDS:
            raise ValueError(f"unknown operand {n!r} in syntax {syntax!r}")
    return items, tuple(names)


@dataclass(frozen=True)
class InsnSpec:
    """One row of the instruction table.

    Parameters
    ----------
    name : str
        Mnemonic, lower case (``"vadd.f32"``).
    fmt : Format
        Instruction format; its layout is ``LAYOUTS[fmt]``.
    fixed : mapping of str to int
        Values of fixed fields (``opcode``, ``funct3``...). Fields that are neither fixed nor
        operands must be zero.
    syntax : str
        Assembly operands, e.g. ``"rd, rs1, imm"``, ``"rs2, imm(rs1)"``, ``"vd, (rs1)"``.
    ext : str
        The extension that defines the instruction (``"I"``, ``"M"``, ``"Zicsr"``,
        ``"Zifencei"``, ``"Xtatami"``).
    """

    name: str
    fmt: Format
    fixed: Mapping[str, int]
    syntax: str = ""
    ext: str = "I"
    items: tuple[str, ...] = field(init=False, repr=False)
    operands: tuple[str, ...] = field(init=False, repr=False)
    mask: int = field(init=False, repr=False)
    match: int = field(init=False, repr=False)

    def __post_init__(self):
        items, operands = _parse_syntax(self.syntax)
        object.__setattr__(self, "fixed", MappingProxyType({k: int(v) for k, v in self.fixed.items()}))
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "operands", operands)
        info = _INFO[self.fmt]
        names = {n for n, _, _ in info.fields}
        operand_fields = set()
        for op in operands:
            fld, kind = OPERANDS[op]
            if kind == "imm":
                operand_fields |= {n for n, _, _, _ in info.imm}
            else:
                if fld not in names:
                    raise ValueError(f"{self.name}: operand {op!r} has no field in format {self.fmt}")
                operand_fields.add(fld)
        if set(self.fixed) - names:
            raise ValueError(f"{self.name}: fixed fields {set(self.fixed) - names} not in {self.fmt}")
        mask = match = 0
        for name, offset, width in info.fields:
            if name in operand_fields:
                continue
            mask |= ((1 << width) - 1) << offset
            match |= (self.fixed.get(name, 0) & ((1 << width) - 1)) << offset
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "match", match)

    @property
    def opcode(self) -> int:
        return self.fixed["opcode"]

    @property
    def imm_signed(self) -> bool:
        return self.fmt is not Format.U

    def imm_range(self) -> tuple[int, int]:
        """Smallest and largest value of the ``imm``/``offset`` operand as written in assembly."""
        info = _INFO[self.fmt]
        if self.fmt is Format.U:
            return 0, (1 << 20) - 1
        return -(1 << (info.imm_bits - 1)), (1 << (info.imm_bits - 1)) - 1

    def encode(self, **operands: int) -> int:
        """The instruction word for the given operands (keyword per operand name; ``imm``
        for U-type is the 20-bit value ``lui`` is written with)."""
        missing = [op for op in self.operands if op not in operands]
        extra = [op for op in operands if op not in self.operands]
        if missing or extra:
            raise EncodingError(
                f"{self.name} takes operands {', '.join(self.operands) or 'none'}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unexpected {', '.join(extra)}" if extra else "")
            )
        info = _INFO[self.fmt]
        word = self.match
        offsets = {n: (o, w) for n, o, w in info.fields}
        for op, value in operands.items():
            value = int(value)
            fld, kind = OPERANDS[op]
            if kind == "imm":
                word |= self._encode_imm(value, info)
                continue
            offset, width = offsets[fld]
            if not 0 <= value < (1 << width):
                what = {
                    "x": "register number",
                    "v": "vector register number",
                    "csr": "CSR address",
                    "fence": "fence set",
                }.get(kind, op)
                raise EncodingError(f"{self.name}: {what} {value} out of range 0..{(1 << width) - 1}")
            word |= value << offset
        return word

    def _encode_imm(self, value: int, info: _FormatInfo) -> int:
        lo, hi = self.imm_range()
        if not lo <= value <= hi:
            raise EncodingError(f"{self.name}: immediate {value} out of range {lo}..{hi}")
        if self.fmt is Format.U:
            value <<= 12
        elif value & ((1 << info.imm_lsb) - 1):
            raise EncodingError(f"{self.name}: offset {value} is odd; it must be a multiple of 2")
        word = 0
        for _, offset, width, lsb in info.imm:
            word |= ((value >> lsb) & ((1 << width) - 1)) << offset
        return word

    def decode_operands(self, word: int) -> dict[str, int]:
        """The operands of ``word``, which must match this spec."""
        info = _INFO[self.fmt]
        out = {}
        for op in self.operands:
            fld, kind = OPERANDS[op]
            if kind == "imm":
                value = 0
                for _, offset, width, lsb in info.imm:
                    value |= ((word >> offset) & ((1 << width) - 1)) << lsb
                out[op] = (value >> 12) if self.fmt is Format.U else sign_extend(value, info.imm_bits)
            else:
                offset, width = next((o, w) for n, o, w in info.fields if n == fld)
                out[op] = (word >> offset) & ((1 << width) - 1)
        return out


_FENCE_BITS = "iorw"


def fence_set_str(value: int) -> str:
    """Fence predecessor/successor set as GNU as writes it (``0b1111`` -> ``"iorw"``)."""
    return "".join(c for i, c in enumerate(_FENCE_BITS) if value & (8 >> i)) or "0"


@dataclass(frozen=True)
class Instruction:
    """A decoded (or to-be-encoded) instruction: its spec and its operand values."""

    spec: InsnSpec
    operands: Mapping[str, int]

    @property
    def name(self) -> str:
        return self.spec.name

    def __getitem__(self, key: str) -> int:
        return self.operands[key]

    def encode(self) -> int:
        return self.spec.encode(**self.operands)

    def format(self, pc: int | None = None, *, abi: bool = True) -> str:
        """Assembly text. Pc-relative offsets are printed as absolute targets if ``pc`` is given,
        else as ``. + offset``; either form assembles back to the same word."""
        parts = []
        for item in self.spec.items:
            parts.append(_SYNTAX_ITEM.sub(lambda m: self._fmt_item(m, pc, abi), item))
        return f"{self.name} {', '.join(parts)}" if parts else self.name

    def _fmt_item(self, m: re.Match, pc: int | None, abi: bool) -> str:
        single, imm, base = m.groups()
        if single:
            return self._fmt_operand(single, pc, abi)
        return f"{self._fmt_operand(imm, pc, abi) if imm else ''}({self._fmt_operand(base, pc, abi)})"

    def _fmt_operand(self, op: str, pc: int | None, abi: bool) -> str:
        value = self.operands[op]
        kind = OPERANDS[op][1]
        if kind == "x":
            return reg_name(value, abi=abi)
        if kind == "v":
            return reg_name(value, vector=True)
        if kind == "csr":
            return csr_name(value)
        if kind == "fence":
            return fence_set_str(value)
        if op == "offset":
            if pc is not None:
                return f"{(pc + value) & 0xFFFFFFFF:#x}"
            return f". + {value}" if value >= 0 else f". - {-value}"
        if self.spec.fmt is Format.U:
            return f"{value:#x}"
        return str(value)

    def __str__(self):
        return self.format()


def _spec(name, fmt, syntax, ext="I", **fixed):
    return InsnSpec(name, fmt, fixed, syntax, ext)


def _base_instructions() -> list[InsnSpec]:
    specs = [
        _spec("lui", Format.U, "rd, imm", opcode=Opcode.LUI),
        _spec("auipc", Format.U, "rd, imm", opcode=Opcode.AUIPC),
        _spec("jal", Format.J, "rd, offset", opcode=Opcode.JAL),
        _spec("jalr", Format.I, "rd, imm(rs1)", opcode=Opcode.JALR, funct3=0),
    ]
    specs += [
        _spec(f.name.lower(), Format.B, "rs1, rs2, offset", opcode=Opcode.BRANCH, funct3=f)
        for f in Funct3Branch
    ]
    specs += [
        _spec(f.name.lower(), Format.I, "rd, imm(rs1)", opcode=Opcode.LOAD, funct3=f) for f in Funct3Load
    ]
    specs += [
        _spec(f.name.lower(), Format.S, "rs2, imm(rs1)", opcode=Opcode.STORE, funct3=f) for f in Funct3Store
    ]
    for name, f3 in [
        ("addi", Funct3Op.ADD),
        ("slti", Funct3Op.SLT),
        ("sltiu", Funct3Op.SLTU),
        ("xori", Funct3Op.XOR),
        ("ori", Funct3Op.OR),
        ("andi", Funct3Op.AND),
    ]:
        specs.append(_spec(name, Format.I, "rd, rs1, imm", opcode=Opcode.OP_IMM, funct3=f3))
    for name, f3, f7 in [
        ("slli", Funct3Op.SLL, Funct7.BASE),
        ("srli", Funct3Op.SR, Funct7.BASE),
        ("srai", Funct3Op.SR, Funct7.ALT),
    ]:
        specs.append(_spec(name, Format.SHIFT, "rd, rs1, shamt", opcode=Opcode.OP_IMM, funct3=f3, funct7=f7))
    for name, f3, f7 in [
        ("add", Funct3Op.ADD, Funct7.BASE),
        ("sub", Funct3Op.ADD, Funct7.ALT),
        ("sll", Funct3Op.SLL, Funct7.BASE),
        ("slt", Funct3Op.SLT, Funct7.BASE),
        ("sltu", Funct3Op.SLTU, Funct7.BASE),
        ("xor", Funct3Op.XOR, Funct7.BASE),
        ("srl", Funct3Op.SR, Funct7.BASE),
        ("sra", Funct3Op.SR, Funct7.ALT),
        ("or", Funct3Op.OR, Funct7.BASE),
        ("and", Funct3Op.AND, Funct7.BASE),
    ]:
        specs.append(_spec(name, Format.R, "rd, rs1, rs2", opcode=Opcode.OP, funct3=f3, funct7=f7))
    specs += [
        _spec("fence", Format.FENCE, "pred, succ", opcode=Opcode.MISC_MEM, funct3=Funct3MiscMem.FENCE),
        _spec("ecall", Format.PRIV, "", opcode=Opcode.SYSTEM, funct12=Funct12.ECALL),
        _spec("ebreak", Format.PRIV, "", opcode=Opcode.SYSTEM, funct12=Funct12.EBREAK),
        _spec("mret", Format.PRIV, "", "Priv", opcode=Opcode.SYSTEM, funct12=Funct12.MRET),
        _spec("wfi", Format.PRIV, "", "Priv", opcode=Opcode.SYSTEM, funct12=Funct12.WFI),
        _spec("fence.i", Format.I, "", "Zifencei", opcode=Opcode.MISC_MEM, funct3=Funct3MiscMem.FENCE_I),
    ]
    specs += [
        _spec(f.name.lower(), Format.R, "rd, rs1, rs2", "M", opcode=Opcode.OP, funct3=f, funct7=Funct7.MULDIV)
        for f in Funct3MulDiv
    ]
    for f in Funct3Csr:
        if f is not Funct3Csr.PRIV:
            syntax = "rd, csr, zimm" if f.name.endswith("I") else "rd, csr, rs1"
            specs.append(_spec(f.name.lower(), Format.CSR, syntax, "Zicsr", opcode=Opcode.SYSTEM, funct3=f))
    return specs


#: SYNC (custom-3) instructions: (mnemonic, funct3, syntax). R-type, funct7 = 0.
SYNC_OPS = (
    ("sem.add", SyncOp.SEM_ADD, "rs1, rs2"),  # atomically add x[rs2] to the semaphore at global x[rs1]
    ("sem.wait", SyncOp.SEM_WAIT, "rs1, rs2"),  # stall until local sem x[rs1] >= x[rs2]; subtract x[rs2]
    ("barrier", SyncOp.BARRIER, "rs1"),  # arrive at barrier x[rs1] and wait for its release
    ("thread.start", SyncOp.THREAD_START, "rs1, rs2"),  # start hardware thread x[rs1] at pc x[rs2]
    ("thread.stop", SyncOp.THREAD_STOP, "rs1"),  # stop hardware thread x[rs1]
    ("unit.fence", SyncOp.UNIT_FENCE, ""),  # wait until every unit this thread issued to is idle
)
#: DMA (custom-2) instructions: (mnemonic, funct3, syntax).
DMA_OPS = (
    ("dma.start", DmaOp.START, "rd, rs1"),  # start the descriptor at local x[rs1]; rd = handle
    ("dma.wait", DmaOp.WAIT, "rs1"),  # wait until transfer x[rs1] is done
    ("dma.poll", DmaOp.POLL, "rd, rs1"),  # rd = 1 if transfer x[rs1] is done, else 0
)
#: MATRIX (custom-1) instructions: (mnemonic, funct3, syntax).
MATRIX_OPS = (
    ("mx.start", MatrixOp.START, "rd, rs1"),  # start the descriptor at local x[rs1]; rd = handle
    ("mx.wait", MatrixOp.WAIT, "rs1"),
    ("mx.poll", MatrixOp.POLL, "rd, rs1"),
)

_ALL_FORMATS = tuple(VecFormat)
_INT_FORMATS = (VecFormat.INT8, VecFormat.INT16, VecFormat.INT32)
#: VECTOR (custom-0) instructions: (mnemonic, funct7, syntax, element formats). With formats the
#: mnemonic takes a suffix (``vadd.f32``) and funct3 is the format; without, funct3 is 0.
VECTOR_OPS = (
    ("vadd", VecOp.VADD, "vd, vs1, vs2", _ALL_FORMATS),
    ("vsub", VecOp.VSUB, "vd, vs1, vs2", _ALL_FORMATS),
    ("vmul", VecOp.VMUL, "vd, vs1, vs2", _ALL_FORMATS),
    ("vfma", VecOp.VFMA, "vd, vs1, vs2", _ALL_FORMATS),
    ("vmin", VecOp.VMIN, "vd, vs1, vs2", _ALL_FORMATS),
    ("vmax", VecOp.VMAX, "vd, vs1, vs2", _ALL_FORMATS),
    ("vrelu", VecOp.VRELU, "vd, vs1", _ALL_FORMATS),
    ("vcmplt", VecOp.VCMPLT, "vd, vs1, vs2", _ALL_FORMATS),
    ("vcmpeq", VecOp.VCMPEQ, "vd, vs1, vs2", _ALL_FORMATS),
    ("vand", VecOp.VAND, "vd, vs1, vs2", _INT_FORMATS),
    ("vor", VecOp.VOR, "vd, vs1, vs2", _INT_FORMATS),
    ("vxor", VecOp.VXOR, "vd, vs1, vs2", _INT_FORMATS),
    ("vsll", VecOp.VSLL, "vd, vs1, vs2", _INT_FORMATS),
    ("vsrl", VecOp.VSRL, "vd, vs1, vs2", _INT_FORMATS),
    ("vsra", VecOp.VSRA, "vd, vs1, vs2", _INT_FORMATS),
    ("vredsum", VecOp.VREDSUM, "vd, vs1", _ALL_FORMATS),
    ("vredmax", VecOp.VREDMAX, "vd, vs1", _ALL_FORMATS),
    ("vbcast", VecOp.VBCAST, "vd, rs1", _ALL_FORMATS),
    ("vld", VecOp.VLD, "vd, (rs1)", ()),
    ("vst", VecOp.VST, "vs2, (rs1)", ()),
    # Added for the vector unit (docs/datapath.md); no existing encoding changed.
    *[(f"vcvt.{dst.suffix}", VecOp(0x28 + dst), "vd, vs1", _ALL_FORMATS) for dst in VecFormat],
    ("vshuf", VecOp.VSHUF, "vd, vs1, vs2", _ALL_FORMATS),
    ("vtrans", VecOp.VTRANS, "vd, vs1, rs2", _ALL_FORMATS),
    ("vpad", VecOp.VPAD, "vd, vs1, rs2", _ALL_FORMATS),
    ("vgather8", VecOp.VGATHER8, "vd, vs2, (rs1)", ()),
    ("vgather16", VecOp.VGATHER16, "vd, vs2, (rs1)", ()),
)


def _custom_instructions() -> list[InsnSpec]:
    specs = []
    for opcode, rows in [(Opcode.SYNC, SYNC_OPS), (Opcode.DMA, DMA_OPS), (Opcode.MATRIX, MATRIX_OPS)]:
        specs += [
            _spec(name, Format.R, syntax, "Xtatami", opcode=opcode, funct3=f3, funct7=0)
            for name, f3, syntax in rows
        ]
    for name, f7, syntax, formats in VECTOR_OPS:
        if not formats:
            specs.append(_spec(name, Format.R, syntax, "Xtatami", opcode=Opcode.VECTOR, funct3=0, funct7=f7))
        for fmt in formats:
            specs.append(
                _spec(
                    f"{name}.{fmt.suffix}",
                    Format.R,
                    syntax,
                    "Xtatami",
                    opcode=Opcode.VECTOR,
                    funct3=fmt,
                    funct7=f7,
                )
            )
    return specs


def _build_table() -> Mapping[str, InsnSpec]:
    table = {}
    for spec in _base_instructions() + _custom_instructions():
        assert spec.name not in table, spec.name
        table[spec.name] = spec
    return MappingProxyType(table)


#: Mnemonic -> spec, for every instruction of the ISA (pseudo-instructions are the assembler's).
INSTRUCTIONS: Mapping[str, InsnSpec] = _build_table()
_BY_OPCODE: dict[int, list[InsnSpec]] = {}
for _s in INSTRUCTIONS.values():
    _BY_OPCODE.setdefault(_s.opcode, []).append(_s)
del _s


def encode(name: str, **operands: int) -> int:
    """Encode one instruction: ``encode("lw", rd=10, rs1=2, imm=8)``.

    Operands are keyword arguments named as in the spec's syntax (``rd``, ``rs1``, ``rs2``,
    ``imm``, ``offset``, ``shamt``, ``csr``, ``zimm``, ``pred``, ``succ``, ``vd``, ``vs1``,
    ``vs2``); registers are numbers. Raises :class:`EncodingError` naming the bad operand.
    """
    try:
        spec = INSTRUCTIONS[name.lower()]
    except KeyError:
        raise EncodingError(f"unknown instruction {name!r}") from None
    return spec.encode(**operands)


def decode(word: int) -> Instruction:
    """Decode one 32-bit instruction word; raises :class:`IllegalInstruction` if it is none of
    :data:`INSTRUCTIONS`."""
    word = int(word)
    if not 0 <= word <= 0xFFFFFFFF:
        raise IllegalInstruction(word, f"{word:#x} is not a 32-bit word")
    for spec in _BY_OPCODE.get(word & 0x7F, ()):
        if word & spec.mask == spec.match:
            return Instruction(spec, MappingProxyType(spec.decode_operands(word)))
    opcode = word & 0x7F
    try:
        what = f"opcode {Opcode(opcode).name}"
    except ValueError:
        what = f"unknown opcode {opcode:#09b}"
    raise IllegalInstruction(
        word,
        f"{word:#010x} is not a valid instruction ({what}, "
        f"funct3 {(word >> 12) & 7}, funct7 {word >> 25:#x})",
    )
