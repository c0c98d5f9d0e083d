"""Descriptor formats of the matrix unit (``mx.start``) and the DMA engine (``dma.start``), defined
once as :class:`~amaranth.lib.data.StructLayout`; Python codecs come from
:class:`tatami.hw.common.codec.Codec` (:data:`MATRIX_CODEC`, :data:`DMA_CODEC`).

A descriptor sits in the issuing node's SRAM, little-endian, field by field from bit 0 of its
first byte (the order of the layouts below), and is aligned to its size: 64 bytes for a matrix
descriptor (one SRAM word in ``d1``), 32 bytes for a DMA descriptor. Reserved bits must be zero.
The format is documented in docs/datapath.md ("Descriptors"); :func:`check_matrix` and
:func:`check_dma` state every rule a descriptor must satisfy and say what is wrong with one that
does not (the hardware sets the sticky "bad descriptor" status bit for the same cases).
"""

from __future__ import annotations

from amaranth.lib import data

from tatami.config import LOCAL_ADDR_BITS, TatamiConfig
from tatami.hw.common.codec import Codec
from tatami.hw.fpu.layouts import FpFormat, RoundMode

__all__ = [
    "DMA_BYTES",
    "DMA_CODEC",
    "DMA_DESCRIPTOR",
    "GLOBAL_ADDR",
    "GLOBAL_ADDR_CODEC",
    "MATRIX_BYTES",
    "MATRIX_CODEC",
    "MATRIX_DESCRIPTOR",
    "OPERAND",
    "DescriptorError",
    "check_dma",
    "check_matrix",
    "global_addr",
]

#: A 64-bit global address (docs/memory-map.md, "Global addresses in descriptors").
GLOBAL_ADDR = data.StructLayout({"local": LOCAL_ADDR_BITS, "zero": 8, "x": 6, "y": 6, "reserved": 20})

#: One matrix operand (A, B) or the result (C): where element ``(row, col)`` is:
#: ``addr + row * row_stride + col * col_stride`` (bytes, local SRAM). A transposed operand is the
#: same matrix with the two strides swapped: no copy.
OPERAND = data.StructLayout(
    {
        "addr": LOCAL_ADDR_BITS,  #: byte address of element (0, 0) in the local SRAM
        "row_stride": LOCAL_ADDR_BITS,  #: bytes between consecutive rows
        "col_stride": LOCAL_ADDR_BITS,  #: bytes between consecutive columns
        "format": FpFormat,  #: A, B: BF16, CF8_143, CF8_152; C: FP32, BF16, CF8_143, CF8_152
        "bias": 6,  #: CFloat8 exponent bias (0..63); ignored for FP32 and BF16
        "reserved": 15,
    }
)

#: ``C (+)= A x B`` with A ``M x K``, B ``K x N``, C ``M x N``. 512 bits.
MATRIX_DESCRIPTOR = data.StructLayout(
    {
        "a": OPERAND,
        "b": OPERAND,
        "c": OPERAND,
        "m": 16,
        "n": 16,
        "k": 16,
        "accumulate": 1,  #: 1: C += A x B (C read in its format); 0: C = A x B
        "round": RoundMode,  #: rounding of the result into C's format: RNE, RTZ or STOCHASTIC
        "reserved0": 12,
        "seed": 32,  #: stochastic rounding: seed of the per-element hash (sim.datapath.matrix.sr_word)
        "reserved1": 512 - 3 * 96 - 48 - 16 - 32,
    }
)

#: Move ``rows`` rows of ``length`` bytes from ``src`` to ``dst`` (global addresses), row ``r``
#: at ``src + r * src_stride`` and ``dst + r * dst_stride``. One of the two must be on the issuing
#: node: a local source is a push (WRITE packets), a local destination a pull (READ_REQ). 256 bits.
DMA_DESCRIPTOR = data.StructLayout(
    {
        "src": GLOBAL_ADDR,
        "dst": GLOBAL_ADDR,
        "length": LOCAL_ADDR_BITS,  #: bytes per row, at least 1
        "rows": 16,  #: rows, at least 1
        "src_stride": LOCAL_ADDR_BITS,
        "dst_stride": LOCAL_ADDR_BITS,
        "done_sem": 32,  #: semaphore global address for ``sem.add`` on completion (docs/isa.md)
        "done_sem_en": 1,  #: add 1 to ``done_sem`` when the last byte has landed
        "reserved": 256 - 128 - 24 - 16 - 48 - 32 - 1,
    }
)

MATRIX_BYTES = MATRIX_DESCRIPTOR.size // 8
DMA_BYTES = DMA_DESCRIPTOR.size // 8
MATRIX_CODEC = Codec(MATRIX_DESCRIPTOR)
DMA_CODEC = Codec(DMA_DESCRIPTOR)
GLOBAL_ADDR_CODEC = Codec(GLOBAL_ADDR)

_IN_FORMATS = (FpFormat.BF16, FpFormat.CF8_143, FpFormat.CF8_152)
_OUT_FORMATS = (FpFormat.FP32, *_IN_FORMATS)
_BYTES = {FpFormat.FP32: 4, FpFormat.BF16: 2, FpFormat.CF8_143: 1, FpFormat.CF8_152: 1}


class DescriptorError(ValueError):
    """A descriptor breaks a rule; the message names the field and the rule."""


def global_addr(x: int, y: int, local: int) -> int:
    """The 64-bit global address of ``local`` on node ``(x, y)``."""
    return GLOBAL_ADDR_CODEC.pack(local=local, x=x, y=y)


def element_bytes(fmt) -> int:
    return _BYTES[FpFormat(fmt)]


def _operand_extent(op: dict, rows: int, cols: int) -> tuple[int, int]:
    size = _BYTES[op["format"]]
    last = op["addr"] + (rows - 1) * op["row_stride"] + (cols - 1) * op["col_stride"]
    return op["addr"], last + size


def check_matrix(desc: dict, cfg: TatamiConfig) -> dict:
    """Check an unpacked matrix descriptor against the rules and ``cfg``; returns it. Raises
    :class:`DescriptorError` naming the first broken rule."""
    sram = cfg.node.sram
    for name in ("m", "n", "k"):
        if desc[name] < 1:
            raise DescriptorError(f"matrix descriptor: {name} = {desc[name]}; it must be at least 1")
    shapes = {"a": (desc["m"], desc["k"]), "b": (desc["k"], desc["n"]), "c": (desc["m"], desc["n"])}
    for name, (rows, cols) in shapes.items():
        op = desc[name]
        allowed = _OUT_FORMATS if name == "c" else _IN_FORMATS
        if op["format"] not in allowed:
            raise DescriptorError(
                f"matrix descriptor: {name}.format = {op['format']!r}; "
                f"allowed: {', '.join(f.name for f in allowed)}"
            )
        if name[0] != "c" and op["format"].name[:3] == "CF8" and "cf8" not in cfg.node.matrix.formats:
            raise DescriptorError(f"matrix descriptor: {name} is CFloat8 but this matrix unit has no CFloat8")
        size = _BYTES[op["format"]]
        for f in ("addr", "row_stride", "col_stride"):
            if op[f] % size:
                raise DescriptorError(
                    f"matrix descriptor: {name}.{f} = {op[f]:#x} is not a multiple of the {size}-byte element"
                )
        lo, hi = _operand_extent(op, rows, cols)
        if hi > sram.size_bytes:
            raise DescriptorError(
                f"matrix descriptor: {name} ({rows} x {cols} from {lo:#x}) ends at {hi:#x}, beyond the "
                f"{sram.size_bytes:#x}-byte SRAM"
            )
        if op["reserved"]:
            raise DescriptorError(f"matrix descriptor: {name}.reserved must be zero")
    if desc["round"] not in (RoundMode.RNE, RoundMode.RTZ, RoundMode.STOCHASTIC):
        raise DescriptorError(f"matrix descriptor: round = {desc['round']!r}; allowed: RNE, RTZ, STOCHASTIC")
    if desc["reserved0"] or desc["reserved1"]:
        raise DescriptorError("matrix descriptor: reserved fields must be zero")
    return desc


def check_dma(desc: dict, cfg: TatamiConfig, here: tuple[int, int]) -> dict:
    """Check an unpacked DMA descriptor issued by node ``here``; returns it."""
    mesh, sram = cfg.mesh, cfg.node.sram
    if desc["length"] < 1 or desc["rows"] < 1:
        raise DescriptorError(
            f"DMA descriptor: length = {desc['length']}, rows = {desc['rows']}; both must be at least 1"
        )
    for name in ("src", "dst"):
        g = desc[name]
        if g["zero"] or g["reserved"]:
            raise DescriptorError(f"DMA descriptor: {name} has nonzero reserved bits (63..44 or 31..24)")
        if not mesh.contains(g["x"], g["y"]) or (g["x"], g["y"]) in mesh.dead_nodes:
            raise DescriptorError(f"DMA descriptor: {name} names node ({g['x']}, {g['y']}), not a live node")
        stride = desc[f"{name}_stride"]
        end = g["local"] + (desc["rows"] - 1) * stride + desc["length"]
        if end > sram.size_bytes:
            raise DescriptorError(
                f"DMA descriptor: {name} rows end at {end:#x}, beyond the {sram.size_bytes:#x}-byte SRAM"
            )
    local = [(desc[n]["x"], desc[n]["y"]) == tuple(here) for n in ("src", "dst")]
    if not any(local):
        raise DescriptorError(
            f"DMA descriptor: neither src nor dst is on the issuing node {tuple(here)}: "
            "a DMA pushes from or pulls into its own node"
        )
    if desc["reserved"]:
        raise DescriptorError("DMA descriptor: reserved fields must be zero")
    return desc
