"""Random instruction streams for co-simulating the scalar core.

:func:`generate` makes a self-checking-free, always-terminating machine-mode program for one
hardware thread, placed in that thread's slice of the node SRAM (``slice = size // threads``):

* a prologue: data base in ``x31`` (never written afterwards), ``mtvec`` -> the trap handler,
  every other register set to a random interesting value;
* a body of random items: every RV32IM instruction (register and immediate ALU forms, shifts,
  ``lui``/``auipc``, all of M with corner-case operands), loads and stores within the thread's
  data area (aligned, or misaligned on purpose), loads and stores through an out-of-range base,
  forward branches and ``jal``/``jalr`` (link registers random), bounded loops, jumps to
  out-of-range addresses (instruction access fault), optionally misaligned jump and branch
  targets, ``ecall``, ``ebreak``, illegal words, CSR instructions on ``mscratch``/``mtval``/
  ``mcause``/``mepc``, unimplemented CSRs and writes to read-only CSRs, ``fence``, ``fence.i``;
* an epilogue storing 1 to the thread's ``done`` word and spinning.

The trap handler skips the trapping instruction (``mepc += 4``), or after an instruction
access fault resumes at ``x1`` (out-of-range jumps always link to ``x1``). Control flow only
goes forward except in loops whose counter nothing else writes, so every program ends.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tatami.config import TatamiConfig
from tatami.isa import encode, hi_lo

__all__ = ["GenOptions", "RandomProgram", "generate", "slice_of"]

MASK32 = 0xFFFF_FFFF
DATA_BYTES = 256
SCRATCH, BASE = 30, 31  # x30: handler / sequence scratch; x31: data base (constant)
HANDLER_REGS = (29, 30)

_R_OPS = ("add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and")
_M_OPS = ("mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu")
_I_OPS = ("addi", "slti", "sltiu", "xori", "ori", "andi")
_SHIFTS = ("slli", "srli", "srai")
_LOADS = {"lb": 1, "lh": 2, "lw": 4, "lbu": 1, "lhu": 2}
_STORES = {"sb": 1, "sh": 2, "sw": 4}
_BRANCHES = ("beq", "bne", "blt", "bge", "bltu", "bgeu")
#: Words that are illegal both for Tatami and for unicorn's RV32GC hart (32-bit encodings only).
ILLEGAL_WORDS = (
    0xFFFFFFFF,  # reserved for longer instructions
    0x00003003 | (5 << 7),  # ld (RV64 only)
    0x00006003,  # lwu (RV64 only)
    0x00007003,  # funct3 7 load
    0x00003023,  # sd (RV64 only)
    0x00004023,  # funct3 4 store
    0x00002063,  # branch funct3 2
    0x00003063,  # branch funct3 3
    0x02000013 | (1 << 12),  # slli with shamt[5] set (RV64 only)
    0x80000033,  # OP with funct7 0x40
    0x0000401B,  # OP-IMM-32 funct3 4 (not in RV64 either)
    0x00004073,  # SYSTEM funct3 4
    0x00001067,  # jalr funct3 1
)
#: CSRs random programs read and write (same behaviour on unicorn and Tatami).
RW_CSRS = (0x340, 0x342, 0x343)  # mscratch, mcause, mtval
UNIMPLEMENTED_CSRS = (0x7C0, 0x7C1, 0xBC0, 0x5C0, 0x800, 0xFC0)
READ_ONLY_CSRS = (0xF11, 0xF12, 0xF13)  # mvendorid, marchid, mimpid: writing traps
INTERESTING = (0, 1, 2, 0xFFFFFFFF, 0xFFFFFFFE, 0x80000000, 0x7FFFFFFF, 0x80000001, 31, 32, 0xFFFF, 0x10000)


@dataclass(frozen=True)
class GenOptions:
    """Knobs of :func:`generate`.

    ``misaligned_jumps`` adds jumps and taken branches to targets that are 2 mod 4 (an
    instruction-address-misaligned trap on Tatami; unicorn has RVC, so leave it off when unicorn
    takes part). ``custom`` adds instructions for the example accumulator unit behind the custom
    port (and ones it refuses); unicorn cannot run those either.
    """

    length: int = 120
    traps: bool = True
    misaligned_jumps: bool = False
    loops: bool = True
    custom: bool = False


@dataclass
class RandomProgram:
    """A generated program: ``segments`` to load (``(address, bytes)``), the entry ``pc``, the
    address of the ``done`` word the epilogue writes 1 to, and the source seed."""

    thread: int
    seed: int
    segments: list[tuple[int, bytes]]
    entry: int
    done: int
    code_words: int
    listing: list[str] = field(default_factory=list)


def slice_of(cfg: TatamiConfig, thread: int, threads: int | None = None) -> tuple[int, int]:
    """The ``(start, size)`` of a thread's slice of the SRAM."""
    threads = threads or cfg.node.core.threads
    size = (cfg.node.sram.size_bytes // threads) & ~0xFF
    return cfg.node.core.reset_pc + thread * size, size


def _li(rd: int, value: int) -> list[int]:
    hi, lo = hi_lo(value & MASK32)
    return [encode("lui", rd=rd, imm=hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


class _Gen:
    def __init__(self, cfg, rng: random.Random, start: int, size: int, opts: GenOptions):
        self.cfg, self.rng, self.opts = cfg, rng, opts
        self.start, self.size = start, size
        self.data = start + size - DATA_BYTES - 4
        self.done = start + size - 4
        self.sram = (cfg.node.core.reset_pc, cfg.node.core.reset_pc + cfg.node.sram.size_bytes)
        # items: (words, kind) where a word may be a function of (item pc, address of item k)
        self.items: list[tuple[int, object]] = []

    # ----- random operands -------------------------------------------------------------------
    def rd(self, exclude=()) -> int:
        while True:
            r = self.rng.randrange(1, 31)
            if r not in exclude:
                return r

    def rs(self) -> int:
        return self.rng.randrange(32)

    def value(self) -> int:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(INTERESTING)
        if r < 0.7:
            return self.rng.randrange(-64, 64) & MASK32
        return self.rng.getrandbits(32)

    def bad_address(self, size: int) -> int:
        lo, hi = self.sram
        choice = self.rng.randrange(5)
        if choice == 0:
            return lo - size * self.rng.randrange(1, 8)
        if choice == 1:
            return hi + size * self.rng.randrange(0, 8)
        if choice == 2:
            return self.rng.randrange(0, 0x10000) & ~(size - 1)
        if choice == 3:
            return (0xFFFFFFFF - size * self.rng.randrange(1, 8) + 1) & MASK32
        while True:
            a = self.rng.getrandbits(32) & ~(size - 1)
            if not lo <= a < hi:
                return a

    # ----- items -----------------------------------------------------------------------------
    def add(self, words, text: str):
        self.items.append((words, text))

    def alu(self):
        rng = self.rng
        kind = rng.random()
        if kind < 0.35:
            op = rng.choice(_R_OPS + _M_OPS)
            self.add([encode(op, rd=self.rd(), rs1=self.rs(), rs2=self.rs())], op)
        elif kind < 0.6:
            op = rng.choice(_I_OPS)
            self.add([encode(op, rd=self.rd(), rs1=self.rs(), imm=rng.randrange(-2048, 2048))], op)
        elif kind < 0.75:
            op = rng.choice(_SHIFTS)
            self.add([encode(op, rd=self.rd(), rs1=self.rs(), shamt=rng.randrange(32))], op)
        elif kind < 0.85:
            op = rng.choice(("lui", "auipc"))
            self.add([encode(op, rd=self.rd(), imm=rng.getrandbits(20))], op)
        else:
            self.add(_li(self.rd(), self.value()), "li")

    def mem(self):
        rng = self.rng
        store = rng.random() < 0.45
        op = rng.choice(tuple(_STORES if store else _LOADS))
        size = (_STORES if store else _LOADS)[op]
        r = rng.random()
        traps = self.opts.traps
        if r < 0.85 or not traps:
            off = rng.randrange(0, DATA_BYTES - 4) & ~(size - 1)
            if traps and rng.random() < 0.1 and size > 1:
                off |= rng.randrange(1, size)
            words = [self._ldst(op, store, BASE, off - 0)]
            self.add(words, f"{op} aligned={off % size == 0}")
        else:
            addr = self.bad_address(size)
            off = rng.randrange(-16, 16) * size
            words = [*_li(SCRATCH, addr - off), self._ldst(op, store, SCRATCH, off)]
            self.add(words, f"{op} out of range {addr:#x}")

    def _ldst(self, op, store, base, off):
        if store:
            return encode(op, rs2=self.rs(), rs1=base, imm=off)
        return encode(op, rd=self.rd(), rs1=base, imm=off)

    def branch(self):
        rng = self.rng
        target = len(self.items) + rng.randrange(1, 8)
        skew = 2 if self.opts.misaligned_jumps and rng.random() < 0.1 else 0
        kind = rng.random()
        if kind < 0.6:
            op = rng.choice(_BRANCHES)
            rs1, rs2 = self.rs(), self.rs()
            self.add(
                lambda pc, at, op=op, rs1=rs1, rs2=rs2: [
                    encode(op, rs1=rs1, rs2=rs2, offset=at(target) - pc + skew)
                ],
                f"{op} -> item {target}",
            )
        elif kind < 0.8:
            rd = rng.choice((0, 1, self.rd()))
            self.add(
                lambda pc, at, rd=rd: [encode("jal", rd=rd, offset=at(target) - pc + skew)],
                f"jal -> item {target}",
            )
        else:
            rx, rd = self.rd(), rng.choice((0, 1, self.rd()))
            self.add(
                lambda pc, at, rx=rx, rd=rd: [
                    encode("auipc", rd=rx, imm=0),
                    encode("jalr", rd=rd, rs1=rx, imm=at(target) - pc + skew + rng_odd),
                ],
                f"jalr -> item {target}",
            )
            rng_odd = 1 if rng.random() < 0.3 else 0  # bit 0 of a jalr target is ignored

    def bad_jump(self):
        addr = self.bad_address(4)
        self.add([*_li(SCRATCH, addr), encode("jalr", rd=1, rs1=SCRATCH, imm=0)], f"jump to {addr:#x}")

    def loop(self):
        rng = self.rng
        counter = rng.choice([r for r in range(5, 29)])
        body = []
        for _ in range(rng.randrange(1, 5)):
            op = rng.choice(_R_OPS + _M_OPS)
            body.append(encode(op, rd=self.rd(exclude=(counter,)), rs1=self.rs(), rs2=self.rs()))
        n = rng.randrange(1, 5)
        words = [
            encode("addi", rd=counter, rs1=0, imm=n),
            *body,
            encode("addi", rd=counter, rs1=counter, imm=-1),
        ]
        words.append(encode("bne", rs1=counter, rs2=0, offset=-4 * (len(body) + 1)))
        self.add(words, f"loop x{counter} x{n}")

    def custom(self):
        rng = self.rng
        opcode = rng.choice((0x0B, 0x2B, 0x5B, 0x7B))
        funct3 = rng.choice((0, 0, 1, 2))
        funct7 = 0x7F if rng.random() < 0.9 else 0x3F
        rd, rs1, rs2 = self.rd(), self.rs(), self.rs()
        word = opcode | rd << 7 | funct3 << 12 | rs1 << 15 | rs2 << 20 | funct7 << 25
        if opcode == 0x7B and funct3 in (3, 4) and funct7 == 0:
            word |= 1 << 25
        self.add([word], "custom")

    def system(self):
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            op = rng.choice(("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"))
            csr = rng.choice(RW_CSRS)
            src = {"zimm": rng.randrange(32)} if op.endswith("i") else {"rs1": self.rs()}
            self.add([encode(op, rd=self.rd(), csr=csr, **src)], f"{op} {csr:#x}")
        elif r < 0.5:
            self.add([encode("csrrs", rd=self.rd(), csr=0x341, rs1=0)], "csrr mepc")
        elif not self.opts.traps:
            self.add([encode("fence", pred=15, succ=15) if r < 0.75 else encode("fence.i")], "fence")
        elif r < 0.6:
            csr = rng.choice(UNIMPLEMENTED_CSRS)
            self.add([encode("csrrs", rd=self.rd(), csr=csr, rs1=self.rs())], f"unimplemented csr {csr:#x}")
        elif r < 0.65:
            csr = rng.choice(READ_ONLY_CSRS)
            self.add([encode("csrrw", rd=self.rd(), csr=csr, rs1=self.rs())], f"write read-only {csr:#x}")
        elif r < 0.75:
            self.add([encode(rng.choice(("ecall", "ebreak")))], "ecall/ebreak")
        elif r < 0.85:
            self.add([rng.choice(ILLEGAL_WORDS)], "illegal")
        elif r < 0.92:
            self.add([encode("fence", pred=rng.randrange(16), succ=rng.randrange(16))], "fence")
        else:
            self.add([encode("fence.i")], "fence.i")

    # ----- program ---------------------------------------------------------------------------
    def build(self) -> tuple[list[int], list[str], int]:
        rng, opts = self.rng, self.opts
        prologue = _li(BASE, self.data)
        for _ in range(opts.length):
            r = rng.random()
            if r < 0.45:
                self.alu()
            elif r < 0.65:
                self.mem()
            elif r < 0.8:
                self.branch()
            elif r < 0.85 and opts.loops:
                self.loop()
            elif r < 0.88 and opts.traps:
                self.bad_jump()
            elif r < 0.92 and opts.custom:
                self.custom()
            else:
                self.system()
        body_items = self.items
        # layout: prologue | init regs | jump over handler | handler | body | epilogue
        init = []
        for r in range(1, 31):
            init += _li(r, self.value())
        handler = [
            encode("csrrs", rd=30, csr=0x342, rs1=0),
            encode("addi", rd=29, rs1=0, imm=1),
            encode("beq", rs1=30, rs2=29, offset=20),
            encode("csrrs", rd=30, csr=0x341, rs1=0),
            encode("addi", rd=30, rs1=30, imm=4),
            encode("csrrw", rd=0, csr=0x341, rs1=30),
            encode("mret"),
            encode("csrrw", rd=0, csr=0x341, rs1=1),
            encode("mret"),
        ]
        pre_len = len(prologue) + 3  # li x30, handler (2 words) + csrw mtvec
        handler_at = self.start + 4 * (pre_len + len(init) + 1)
        words = prologue + _li(SCRATCH, handler_at) + [encode("csrrw", rd=0, csr=0x305, rs1=SCRATCH)]
        words += init
        words.append(encode("jal", rd=0, offset=4 * (len(handler) + 1)))
        assert self.start + 4 * len(words) == handler_at
        words += handler
        body_pc = self.start + 4 * len(words)
        addrs = []
        pc = body_pc
        for w, _ in body_items:
            addrs.append(pc)
            pc += 4 * (len(w) if isinstance(w, list) else (2 if "jalr" in _ else 1))
        end_pc = pc

        def at(k):
            return addrs[k] if k < len(addrs) else end_pc

        listing = []
        for (w, text), pc in zip(body_items, addrs):
            out = w if isinstance(w, list) else w(pc, at)
            listing.append(f"{pc:08x}: {text}")
            words += out
        assert self.start + 4 * len(words) == end_pc
        words += [
            *_li(SCRATCH, self.done),
            encode("addi", rd=29, rs1=0, imm=1),
            encode("sw", rs2=29, rs1=SCRATCH, imm=0),
            encode("jal", rd=0, offset=0),
        ]
        return words, listing, end_pc


def generate(
    cfg: TatamiConfig,
    seed: int,
    *,
    thread: int = 0,
    threads: int | None = None,
    opts: GenOptions | None = None,
) -> RandomProgram:
    """A random program for ``thread`` in its slice of ``cfg``'s SRAM (see the module docs)."""
    opts = opts or GenOptions()
    rng = random.Random(seed * 64 + thread)
    start, size = slice_of(cfg, thread, threads)
    if size < DATA_BYTES + 1024:
        raise ValueError(f"a {size}-byte SRAM slice per thread is too small for random programs")
    gen = _Gen(cfg, rng, start, size, opts)
    length = opts.length
    while True:
        gen.items = []
        words, listing, _ = gen.build()
        if 4 * len(words) <= size - DATA_BYTES - 4:
            break
        length = length * 3 // 4  # too long for the slice: fewer items
        gen.opts = opts = GenOptions(length, opts.traps, opts.misaligned_jumps, opts.loops, opts.custom)
    code = b"".join(w.to_bytes(4, "little") for w in words)
    data = bytes(rng.getrandbits(8) for _ in range(DATA_BYTES)) + bytes(4)
    return RandomProgram(
        thread, seed, [(start, code), (gen.data, data)], start, gen.done, len(words), listing
    )
