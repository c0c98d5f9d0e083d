"""Transaction-level golden model of the node SRAM (:class:`tatami.hw.mem.sram.Sram`).

The model holds the stored words (data and check bits) of every bank. A testbench applies each
request in the cycle the SRAM accepts it (a bank performs one access per cycle, so acceptance
order is the order of effect) and compares the model's response with the port's next response.
"""

from __future__ import annotations

from dataclasses import dataclass

from tatami.config import TatamiConfig

from .ecc import WordCode

__all__ = ["SramModel", "SramResponse"]


@dataclass(frozen=True)
class SramResponse:
    data: int
    corrected: bool = False
    uncorrectable: bool = False
    bad_addr: bool = False

    def as_fields(self) -> dict:
        return {
            "data": self.data,
            "corrected": int(self.corrected),
            "uncorrectable": int(self.uncorrectable),
            "bad_addr": int(self.bad_addr),
        }


class SramModel:
    """Stored words by word address; banks are ``addr % banks`` (word interleaved)."""

    def __init__(self, cfg: TatamiConfig):
        self.sram = cfg.node.sram
        self.code = WordCode(self.sram.word_bits, 64, self.sram.ecc)
        self.words: dict[int, int] = {}
        self.corrected = 0
        self.detected = 0
        self.error_addr = 0
        self.ecc_error = False
        self.bad = False

    def bank(self, addr: int) -> int:
        return addr % self.sram.banks

    def _in_range(self, addr: int) -> bool:
        return 0 <= addr < self.sram.words

    def write(self, addr: int, data: int, lanes: int | None = None) -> SramResponse:
        if not self._in_range(addr):
            self.bad = True
            return SramResponse(0, bad_addr=True)
        lanes = (1 << self.code.lanes) - 1 if lanes is None else lanes
        new = self.code.encode(data)
        old = self.words.get(addr, 0)
        sm = (1 << self.code.stored_lane_bits) - 1
        for lane in range(self.code.lanes):
            if lanes >> lane & 1:
                shift = lane * self.code.stored_lane_bits
                old = (old & ~(sm << shift)) | (new & (sm << shift))
        self.words[addr] = old
        return SramResponse(0)

    def read(self, addr: int) -> SramResponse:
        if not self._in_range(addr):
            self.bad = True
            return SramResponse(0, bad_addr=True)
        data, cor, unc = self.code.decode(self.words.get(addr, 0))
        self.corrected += cor
        self.detected += unc
        if unc:
            self.ecc_error, self.error_addr = True, addr
        return SramResponse(data, cor, unc)

    def request(self, addr: int, write: bool, lanes: int, data: int) -> SramResponse:
        return self.write(addr, data, lanes) if write else self.read(addr)

    def inject(self, addr: int, data: int, flip: int):
        """The error-injection hook: store ``data`` with the stored bits in ``flip`` inverted."""
        if self._in_range(addr):
            self.words[addr] = self.code.encode(data) ^ flip

    # Byte-level helpers for golden models above the SRAM (vector loads, DMA, GEMM operands).
    def load_bytes(self, byte_addr: int, n: int) -> bytes:
        wb = self.sram.word_bytes
        out = bytearray()
        for a in range(byte_addr // wb, (byte_addr + n + wb - 1) // wb):
            out += self.read(a).data.to_bytes(wb, "little")
        off = byte_addr % wb
        return bytes(out[off : off + n])

    def store_bytes(self, byte_addr: int, payload: bytes):
        wb = self.sram.word_bytes
        for i, b in enumerate(payload):
            a, off = divmod(byte_addr + i, wb)
            word = self.read(a).data
            word = (word & ~(0xFF << (8 * off))) | (b << (8 * off))
            self.write(a, word)
