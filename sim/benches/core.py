"""cocotb bench for the scalar core (:class:`tatami.hw.core.tile.CoreTile`): a host driver (load
memory through the host port, start and stop threads, drive interrupt lines and random
back-pressure), a retire-trace monitor, and a scoreboard that steps the golden model
(:class:`tatami.sim.core.model.CoreModel`) on every retired instruction and compares records.

The same driver serves the tests (tb/core) and ``tatami run`` / ``tatami bench core``
(:func:`run_program` below, selected with ``TATAMI_CORE_JOB``).

All signal access happens on the falling clock edge: outputs registered at the rising edge are
stable, and inputs written there take effect at the next rising edge.
"""

from __future__ import annotations

import json
import os
import random

from amaranth.lib import data

from tatami.hw.common.codec import Codec
from tatami.hw.core.bus import RetireRecord
from tatami.isa import Opcode
from tatami.sim.core.model import MEI, MSI, MTI, TIMING_CSRS, AccumulatorModel, CoreModel, Retire

__all__ = ["Mismatch", "TileDriver", "core_job", "run_program", "tile_design"]

_CODEC = Codec(data.Layout.cast(RetireRecord))


class Mismatch(AssertionError):
    """The RTL's retire trace differs from the golden model."""


def _tile_factory(cfg):
    from tatami.hw.core.tile import CoreTile

    return lambda: CoreTile(cfg)


def tile_design(cfg):
    """The ``CoreTile`` design for ``cfg``: every test and command uses this one, so a
    configuration is built once for all of them."""
    from tatami.sim.harness import Design

    return Design("core_tile", _tile_factory(cfg), cfg)


def to_retire(fields: dict) -> Retire:
    """A retire-port record as the model's :class:`Retire`."""
    mem = (fields["mem_addr"], fields["mem_wdata"], fields["mem_mask"]) if fields["mem_we"] else None
    trap = fields["cause"] if fields["trap"] else None
    return Retire(
        fields["thread"],
        fields["pc"],
        fields["insn"],
        fields["rd"],
        fields["rd_value"],
        mem,
        trap,
        fields["tval"] if fields["trap"] else 0,
    )


def _timing_csr_read(insn: int) -> bool:
    return insn & 0x7F == Opcode.SYSTEM and (insn >> 12) & 3 != 0 and (insn >> 20) in TIMING_CSRS


class TileDriver:
    """Host-side driver of a ``CoreTile`` under cocotb.

    ``model`` (optional) is stepped on each retired instruction and compared; ``on_retire``
    callbacks see every RTL record. ``stall_p`` is the probability that a bus refuses a request
    in a cycle.
    """

    def __init__(self, dut, cfg, *, model: CoreModel | None = None, stall_p: float = 0.0, rng=None):
        self.dut, self.cfg = dut, cfg
        self.threads = cfg.node.core.threads
        self.base = cfg.node.core.reset_pc
        self.model = model
        self.stall_p = stall_p
        self.rng = rng or random.Random()
        self.cycle = 0
        self._stalled = False
        self.retired = [0] * self.threads  # non-trapping retires per thread
        self.records: list[Retire] = []
        self.keep_records = False
        self.on_retire = []
        self.ignore_threads: set[int] = set()
        self.irq = {"irq_soft": 0, "irq_timer": 0, "irq_ext": 0}
        for name in (
            "start",
            "stop",
            "start_pc",
            "host_we",
            "host_addr",
            "host_wdata",
            "ibus_stall",
            "dbus_stall",
        ):
            getattr(dut, name).value = 0
        for name in self.irq:
            getattr(dut, name).value = 0
        dut.node.value = 0

    # ----- clock ---------------------------------------------------------------------------
    async def start_clock(self):
        import cocotb
        from cocotb.clock import Clock

        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())

    async def reset(self):
        from cocotb.triggers import FallingEdge

        self.dut.rst.value = 1
        for _ in range(2):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def tick(self):
        """One cycle: wait for the falling edge, check the retire port, draw back-pressure."""
        from cocotb.triggers import FallingEdge

        dut = self.dut
        await FallingEdge(dut.clk)
        self.cycle += 1
        if dut.retire__valid.value:
            raw = dut.retire__payload.value
            if not raw.is_resolvable:
                raise Mismatch(f"cycle {self.cycle}: the retire record has X/Z bits: {raw}")
            self._retire(to_retire(_CODEC.unpack(int(raw))))
        if self.stall_p:
            dut.ibus_stall.value = int(self.rng.random() < self.stall_p)
            dut.dbus_stall.value = int(self.rng.random() < self.stall_p)
        elif self._stalled:
            dut.ibus_stall.value = dut.dbus_stall.value = 0
        self._stalled = bool(self.stall_p)

    def _retire(self, rec: Retire):
        if rec.trap is None:
            self.retired[rec.thread] += 1
        if self.keep_records:
            self.records.append(rec)
        if self.model is not None and rec.thread not in self.ignore_threads:
            override = rec.rd_value if _timing_csr_read(rec.insn) else None
            want = self.model.step(rec.thread, rd_override=override)
            if want != rec:
                raise Mismatch(
                    f"cycle {self.cycle}: RTL and golden model differ\n  RTL:   {rec}\n  model: {want}"
                )
        for cb in self.on_retire:
            cb(rec)

    def debug_state(self) -> str:
        """Thread states of the core (for failure messages; needs the simulator's hierarchy)."""
        core = self.dut.core
        lines = []
        for t in range(self.threads):
            try:
                fields = {
                    n: int(getattr(core, f"{n}{t}").value) for n in ("st", "pc", "run", "rvalid", "pstart")
                }
            except (AttributeError, ValueError):
                return "(thread state not visible in this simulator)"
            lines.append(f"  thread {t}: " + " ".join(f"{k}={v:#x}" for k, v in fields.items()))
        return "\n".join(lines)

    # ----- host operations -----------------------------------------------------------------
    async def write_words(self, addr: int, words):
        dut = self.dut
        dut.host_we.value = 1
        for i, w in enumerate(words):
            dut.host_addr.value = addr - self.base + 4 * i
            dut.host_wdata.value = w
            await self.tick()
        dut.host_we.value = 0

    async def load(self, segments, *, fill_to: int | None = None):
        """Write ``(address, bytes)`` segments into the SRAM (and the model's)."""
        for addr, blob in segments:
            blob = bytes(blob)
            if len(blob) % 4 or addr % 4:
                pad = addr % 4
                addr -= pad
                blob = bytes(pad) + blob
                blob += bytes(-len(blob) % 4)
            words = [int.from_bytes(blob[i : i + 4], "little") for i in range(0, len(blob), 4)]
            await self.write_words(addr, words)
            if self.model is not None:
                self.model.write(addr, blob)

    async def read_words(self, addr: int, count: int) -> list[int]:
        dut = self.dut
        out = []
        for i in range(count + 1):
            if i < count:
                dut.host_addr.value = addr - self.base + 4 * i
            await self.tick()
            if i:
                out.append(int(dut.host_rdata.value))
        return out

    async def start(self, thread: int, pc: int):
        self.dut.start_pc.value = pc
        self.dut.start.value = 1 << thread
        if self.model is not None:
            self.model.start(thread, pc)
        await self.tick()
        self.dut.start.value = 0

    async def stop(self, mask: int):
        self.dut.stop.value = mask
        if self.model is not None:
            for t in range(self.threads):
                if mask >> t & 1:
                    self.model.stop(t)
        await self.tick()
        self.dut.stop.value = 0

    def running(self) -> int:
        return int(self.dut.running.value)

    def set_irq(self, thread: int, *, soft=None, timer=None, ext=None):
        """Drive interrupt lines of ``thread`` (None: unchanged); mirrored into the model."""
        for name, value, bit in (("irq_soft", soft, MSI), ("irq_timer", timer, MTI), ("irq_ext", ext, MEI)):
            if value is None:
                continue
            v = self.irq[name]
            v = (v | (1 << thread)) if value else (v & ~(1 << thread))
            self.irq[name] = v
            getattr(self.dut, name).value = v
            if self.model is not None:
                h = self.model.harts[thread]
                h.mip = (h.mip | bit) if value else (h.mip & ~bit)

    async def run_until(self, cond, max_cycles: int) -> bool:
        """Tick until ``cond()`` is true (True) or ``max_cycles`` pass (False)."""
        for _ in range(max_cycles):
            await self.tick()
            if cond():
                return True
        return False


def _tohost_watch(driver: TileDriver, tohost: int):
    state = {"value": None}

    def cb(rec: Retire):
        if rec.mem and rec.mem[0] == tohost & ~3 and state["value"] is None:
            state["value"] = rec.mem[1] >> (8 * (tohost & 3))

    driver.on_retire.append(cb)
    return state


async def run_program(dut):
    """``tatami run`` / ``tatami bench core`` job: load an ELF, run it, write a JSON result.

    Environment: ``TATAMI_CORE_JOB`` (JSON: ``elf``, ``max_cycles``, ``threads_to_start``,
    ``result``, ``check``).
    """
    from tatami.asm import load_elf
    from tatami.sim.cocotb_env import design_config

    job = json.loads(os.environ["TATAMI_CORE_JOB"])
    cfg = design_config()
    image = load_elf(job["elf"])
    model = CoreModel(cfg, custom=AccumulatorModel(cfg.node.core.threads)) if job.get("check") else None
    drv = TileDriver(dut, cfg, model=model)
    await drv.start_clock()
    await drv.reset()
    for seg in image.segments:
        await drv.load([(seg.address, seg.padded())])
    tohost = image.symbols.get("tohost")
    watch = _tohost_watch(drv, tohost) if tohost is not None else {"value": None}
    start_cycle = drv.cycle
    for t in range(job.get("threads_to_start", 1)):
        await drv.start(t, image.entry)
    if tohost is not None:
        finished = await drv.run_until(lambda: watch["value"] is not None, job["max_cycles"])
    else:
        finished = await drv.run_until(lambda: drv.running() == 0, job["max_cycles"])
    cycles = drv.cycle - start_cycle
    # let the last instructions in flight retire
    await drv.run_until(lambda: False, 4)
    result = {
        "finished": finished,
        "tohost": watch["value"],
        "cycles": cycles,
        "retired": sum(drv.retired),
        "retired_per_thread": drv.retired,
        "running": drv.running(),
    }
    with open(job["result"], "w") as f:
        json.dump(result, f)


try:
    import cocotb

    @cocotb.test()
    async def core_job(dut):
        """The job ``TATAMI_CORE_JOB`` describes (``tatami run``, ``tatami bench core``)."""
        await run_program(dut)

except ImportError:  # pragma: no cover - cocotb is a dependency
    pass
