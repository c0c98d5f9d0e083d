"""The matrix unit: ``C (+)= A x B`` from a descriptor, operands streamed from SRAM, C written back
as FP32 or converted to BF16 / CFloat8."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common import hier
from tatami.hw.common.select import select
from tatami.hw.fpu.bf16_mac import Bf16Mac
from tatami.hw.fpu.convert import Convert
from tatami.hw.fpu.datapath import unpack_cf8
from tatami.hw.fpu.layouts import FpFormat
from tatami.hw.mem.ports import SramPortSignature, lane_count

from .descriptors import MATRIX_DESCRIPTOR

__all__ = ["DONE_LAYOUT", "MatrixUnit", "block_shape"]

#: What the unit reports when an operation ends: its cycle count and stall breakdown, ``error``
#: (the descriptor was rejected) and ``uncorrectable`` (an SRAM read of this operation, of A, B
#: or C, returned an uncorrectable ECC error: C is not to be trusted).
DONE_LAYOUT = data.StructLayout(
    {"cycles": 32, "compute": 32, "stall_operand": 32, "stall_writeback": 32, "error": 1, "uncorrectable": 1}
)


def block_shape(cfg: TatamiConfig) -> tuple[int, int]:
    """``(BM, BN)``: the C block is ``BM x BN`` tiles of ``m x n``, one per slot of the MAC ring
    (``k * fma_stages`` slots): the most square factorisation."""
    t = cfg.node.matrix.k * cfg.node.fpu.fma_stages
    bm = max(d for d in range(1, t + 1) if t % d == 0 and d * d <= t)
    return bm, t // bm


def _widen_cf8(m, code, layout, bias, name):
    """CFloat8 (run-time layout and bias) to BF16: exact, always a BF16 normal number or zero."""
    u = unpack_cf8(m, code, layout, bias, name=name)
    out = Signal(16, name=f"{name}_bf16")
    normal = Cat(Const(0, 4), u["sig"][:3], (u["exp"] + 127)[:8], u["sign"])
    m.d.comb += out.eq(Mux(u["zero"], Cat(Const(0, 15), u["sign"]), normal))
    return out


#: MurmurHash3's ``fmix32`` multipliers: the stochastic-rounding word of ``C[i][j]`` is
#: ``fmix32((i << 16 | j) ^ fmix32(seed))`` (:func:`tatami.sim.datapath.matrix.sr_word`).
_FMIX = (0x85EBCA6B, 0xC2B2AE35)

#: Register stages of the per-element stochastic-rounding hash before the conversion.
_HASH_STAGES = 4


class MatrixUnit(wiring.Component):
    """Computes ``C (+)= A x B`` from a matrix descriptor, reading A and B (and C when
    ``accumulate``) from SRAM through two load ports and writing C through a store port.

    Compute: ``m x n`` output elements, each with a chain of ``k`` fused BF16 multiply-accumulate
    units (:class:`~tatami.hw.fpu.bf16_mac.Bf16Mac`, CFloat8 operands widened exactly to BF16
    first), ``m*n*k`` MACs per cycle. The output of the last MAC of a chain feeds the first: the
    ring holds ``T = k * fma_stages`` accumulators per output element, one per C tile of the block
    (:func:`block_shape`), so each tile gets its next ``k`` products exactly when its accumulator
    comes round: full rate without a second accumulator array, and each ``C[i][j]`` is the
    sequential fused sum over ``kk`` of the golden model (:mod:`tatami.sim.datapath.matrix`),
    started at 0 or, with ``accumulate``, at C widened exactly to FP32.

    Operands: the ring consumes *lines*, a word's worth of consecutive K-values for each of the
    block's rows of A and columns of B. A loader fills one of two line buffers with the next group
    of ``word_bits / 16`` K-values while the ring consumes the other (double buffering). Per
    operand it has two modes, chosen from the strides: K-contiguous (A row-major, B given as
    ``B^T`` row-major), one SRAM word per line; outer-contiguous (A column-major, B row-major),
    one or two words per K-value whose elements are shifted into every line. With ``accumulate``
    it also reads the block's C rows with the block's first group, the first half of its tiles'
    rows on ``a`` after A's lines and the rest on ``b`` after B's. K beyond the operand
    is padded with products ``+0 x -0 = -0``, which leave every accumulator unchanged. The issue path has two
    register stages (after the line selection, after the element selection and widening).

    Results: a finished tile goes through ``m*n`` :class:`~tatami.hw.fpu.convert.Convert` units
    (C's format, ``round``; the stochastic-rounding word of ``C[i][j]`` is a hash of the seed and
    ``(i, j)``, loaded into the unit's LFSR for that conversion) and is written back one tile row
    per store request; a row that covers a 64-bit lane only in part (BF16, CFloat8, or N ragged)
    is a read-modify-write of its word on the same port.

    ECC: an uncorrectable error in any word the unit reads (A, B, or C when accumulating or in a
    read-modify-write) sets ``uncorrectable`` in ``done``; the operation runs to its end. The
    unit reads whole words, and a partial block's whole span of lines (a K-contiguous operand's
    lines past its last row or column, C's rows past its last when accumulating): an error there
    is reported too, though no result depends on it. A
    read-modify-write whose read was uncorrectable is not written back: re-encoding the merged
    word would give its corrupt bytes fresh check bits, so the word keeps its error and every
    later read of it reports it again.

    RTL limits (the golden model takes any descriptor; a descriptor outside them ends at once with
    ``error``): one of A's (and B's) strides is the element size and the other a multiple of the
    word size, the base too when the K stride is the element size; C's column stride is its
    element size and its base and row stride are multiples of ``n`` elements.

    Parameters
    ----------
    cfg : TatamiConfig
        ``node.matrix`` (m, n, k), ``node.fpu.fma_stages`` and ``convert_stages``, ``node.sram``.

    Attributes
    ----------
    start : In(stream.Signature(MATRIX_DESCRIPTOR))
        A descriptor (the core's ``mx.start``, or a test driver); accepted when idle.
    done : Out(stream.Signature(DONE_LAYOUT))
        One per descriptor, when the last C write has been acknowledged: total cycles, cycles
        computing, cycles stalled waiting for operands and for write-back, ``error`` and
        ``uncorrectable``.
    a, b : Out(SramPortSignature(cfg))
        SRAM load ports for A and B (and C's rows when accumulating, half on each).
    c : Out(SramPortSignature(cfg))
        SRAM store port for C (reads too, for read-modify-write).
    busy : Out(1)
    """

    def __init__(self, cfg: TatamiConfig):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"MatrixUnit takes a TatamiConfig, not {cfg!r}")
        mx, sram = cfg.node.matrix, cfg.node.sram
        w16 = sram.word_bits // 16
        if w16 % mx.k:
            raise ValueError(f"node.matrix.k = {mx.k} must divide the {w16} BF16 values of an SRAM word")
        if (mx.n * 4) % 8 or sram.word_bytes % (mx.n * 4):
            raise ValueError(
                f"node.matrix.n = {mx.n}: a C tile row ({4 * mx.n} B) must be whole 8-byte lanes of one word"
            )
        if cfg.node.fpu.stochastic_rounding and mx.k * cfg.node.fpu.fma_stages < _HASH_STAGES:
            raise ValueError(
                f"node.matrix.k * node.fpu.fma_stages = {mx.k * cfg.node.fpu.fma_stages}: the ring must have "
                f"at least {_HASH_STAGES} slots to hide the stochastic-rounding hash"
            )
        self.cfg = cfg
        super().__init__(
            {
                "start": In(stream.Signature(MATRIX_DESCRIPTOR)),
                "done": Out(stream.Signature(DONE_LAYOUT)),
                "a": Out(SramPortSignature(cfg)),
                "b": Out(SramPortSignature(cfg)),
                "c": Out(SramPortSignature(cfg)),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        mx, sram = cfg.node.matrix, cfg.node.sram
        tm_, tn_, tk = mx.m, mx.n, mx.k
        lat = cfg.node.fpu.fma_stages
        ring = tk * lat
        bm_, bn_ = block_shape(cfg)
        rows_a, cols_b = bm_ * tm_, bn_ * tn_
        c_rows = ring * tm_  # C rows of a block, tile by tile (slot order), row by row
        # With ``accumulate`` the block's C rows are read with its first group, those of the first
        # ``ca_tiles`` tiles on ``a`` (after A's lines), the others on ``b`` (after B's): on one
        # port alone they did not fit in a group (``d1``: 32 + 128 requests in 128 cycles).
        ca_tiles = -(-ring // 2)
        ca_rows, cb_rows = ca_tiles * tm_, (ring - ca_tiles) * tm_
        wbits, wbytes = sram.word_bits, sram.word_bytes
        wshift = wbytes.bit_length() - 1
        w16 = wbits // 16
        ks_full = w16 // tk
        sr = cfg.node.fpu.stochastic_rounding

        d = Signal(MATRIX_DESCRIPTOR)
        running = Signal()
        error = Signal()
        uncorrectable = Signal()  # sticky for the operation: an SRAM read returned an ECC error
        m.d.comb += self.busy.eq(running)

        fa, fb = d.a.format, d.b.format
        cf8_a, cf8_b = fa != FpFormat.BF16, fb != FpFormat.BF16
        fc = d.c.format

        # ---- descriptor checks (RTL limits) -----------------------------------------------------
        def esize(fmt):
            return Mux(fmt == FpFormat.BF16, 2, 1)

        def csize(fmt):
            return Mux(fmt == FpFormat.FP32, 4, Mux(fmt == FpFormat.BF16, 2, 1))

        def in_fmt_ok(fmt):
            return (fmt == FpFormat.BF16) | (fmt == FpFormat.CF8_143) | (fmt == FpFormat.CF8_152)

        wmask = wbytes - 1
        dv = self.start.payload
        cgran = csize(dv.c.format) * tn_ - 1  # a C tile row: n elements inside one word

        def layout_ok(op, k_stride, o_stride):
            """K-contiguous lines (base and line stride whole words) or outer-contiguous rows of
            K (K stride whole words, base element-aligned)."""
            s = esize(op.format)
            k_lines = (k_stride == s) & ((op.addr & wmask) == 0) & ((o_stride & wmask) == 0)
            o_rows = (o_stride == s) & ((k_stride & wmask) == 0) & ((op.addr & (s - 1)) == 0)
            return k_lines | o_rows

        bad = (
            ~in_fmt_ok(dv.a.format)
            | ~in_fmt_ok(dv.b.format)
            | ~(in_fmt_ok(dv.c.format) | (dv.c.format == FpFormat.FP32))
            | ~layout_ok(dv.a, dv.a.col_stride, dv.a.row_stride)
            | ~layout_ok(dv.b, dv.b.row_stride, dv.b.col_stride)
            | (dv.c.col_stride != csize(dv.c.format))
            | ((dv.c.addr & cgran) != 0)
            | ((dv.c.row_stride & cgran) != 0)
            | (dv.m == 0)
            | (dv.n == 0)
            | (dv.k == 0)
        )
        # Outer-contiguous operands (A column-major, B row-major): K-contiguous wins a tie.
        om_a = d.a.col_stride != esize(fa)
        om_b = d.b.row_stride != esize(fb)

        # C tile row <-> bytes: the row's n elements packed (size 4, 2 or 1) and widened to FP32.
        def c_pack(values):
            """n result encodings (32-bit, low bits) -> the packed tile row (n * 32 bits)."""
            return Mux(
                fc == FpFormat.FP32,
                Cat(*[v[:32] for v in values]),
                Mux(fc == FpFormat.BF16, Cat(*[v[:16] for v in values]), Cat(*[v[:8] for v in values])),
            )

        def c_widen(packed, name):
            """A packed tile row (low bits of ``packed``) -> n FP32 values (exact)."""
            out = []
            for x in range(tn_):
                f32 = packed.word_select(x, 32)
                b16 = packed.word_select(x, 16)
                w8 = _widen_cf8(m, packed.word_select(x, 8), fc == FpFormat.CF8_152, d.c.bias, f"{name}{x}")
                v = Signal(32, name=f"{name}{x}_f32")
                m.d.comb += v.eq(
                    Mux(fc == FpFormat.FP32, f32, Cat(Const(0, 16), Mux(fc == FpFormat.BF16, b16, w8)))
                )
                out.append(v)
            return Cat(*out)

        # ---- address generators: running byte addresses, no multiplier in a request's path ------
        # Every address is a base plus row / column / K index times a stride. The strides are fixed
        # for a descriptor, so the loader and the issue side keep the addresses of their current
        # block, group and request in registers and add a step (a stride, or a stride times a
        # constant computed once per descriptor with shifts and adds) when they move on. Addresses
        # wrap at 24 bits like the descriptor's fields; only bits below ``wshift`` + the word
        # address width are used.
        def times(x, c):
            """``x * c`` for a constant ``c``: shifts and adds (no multiplier), 24 bits."""
            terms = [x << i for i in range(c.bit_length()) if c >> i & 1]
            if not terms:
                return Const(0, 24)
            acc = terms[0]
            for t in terms[1:]:
                acc = acc + t
            return acc[:24]

        def esize_times(fmt, c):
            return Mux(fmt == FpFormat.BF16, 2 * c, c)

        def csize_times(fmt, c):
            return Mux(fmt == FpFormat.FP32, 4 * c, Mux(fmt == FpFormat.BF16, 2 * c, c))

        start_init = []  # register loads when a descriptor is accepted

        def step_reg(value, name):
            """A per-descriptor constant, registered from the incoming descriptor at start."""
            r = Signal(24, name=name)
            start_init.append(r.eq(value))
            return r

        st_a_blk = step_reg(times(dv.a.row_stride, rows_a), "st_a_blk")  # K-contiguous A: next block
        st_b_blk = step_reg(times(dv.b.col_stride, cols_b), "st_b_blk")
        st_a_kg = step_reg(times(dv.a.col_stride, w16), "st_a_kg")  # outer-contiguous A: next group
        st_b_kg = step_reg(times(dv.b.row_stride, w16), "st_b_kg")
        st_c_rblk = step_reg(times(dv.c.row_stride, rows_a), "st_c_rblk")  # C: next row of blocks
        st_c_trow = step_reg(times(dv.c.row_stride, tm_), "st_c_trow")  # C: next row of tiles
        c_trow_off = [step_reg(times(dv.c.row_stride, t * tm_), f"c_trow_off{t}") for t in range(bm_)]
        c_tcol = csize_times(fc, tn_)  # C: next tile of a row
        c_cblk = csize_times(fc, cols_b)  # C: next block of a row

        # ---- operand buffers: [buffer][line] of SRAM words; C rows widened to FP32 ----------------
        abuf = [[Signal(wbits, name=f"abuf{x}_{i}") for i in range(rows_a)] for x in range(2)]
        bbuf = [[Signal(wbits, name=f"bbuf{x}_{j}") for j in range(cols_b)] for x in range(2)]
        cbuf = [[Signal(32 * tn_, name=f"cbuf{x}_{r}") for r in range(c_rows)] for x in range(2)]
        full = Signal(2)
        full_set = Signal(2)
        full_clr = Signal(2)
        m.d.sync += full.eq((full & ~full_clr) | full_set)

        # ---- loader -------------------------------------------------------------------------------
        ld_active = Signal()
        ld_buf = Signal()
        ld_g = Signal(16)
        ld_k0 = Signal(17)
        ld_row0 = Signal(16)
        ld_col0 = Signal(16)
        # Requests per group: K-contiguous, one line per row of A / column of B; outer-contiguous,
        # one or two words per K-value (the block's span of rows / columns crosses at most one
        # word boundary).
        n_om = 2 * w16
        na_max = max(rows_a, n_om) + ca_rows
        nb_max = max(cols_b, n_om) + cb_rows
        ia = Signal(range(na_max + 1))
        ib = Signal(range(nb_max + 1))
        ra = Signal(range(na_max + 1))
        rb = Signal(range(nb_max + 1))

        def c_load_pos(index, c_cur, name):
            """Byte address of C read number ``index`` of a block (tile by tile, row by row),
            whose address, when inside C, is ``c_cur``."""
            idx = [(t, r) for t in range(ring) for r in range(tm_)]
            row_off = Signal(16, name=f"{name}_roff")
            col_off = Signal(16, name=f"{name}_coff")
            m.d.comb += [
                row_off.eq(select(index, [Const((t // bn_) * tm_ + r, 16) for t, r in idx])),
                col_off.eq(select(index, [Const((t % bn_) * tn_, 16) for t, r in idx])),
            ]
            row = ld_row0 + row_off
            col = ld_col0 + col_off
            inside = (row < d.m) & (col < d.n)
            byte = Signal(24, name=f"{name}_byte")
            # Rows and tiles beyond C read element (0, 0): the value is never used.
            m.d.comb += byte.eq(Mux(inside, c_cur, d.c.addr))
            return byte

        class Stream:
            """The running addresses of one operand's loads. K-contiguous: ``blk`` is the byte
            address of the block's first line, ``run`` that of the current request's line.
            Outer-contiguous: ``ob`` is the address of the block's first row / column (``o0``) at
            K = 0, ``kb`` the offset of the group's first K-value, ``run`` the address of the
            current request's K-value ``kk`` (clamped to K - 1)."""

            def __init__(self, op, fmt, o0, span_max, o_dim, line_stride, k_stride, name):
                self.blk = Signal(24, name=f"{name}_blk")
                self.run = Signal(24, name=f"{name}_run")
                self.ob = Signal(24, name=f"{name}_ob")
                self.kb = Signal(24, name=f"{name}_kb")
                self.om_run = Signal(24, name=f"{name}_om_run")
                self.kk = Signal(17, name=f"{name}_kk")
                self.line_stride, self.k_stride = line_stride, k_stride
                start_init.extend(
                    [
                        self.blk.eq(dv_op(op)),
                        self.run.eq(dv_op(op)),
                        self.ob.eq(dv_op(op)),
                        self.kb.eq(0),
                        self.om_run.eq(dv_op(op)),
                        self.kk.eq(0),
                    ]
                )
                # The byte offset of the block's first element in its word, and whether the
                # block's span crosses a word boundary (two words per K-value).
                self.off = Signal(wshift, name=f"{name}_off")
                m.d.comb += self.off.eq(self.ob[:wshift])
                left = o_dim - o0
                clipped = Mux(left >= span_max, span_max, left)
                span = Mux(fmt == FpFormat.BF16, clipped << 1, clipped)
                self.two = Signal(name=f"{name}_two")
                m.d.comb += self.two.eq(self.off + span > wbytes)
                self.om_n = Mux(self.two, n_om, w16)
                self.two_req = self.two  # the request side's copy: the group queue's register

            def word(self, om, q, gw):
                """The word address of request ``q``."""
                return Mux(om, (self.om_run >> wshift) + (q[0] & self.two_req), (self.run >> wshift) + gw)

            def step(self, q):
                """Statements for the next request of the group (after request ``q``)."""
                nxt_k = ~self.two_req | q[0]
                more = nxt_k & (self.kk + 1 < d.k)
                return [
                    self.run.eq(self.run + self.line_stride),
                    self.om_run.eq(Mux(more, self.om_run + self.k_stride, self.om_run)),
                    self.kk.eq(Mux(nxt_k, self.kk + 1, self.kk)),
                ]

            def regroup(self, blk_n, ob_n, kb_n, k0_n):
                """Statements for the first request of the next group."""
                return [
                    self.blk.eq(blk_n),
                    self.run.eq(blk_n),
                    self.ob.eq(ob_n),
                    self.kb.eq(kb_n),
                    self.om_run.eq(ob_n + kb_n),
                    self.kk.eq(k0_n),
                ]

        def dv_op(op):
            return {"a": dv.a, "b": dv.b}[op].addr

        sa_ = Stream("a", fa, ld_row0, rows_a, d.m, d.a.row_stride, d.a.col_stride, "a_ld")
        sb_ = Stream("b", fb, ld_col0, cols_b, d.n, d.b.col_stride, d.b.row_stride, "b_ld")
        a_off, a_two, a_om_n = sa_.off, sa_.two, sa_.om_n
        b_off, b_two, b_om_n = sb_.off, sb_.two, sb_.om_n
        na_op = Mux(om_a, a_om_n, rows_a)
        with_c = d.accumulate & (ld_g == 0)
        na = na_op + Mux(with_c, ca_rows, 0)
        nb_op = Mux(om_b, b_om_n, cols_b)
        nb = nb_op + Mux(with_c, cb_rows, 0)

        class CRows:
            """The running address of one port's C reads of a block: the rows of tiles ``t0`` to
            ``t0 + tiles - 1`` in slot order, row by row. ``cur`` is the current row's address,
            ``tile`` its tile's first row, ``trow`` the tile row's first tile; a block's first read
            is at ``blk`` (C's address of the block) + ``off`` (the first tile's, per descriptor)."""

            def __init__(self, t0, name):
                self.trow = Signal(24, name=f"{name}_trow")
                self.tile = Signal(24, name=f"{name}_tile")
                self.cur = Signal(24, name=f"{name}_cur")
                self.r = Signal(range(max(tm_, 2)), name=f"{name}_r")
                self.tn = Signal(range(max(bn_, 2)), name=f"{name}_tn")
                self.tn0 = t0 % bn_
                row_off = (t0 // bn_) * tm_
                self.trow_off = step_reg(times(dv.c.row_stride, row_off), f"{name}_trow_off")
                self.off = step_reg(
                    times(dv.c.row_stride, row_off) + csize_times(dv.c.format, self.tn0 * tn_), f"{name}_off"
                )
                first = dv.c.addr + times(dv.c.row_stride, row_off)
                start_init.extend(
                    [
                        self.trow.eq(first),
                        self.tile.eq(first + csize_times(dv.c.format, self.tn0 * tn_)),
                        self.cur.eq(first + csize_times(dv.c.format, self.tn0 * tn_)),
                        self.r.eq(0),
                        self.tn.eq(self.tn0),
                    ]
                )

            def step(self):
                """Statements for the next read (after the current one)."""
                with m.If(self.r != tm_ - 1):
                    m.d.sync += [self.cur.eq(self.cur + d.c.row_stride), self.r.eq(self.r + 1)]
                with m.Elif(self.tn != bn_ - 1):
                    m.d.sync += [
                        self.r.eq(0),
                        self.tn.eq(self.tn + 1),
                        self.tile.eq(self.tile + c_tcol),
                        self.cur.eq(self.tile + c_tcol),
                    ]
                with m.Else():
                    m.d.sync += [
                        self.r.eq(0),
                        self.tn.eq(0),
                        self.trow.eq(self.trow + st_c_trow),
                        self.tile.eq(self.trow + st_c_trow),
                        self.cur.eq(self.trow + st_c_trow),
                    ]

            def block(self, blk):
                """Statements for the first read of the block at ``blk``."""
                return [
                    self.trow.eq(blk + self.trow_off),
                    self.tile.eq(blk + self.off),
                    self.cur.eq(blk + self.off),
                    self.r.eq(0),
                    self.tn.eq(self.tn0),
                ]

        # C's address of the block being requested: ``c_rblk`` its row of blocks', ``c_blk`` its own.
        c_rblk = Signal(24)  # c.addr + ld_row0 * c.row_stride
        c_blk = Signal(24)  # ... + ld_col0 * C's element size
        start_init.extend([c_rblk.eq(dv.c.addr), c_blk.eq(dv.c.addr)])
        cga, cgb = CRows(0, "cga"), CRows(ca_tiles, "cgb")
        # The request side (position ``ld_*``, address generators, ``ia``/``ib``) runs up to a
        # group ahead of the response side (buffer ``ld_buf``, ``ra``/``rb``): a group's requests
        # go out as soon as the previous group's requests are out, and their responses wait in
        # the ports' response FIFOs until the response side is done with the previous group and
        # the buffer is free (``ld_free``). What the response side needs of a group (its request
        # counts, the outer-contiguous byte offsets and word counts, its C offsets' bank) is
        # handed over in ``qi`` (the request side's group, once opened) and ``ri`` (the group
        # being received).
        info = data.StructLayout(
            {
                "na_op": range(na_max + 1),
                "na": range(na_max + 1),
                "nb_op": range(nb_max + 1),
                "nb": range(nb_max + 1),
                "a_two": 1,
                "a_off": wshift,
                "b_two": 1,
                "b_off": wshift,
                "par": 1,
            }
        )
        qi = Signal(info)
        qi_v = Signal()
        ri = Signal(info)
        ri_v = Signal()
        rq_open = Signal()  # the request side's group is in ``qi`` (or was): requests may go
        rq_par = Signal()  # flips per group: which bank of C offsets the group's C reads use
        start_init.extend([qi_v.eq(0), ri_v.eq(0), rq_open.eq(0), rq_par.eq(0)])
        with m.If(ld_active & ~rq_open & ~qi_v):
            m.d.sync += [
                qi.na_op.eq(na_op),
                qi.na.eq(na),
                qi.nb_op.eq(nb_op),
                qi.nb.eq(nb),
                qi.a_two.eq(a_two),
                qi.a_off.eq(a_off),
                qi.b_two.eq(b_two),
                qi.b_off.eq(b_off),
                qi.par.eq(rq_par),
                qi_v.eq(1),
                rq_open.eq(1),
            ]
        can_load = ld_active & rq_open
        # The request side takes its group's counts from ``qi`` (registered when the group opens and
        # held while its requests go out), not from the position's arithmetic (``ld_row0`` -> the
        # block's span -> ``na_op`` was the path into the C read address).
        ca_req_byte = c_load_pos(ia - qi.na_op, cga.cur, "cld_req")
        cb_req_byte = c_load_pos(ib - qi.nb_op + ca_rows, cgb.cur, "cldb_req")
        sa_.two_req, sb_.two_req = qi.a_two, qi.b_two
        a_word = sa_.word(om_a, ia, Mux(cf8_a, ld_g >> 1, ld_g))
        b_word = sb_.word(om_b, ib, Mux(cf8_b, ld_g >> 1, ld_g))
        ld_free = ~full.bit_select(ld_buf, 1)
        # Requests leave from a register (the address arithmetic stays out of the SRAM's
        # arbitration path); a request is made while the register is free or being emptied.
        for port, idx, count, addr in [
            (self.a, ia, qi.na, Mux(ia < qi.na_op, a_word, ca_req_byte >> wshift)),
            (self.b, ib, qi.nb, Mux(ib < qi.nb_op, b_word, cb_req_byte >> wshift)),
        ]:
            want = can_load & (idx < count)
            with m.If(~port.req.valid | port.req.ready):
                m.d.sync += [port.req.valid.eq(want), port.req.payload.addr.eq(addr)]
                with m.If(want):
                    m.d.sync += idx.eq(idx + 1)
                    op_n, stream_, cgen = (qi.na_op, sa_, cga) if port is self.a else (qi.nb_op, sb_, cgb)
                    with m.If(idx < op_n):
                        m.d.sync += stream_.step(idx)
                    with m.Else():
                        cgen.step()
            m.d.comb += port.req.payload.write.eq(0)
        # The byte offset of each C row in its word, kept from its request for its response.
        c_off = [[Signal(wshift, name=f"c_off{x}_{r}") for r in range(c_rows)] for x in range(2)]
        for port, idx, op_n, count, first, rows, byte in [
            (self.a, ia, qi.na_op, qi.na, 0, ca_rows, ca_req_byte),
            (self.b, ib, qi.nb_op, qi.nb, ca_rows, cb_rows, cb_req_byte),
        ]:
            with m.If((~port.req.valid | port.req.ready) & can_load & (idx < count)):
                for x in range(2):
                    for r in range(rows):
                        with m.If((rq_par == x) & (idx == op_n + r)):
                            m.d.sync += c_off[x][first + r].eq(byte[:wshift])
        # A C row's response is registered as it arrives (data, its byte offset, buffer and row)
        # and shifted, widened and written into the C buffer in the next cycle: the offset
        # selection and the shift and widening are then in separate cycles. The buffer is used
        # two cycles after its last response at the earliest (``full`` is set in the cycle after
        # it), so the late write is always in time. One such path per port, each for its rows.
        for port, r_idx, op_n, count, first, rows, name in [
            (self.a, ra, ri.na_op, ri.na, 0, ca_rows, "cld"),
            (self.b, rb, ri.nb_op, ri.nb, ca_rows, cb_rows, "cldb"),
        ]:
            if not rows:
                continue
            rsp_v = Signal(name=f"{name}_rsp_v")
            rsp_buf = Signal(name=f"{name}_rsp_buf")
            rsp_row = Signal(range(rows), name=f"{name}_rsp_row")
            rsp_off = Signal(wshift, name=f"{name}_rsp_off")
            rsp_data = Signal(wbits, name=f"{name}_rsp_data")
            row_idx = Signal(range(max(na_max, nb_max) + 1), name=f"{name}_row_idx")
            m.d.comb += row_idx.eq(r_idx - op_n)
            offs = [c_off[x][first : first + rows] for x in range(2)]
            resp_off = Mux(ri.par, select(row_idx, offs[1]), select(row_idx, offs[0]))
            take = port.resp.valid & ri_v & ld_free & (r_idx < count) & (r_idx >= op_n)
            m.d.sync += rsp_v.eq(take)
            with m.If(take):
                m.d.sync += [
                    rsp_buf.eq(ld_buf),
                    rsp_row.eq(row_idx),
                    rsp_off.eq(resp_off),
                    rsp_data.eq(port.resp.payload.data),
                ]
            c_in = Signal(32 * tn_, name=f"{name}_in")
            m.d.comb += c_in.eq(c_widen(rsp_data >> (rsp_off * 8), name))
            with m.If(rsp_v):
                for x in range(2):
                    for r in range(rows):
                        with m.If((rsp_buf == x) & (rsp_row == r)):
                            m.d.sync += cbuf[x][first + r].eq(c_in)

        def take_lines(port, r, om, cf8, off, two, count, bufs, lines, name):
            """A response: a whole line (K-contiguous), or the first / second word of a K-value
            whose elements are shifted into the top of every line (outer-contiguous: after a group,
            BF16 K-value ``kk`` is element ``kk`` of the line, CFloat8 byte ``w16 + kk``)."""
            data_ = port.resp.payload.data
            first_word = Signal(wbits, name=f"{name}_w0")
            window = Signal(2 * wbits, name=f"{name}_window")
            m.d.comb += window.eq(Cat(Mux(two, first_word, data_), data_) >> (off * 8))
            with m.If(om):
                with m.If(two & ~r[0]):
                    m.d.sync += first_word.eq(data_)
                with m.Elif(r < count):
                    for x in range(2):
                        with m.If(ld_buf == x):
                            for line, buf in enumerate(bufs[x][:lines]):
                                el16 = window.word_select(line, 16)
                                el8 = window.word_select(line, 8)
                                m.d.sync += buf.eq(Mux(cf8, Cat(buf[8:], el8), Cat(buf[16:], el16)))
            with m.Else():
                for x in range(2):
                    for line in range(lines):
                        with m.If((ld_buf == x) & (r == line)):
                            m.d.sync += bufs[x][line].eq(data_)

        # Responses are taken for the group in ``ri`` only (the next group's wait behind them).
        a_take = ri_v & ld_free & (ra < ri.na)
        b_take = ri_v & ld_free & (rb < ri.nb)
        m.d.comb += [self.a.resp.ready.eq(a_take), self.b.resp.ready.eq(b_take)]
        for port, take in ((self.a, a_take), (self.b, b_take)):
            with m.If(port.resp.valid & take & port.resp.payload.uncorrectable):
                m.d.sync += uncorrectable.eq(1)
        with m.If(self.a.resp.valid & a_take):
            m.d.sync += ra.eq(ra + 1)
            ri_a_n = Mux(ri.a_two, n_om, w16)
            take_lines(self.a, ra, om_a, cf8_a, ri.a_off, ri.a_two, ri_a_n, abuf, rows_a, "ald")
        with m.If(self.b.resp.valid & b_take):
            m.d.sync += rb.eq(rb + 1)
            ri_b_n = Mux(ri.b_two, n_om, w16)
            take_lines(self.b, rb, om_b, cf8_b, ri.b_off, ri.b_two, ri_b_n, bbuf, cols_b, "bld")
        # Response side: a group is complete (its buffer is full); the next one's information
        # moves from ``qi`` to ``ri``.
        with m.If(ri_v & (ra == ri.na) & (rb == ri.nb)):
            m.d.comb += full_set.eq(Mux(ld_buf, 0b10, 0b01))
            m.d.sync += [ra.eq(0), rb.eq(0), ld_buf.eq(~ld_buf), ri.eq(qi), ri_v.eq(qi_v)]
            # (``qi`` may be filled by the request side in this very cycle when it is empty.)
            with m.If(qi_v):
                m.d.sync += qi_v.eq(0)
        with m.Elif(~ri_v & qi_v):
            m.d.sync += [ri.eq(qi), ri_v.eq(1), qi_v.eq(0)]
        ld_last_g = ld_k0 + w16 >= d.k
        ld_last_n = ld_col0 + cols_b >= d.n
        ld_last_m = ld_row0 + rows_a >= d.m
        e_g = ~ld_last_g  # next group of the block
        e_n = ld_last_g & ~ld_last_n  # next block of the row of blocks
        e_m = ld_last_g & ld_last_n  # next row of blocks (or the end)
        # Request side: the group's requests are all out; on to the next group.
        with m.If(ld_active & rq_open & (ia == qi.na) & (ib == qi.nb)):
            m.d.sync += [ia.eq(0), ib.eq(0), rq_open.eq(0), rq_par.eq(~rq_par)]
            k0_n = Mux(e_g, ld_k0 + w16, 0)
            m.d.sync += sa_.regroup(
                Mux(e_m, sa_.blk + st_a_blk, sa_.blk),
                Mux(e_m, sa_.ob + esize_times(fa, rows_a), sa_.ob),
                Mux(e_g, sa_.kb + st_a_kg, 0),
                k0_n,
            )
            m.d.sync += sb_.regroup(
                Mux(e_n, sb_.blk + st_b_blk, Mux(e_m, d.b.addr, sb_.blk)),
                Mux(e_n, sb_.ob + esize_times(fb, cols_b), Mux(e_m, d.b.addr, sb_.ob)),
                Mux(e_g, sb_.kb + st_b_kg, 0),
                k0_n,
            )
            c_rblk_n = Mux(e_m, c_rblk + st_c_rblk, c_rblk)
            c_blk_n = Mux(e_n, c_blk + c_cblk, Mux(e_m, c_rblk_n, c_blk))
            m.d.sync += [c_rblk.eq(c_rblk_n), c_blk.eq(c_blk_n), *cga.block(c_blk_n), *cgb.block(c_blk_n)]
            with m.If(~ld_last_g):
                m.d.sync += [ld_g.eq(ld_g + 1), ld_k0.eq(ld_k0 + w16)]
            with m.Else():
                m.d.sync += [ld_g.eq(0), ld_k0.eq(0)]
                with m.If(~ld_last_n):
                    m.d.sync += ld_col0.eq(ld_col0 + cols_b)
                with m.Else():
                    m.d.sync += ld_col0.eq(0)
                    with m.If(~ld_last_m):
                        m.d.sync += ld_row0.eq(ld_row0 + rows_a)
                    with m.Else():
                        m.d.sync += ld_active.eq(0)

        # ---- engine: issue one (slot, k-step) per advancing cycle ---------------------------------
        ex_buf = Signal()
        slot = Signal(range(ring))
        ks = Signal(range(ks_full))
        ex_g = Signal(16)
        ex_k0 = Signal(17)
        ex_row0 = Signal(16)
        ex_col0 = Signal(16)
        ex_crow = Signal(24)  # c.addr + ex_row0 * c.row_stride
        ex_cblk = Signal(24)  # ... + ex_col0 * C's element size
        start_init.extend([ex_crow.eq(dv.c.addr), ex_cblk.eq(dv.c.addr)])
        issued_all = Signal()
        tm = Signal(range(max(bm_, 2)))
        tn = Signal(range(max(bn_, 2)))
        m.d.comb += [
            tm.eq(select(slot, [Const(t // bn_, tm.shape()) for t in range(ring)])),
            tn.eq(select(slot, [Const(t % bn_, tn.shape()) for t in range(ring)])),
        ]

        c_fifo_w_rdy = Signal()
        can_issue = running & ~issued_all & full.bit_select(ex_buf, 1)
        adv = Signal()
        m.d.comb += adv.eq(c_fifo_w_rdy & (can_issue | issued_all | ~running))
        issue = adv & can_issue

        kk_base = ex_k0 + ks * tk
        last_ks = (ks == ks_full - 1) | (kk_base + tk >= d.k)
        last_g = ex_k0 + w16 >= d.k
        last_n = ex_col0 + cols_b >= d.n
        last_m = ex_row0 + rows_a >= d.m
        first = (ex_g == 0) & (ks == 0)
        last = last_g & last_ks

        with m.If(issue):
            with m.If(slot != ring - 1):
                m.d.sync += slot.eq(slot + 1)
            with m.Else():
                m.d.sync += slot.eq(0)
                with m.If(~last_ks):
                    m.d.sync += ks.eq(ks + 1)
                with m.Else():
                    m.d.sync += [ks.eq(0), ex_buf.eq(~ex_buf)]
                    m.d.comb += full_clr.eq(Mux(ex_buf, 0b10, 0b01))
                    with m.If(~last_g):
                        m.d.sync += [ex_g.eq(ex_g + 1), ex_k0.eq(ex_k0 + w16)]
                    with m.Else():
                        m.d.sync += [ex_g.eq(0), ex_k0.eq(0)]
                        with m.If(~last_n):
                            m.d.sync += [ex_col0.eq(ex_col0 + cols_b), ex_cblk.eq(ex_cblk + c_cblk)]
                        with m.Else():
                            m.d.sync += ex_col0.eq(0)
                            with m.If(~last_m):
                                m.d.sync += [
                                    ex_row0.eq(ex_row0 + rows_a),
                                    ex_crow.eq(ex_crow + st_c_rblk),
                                    ex_cblk.eq(ex_crow + st_c_rblk),
                                ]
                            with m.Else():
                                m.d.sync += issued_all.eq(1)

        # Tags travel alongside the operands and the ring: they say what leaves the last MAC.
        # ``caddr``: byte address of the tile's element (0, 0) in C.
        tag = data.StructLayout({"valid": 1, "last": 1, "row0": 16, "col0": 16, "caddr": 24})

        # Issue stage 1 (registered): the lines of this issue's tile rows / columns, its C rows.
        s1_tag = Signal(tag)
        s1_first = Signal()
        s1_kk = Signal(17)
        s1_ks = Signal(range(ks_full))
        s1_hi_a = Signal()  # CFloat8: the group is in the upper half of the line
        s1_hi_b = Signal()
        s1_a = [Signal(wbits, name=f"s1_a{i}") for i in range(tm_)]
        s1_b = [Signal(wbits, name=f"s1_b{jj}") for jj in range(tn_)]
        s1_c = [Signal(32 * tn_, name=f"s1_c{i}") for i in range(tm_)]
        with m.If(adv):
            m.d.sync += [
                s1_tag.valid.eq(issue),
                s1_tag.last.eq(last),
                s1_tag.row0.eq(ex_row0 + tm * tm_),
                s1_tag.col0.eq(ex_col0 + tn * tn_),
                s1_tag.caddr.eq(
                    ex_cblk
                    + select(tm, c_trow_off)
                    + select(tn, [csize_times(fc, t * tn_) for t in range(max(bn_, 2))])
                ),
                s1_first.eq(first),
                s1_kk.eq(kk_base),
                s1_ks.eq(ks),
                s1_hi_a.eq(ex_g[0] | om_a),
                s1_hi_b.eq(ex_g[0] | om_b),
            ]
            for i in range(tm_):
                rows = [Mux(ex_buf, abuf[1][t * tm_ + i], abuf[0][t * tm_ + i]) for t in range(bm_)]
                m.d.sync += s1_a[i].eq(select(tm, rows))
                crow = [Mux(ex_buf, cbuf[1][t * tm_ + i], cbuf[0][t * tm_ + i]) for t in range(ring)]
                m.d.sync += s1_c[i].eq(Mux(d.accumulate, select(slot, crow), 0))
            for jj in range(tn_):
                cols = [Mux(ex_buf, bbuf[1][t * tn_ + jj], bbuf[0][t * tn_ + jj]) for t in range(bn_)]
                m.d.sync += s1_b[jj].eq(select(tn, cols))

        # Issue stage 2 (registered): operand elements as BF16, K padding applied.
        s2_tag = Signal(tag)
        s2_first = Signal()
        s2_c = [[Signal(32, name=f"s2_c{i}_{jj}") for jj in range(tn_)] for i in range(tm_)]
        a_el = [[Signal(16, name=f"a_el{i}_{j}") for j in range(tk)] for i in range(tm_)]
        b_el = [[Signal(16, name=f"b_el{j}_{jj}") for jj in range(tn_)] for j in range(tk)]

        def element(line, j, fmt, hi, bias, pad, name):
            e = s1_ks * tk + j
            raw16 = line.word_select(e, 16)
            raw8 = line.word_select(Mux(hi, w16, 0) + e, 8)
            wide = _widen_cf8(m, raw8, fmt == FpFormat.CF8_152, bias, name)
            return Mux(s1_kk + j >= d.k, pad, Mux(fmt != FpFormat.BF16, wide, raw16))

        with m.If(adv):
            m.d.sync += [s2_tag.eq(s1_tag), s2_first.eq(s1_first)]
            for i in range(tm_):
                for jj in range(tn_):
                    m.d.sync += s2_c[i][jj].eq(s1_c[i].word_select(jj, 32))
                for j in range(tk):
                    el = element(s1_a[i], j, fa, s1_hi_a, d.a.bias, 0x0000, f"wa{i}_{j}")
                    m.d.sync += a_el[i][j].eq(el)
            for jj in range(tn_):
                for j in range(tk):
                    el = element(s1_b[jj], j, fb, s1_hi_b, d.b.bias, 0x8000, f"wb{jj}_{j}")
                    m.d.sync += b_el[j][jj].eq(el)

        def delay(value, depth, name):
            for s in range(depth):
                r = Signal(value.shape(), name=f"{name}_d{s}")
                with m.If(adv):
                    m.d.sync += r.eq(value)
                value = r
            return value

        tags = [s2_tag]
        for s in range(ring + cfg.node.fpu.convert_stages):
            r = Signal(tag, name=f"tag{s}")
            with m.If(adv):
                m.d.sync += r.eq(tags[-1])
            tags.append(r)
        tag_out = tags[-1]
        in_flight = Cat(s1_tag.valid, *[t.valid for t in tags]).any()

        # ---- the MAC array ---------------------------------------------------------------------
        results = [[None] * tn_ for _ in range(tm_)]
        for i in range(tm_):
            for jj in range(tn_):
                prev = None
                macs = []
                for j in range(tk):
                    mac = hier.shared(Bf16Mac, cfg)
                    m.submodules[f"mac_{i}_{jj}_{j}"] = mac
                    macs.append(mac)
                for j, mac in enumerate(macs):
                    a_v = delay(a_el[i][j], j * lat, f"a{i}_{jj}_{j}") if j else a_el[i][j]
                    b_v = delay(b_el[j][jj], j * lat, f"b{i}_{jj}_{j}") if j else b_el[j][jj]
                    if j == 0:
                        acc = Mux(s2_first, s2_c[i][jj], macs[-1].o.payload.result)
                    else:
                        acc = prev.o.payload.result
                    m.d.comb += [
                        mac.i.valid.eq(1),
                        mac.i.payload.a.eq(a_v),
                        mac.i.payload.b.eq(b_v),
                        mac.i.payload.acc.eq(acc),
                        mac.o.ready.eq(adv),
                        mac.flags_clear.eq(0),
                    ]
                    prev = mac
                results[i][jj] = macs[-1].o.payload.result

        # ---- stochastic-rounding words: fmix32((row << 16 | col) ^ fmix32(seed)) ------------------
        def fmix_mul(x, c):
            return (x * Const(c, 32))[:32]

        seed_q1 = Signal(32)
        seed_q2 = Signal(32)
        seed_key = Signal(32)
        m.d.sync += [
            seed_q1.eq(fmix_mul(d.seed ^ (d.seed >> 16), _FMIX[0])),
            seed_q2.eq(fmix_mul(seed_q1 ^ (seed_q1 >> 13), _FMIX[1])),
            seed_key.eq(seed_q2 ^ (seed_q2 >> 16)),
        ]
        # h_next[i][jj] is the word of the tile at ring position ``ring - 1`` (the next one to
        # leave the ring), h_cur of the one leaving now.
        h_next = [[None] * tn_ for _ in range(tm_)]
        h_cur = [[None] * tn_ for _ in range(tm_)]
        if sr:
            src = tags[ring - _HASH_STAGES]
            for i in range(tm_):
                for jj in range(tn_):
                    key = Cat((src.col0 + jj)[:16], (src.row0 + i)[:16]) ^ seed_key
                    r1 = Signal(32, name=f"srh1_{i}_{jj}")
                    r2 = Signal(32, name=f"srh2_{i}_{jj}")
                    r3 = Signal(32, name=f"srh3_{i}_{jj}")
                    hc = Signal(32, name=f"srh_{i}_{jj}")
                    hn = Signal(32, name=f"srh_next_{i}_{jj}")
                    m.d.comb += hn.eq(r3 ^ (r3 >> 16))
                    with m.If(adv):
                        m.d.sync += [
                            r1.eq(key ^ (key >> 16)),
                            r2.eq(fmix_mul(r1, _FMIX[0])),
                            r3.eq(fmix_mul(r2 ^ (r2 >> 13), _FMIX[1])),
                            hc.eq(hn),
                        ]
                    h_next[i][jj], h_cur[i][jj] = hn, hc

        # ---- conversion into C's format ----------------------------------------------------------
        conv = [[None] * tn_ for _ in range(tm_)]
        for i in range(tm_):
            for jj in range(tn_):
                cv = hier.shared(Convert, cfg)
                m.submodules[f"conv_{i}_{jj}"] = cv
                m.d.comb += [
                    cv.i.valid.eq(1),
                    cv.i.payload.value.eq(results[i][jj]),
                    cv.i.payload.src.eq(FpFormat.FP32),
                    cv.i.payload.src_bias.eq(0),
                    cv.i.payload.dst.eq(fc),
                    cv.i.payload.dst_bias.eq(d.c.bias),
                    cv.i.payload.mode.eq(d.round),
                    cv.i.payload.saturate.eq(0),
                    cv.o.ready.eq(adv),
                    cv.flags_clear.eq(0),
                ]
                if sr:
                    # The LFSR is loaded every cycle, so the word a conversion takes is its own.
                    m.d.comb += [cv.seed_load.eq(1), cv.seed.eq(Mux(adv, h_next[i][jj], h_cur[i][jj]))]
                else:
                    m.d.comb += [cv.seed_load.eq(0), cv.seed.eq(0)]
                raw = delay(results[i][jj], cfg.node.fpu.convert_stages, f"raw{i}_{jj}")
                conv[i][jj] = Mux(fc == FpFormat.FP32, raw, cv.o.payload.result)

        # ---- C write-back ---------------------------------------------------------------------
        tile_bits = tm_ * tn_ * 32
        c_fifo = fifo.SyncFIFOBuffered(width=tile_bits + 56, depth=ring + 1)
        m.submodules.c_fifo = c_fifo
        m.d.comb += [
            c_fifo_w_rdy.eq(c_fifo.w_rdy),
            c_fifo.w_en.eq(adv & tag_out.valid & tag_out.last),
            c_fifo.w_data.eq(
                Cat(
                    *[conv[i][jj] for i in range(tm_) for jj in range(tn_)],
                    tag_out.row0,
                    tag_out.col0,
                    tag_out.caddr,
                )
            ),
        ]
        wb_tile = Signal(tile_bits)
        wb_row0 = Signal(16)
        wb_col0 = Signal(16)
        wb_cur = Signal(24)  # byte address of the current row's first element
        wb_i = Signal(range(tm_))
        wb_busy = Signal()
        # Rows are prepared one per cycle (address, lanes, shifted data, byte mask: registered)
        # into a queue of ``wq`` rows. A row that covers its lanes whole is one write; any other is
        # a read-modify-write whose read leaves as soon as no older queued row writes the same
        # word, so the reads of several rows are in flight together and the port runs at two
        # requests per row instead of waiting out the SRAM latency per row.
        wq = 4
        lanes_total = lane_count(sram)
        q_addr = [Signal.like(self.c.req.payload.addr, name=f"wq_addr{e}") for e in range(wq)]
        q_lanes = [Signal(lanes_total, name=f"wq_lanes{e}") for e in range(wq)]
        q_partial = [Signal(name=f"wq_partial{e}") for e in range(wq)]
        q_new = [Signal(wbits, name=f"wq_new{e}") for e in range(wq)]
        q_bit_en = [Signal(wbits, name=f"wq_bit_en{e}") for e in range(wq)]
        q_head = Signal(range(wq))  # oldest row: the next write
        q_rd = Signal(range(wq))  # the next row whose read (if it needs one) is to be issued
        q_tail = Signal(range(wq))  # the next free entry
        q_count = Signal(range(wq + 1))  # rows from head to tail
        q_unread = Signal(range(wq + 1))  # rows from rd to tail

        row = wb_row0 + wb_i
        c_byte = wb_cur
        offset = c_byte[:wshift]
        row_vals = wb_tile.word_select(wb_i, tn_ * 32)
        packed = Signal(tn_ * 32)
        m.d.comb += packed.eq(c_pack([row_vals.word_select(x, 32) for x in range(tn_)]))
        el_en = [(wb_col0 + x) < d.n for x in range(tn_)]
        row_bytes = Signal(tn_ * 4)
        m.d.comb += row_bytes.eq(
            Mux(
                fc == FpFormat.FP32,
                Cat(*[e.replicate(4) for e in el_en]),
                Mux(fc == FpFormat.BF16, Cat(*[e.replicate(2) for e in el_en]), Cat(*el_en)),
            )
        )
        byte_en = Signal(wbytes)
        m.d.comb += byte_en.eq(row_bytes << offset)
        lane_any = Cat(*[byte_en[8 * x : 8 * x + 8].any() for x in range(lanes_total)])
        lane_all = Cat(*[byte_en[8 * x : 8 * x + 8].all() for x in range(lanes_total)])
        partial = (lane_any & ~lane_all).any()
        bit_en = Cat(*[byte_en[x].replicate(8) for x in range(wbytes)])
        new_word = Signal(wbits)
        m.d.comb += new_word.eq(packed << (offset * 8))
        row_ok = (row < d.m) & (wb_col0 < d.n)

        # Prepare: one row of the current tile per cycle while the queue has room; rows beyond C
        # are skipped. The next tile is taken in the cycle its predecessor's last row goes.
        # A row whose word is already queued in a read-modify-write that is not being written this
        # cycle joins it (its bytes, lanes and byte mask are merged in): rows of neighbouring
        # tiles and of the same tile share words in BF16 and CFloat8, and this way a word is read
        # and written once for all of them.
        want_write = Signal()
        new_addr = Signal.like(self.c.req.payload.addr)
        m.d.comb += new_addr.eq(c_byte >> wshift)
        wq_bits = q_head.shape().width
        q_age = [(Const(e, wq_bits) - q_head)[:wq_bits] for e in range(wq)]
        joinable = [
            (q_age[e] < q_count) & q_partial[e] & (q_addr[e] == new_addr) & ~((q_head == e) & want_write)
            for e in range(wq)
        ]
        join = [joinable[e] & ~Cat(*joinable[:e]).any() if e else joinable[0] for e in range(wq)]
        join_any = Cat(*joinable).any()
        push = Signal()
        row_go = wb_busy & (~row_ok | join_any | (q_count != wq))
        m.d.comb += push.eq(wb_busy & row_ok & ~join_any & (q_count != wq))
        for e in range(wq):
            with m.If(wb_busy & row_ok & join[e]):
                m.d.sync += [
                    q_lanes[e].eq(q_lanes[e] | lane_any),
                    q_new[e].eq((q_new[e] & ~bit_en) | (new_word & bit_en)),
                    q_bit_en[e].eq(q_bit_en[e] | bit_en),
                ]
        with m.If(push):
            for e in range(wq):
                with m.If(q_tail == e):
                    m.d.sync += [
                        q_addr[e].eq(c_byte >> wshift),
                        q_lanes[e].eq(lane_any),
                        q_partial[e].eq(partial),
                        q_new[e].eq(new_word),
                        q_bit_en[e].eq(bit_en),
                    ]
            m.d.sync += q_tail.eq(q_tail + 1)
        with m.If(row_go):
            m.d.sync += [wb_i.eq(wb_i + 1), wb_cur.eq(wb_cur + d.c.row_stride)]
            with m.If(wb_i == tm_ - 1):
                m.d.sync += [wb_busy.eq(0), wb_i.eq(0)]
        with m.If((~wb_busy | (row_go & (wb_i == tm_ - 1))) & c_fifo.r_rdy):
            m.d.comb += c_fifo.r_en.eq(1)
            m.d.sync += [
                wb_busy.eq(1),
                wb_i.eq(0),
                wb_tile.eq(c_fifo.r_data[:tile_bits]),
                wb_row0.eq(c_fifo.r_data[tile_bits : tile_bits + 16]),
                wb_col0.eq(c_fifo.r_data[tile_bits + 16 : tile_bits + 32]),
                wb_cur.eq(c_fifo.r_data[tile_bits + 32 :]),
            ]

        # The kind of every request in flight (1: a read), in order, to route its response; and
        # the read data of read-modify-writes, in order, with their uncorrectable flag on top.
        kinds = fifo.SyncFIFOBuffered(width=1, depth=16)
        rdata = fifo.SyncFIFOBuffered(width=wbits + 1, depth=wq)
        m.submodules.wb_kinds = kinds
        m.submodules.wb_rdata = rdata
        c_read_resp = self.c.resp.valid & kinds.r_data[0]
        m.d.comb += [
            self.c.resp.ready.eq(1),
            kinds.r_en.eq(self.c.resp.valid),
            rdata.w_en.eq(c_read_resp),
            rdata.w_data.eq(Cat(self.c.resp.payload.data, self.c.resp.payload.uncorrectable)),
        ]
        with m.If(c_read_resp & self.c.resp.payload.uncorrectable):
            m.d.sync += uncorrectable.eq(1)

        # Read side: the row at ``q_rd``; one that needs no read is passed at once.
        rd_pending = q_unread != 0
        rd_partial = select(q_rd, q_partial)
        rd_addr = select(q_rd, q_addr)
        rd_age = (q_rd - q_head)[:wq_bits]
        hazard = Cat(*[(q_age[e] < rd_age) & (q_addr[e] == rd_addr) for e in range(wq)]).any()
        want_read = rd_pending & rd_partial & ~hazard
        rd_pass = rd_pending & ~rd_partial

        # Write side: the oldest row, once its read (if any) has been issued and has returned.
        head_ready = q_count > q_unread
        head_partial = select(q_head, q_partial)
        head_new = select(q_head, q_new)
        head_bit_en = select(q_head, q_bit_en)
        merged = (rdata.r_data[:wbits] & ~head_bit_en) | (head_new & head_bit_en)
        m.d.comb += want_write.eq(head_ready & (~head_partial | rdata.r_rdy))
        # A read-modify-write whose read was uncorrectable is dropped (the word keeps its error).
        drop = want_write & head_partial & rdata.r_data[wbits]
        do_write = want_write & ~drop

        m.d.comb += [
            self.c.req.valid.eq((do_write | (want_read & ~want_write)) & kinds.w_rdy),
            self.c.req.payload.addr.eq(Mux(want_write, select(q_head, q_addr), rd_addr)),
            self.c.req.payload.write.eq(do_write),
            self.c.req.payload.lanes.eq(select(q_head, q_lanes)),
            self.c.req.payload.data.eq(Mux(head_partial, merged, head_new)),
            kinds.w_en.eq(self.c.req.valid & self.c.req.ready),
            kinds.w_data.eq(~do_write),
        ]
        c_acc = self.c.req.valid & self.c.req.ready
        wrote = (c_acc & do_write) | drop
        read_issued = (c_acc & ~want_write) | rd_pass
        m.d.comb += rdata.r_en.eq(wrote & head_partial)
        with m.If(wrote):
            m.d.sync += q_head.eq(q_head + 1)
        with m.If(read_issued):
            m.d.sync += q_rd.eq(q_rd + 1)
        m.d.sync += [
            q_count.eq(q_count + push - wrote),
            q_unread.eq(q_unread + push - read_issued),
        ]
        wb_idle = ~wb_busy & (q_count == 0) & (kinds.level == 0)

        # ---- control, counters -------------------------------------------------------------------
        cycles = Signal(32)
        compute = Signal(32)
        st_op = Signal(32)
        st_wb = Signal(32)
        done_valid = Signal()
        finished = running & issued_all & ~in_flight & ~c_fifo.r_rdy & wb_idle & ~done_valid
        m.d.comb += [
            self.start.ready.eq(~running & ~done_valid),
            self.done.valid.eq(done_valid),
            self.done.payload.cycles.eq(cycles),
            self.done.payload.compute.eq(compute),
            self.done.payload.stall_operand.eq(st_op),
            self.done.payload.stall_writeback.eq(st_wb),
            self.done.payload.error.eq(error),
            self.done.payload.uncorrectable.eq(uncorrectable),
        ]
        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(issue):
                m.d.sync += compute.eq(compute + 1)
            with m.Elif(~issued_all & ~c_fifo_w_rdy):
                m.d.sync += st_wb.eq(st_wb + 1)
            with m.Elif(~issued_all):
                m.d.sync += st_op.eq(st_op + 1)
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [
                d.eq(dv),
                error.eq(bad),
                uncorrectable.eq(0),
                running.eq(~bad),
                done_valid.eq(bad),
                ld_active.eq(~bad),
                issued_all.eq(bad),
                cycles.eq(0),
                compute.eq(0),
                st_op.eq(0),
                st_wb.eq(0),
                ld_g.eq(0),
                ld_k0.eq(0),
                ld_row0.eq(0),
                ld_col0.eq(0),
                ld_buf.eq(0),
                ia.eq(0),
                ib.eq(0),
                ra.eq(0),
                rb.eq(0),
                ex_buf.eq(0),
                slot.eq(0),
                ks.eq(0),
                ex_g.eq(0),
                ex_k0.eq(0),
                ex_row0.eq(0),
                ex_col0.eq(0),
                *start_init,
            ]
        with m.If(finished):
            m.d.sync += [running.eq(0), done_valid.eq(1)]
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += done_valid.eq(0)
        return m
