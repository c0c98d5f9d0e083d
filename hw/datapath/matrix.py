"""The matrix unit: ``C = A x B`` from a descriptor, operands streamed from SRAM, FP32 out."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common import hier
from tatami.hw.common.select import select
from tatami.hw.fpu.bf16_mac import Bf16Mac
from tatami.hw.fpu.datapath import unpack_cf8
from tatami.hw.fpu.layouts import FpFormat
from tatami.hw.mem.ports import SramPortSignature, lane_count

from .descriptors import MATRIX_DESCRIPTOR

__all__ = ["DONE_LAYOUT", "MatrixUnit", "block_shape"]

#: What the unit reports when an operation ends: its cycle count and stall breakdown.
DONE_LAYOUT = data.StructLayout(
    {"cycles": 32, "compute": 32, "stall_operand": 32, "stall_writeback": 32, "error": 1}
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


class MatrixUnit(wiring.Component):
    """Computes ``C = A x B`` (FP32 C) from a matrix descriptor, reading A and B from SRAM through
    two load ports and writing C through a store port.

    Compute: ``m x n`` output elements, each with a chain of ``k`` fused BF16 multiply-accumulate
    units (:class:`~tatami.hw.fpu.bf16_mac.Bf16Mac`, CFloat8 operands widened exactly to BF16
    first), ``m*n*k`` MACs per cycle. The output of the last MAC of a chain feeds the first: the
    ring holds ``T = k * fma_stages`` accumulators per output element, one per C tile of the block
    (:func:`block_shape`), so each tile gets its next ``k`` products exactly when its accumulator
    comes round: full rate without a second accumulator array, and each ``C[i][j]`` is the
    sequential fused sum over ``kk`` of the golden model (:mod:`tatami.sim.datapath.matrix`).

    Operands: A and B are read as *lines*, whole SRAM words along K (A row-major, B given as
    ``B^T`` row-major: element ``(kk, j)`` at ``b.addr + kk * b.row_stride + j * b.col_stride``
    with ``b.row_stride`` = element size). A loader fetches the lines of the next group of
    ``word_bits / 16`` K-values of the block's rows of A and columns of B into one of two buffers
    while the ring consumes the other (double buffering). K beyond the operand is padded with
    products ``+0 x -0 = -0``, which leave every accumulator unchanged.

    RTL limits (the golden model takes any descriptor; a descriptor outside them ends at once with
    ``error``): C is FP32 and overwritten (``accumulate = 0``); A's column stride and B's row stride
    are the element size; A's and B's base and other stride are multiples of the word size; C's
    column stride is 4 and its base and row stride are multiples of ``4 n`` bytes; N is even.

    Parameters
    ----------
    cfg : TatamiConfig
        ``node.matrix`` (m, n, k), ``node.fpu.fma_stages``, ``node.sram`` (ports).

    Attributes
    ----------
    start : In(stream.Signature(MATRIX_DESCRIPTOR))
        A descriptor (the core's ``mx.start``, or a test driver); accepted when idle.
    done : Out(stream.Signature(DONE_LAYOUT))
        One per descriptor, when the last C write has been acknowledged: total cycles, cycles
        computing, cycles stalled waiting for operands and for write-back, and ``error``.
    a, b : Out(SramPortSignature(cfg))
        SRAM load ports for A and B.
    c : Out(SramPortSignature(cfg))
        SRAM store port for C.
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
        wbits, wbytes = sram.word_bits, sram.word_bytes
        wshift = wbytes.bit_length() - 1
        w16 = wbits // 16
        ks_full = w16 // tk

        d = Signal(MATRIX_DESCRIPTOR)
        running = Signal()
        error = Signal()
        m.d.comb += self.busy.eq(running)

        fa, fb = d.a.format, d.b.format
        cf8_a, cf8_b = fa != FpFormat.BF16, fb != FpFormat.BF16

        # ---- descriptor checks (RTL limits) -----------------------------------------------------
        def esize(fmt):
            return Mux(fmt == FpFormat.BF16, 2, 1)

        def in_fmt_ok(fmt):
            return (fmt == FpFormat.BF16) | (fmt == FpFormat.CF8_143) | (fmt == FpFormat.CF8_152)

        wmask = wbytes - 1
        cmask = tn_ * 4 - 1
        dv = self.start.payload
        bad = (
            ~in_fmt_ok(dv.a.format)
            | ~in_fmt_ok(dv.b.format)
            | (dv.c.format != FpFormat.FP32)
            | dv.accumulate
            | (dv.a.col_stride != esize(dv.a.format))
            | (dv.b.row_stride != esize(dv.b.format))
            | ((dv.a.addr & wmask) != 0)
            | ((dv.a.row_stride & wmask) != 0)
            | ((dv.b.addr & wmask) != 0)
            | ((dv.b.col_stride & wmask) != 0)
            | (dv.c.col_stride != 4)
            | ((dv.c.addr & cmask) != 0)
            | ((dv.c.row_stride & cmask) != 0)
            | dv.n[0]
            | (dv.m == 0)
            | (dv.n == 0)
            | (dv.k == 0)
        )

        # ---- operand buffers: [buffer][line] of SRAM words ----------------------------------------
        abuf = [[Signal(wbits, name=f"abuf{x}_{i}") for i in range(rows_a)] for x in range(2)]
        bbuf = [[Signal(wbits, name=f"bbuf{x}_{j}") for j in range(cols_b)] for x in range(2)]
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
        ia = Signal(range(rows_a + 1))
        ib = Signal(range(cols_b + 1))
        ra = Signal(range(rows_a + 1))
        rb = Signal(range(cols_b + 1))
        a_row_byte = d.a.addr + (ld_row0 + ia) * d.a.row_stride
        b_col_byte = d.b.addr + (ld_col0 + ib) * d.b.col_stride
        a_word = (a_row_byte >> wshift) + Mux(cf8_a, ld_g >> 1, ld_g)
        b_word = (b_col_byte >> wshift) + Mux(cf8_b, ld_g >> 1, ld_g)
        can_load = ld_active & ~full.bit_select(ld_buf, 1)
        m.d.comb += [
            self.a.req.valid.eq(can_load & (ia < rows_a)),
            self.a.req.payload.addr.eq(a_word),
            self.a.req.payload.write.eq(0),
            self.b.req.valid.eq(can_load & (ib < cols_b)),
            self.b.req.payload.addr.eq(b_word),
            self.b.req.payload.write.eq(0),
            self.a.resp.ready.eq(1),
            self.b.resp.ready.eq(1),
        ]
        with m.If(self.a.req.valid & self.a.req.ready):
            m.d.sync += ia.eq(ia + 1)
        with m.If(self.b.req.valid & self.b.req.ready):
            m.d.sync += ib.eq(ib + 1)
        with m.If(self.a.resp.valid):
            m.d.sync += ra.eq(ra + 1)
            for x in range(2):
                for i in range(rows_a):
                    with m.If((ld_buf == x) & (ra == i)):
                        m.d.sync += abuf[x][i].eq(self.a.resp.payload.data)
        with m.If(self.b.resp.valid):
            m.d.sync += rb.eq(rb + 1)
            for x in range(2):
                for j in range(cols_b):
                    with m.If((ld_buf == x) & (rb == j)):
                        m.d.sync += bbuf[x][j].eq(self.b.resp.payload.data)
        ld_last_g = ld_k0 + w16 >= d.k
        ld_last_n = ld_col0 + cols_b >= d.n
        ld_last_m = ld_row0 + rows_a >= d.m
        with m.If(ld_active & (ra == rows_a) & (rb == cols_b)):
            m.d.comb += full_set.eq(Mux(ld_buf, 0b10, 0b01))
            m.d.sync += [ia.eq(0), ib.eq(0), ra.eq(0), rb.eq(0), ld_buf.eq(~ld_buf)]
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
                            m.d.sync += ex_col0.eq(ex_col0 + cols_b)
                        with m.Else():
                            m.d.sync += ex_col0.eq(0)
                            with m.If(~last_m):
                                m.d.sync += ex_row0.eq(ex_row0 + rows_a)
                            with m.Else():
                                m.d.sync += issued_all.eq(1)

        # Operand elements of this issue: a[i][j], b[j][jj] as BF16, K padding applied.
        a_el = [[None] * tk for _ in range(tm_)]
        b_el = [[None] * tn_ for _ in range(tk)]
        byte_base = Mux(ex_g[0], w16, 0)
        for i in range(tm_):
            line = Signal(wbits, name=f"a_line{i}")
            rows = [Mux(ex_buf, abuf[1][t * tm_ + i], abuf[0][t * tm_ + i]) for t in range(bm_)]
            m.d.comb += line.eq(select(tm, rows))
            for j in range(tk):
                e = ks * tk + j
                raw16 = line.word_select(e, 16)
                raw8 = line.word_select(byte_base + e, 8)
                wide = _widen_cf8(m, raw8, fa == FpFormat.CF8_152, d.a.bias, f"wa{i}_{j}")
                v = Signal(16, name=f"a_el{i}_{j}")
                m.d.comb += v.eq(Mux(kk_base + j >= d.k, 0x0000, Mux(cf8_a, wide, raw16)))
                a_el[i][j] = v
        for jj in range(tn_):
            line = Signal(wbits, name=f"b_line{jj}")
            cols = [Mux(ex_buf, bbuf[1][t * tn_ + jj], bbuf[0][t * tn_ + jj]) for t in range(bn_)]
            m.d.comb += line.eq(select(tn, cols))
            for j in range(tk):
                e = ks * tk + j
                raw16 = line.word_select(e, 16)
                raw8 = line.word_select(byte_base + e, 8)
                wide = _widen_cf8(m, raw8, fb == FpFormat.CF8_152, d.b.bias, f"wb{jj}_{j}")
                v = Signal(16, name=f"b_el{j}_{jj}")
                m.d.comb += v.eq(Mux(kk_base + j >= d.k, 0x8000, Mux(cf8_b, wide, raw16)))
                b_el[j][jj] = v

        def delay(value, depth, name):
            for s in range(depth):
                r = Signal(value.shape(), name=f"{name}_d{s}")
                with m.If(adv):
                    m.d.sync += r.eq(value)
                value = r
            return value

        # Tags travel alongside the ring: they say what leaves the last MAC.
        tag = data.StructLayout({"valid": 1, "last": 1, "row0": 16, "col0": 16})
        tag_in = Signal(tag)
        m.d.comb += [
            tag_in.valid.eq(issue),
            tag_in.last.eq(last),
            tag_in.row0.eq(ex_row0 + tm * tm_),
            tag_in.col0.eq(ex_col0 + tn * tn_),
        ]
        tags = [tag_in]
        for s in range(ring):
            r = Signal(tag, name=f"tag{s}")
            with m.If(adv):
                m.d.sync += r.eq(tags[-1])
            tags.append(r)
        tag_out = tags[-1]
        in_flight = Cat(*[t.valid for t in tags[1:]]).any()

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
                        acc = Mux(first, 0, macs[-1].o.payload.result)
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

        # ---- C write-back ---------------------------------------------------------------------
        tile_bits = tm_ * tn_ * 32
        c_fifo = fifo.SyncFIFOBuffered(width=tile_bits + 32, depth=ring + 1)
        m.submodules.c_fifo = c_fifo
        m.d.comb += [
            c_fifo_w_rdy.eq(c_fifo.w_rdy),
            c_fifo.w_en.eq(adv & tag_out.valid & tag_out.last),
            c_fifo.w_data.eq(
                Cat(*[results[i][jj] for i in range(tm_) for jj in range(tn_)], tag_out.row0, tag_out.col0)
            ),
        ]
        wb_tile = Signal(tile_bits)
        wb_row0 = Signal(16)
        wb_col0 = Signal(16)
        wb_i = Signal(range(tm_ + 1))
        wb_busy = Signal()
        with m.If(~wb_busy & c_fifo.r_rdy):
            m.d.comb += c_fifo.r_en.eq(1)
            m.d.sync += [
                wb_busy.eq(1),
                wb_i.eq(0),
                wb_tile.eq(c_fifo.r_data[:tile_bits]),
                wb_row0.eq(c_fifo.r_data[tile_bits : tile_bits + 16]),
                wb_col0.eq(c_fifo.r_data[tile_bits + 16 :]),
            ]
        row = wb_row0 + wb_i
        c_byte = d.c.addr + row * d.c.row_stride + wb_col0 * 4
        offset = c_byte[:wshift]
        row_data = wb_tile.word_select(wb_i, tn_ * 32)
        lanes_per_row = tn_ * 4 // 8
        lane_en = Cat(*[(wb_col0 + 2 * x) < d.n for x in range(lanes_per_row)])
        lanes_total = lane_count(sram)
        req_lanes = Signal(lanes_total)
        m.d.comb += req_lanes.eq(lane_en << (offset >> 3))
        row_ok = row < d.m
        m.d.comb += [
            self.c.req.valid.eq(wb_busy & (wb_i < tm_) & row_ok),
            self.c.req.payload.addr.eq(c_byte >> wshift),
            self.c.req.payload.write.eq(1),
            self.c.req.payload.lanes.eq(req_lanes),
            self.c.req.payload.data.eq(row_data << (offset * 8)),
            self.c.resp.ready.eq(1),
        ]
        with m.If(wb_busy & (wb_i < tm_) & (~row_ok | self.c.req.ready)):
            m.d.sync += wb_i.eq(wb_i + 1)
        with m.If(wb_busy & (wb_i == tm_)):
            m.d.sync += wb_busy.eq(0)
        outstanding = Signal(16)
        m.d.sync += outstanding.eq(outstanding + (self.c.req.valid & self.c.req.ready) - self.c.resp.valid)

        # ---- control, counters -------------------------------------------------------------------
        cycles = Signal(32)
        compute = Signal(32)
        st_op = Signal(32)
        st_wb = Signal(32)
        done_valid = Signal()
        finished = (
            running & issued_all & ~in_flight & ~c_fifo.r_rdy & ~wb_busy & (outstanding == 0) & ~done_valid
        )
        m.d.comb += [
            self.start.ready.eq(~running & ~done_valid),
            self.done.valid.eq(done_valid),
            self.done.payload.cycles.eq(cycles),
            self.done.payload.compute.eq(compute),
            self.done.payload.stall_operand.eq(st_op),
            self.done.payload.stall_writeback.eq(st_wb),
            self.done.payload.error.eq(error),
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
            ]
        with m.If(finished):
            m.d.sync += [running.eq(0), done_valid.eq(1)]
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += done_valid.eq(0)
        return m
