"""Golden model of the SRAM's SECDED code (extended Hamming per lane), in plain Python.

Written from the textbook definition, independently of the logic in :mod:`tatami.hw.mem.ecc`
(whose tables a test compares with this model). A stored lane is an int:
``data | hamming << k | parity << (k + r)``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EccStatus", "LaneCode", "WordCode"]


class EccStatus(IntEnum):
    OK = 0
    CORRECTED = 1
    UNCORRECTABLE = 2


class LaneCode:
    """The (k + r + 1, k) extended Hamming code over ``k`` data bits."""

    def __init__(self, data_bits: int):
        if data_bits < 4:
            raise ValueError(f"a SECDED lane needs at least 4 data bits, not {data_bits}")
        self.k = data_bits
        r = 1
        while (1 << r) < data_bits + r + 1:
            r += 1
        self.r = r
        self.stored_bits = data_bits + r + 1
        # Codeword position (1-based) of each data bit: the positions that are not powers of two.
        self.data_pos = [p for p in range(1, data_bits + r + 1) if p & (p - 1)][:data_bits]
        self.pos_to_data = {p: i for i, p in enumerate(self.data_pos)}

    def _syndrome_of_data(self, data: int) -> int:
        s = 0
        for i, p in enumerate(self.data_pos):
            if data >> i & 1:
                s ^= p
        return s

    def encode(self, data: int) -> int:
        data &= (1 << self.k) - 1
        ham = self._syndrome_of_data(data)
        body = data | ham << self.k
        parity = bin(body).count("1") & 1
        return body | parity << (self.k + self.r)

    def decode(self, stored: int) -> tuple[int, EccStatus]:
        """``(data, status)``; for UNCORRECTABLE the raw stored data."""
        k, r = self.k, self.r
        data = stored & ((1 << k) - 1)
        ham = stored >> k & ((1 << r) - 1)
        syndrome = self._syndrome_of_data(data) ^ ham
        odd = bin(stored & ((1 << self.stored_bits) - 1)).count("1") & 1
        if not odd:
            return (data, EccStatus.OK) if syndrome == 0 else (data, EccStatus.UNCORRECTABLE)
        if syndrome == 0 or not syndrome & (syndrome - 1):
            return data, EccStatus.CORRECTED  # the parity bit or a Hamming bit flipped
        if syndrome in self.pos_to_data:
            return data ^ (1 << self.pos_to_data[syndrome]), EccStatus.CORRECTED
        return data, EccStatus.UNCORRECTABLE  # no single flip gives this syndrome


class WordCode:
    """A word of ``word_bits`` as lanes of ``lane_bits``, each with its own code (or none)."""

    def __init__(self, word_bits: int, lane_bits: int = 64, ecc: bool = True):
        self.lane_bits = min(lane_bits, word_bits)
        self.lanes = word_bits // self.lane_bits
        self.word_bits = word_bits
        self.code = LaneCode(self.lane_bits) if ecc else None
        self.stored_lane_bits = self.code.stored_bits if ecc else self.lane_bits
        self.stored_bits = self.stored_lane_bits * self.lanes

    def encode(self, data: int) -> int:
        out = 0
        lm = (1 << self.lane_bits) - 1
        for lane in range(self.lanes):
            d = data >> (lane * self.lane_bits) & lm
            st = self.code.encode(d) if self.code else d
            out |= st << (lane * self.stored_lane_bits)
        return out

    def decode(self, stored: int) -> tuple[int, bool, bool]:
        """``(data, corrected, uncorrectable)``: any lane corrected, any lane uncorrectable."""
        out, cor, unc = 0, False, False
        sm = (1 << self.stored_lane_bits) - 1
        for lane in range(self.lanes):
            st = stored >> (lane * self.stored_lane_bits) & sm
            if self.code:
                d, status = self.code.decode(st)
                cor |= status is EccStatus.CORRECTED
                unc |= status is EccStatus.UNCORRECTABLE
            else:
                d = st
            out |= d << (lane * self.lane_bits)
        return out, cor, unc
