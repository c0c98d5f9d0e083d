"""Load/store lane logic of the scalar core: alignment check, byte lanes and mask of a store,
extraction and extension of a load."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LoadStoreUnit"]


class LoadStoreUnit(wiring.Component):
    """Combinational lane logic for a 32-bit little-endian bus.

    Attributes
    ----------
    funct3 : In(3)
        Access size (bits 1..0: byte, half, word) and, for loads, zero extension (bit 2).
    addr : In(32)
        Effective byte address.
    store_data : In(32)
        x[rs2] of a store.
    rdata : In(32)
        The word read from ``addr & ~3``.
    misaligned : Out(1)
        ``addr`` is not a multiple of the access size.
    word_addr : Out(32)
        ``addr & ~3``.
    wdata : Out(32)
        Store data in its byte lanes (other lanes zero).
    mask : Out(4)
        Byte lanes of the access.
    load_value : Out(32)
        The loaded value, sign- or zero-extended.
    """

    def __init__(self):
        super().__init__(
            {
                "funct3": In(3),
                "addr": In(32),
                "store_data": In(32),
                "rdata": In(32),
                "misaligned": Out(1),
                "word_addr": Out(32),
                "wdata": Out(32),
                "mask": Out(4),
                "load_value": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        size, lane = self.funct3[0:2], self.addr[0:2]
        m.d.comb += self.word_addr.eq(self.addr & ~3)
        shifted = self.rdata >> (lane * 8)
        unsigned = self.funct3[2]
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += [
                    self.mask.eq(1 << lane),
                    self.wdata.eq(self.store_data[0:8] << (lane * 8)),
                    self.load_value.eq(Mux(unsigned, shifted[0:8], shifted[0:8].as_signed())),
                ]
            with m.Case(1):
                m.d.comb += [
                    self.misaligned.eq(lane[0]),
                    self.mask.eq(3 << lane),
                    self.wdata.eq(self.store_data[0:16] << (lane * 8)),
                    self.load_value.eq(Mux(unsigned, shifted[0:16], shifted[0:16].as_signed())),
                ]
            with m.Default():
                m.d.comb += [
                    self.misaligned.eq(lane != 0),
                    self.mask.eq(0xF),
                    self.wdata.eq(self.store_data),
                    self.load_value.eq(self.rdata),
                ]
        return m
