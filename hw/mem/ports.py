"""The SRAM port interface, defined once: request and response layouts and the port signature.

Every SRAM port (core, datapath load and store, network read and write) is the same pair of
streams, written from the initiator's side (the SRAM flips it):

``req``  (Out)  :func:`request_layout`: ``addr`` (word address), ``write``, ``lanes`` (write enable
                per ECC lane of 64 bits), ``data``.
``resp`` (In)   :func:`response_layout`: ``data`` (read data, corrected), ``corrected``,
                ``uncorrectable``, ``bad_addr``.

Rules (docs/datapath.md, "SRAM ports"):

- every request gets exactly one response, reads and writes alike, in request order per port;
- a read of a word holding an uncorrectable error returns the raw data with ``uncorrectable``
  set: the flag travels with the data, so it is never taken for good data;
- a request whose word address is beyond the SRAM gets ``bad_addr`` (a write is dropped);
- writes are whole ECC lanes (64 bits): narrower stores are a read-modify-write by the initiator.
"""

from __future__ import annotations

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import SramConfig, TatamiConfig

from .ecc import SecdedCode, lane_bits_for

__all__ = [
    "SramPortSignature",
    "addr_bits",
    "inject_layout",
    "lane_count",
    "port_names",
    "request_layout",
    "response_layout",
    "stored_lane_bits",
    "stored_word_bits",
]


def _sram(cfg) -> SramConfig:
    if isinstance(cfg, TatamiConfig):
        return cfg.node.sram
    if isinstance(cfg, SramConfig):
        return cfg
    raise TypeError(f"expected a TatamiConfig or SramConfig, not {cfg!r}")


def addr_bits(cfg) -> int:
    """Width of a word address: enough for every word (and, when the word count is not a power of
    two, for some addresses beyond the SRAM, which get ``bad_addr``)."""
    return max(1, (_sram(cfg).words - 1).bit_length())


def lane_count(cfg) -> int:
    s = _sram(cfg)
    return s.word_bits // lane_bits_for(s.word_bits)


def stored_lane_bits(cfg) -> int:
    """Bits one ECC lane occupies in the array (data plus check bits when ECC is on)."""
    s = _sram(cfg)
    lane = lane_bits_for(s.word_bits)
    return SecdedCode(lane).stored_bits if s.ecc else lane


def stored_word_bits(cfg) -> int:
    return stored_lane_bits(cfg) * lane_count(cfg)


def port_names(cfg) -> tuple[str, ...]:
    """The SRAM's ports, in arbitration index order."""
    s = _sram(cfg)
    return (
        "core",
        *(f"load{i}" for i in range(s.load_ports)),
        *(f"store{i}" for i in range(s.store_ports)),
        "net_rd",
        "net_wr",
    )


def request_layout(cfg) -> data.StructLayout:
    s = _sram(cfg)
    return data.StructLayout({"addr": addr_bits(s), "write": 1, "lanes": lane_count(s), "data": s.word_bits})


def response_layout(cfg) -> data.StructLayout:
    s = _sram(cfg)
    return data.StructLayout({"data": s.word_bits, "corrected": 1, "uncorrectable": 1, "bad_addr": 1})


def inject_layout(cfg) -> data.StructLayout:
    """The test hook: write ``data`` to word ``addr`` with the stored bits in ``flip`` inverted
    (bit ``l * stored_lane_bits + i`` is bit ``i`` of lane ``l``: data bits first, then the
    Hamming bits, then the parity bit)."""
    s = _sram(cfg)
    return data.StructLayout({"addr": addr_bits(s), "data": s.word_bits, "flip": stored_word_bits(s)})


class SramPortSignature(wiring.Signature):
    """One SRAM port from the initiator's side: ``req`` out, ``resp`` in."""

    def __init__(self, cfg):
        self.sram = _sram(cfg)
        super().__init__(
            {
                "req": Out(stream.Signature(request_layout(self.sram))),
                "resp": In(stream.Signature(response_layout(self.sram))),
            }
        )

    def __eq__(self, other):
        return isinstance(other, SramPortSignature) and other.sram == self.sram

    def __hash__(self):
        return hash(self.sram)

    def __repr__(self):
        return f"SramPortSignature({self.sram!r})"
