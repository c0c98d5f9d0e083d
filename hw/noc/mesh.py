"""A W x H mesh of routers, generated hierarchically (the router once, instantiated W*H times; or,
with ``trim_edges``, once per kind of place: corner, edge, middle)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tatami.config import TatamiConfig
from tatami.hw.common import hier

from .ports import DropReason, Port, node_index
from .router import DROP_COUNTER_BITS, LinkSignature, Router, check_config

__all__ = ["Mesh"]

_EDGES = {
    "n": ("s", lambda w, h: w),
    "s": ("n", lambda w, h: w),
    "e": ("w", lambda w, h: h),
    "w": ("e", lambda w, h: h),
}


class Mesh(wiring.Component):
    """Routers linked N/E/S/W; node ``k = y * width + x`` attaches at ``inject[k]`` / ``eject[k]``.

    Parameters
    ----------
    cfg : TatamiConfig
        Mesh size, dead nodes and links, NoC parameters.
    expose_edges : bool
        ``False``: links off the mesh edge are tied off (nothing arrives, nothing is routed there).
        ``True``: they are ports, ``i_edge_<d>[k]`` / ``o_edge_<d>[k]`` for side ``d`` in n, e, s, w,
        ``k`` counting along the side from the north-west (for chip-to-chip links and the host bridge).
    trim_edges : bool
        ``True``: each router is built for its place (:class:`Router` ``inputs``/``outputs``): the
        ports off the mesh edge have no buffers, arbiters or counters (edge inputs stay with
        ``expose_edges``). Up to nine router modules instead of one; same behaviour. The FPGA
        builds use it (smaller and shorter allocation paths); simulations keep the one module.

    Attributes
    ----------
    inject : In(LinkSignature(cfg)).array(nodes)
        Each node's link into its router's local port.
    eject : Out(LinkSignature(cfg)).array(nodes)
        Each router's local port out to its node.
    use_table, table_we, table_router, table_addr, table_data : In
        Routing-table load port (``routing == "table"``): entry ``table_addr`` of router
        ``table_router`` gets ``table_data``; ``use_table`` switches every router from XY to its table.
    drops : Out(ArrayLayout(16, 7)).array(nodes), drop_flags : Out(7).array(nodes)
        Each router's admission drop counters and sticky flags.
    misroutes : Out(16).array(nodes)
        Each router's count of packets dropped for a route that names no usable port (zero with
        verified tables).
    """

    def __init__(
        self,
        cfg: TatamiConfig,
        *,
        expose_edges: bool = False,
        trim_edges: bool = False,
        _mutation: str | None = None,
    ):
        if not isinstance(cfg, TatamiConfig):
            raise TypeError(f"Mesh needs a TatamiConfig, not {cfg!r}")
        check_config(cfg)
        self.cfg = cfg
        self._mutation = _mutation  # (tests: a deliberately broken router, see router.MUTATIONS)
        self.expose_edges = bool(expose_edges)
        self.trim_edges = bool(trim_edges)
        mesh = cfg.mesh
        members = {
            "inject": In(LinkSignature(cfg)).array(mesh.nodes),
            "eject": Out(LinkSignature(cfg)).array(mesh.nodes),
        }
        if cfg.noc.routing == "table":
            members.update(
                {
                    "use_table": In(1),
                    "table_we": In(1),
                    "table_router": In(range(mesh.nodes)),
                    "table_addr": In(range(mesh.nodes)),
                    "table_data": In(Port),
                }
            )
        members["drops"] = Out(data.ArrayLayout(DROP_COUNTER_BITS, len(DropReason))).array(mesh.nodes)
        members["drop_flags"] = Out(len(DropReason)).array(mesh.nodes)
        members["misroutes"] = Out(DROP_COUNTER_BITS).array(mesh.nodes)
        if self.expose_edges:
            for side, (_, count) in _EDGES.items():
                n = count(mesh.width, mesh.height)
                members[f"i_edge_{side}"] = In(LinkSignature(cfg)).array(n)
                members[f"o_edge_{side}"] = Out(LinkSignature(cfg)).array(n)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, mesh = self.cfg, self.cfg.mesh
        w, h = mesh.width, mesh.height
        routers = {}
        mutation = {"_mutation": self._mutation} if self._mutation else {}
        for y in range(h):
            for x in range(w):
                k = node_index(x, y, w)
                if self.trim_edges:
                    linked = "".join(
                        d for d, ok in (("n", y > 0), ("e", x + 1 < w), ("s", y + 1 < h), ("w", x > 0)) if ok
                    )
                    inputs = "nesw" if self.expose_edges else linked
                    r = hier.shared(Router, cfg, inputs=inputs, outputs=linked, **mutation)
                else:
                    r = hier.shared(Router, cfg, **mutation)  # one Router module, instantiated W x H times
                m.submodules[f"router_{x}_{y}"] = r
                routers[(x, y)] = r
                m.d.comb += [r.x.eq(x), r.y.eq(y)]
                wiring.connect(m, wiring.flipped(self.inject[k]), r.i_l)
                wiring.connect(m, r.o_l, wiring.flipped(self.eject[k]))
                m.d.comb += [
                    self.drops[k].eq(r.drops),
                    self.drop_flags[k].eq(r.drop_flags),
                    self.misroutes[k].eq(r.misroutes),
                ]
                if cfg.noc.routing == "table":
                    m.d.comb += [
                        r.use_table.eq(self.use_table),
                        r.table_we.eq(self.table_we & (self.table_router == k)),
                        r.table_addr.eq(self.table_addr),
                        r.table_data.eq(self.table_data),
                    ]
        for (x, y), r in routers.items():
            if x + 1 < w:
                east = routers[(x + 1, y)]
                wiring.connect(m, r.o_e, east.i_w)
                wiring.connect(m, east.o_w, r.i_e)
            if y + 1 < h:
                south = routers[(x, y + 1)]
                wiring.connect(m, r.o_s, south.i_n)
                wiring.connect(m, south.o_n, r.i_s)
        if self.expose_edges:
            for side in _EDGES:
                ports_in, ports_out = getattr(self, f"i_edge_{side}"), getattr(self, f"o_edge_{side}")
                if side in ("n", "s"):
                    row = 0 if side == "n" else h - 1
                    edge = [routers[(x, row)] for x in range(w)]
                else:
                    col = w - 1 if side == "e" else 0
                    edge = [routers[(col, y)] for y in range(h)]
                for k, r in enumerate(edge):
                    wiring.connect(m, wiring.flipped(ports_in[k]), getattr(r, f"i_{side}"))
                    wiring.connect(m, getattr(r, f"o_{side}"), wiring.flipped(ports_out[k]))
        return m
