"""What a cocotb testbench reads from the harness, and small shared testbench helpers.

The harness (:mod:`tatami.sim.harness`) passes the design's ``meta.json`` to the simulator process
in ``TATAMI_DESIGN_META``; these functions read it back so a testbench sees the same config and
parameters the RTL was generated from.
"""

from __future__ import annotations

import functools
import json
import os
import random

from tatami.config import TatamiConfig

__all__ = [
    "BackPressure",
    "StreamSink",
    "StreamSource",
    "clock_and_reset",
    "design_config",
    "design_meta",
    "design_params",
    "knob",
]


@functools.cache
def design_meta() -> dict:
    path = os.environ.get("TATAMI_DESIGN_META")
    if not path:
        raise RuntimeError("TATAMI_DESIGN_META is not set: run this testbench through tatami.sim.harness")
    with open(path) as f:
        return json.load(f)


def design_config() -> TatamiConfig:
    cfg = design_meta()["config"]
    if cfg is None:
        raise RuntimeError("this design was generated without a config")
    return TatamiConfig.from_dict(cfg)


def design_params() -> dict:
    return design_meta()["params"]


def knob(name: str, default: int) -> int:
    """An integer test knob from the environment (``TATAMI_<NAME>``), small by default for CI."""
    return int(os.environ.get(f"TATAMI_{name.upper()}", default))


async def clock_and_reset(dut, period_ns: int = 10, cycles: int = 2):
    """Start ``dut.clk`` and pulse ``dut.rst`` for ``cycles`` cycles."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge

    cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class BackPressure:
    """A random on/off pattern for ``valid`` or ``ready``: on with probability ``p`` each cycle.
    ``p=1`` never stalls. Drawn from ``random`` (seeded by cocotb), so a seed reproduces a run."""

    def __init__(self, p: float = 0.5, rng: random.Random | None = None):
        if not 0 < p <= 1:
            raise ValueError(f"probability must be in (0, 1], not {p}")
        self.p, self.rng = p, rng or random

    def __call__(self) -> bool:
        return self.p >= 1 or self.rng.random() < self.p


def _sig(dut, name):
    try:
        return getattr(dut, name)
    except AttributeError:
        raise AttributeError(f"the design has no port {name!r}") from None


class StreamSource:
    """Drives an Amaranth stream port (``<prefix>__valid/ready/payload``) from a list of items.

    ``valid`` is raised on the cycles ``pressure()`` says and never waits for ``ready`` (the
    Amaranth stream rule); an item is sent when ``valid`` and ``ready`` are both high at a rising
    edge.
    """

    def __init__(self, dut, prefix: str, pressure: BackPressure | None = None, clk=None):
        self.clk = clk if clk is not None else dut.clk
        self.valid = _sig(dut, f"{prefix}__valid")
        self.ready = _sig(dut, f"{prefix}__ready")
        self.payload = _sig(dut, f"{prefix}__payload")
        self.pressure = pressure or BackPressure(1.0)
        self.sent = 0
        self.valid.value = 0

    async def send(self, items):
        from cocotb.triggers import ReadOnly, RisingEdge

        for item in items:
            while not self.pressure():
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = int(item)
            while True:
                await ReadOnly()
                done = bool(self.ready.value)
                await RisingEdge(self.clk)
                if done:
                    break
            self.sent += 1
        self.valid.value = 0


class StreamSink:
    """Accepts items from a stream port with a random ``ready`` pattern; collects them in
    ``items`` (ints). Runs until :meth:`stop`."""

    def __init__(self, dut, prefix: str, pressure: BackPressure | None = None, clk=None, on_item=None):
        self.clk = clk if clk is not None else dut.clk
        self.valid = _sig(dut, f"{prefix}__valid")
        self.ready = _sig(dut, f"{prefix}__ready")
        self.payload = _sig(dut, f"{prefix}__payload")
        self.pressure = pressure or BackPressure(1.0)
        self.items: list[int] = []
        self.on_item = on_item
        self._stop = False
        self.ready.value = 0

    def stop(self):
        self._stop = True

    async def run(self):
        from cocotb.triggers import ReadOnly, RisingEdge

        while not self._stop:
            self.ready.value = int(self.pressure())
            await ReadOnly()
            if self.valid.value and self.ready.value:
                item = int(self.payload.value)
                self.items.append(item)
                if self.on_item:
                    self.on_item(item)
            await RisingEdge(self.clk)
        self.ready.value = 0

    async def wait_for(self, count: int, timeout_cycles: int):
        """Wait until ``count`` items arrived; fail after ``timeout_cycles`` cycles."""
        from cocotb.triggers import RisingEdge

        for _ in range(timeout_cycles):
            if len(self.items) >= count:
                return
            await RisingEdge(self.clk)
        raise AssertionError(
            f"timed out after {timeout_cycles} cycles with {len(self.items)} of {count} items received"
        )
