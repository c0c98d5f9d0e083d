"""One typed, validated configuration for every part of Tatami.

The same :class:`TatamiConfig` object drives the RTL generators, the golden and performance models,
the testbenches and the FPGA builds. It is a tree of frozen dataclasses; every field is checked in
``__post_init__`` and a bad value raises :class:`ConfigError` naming the field and the reason.

Presets have names (see :data:`PRESETS`): ``d1`` follows the published per-cycle figures of the
Dojo D1, ``fpga-2x2`` fits an ECP5-85F, ``tiny`` keeps the test suite fast.

A config round-trips through JSON (:meth:`TatamiConfig.to_json`, :meth:`TatamiConfig.from_json`)
and has a stable content hash (:meth:`TatamiConfig.digest`) used to cache generated builds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

__all__ = [
    "PRESETS",
    "ConfigError",
    "CoreConfig",
    "FpuConfig",
    "MatrixConfig",
    "MeshConfig",
    "NocConfig",
    "NodeConfig",
    "SramConfig",
    "TatamiConfig",
    "VectorConfig",
    "load_config",
    "preset",
]

#: Width of the packet header in bits; fixed so that routing fields sit at the same bit positions
#: of the head flit whatever the flit width (see docs/packet-format.md).
HEADER_BITS = 64
#: Width of the immediate field that follows the header in the head flit.
IMMEDIATE_BITS = 64
#: Coordinates are 6-bit: meshes up to 64 x 64 nodes.
COORD_BITS = 6
#: Node-local addresses seen from the network are 24-bit (16 MiB window per node).
LOCAL_ADDR_BITS = 24
#: Node register block: the top 1 MiB of the node's 16 MiB window.
CSR_BASE = 0xF0_0000
#: Payload length field: up to 63 body flits per packet.
LENGTH_BITS = 6


class ConfigError(ValueError):
    """A configuration value is invalid. ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"config field '{field}': {message}")


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check(cond: bool, name: str, message: str):
    if not cond:
        raise ConfigError(name, message)


def _check_pow2(value: int, name: str):
    _check(_is_pow2(value), name, f"must be a power of two, not {value}")


def _check_int(value, name: str, lo: int | None = None, hi: int | None = None):
    _check(isinstance(value, int) and not isinstance(value, bool), name, f"must be an integer, not {value!r}")
    if lo is not None:
        _check(value >= lo, name, f"must be at least {lo}, not {value}")
    if hi is not None:
        _check(value <= hi, name, f"must be at most {hi}, not {value}")


@dataclass(frozen=True)
class MeshConfig:
    """The 2D mesh of nodes.

    Parameters
    ----------
    width, height : int
        Nodes along x (east) and y (south). Node (0, 0) is the north-west corner.
    dead_nodes : tuple of (x, y)
        Nodes disabled for yield: no traffic is routed into or through them.
    dead_links : tuple of ((x, y), (x, y))
        Links between neighbouring nodes that are disabled (both directions).
    host_x, host_y : int
        The node whose west edge port the host bridge attaches to.
    """

    width: int = 2
    height: int = 2
    dead_nodes: tuple[tuple[int, int], ...] = ()
    dead_links: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    host_x: int = 0
    host_y: int = 0

    def __post_init__(self):
        limit = 1 << COORD_BITS
        _check_int(self.width, "mesh.width", 1, limit)
        _check_int(self.height, "mesh.height", 1, limit)
        object.__setattr__(self, "dead_nodes", tuple(tuple(n) for n in self.dead_nodes))
        object.__setattr__(
            self, "dead_links", tuple(tuple(tuple(e) for e in link) for link in self.dead_links)
        )
        for i, node in enumerate(self.dead_nodes):
            _check(
                len(node) == 2 and self.contains(*node),
                f"mesh.dead_nodes[{i}]",
                f"{node} is not a node of a {self.width}x{self.height} mesh",
            )
        _check(len(set(self.dead_nodes)) == len(self.dead_nodes), "mesh.dead_nodes", "lists a node twice")
        for i, (a, b) in enumerate(self.dead_links):
            ok = self.contains(*a) and self.contains(*b) and abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
            _check(ok, f"mesh.dead_links[{i}]", f"{a}-{b} is not a link between neighbouring nodes")
        _check_int(self.host_x, "mesh.host_x", 0, self.width - 1)
        _check_int(self.host_y, "mesh.host_y", 0, self.height - 1)
        _check(
            (self.host_x, self.host_y) not in self.dead_nodes,
            "mesh.host_x",
            "the host bridge cannot attach to a dead node",
        )
        _check(self.live_count >= 1, "mesh.dead_nodes", "every node of the mesh is dead")

    def contains(self, x, y) -> bool:
        return isinstance(x, int) and isinstance(y, int) and 0 <= x < self.width and 0 <= y < self.height

    @property
    def nodes(self) -> int:
        return self.width * self.height

    @property
    def live_count(self) -> int:
        return self.nodes - len(self.dead_nodes)

    def live_nodes(self) -> list[tuple[int, int]]:
        dead = set(self.dead_nodes)
        return [(x, y) for y in range(self.height) for x in range(self.width) if (x, y) not in dead]


@dataclass(frozen=True)
class NocConfig:
    """Network on chip: links, router buffering, routing.

    Parameters
    ----------
    flit_bits : int
        Width of one flit, and of each link per direction per cycle. A head flit holds the 64-bit
        header and a 64-bit immediate, so at least 128; a multiple of 64.
    vcs : int
        Virtual channels per input port; at least 2 (requests and responses never share one).
    vc_depth : int
        Flit buffers per virtual channel.
    max_packet_flits : int
        Largest packet, head flit included (the header's length field counts body flits).
    routing : str
        ``"xy"`` dimension order, or ``"table"`` (per-router tables loaded at run time).
    buffers : str
        Link-input VC buffers: ``"lookpast"`` (registers; any flit may leave, per-flow order kept:
        no head-of-line blocking between flows) or ``"fifo"`` (a FIFO in LUT RAM, front flit only:
        small and fast on an FPGA). The local input is always a FIFO.
    router_stages : int
        Router cycles per hop: 1 (allocation and switch traversal in one cycle, 2 cycles per hop
        with the link) or 2 (grants registered, traversal in the next cycle: 3 cycles per hop,
        shorter critical path; the node's flits are also registered once more on the way in).
    """

    flit_bits: int = 128
    vcs: int = 2
    vc_depth: int = 4
    max_packet_flits: int = 8
    routing: str = "xy"
    buffers: str = "lookpast"
    router_stages: int = 1

    def __post_init__(self):
        _check_int(self.flit_bits, "noc.flit_bits", HEADER_BITS + IMMEDIATE_BITS, 4096)
        _check(
            self.flit_bits % 64 == 0, "noc.flit_bits", f"must be a multiple of 64 bits, not {self.flit_bits}"
        )
        _check_int(self.vcs, "noc.vcs", 2, 8)
        _check(
            self.vcs % 2 == 0,
            "noc.vcs",
            "must be even: virtual channels are split evenly between requests and responses",
        )
        _check_int(self.vc_depth, "noc.vc_depth", 1, 256)
        _check_int(self.max_packet_flits, "noc.max_packet_flits", 1, 1 << LENGTH_BITS)
        _check(
            self.routing in ("xy", "table"), "noc.routing", f"must be 'xy' or 'table', not {self.routing!r}"
        )
        _check(
            self.buffers in ("lookpast", "fifo"),
            "noc.buffers",
            f"must be 'lookpast' or 'fifo', not {self.buffers!r}",
        )
        _check(
            self.router_stages in (1, 2) and not isinstance(self.router_stages, bool),
            "noc.router_stages",
            f"must be 1 (2 cycles per hop) or 2 (3 cycles per hop), not {self.router_stages!r}",
        )

    @property
    def flit_bytes(self) -> int:
        return self.flit_bits // 8


@dataclass(frozen=True)
class SramConfig:
    """Banked node-local SRAM.

    Parameters
    ----------
    size_bytes : int
        Capacity. Must be a whole number of banks of whole words and fit the 24-bit node window
        below the register block.
    banks : int
        Independent banks (a power of two); consecutive words go to consecutive banks.
    word_bits : int
        Data width of one bank word (one port access), a power of two, at least 32.
    load_ports, store_ports : int
        Datapath ports (matrix and vector units). The network and the core each have a port too.
    ecc : bool
        SECDED per word.
    """

    size_bytes: int = 64 * 1024
    banks: int = 4
    word_bits: int = 128
    load_ports: int = 2
    store_ports: int = 1
    ecc: bool = True

    def __post_init__(self):
        _check_int(self.word_bits, "node.sram.word_bits", 32, 1024)
        _check_pow2(self.word_bits, "node.sram.word_bits")
        _check_int(self.banks, "node.sram.banks", 1, 64)
        _check_pow2(self.banks, "node.sram.banks")
        _check_int(self.size_bytes, "node.sram.size_bytes", 1, CSR_BASE)
        stripe = self.banks * self.word_bits // 8
        _check(
            self.size_bytes % stripe == 0,
            "node.sram.size_bytes",
            f"{self.size_bytes} B is not a whole number of banks: it must be a multiple of "
            f"banks x word = {self.banks} x {self.word_bits // 8} B = {stripe} B",
        )
        _check_int(self.load_ports, "node.sram.load_ports", 1, 4)
        _check_int(self.store_ports, "node.sram.store_ports", 1, 4)
        _check(isinstance(self.ecc, bool), "node.sram.ecc", f"must be true or false, not {self.ecc!r}")

    @property
    def word_bytes(self) -> int:
        return self.word_bits // 8

    @property
    def words(self) -> int:
        return self.size_bytes // self.word_bytes

    @property
    def bank_words(self) -> int:
        return self.words // self.banks


@dataclass(frozen=True)
class CoreConfig:
    """Scalar control core (RV32IM + Zicsr + Zifencei + Tatami's custom extension)."""

    threads: int = 4
    multiplier: bool = True
    reset_pc: int = 0x8000_0000

    def __post_init__(self):
        _check_int(self.threads, "node.core.threads", 1, 4)
        _check(isinstance(self.multiplier, bool), "node.core.multiplier", "must be true or false")
        _check_int(self.reset_pc, "node.core.reset_pc", 0, 0xFFFF_FFFF)
        _check(self.reset_pc % 4 == 0, "node.core.reset_pc", f"{self.reset_pc:#x} is not 4-byte aligned")


@dataclass(frozen=True)
class VectorConfig:
    """SIMD vector unit. ``vlen_bits`` is the width of one vector register and of one operation."""

    vlen_bits: int = 128
    registers: int = 32

    def __post_init__(self):
        _check_int(self.vlen_bits, "node.vector.vlen_bits", 64, 2048)
        _check_pow2(self.vlen_bits, "node.vector.vlen_bits")
        _check_int(self.registers, "node.vector.registers", 8, 32)


@dataclass(frozen=True)
class MatrixConfig:
    """Matrix unit: one ``m x n x k`` multiply-accumulate step per cycle (``m*n*k`` MACs)."""

    m: int = 2
    n: int = 2
    k: int = 2
    formats: tuple[str, ...] = ("bf16", "cf8")

    def __post_init__(self):
        for name in ("m", "n", "k"):
            value = getattr(self, name)
            _check_int(value, f"node.matrix.{name}", 1, 64)
            _check_pow2(value, f"node.matrix.{name}")
        object.__setattr__(self, "formats", tuple(self.formats))
        _check(len(self.formats) >= 1, "node.matrix.formats", "needs at least one input format")
        for f in self.formats:
            _check(f in ("bf16", "cf8"), "node.matrix.formats", f"unknown input format {f!r} (bf16, cf8)")

    @property
    def macs_per_cycle(self) -> int:
        return self.m * self.n * self.k


@dataclass(frozen=True)
class FpuConfig:
    """Floating-point units: which formats exist and how deeply the units are pipelined."""

    cf16: bool = True
    stochastic_rounding: bool = True
    add_stages: int = 3
    mul_stages: int = 3
    fma_stages: int = 4
    convert_stages: int = 3  # format conversions (hw/fpu/convert.py)

    def __post_init__(self):
        for name in ("cf16", "stochastic_rounding"):
            _check(isinstance(getattr(self, name), bool), f"node.fpu.{name}", "must be true or false")
        for name in ("add_stages", "mul_stages", "fma_stages", "convert_stages"):
            _check_int(getattr(self, name), f"node.fpu.{name}", 1, 8)


@dataclass(frozen=True)
class NodeConfig:
    """One node: the units it contains."""

    sram: SramConfig = field(default_factory=SramConfig)
    core: CoreConfig = field(default_factory=CoreConfig)
    vector: VectorConfig = field(default_factory=VectorConfig)
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    fpu: FpuConfig = field(default_factory=FpuConfig)


@dataclass(frozen=True)
class TatamiConfig:
    """The whole machine: a mesh of identical nodes.

    Parameters
    ----------
    name : str
        Preset name, or a user's name for a custom configuration.
    clock_hz : int
        Target clock, used for bandwidth figures and FPGA timing constraints.
    """

    name: str = "custom"
    clock_hz: int = 100_000_000
    mesh: MeshConfig = field(default_factory=MeshConfig)
    noc: NocConfig = field(default_factory=NocConfig)
    node: NodeConfig = field(default_factory=NodeConfig)

    def __post_init__(self):
        _check(isinstance(self.name, str) and self.name != "", "name", "must be a non-empty string")
        _check_int(self.clock_hz, "clock_hz", 1_000_000, 10_000_000_000)
        sram, noc, vec = self.node.sram, self.noc, self.node.vector
        _check(
            noc.flit_bits % sram.word_bits == 0 or sram.word_bits % noc.flit_bits == 0,
            "noc.flit_bits",
            f"flit ({noc.flit_bits} b) and SRAM word ({sram.word_bits} b) must divide one another",
        )
        _check(
            vec.vlen_bits <= sram.word_bits * sram.banks,
            "node.vector.vlen_bits",
            f"a {vec.vlen_bits}-bit vector is wider than one access to all banks "
            f"({sram.banks} x {sram.word_bits} b)",
        )

    # ----- derived figures -----------------------------------------------------------------
    @property
    def macs_per_node_per_cycle(self) -> int:
        return self.node.matrix.macs_per_cycle

    def summary(self) -> str:
        m, s, n = self.mesh, self.node.sram, self.noc
        mx = self.node.matrix
        return (
            f"{self.name}: {m.width}x{m.height} mesh ({m.live_count} live nodes), "
            f"{n.flit_bits}-bit flits, {n.vcs} VCs x {n.vc_depth} flits, "
            f"{s.size_bytes / 1024:g} KiB SRAM in {s.banks} banks of {s.word_bits}-bit words, "
            f"{self.node.vector.vlen_bits}-bit vectors, {mx.m}x{mx.n}x{mx.k} matrix "
            f"({mx.macs_per_cycle} MAC/cycle), {self.node.core.threads} threads, "
            f"{self.clock_hz / 1e6:g} MHz"
        )

    # ----- serialization -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return _to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> TatamiConfig:
        return _from_dict(cls, data, "")

    @classmethod
    def from_json(cls, text: str) -> TatamiConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError("<json>", f"not valid JSON: {e}") from None
        return cls.from_dict(data)

    def digest(self) -> str:
        """A short content hash; two configs with the same digest generate the same hardware."""
        return hashlib.sha256(self.to_json(indent=None).encode()).hexdigest()[:12]

    def replace(self, **changes) -> TatamiConfig:
        """A copy with fields changed; nested fields by dotted name: ``replace(**{"noc.vcs": 4})``."""
        return _replace_dotted(self, changes)


def _to_dict(obj):
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return [_to_dict(v) for v in obj]
    return obj


def _from_dict(cls, data, path: str):
    where = path or "<config>"
    if not isinstance(data, dict):
        raise ConfigError(where, f"must be an object, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{path}.{unknown[0]}" if path else unknown[0],
            f"unknown field (known: {', '.join(sorted(names))})",
        )
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        sub = f"{path}.{name}" if path else name
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[name] = _from_dict(hint, value, sub)
        elif _is_tuple_hint(hint):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(sub, f"must be a list, not {type(value).__name__}")
            kwargs[name] = _deep_tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _is_tuple_hint(hint) -> bool:
    return (
        typing.get_origin(hint) is tuple
        or hint is tuple
        or (isinstance(hint, types.GenericAlias) and hint.__origin__ is tuple)
    )


def _deep_tuple(value):
    if isinstance(value, (list, tuple)):
        return tuple(_deep_tuple(v) for v in value)
    return value


def _replace_dotted(obj, changes: dict):
    direct, nested = {}, {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if not any(f.name == head for f in fields(obj)):
            raise ConfigError(key, f"unknown field {head!r} of {type(obj).__name__}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        direct[head] = _replace_dotted(direct.get(head, getattr(obj, head)), sub)
    return replace(obj, **direct)


# ----- presets ---------------------------------------------------------------------------------


def _d1() -> TatamiConfig:
    # Follows the published per-cycle figures (see docs/architecture.md, "Config presets"):
    # 18 x 20 = 360 node positions of which 354 ship enabled; 64-byte links; 1.25 MB SRAM;
    # 512-bit vectors; an 8x8x4 matrix step = 256 MAC per cycle; 2 GHz.
    return TatamiConfig(
        name="d1",
        clock_hz=2_000_000_000,
        mesh=MeshConfig(width=18, height=20),
        noc=NocConfig(flit_bits=512, vcs=2, vc_depth=8, max_packet_flits=64, routing="table"),
        node=NodeConfig(
            sram=SramConfig(size_bytes=1_310_720, banks=16, word_bits=512, load_ports=2, store_ports=1),
            core=CoreConfig(threads=4),
            vector=VectorConfig(vlen_bits=512),
            matrix=MatrixConfig(m=8, n=8, k=4),
            fpu=FpuConfig(),
        ),
    )


def _fpga_2x2() -> TatamiConfig:
    # Fits an ECP5-85F (ULX3S): 2x2 nodes, 128-bit links, 64 KiB of block RAM per node,
    # a 2x2x2 matrix step, 128-bit vectors.
    return TatamiConfig(
        name="fpga-2x2",
        clock_hz=75_000_000,
        mesh=MeshConfig(width=2, height=2),
        noc=NocConfig(
            flit_bits=128,
            vcs=2,
            vc_depth=4,
            max_packet_flits=8,
            routing="table",
            buffers="fifo",  # LUT-RAM FIFOs, registered grants: routes at 75 MHz on ECP5, 3 cycles/hop
            router_stages=2,
        ),
        node=NodeConfig(
            sram=SramConfig(size_bytes=64 * 1024, banks=4, word_bits=128),
            core=CoreConfig(threads=4),
            vector=VectorConfig(vlen_bits=128),
            matrix=MatrixConfig(m=2, n=2, k=2),
            fpu=FpuConfig(cf16=False, add_stages=2, mul_stages=5, fma_stages=3, convert_stages=3),
        ),
    )


def _tiny() -> TatamiConfig:
    # Smallest useful machine, for fast tests.
    return TatamiConfig(
        name="tiny",
        clock_hz=100_000_000,
        mesh=MeshConfig(width=2, height=2),
        noc=NocConfig(flit_bits=128, vcs=2, vc_depth=2, max_packet_flits=4, routing="xy"),
        node=NodeConfig(
            sram=SramConfig(size_bytes=4 * 1024, banks=2, word_bits=128),
            core=CoreConfig(threads=2),
            vector=VectorConfig(vlen_bits=128),
            matrix=MatrixConfig(m=2, n=2, k=2),
            fpu=FpuConfig(cf16=False, add_stages=2, mul_stages=2, fma_stages=2, convert_stages=2),
        ),
    )


#: Named presets. Each value is a function so that callers always get a fresh, valid object.
PRESETS = {"d1": _d1, "fpga-2x2": _fpga_2x2, "tiny": _tiny}

#: The configuration the README's main command and ``tatami`` use when none is given.
DEFAULT_PRESET = "fpga-2x2"


def preset(name: str) -> TatamiConfig:
    """The named preset; raises :class:`ConfigError` listing the known names otherwise."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError("preset", f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None


def load_config(spec: str | Path) -> TatamiConfig:
    """A preset name, or the path of a JSON file written by :meth:`TatamiConfig.to_json`."""
    if isinstance(spec, str) and spec in PRESETS:
        return preset(spec)
    path = Path(spec)
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise ConfigError("<file>", f"no such config file: {path}")
        return TatamiConfig.from_json(path.read_text())
    raise ConfigError(
        "preset", f"unknown preset {spec!r}; known: {', '.join(PRESETS)} (or give the path of a .json config)"
    )
