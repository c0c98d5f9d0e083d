"""Hierarchy that survives Verilog generation.

Amaranth writes one Verilog module per *instance* of an elaboratable, so a mesh of W x H identical
nodes would carry W x H copies of the node. :func:`shared` breaks that: it generates the unit's
Verilog once per distinct (class, parameters) and stands in for each instance with an
:class:`~amaranth.hdl.Instance` of that module. :func:`tatami.sim.harness.generate_verilog` then
appends each module the design instantiates, once.

Units to be shared must take everything that differs between positions (a router's coordinates,
say) as input ports, not as constructor parameters, so that all positions are one module.

Inside :func:`flat` (used by Amaranth's own simulator and by formal proofs, which cannot see
inside an ``Instance``) a shared unit is elaborated in place instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Instance, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["SharedModule", "flat", "module_verilog", "registered_modules", "shared"]

# module name -> (verilog text, port names, signature)
_REGISTRY: dict[str, tuple[str, frozenset, wiring.Signature]] = {}
_LOCK = threading.Lock()
_state = threading.local()


def _flat() -> bool:
    return getattr(_state, "flat", False)


@contextlib.contextmanager
def flat():
    """Within this block, :func:`shared` units elaborate in place (no ``Instance``)."""
    old = _flat()
    _state.flat = True
    try:
        yield
    finally:
        _state.flat = old


def _module_name(cls, args, kwargs) -> str:
    key = repr((cls.__module__, cls.__qualname__, args, sorted(kwargs.items())))
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    return f"tatami_{snake}_{digest}"


def _port_names(text: str, name: str) -> frozenset:
    match = re.search(rf"^module\s+{re.escape(name)}\s*\((.*?)\);", text, re.M | re.S)
    if match is None:
        raise RuntimeError(f"generated Verilog has no module {name}")
    return frozenset(p.strip() for p in match.group(1).split(",") if p.strip())


def shared(cls, *args, **kwargs) -> wiring.Component:
    """An instance of ``cls(*args, **kwargs)`` whose Verilog module is generated once.

    ``args`` and ``kwargs`` must have a deterministic ``repr`` (configs do): it names the module.
    """
    if _flat():
        return cls(*args, **kwargs)
    name = _module_name(cls, args, kwargs)
    with _LOCK:
        if name not in _REGISTRY:
            # Built only on a miss: the unit is elaborated once per process, however many
            # positions use it.
            inner = cls(*args, **kwargs)
            text = verilog.convert(inner, name=name, emit_src=False)
            _REGISTRY[name] = (text, _port_names(text, name), inner.signature)
        signature = _REGISTRY[name][2]
    return SharedModule(signature, name)


class SharedModule(wiring.Component):
    """Stands for one instance of a module registered by :func:`shared`; same signature as the
    unit it replaces."""

    def __init__(self, signature: wiring.Signature, module_name: str):
        self.module_name = module_name
        super().__init__(signature)

    def elaborate(self, platform):
        _, ports, _ = _REGISTRY[self.module_name]
        conns = {}
        if "clk" in ports:
            conns["i_clk"] = ClockSignal()
        if "rst" in ports:
            conns["i_rst"] = ResetSignal()
        for path, member, value in self.signature.flatten(self):
            port = "__".join(str(p) for p in path)
            if port not in ports:
                continue  # Amaranth removes ports the unit never uses
            conns[("i_" if member.flow == In else "o_") + port] = value
        # Returned as the fragment itself, so the instance sits directly in the parent module
        # (no wrapper module per position).
        return Instance(self.module_name, **conns)


def registered_modules() -> dict[str, str]:
    """Module name -> Verilog text of every shared module generated so far in this process."""
    with _LOCK:
        return {name: entry[0] for name, entry in _REGISTRY.items()}


def module_verilog(name: str) -> str:
    return _REGISTRY[name][0]
