"""``CoreMemPort``: 32-bit memory buses (the scalar core's ``ibus``/``dbus``, a host port) onto one
port of the node SRAM (:class:`~tatami.hw.mem.sram.Sram`).

The initiators speak :class:`~tatami.hw.core.bus.MemBusSignature` (byte address, 32-bit data,
byte mask, one response per request in order, no ``ready`` on the response); the SRAM port speaks
:class:`~tatami.hw.mem.ports.SramPortSignature` (word address, ``word_bits`` of data, writes by
whole 64-bit ECC lane, per-word ECC flags). The adapter

- arbitrates between its initiators round robin (:class:`~tatami.hw.common.arbiter.RoundRobinArbiter`:
  a waiting initiator is served within ``len(names) - 1`` other requests), one request per cycle;
- turns a byte address ``addr`` into the word address ``(addr - base) // word_bytes`` and the
  32-bit slot inside the word; an address outside ``base .. base + size_bytes - 1`` is answered
  with ``err`` (it still takes one harmless read of word 0, so that responses stay in order);
- returns a read's 32-bit slot; ``err`` when the SRAM flags the word ``uncorrectable`` or
  ``bad_addr`` (a ``corrected`` word is good data: the SRAM counts it);
- does every store narrower than an ECC lane (all core stores when lanes are 64 bits) as a
  **read-modify-write**: it reads the word, merges the store's bytes into the lane and writes the
  lane back, and issues nothing else on the port between the read and the write, so the RMW is
  atomic with respect to every initiator of this adapter (two threads storing bytes of the same
  lane never lose one another's bytes). A store whose read finds the word uncorrectable (or
  ``bad_addr``) answers ``err`` and writes nothing: rewriting would turn bad data into good. The
  store is acknowledged the cycle after the SRAM accepts its write (every later request on the
  port is performed after it); the write's own response is dropped. A store of a whole lane
  (only with 32-bit lanes) is written directly and acknowledged by its response.

The RMW is not atomic with respect to the SRAM's other ports: a DMA or network write into the
same 64-bit lane between the core's read and write is overwritten with the old bytes. Software
keeps core-written and DMA-written data in distinct lanes (8-byte aligned), as it keeps them in
distinct cache lines on other machines.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from tatami.config import TatamiConfig
from tatami.hw.common.arbiter import RoundRobinArbiter
from tatami.hw.common.select import select
from tatami.hw.core.bus import MemBusSignature, MemRequest

from .ecc import lane_bits_for
from .ports import SramPortSignature, addr_bits, lane_count

__all__ = ["CoreMemPort"]


class _Kind(enum.Enum, shape=2):
    RESP = 0  # answer the initiator with this response (a read, or a whole-lane write)
    RMW = 1  # the read of a read-modify-write store
    DROP = 2  # the write of a read-modify-write (already acknowledged)


class CoreMemPort(wiring.Component):
    """32-bit memory buses onto one SRAM port (see the module documentation).

    Parameters
    ----------
    cfg : TatamiConfig
        ``cfg.node.sram`` gives the word width, the lane width and the size.
    names : tuple of str
        The initiator buses, in arbitration order (default ``("ibus", "dbus")``).
    base : int
        Byte address of SRAM byte 0 on the buses (default ``cfg.node.core.reset_pc``); a multiple
        of the SRAM word size.
    tag_depth : int
        Requests the adapter can have outstanding at the SRAM (at least the SRAM's ``resp_depth``
        for one request per cycle).

    Attributes
    ----------
    <name> : In(MemBusSignature()), one per ``names``
        The initiators' buses (``req`` stream in, ``resp`` valid-only out).
    sram : Out(SramPortSignature(cfg))
        The SRAM port (its response stream is always ready).
    """

    def __init__(
        self, cfg: TatamiConfig, *, names=("ibus", "dbus"), base: int | None = None, tag_depth: int = 8
    ):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"CoreMemPort takes a TatamiConfig, not {cfg!r}")
        names = tuple(names)
        if (
            not names
            or len(set(names)) != len(names)
            or not all(isinstance(n, str) and n.isidentifier() for n in names)
        ):
            raise ValueError(f"names must be distinct identifiers, at least one, not {names!r}")
        if "sram" in names:
            raise ValueError("'sram' is the SRAM port's name; choose another initiator name")
        s = cfg.node.sram
        base = cfg.node.core.reset_pc if base is None else base
        if not isinstance(base, int) or base < 0 or base % s.word_bytes or base + s.size_bytes > 1 << 32:
            raise ValueError(
                f"base {base!r} must be a multiple of the SRAM word ({s.word_bytes} bytes) with the "
                f"{s.size_bytes}-byte SRAM inside the 32-bit address space"
            )
        if not isinstance(tag_depth, int) or tag_depth < 1:
            raise ValueError(f"tag_depth must be a positive integer, not {tag_depth!r}")
        self.cfg = cfg
        self.sram_cfg = s
        self.names = names
        self.base = base
        self.tag_depth = tag_depth
        super().__init__({n: In(MemBusSignature()) for n in names} | {"sram": Out(SramPortSignature(cfg))})

    def elaborate(self, platform):
        m = Module()
        s = self.sram_cfg
        buses = [getattr(self, n) for n in self.names]
        n = len(buses)
        word_shift = exact_log2(s.word_bytes)
        lane_bits = lane_bits_for(s.word_bits)
        lane_shift = exact_log2(lane_bits // 8)
        lanes = lane_count(s)
        abits = addr_bits(s)
        slot_bits = word_shift - 2

        tag_layout = data.StructLayout(
            {"who": range(max(n, 2)), "kind": _Kind, "slot": max(slot_bits, 1), "oob": 1}
        )
        m.submodules.tags = tags = SyncFIFO(width=tag_layout.size, depth=self.tag_depth)
        m.submodules.arb = arb = RoundRobinArbiter(n)

        busy = Signal()  # a read-modify-write is between its read and its write
        wr_valid = Signal()  # its write waits for the port
        wr_lane = Signal(range(max(lanes, 2)))
        wr_word = Signal(abits)
        wr_data = Signal(lane_bits)
        ack = Signal()  # acknowledge the read-modify-write store this cycle
        rmw_who = Signal(range(max(n, 2)))
        rmw_slot = Signal(max(lane_shift - 2, 1))  # 32-bit slot inside the lane
        rmw_mask = Signal(4)
        rmw_wdata = Signal(32)

        # ---- request: pick an initiator, decode its address ------------------------------------
        m.d.comb += [
            arb.requests.eq(Mux(busy, 0, Cat(*[b.req.valid for b in buses]))),
            arb.advance.eq(arb.valid & self.sram.req.ready & tags.w_rdy),
        ]
        g = Signal(MemRequest)
        m.d.comb += g.eq(select(arb.grant_index, [b.req.payload.as_value() for b in buses]))
        offset = Signal(32)
        m.d.comb += offset.eq(g.addr - self.base)
        oob = Signal()
        m.d.comb += oob.eq(offset >= s.size_bytes)
        word = offset[word_shift : word_shift + abits]
        slot = offset[2:word_shift] if slot_bits else Const(0, 1)
        lane = offset[lane_shift:word_shift] if lanes > 1 else Const(0, 1)
        full_lane = (lane_bits == 32) & (g.mask == 0xF)
        rmw = g.we & ~full_lane & ~oob

        # Every combinational output below is a plain expression (no ``If``): Yosys writes those
        # as continuous assignments, which Icarus evaluates from time zero (see
        # tatami.hw.common.select).
        req = self.sram.req
        kind = Mux(wr_valid, _Kind.DROP.value, Mux(rmw, _Kind.RMW.value, _Kind.RESP.value))
        m.d.comb += [
            req.valid.eq(tags.w_rdy & (wr_valid | arb.valid)),
            req.payload.addr.eq(Mux(wr_valid, wr_word, Mux(oob, 0, word))),
            req.payload.write.eq(wr_valid | (g.we & full_lane & ~oob)),
            req.payload.lanes.eq(Mux(wr_valid, 1 << wr_lane, Mux(g.we, 1 << lane, 0))),
            req.payload.data.eq(
                Mux(wr_valid, wr_data.replicate(lanes), g.wdata.replicate(s.word_bits // 32))
            ),
            tags.w_en.eq(req.valid & req.ready),
            tags.w_data.eq(Cat(arb.grant_index, kind[:2], slot, oob & ~wr_valid)),
        ]
        with m.If(wr_valid & req.ready & tags.w_rdy):
            m.d.sync += [wr_valid.eq(0), busy.eq(0), ack.eq(1)]
        with m.If(~wr_valid & arb.advance & rmw):
            m.d.sync += [
                busy.eq(1),
                rmw_who.eq(arb.grant_index),
                rmw_slot.eq(offset[2:lane_shift] if lane_shift > 2 else 0),
                rmw_mask.eq(g.mask),
                rmw_wdata.eq(g.wdata),
                wr_lane.eq(lane),
                wr_word.eq(word),
            ]
        for i, b in enumerate(buses):
            m.d.comb += b.req.ready.eq(arb.grant[i] & req.ready & tags.w_rdy & ~wr_valid)
        with m.If(ack):
            m.d.sync += ack.eq(0)

        # ---- response ---------------------------------------------------------------------------
        resp = self.sram.resp
        head = tag_layout(tags.r_data)
        m.d.comb += [resp.ready.eq(1), tags.r_en.eq(resp.valid)]
        err = head.oob | resp.payload.uncorrectable | resp.payload.bad_addr
        rdata = resp.payload.data.word_select(head.slot, 32) if slot_bits else resp.payload.data[:32]
        answer = resp.valid & ((head.kind == _Kind.RESP) | ((head.kind == _Kind.RMW) & err))
        for i, b in enumerate(buses):
            mine = answer & (head.who == i)
            m.d.comb += [
                b.resp.valid.eq(mine | (ack & (rmw_who == i))),
                b.resp.payload.rdata.eq(Mux(mine, rdata, 0)),
                b.resp.payload.err.eq(mine & err),
            ]
        mask = Signal(lane_bits // 8)
        m.d.comb += mask.eq(rmw_mask << (4 * rmw_slot) if lane_bits > 32 else rmw_mask)

        # the read of a read-modify-write: merge the store into the lane, then write it
        with m.If(resp.valid & (head.kind == _Kind.RMW)):
            with m.If(err):
                m.d.sync += busy.eq(0)
            with m.Else():
                old = resp.payload.data.word_select(wr_lane, lane_bits) if lanes > 1 else resp.payload.data
                new = rmw_wdata.replicate(lane_bits // 32)
                merged = Cat(
                    *[
                        Mux(mask[k], new[8 * k : 8 * k + 8], old[8 * k : 8 * k + 8])
                        for k in range(lane_bits // 8)
                    ]
                )
                m.d.sync += [wr_valid.eq(1), wr_data.eq(merged)]
        return m
