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
from tatami.hw.core.bus import MemRequest, MemResponse, RetireRecord
from tatami.hw.mem.ports import inject_layout
from tatami.isa import Opcode
from tatami.sim.core.model import MEI, MSI, MTI, TIMING_CSRS, AccumulatorModel, CoreModel, Retire
from tatami.sim.mem.ecc import WordCode

__all__ = [
    "Mismatch",
    "TileDriver",
    "core_job",
    "cosim_random",
    "expected_word",
    "random_cosim_job",
    "run_program",
    "run_traces",
    "tile_design",
]

_CODEC = Codec(data.Layout.cast(RetireRecord))
_MEM_REQ = Codec(data.Layout.cast(MemRequest))
_MEM_RESP = Codec(data.Layout.cast(MemResponse))
CLOCK_NS = 10


class Mismatch(AssertionError):
    """The RTL's retire trace differs from the golden model."""


def _tile_factory(cfg, trace_depth=0):
    from tatami.hw.core.tile import CoreTile

    return lambda: CoreTile(cfg, trace_depth=trace_depth)


#: Retire-log entries of the co-simulation tile (:func:`tile_design` with ``trace=True``).
TRACE_DEPTH = 1024


def tile_design(cfg, *, trace: bool = False):
    """The ``CoreTile`` design for ``cfg``: every test and command uses this one, so a
    configuration is built once for all of them. ``trace``: the co-simulation variant with the
    retire log and built-in random back-pressure (a separate build)."""
    from tatami.sim.harness import Design

    if trace:
        return Design("core_tile_trace", _tile_factory(cfg, TRACE_DEPTH), cfg, {"trace_depth": TRACE_DEPTH})
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
        self.host_responses: list[tuple[int, int]] = []  # (rdata, err) of the host bus, in order
        s = cfg.node.sram
        self.sram = s
        self.word_code = WordCode(s.word_bits, ecc=s.ecc)
        for name in (
            "start",
            "stop",
            "start_pc",
            "host__req__valid",
            "inject__valid",
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

        cocotb.start_soon(Clock(self.dut.clk, CLOCK_NS, unit="ns").start())

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
        if dut.host__resp__valid.value:
            r = _MEM_RESP.unpack(int(dut.host__resp__payload.value))
            self.host_responses.append((r["rdata"], r["err"]))
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
    async def _host_request(self, addr: int, wdata: int, we: bool) -> None:
        """Offer one request on the host bus and return once it has been accepted."""
        from cocotb.triggers import Timer

        dut = self.dut
        dut.host__req__payload.value = _MEM_REQ.pack(
            {"addr": addr, "wdata": wdata, "mask": 0xF, "we": int(we)}
        )
        dut.host__req__valid.value = 1
        await Timer(1, "ns")  # let the request settle: ready now tells whether the next edge takes it
        while not dut.host__req__ready.value:
            await self.tick()
        await self.tick()
        dut.host__req__valid.value = 0

    async def _host_responses(self, count: int, what: str) -> list[tuple[int, int]]:
        for _ in range(1000):
            if len(self.host_responses) >= count:
                break
            await self.tick()
        got, self.host_responses = self.host_responses[:count], self.host_responses[count:]
        if len(got) < count:
            raise Mismatch(f"host {what}: {len(got)} of {count} responses within 1000 cycles")
        bad = [i for i, (_, err) in enumerate(got) if err]
        if bad:
            raise Mismatch(f"host {what}: error response for word {bad[0]}")
        return got

    async def write_words(self, addr: int, words):
        """Write 32-bit words from byte address ``addr`` through the host bus (one read-modify-write
        each)."""
        self.host_responses.clear()
        words = list(words)
        for i, w in enumerate(words):
            await self._host_request(addr + 4 * i, w, True)
        await self._host_responses(len(words), f"write at {addr:#x}")

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

    def poke_words(self, words: dict[int, int]) -> bool:
        """Write 32-bit words (``{byte address: word}``) straight into the SRAM banks through the
        simulator (no clock cycles), ECC encoded; the other words sharing an SRAM word keep their
        contents. False when the simulator does not expose the banks (then use
        :meth:`write_words`). The writes take effect at the end of the current time step, so give
        all the words of one time step in one call."""
        s = self.sram
        per = s.word_bytes // 4
        rows: dict[int, dict[int, int]] = {}
        for a, w in words.items():
            off = (a - self.base) // 4
            rows.setdefault(off // per, {})[off % per] = w
        try:
            sram = self.dut.sram
            for index, slots in rows.items():
                handle = getattr(sram, f"bank{index % s.banks}")[index // s.banks]
                old = 0
                if len(slots) < per:
                    try:
                        old = self.word_code.decode(int(handle.value))[0]
                    except ValueError:  # never written: X
                        old = 0
                for k, w in slots.items():
                    old = old & ~(0xFFFF_FFFF << 32 * k) | w << 32 * k
                handle.value = self.word_code.encode(old)
        except (AttributeError, IndexError, TypeError, NotImplementedError):
            return False
        return True

    async def load_fast(self, segments) -> None:
        """:meth:`load` through :meth:`poke_words` where the simulator allows it (the golden
        model is not written: use it for precomputed traces)."""
        words = {}
        for addr, blob in segments:
            first, ws = _words(addr, blob)
            words.update({first + 4 * i: w for i, w in enumerate(ws)})
        self.backdoor = self.poke_words(words)
        if not self.backdoor:
            for addr, blob in segments:
                await self.write_words(*_words(addr, blob))

    async def read_words(self, addr: int, count: int) -> list[int]:
        """Read ``count`` 32-bit words from byte address ``addr`` through the host bus."""
        self.host_responses.clear()
        for i in range(count):
            await self._host_request(addr + 4 * i, 0, False)
        return [r for r, _ in await self._host_responses(count, f"read at {addr:#x}")]

    async def inject(self, addr: int, flips) -> None:
        """Flip stored bits of the SRAM word holding byte address ``addr`` through the SRAM's
        injection hook: its current data (read through the host bus) is rewritten with the bits
        ``flips`` (stored-bit indexes, :func:`tatami.hw.mem.ports.inject_layout`) inverted."""
        from cocotb.triggers import Timer

        s = self.sram
        per = s.word_bytes // 4
        first = addr - (addr - self.base) % s.word_bytes
        words = await self.read_words(first, per)
        value = sum(w << 32 * i for i, w in enumerate(words))
        codec = Codec(inject_layout(self.cfg))
        flip = sum(1 << b for b in flips)
        dut = self.dut
        dut.inject__payload.value = codec.pack(
            {"addr": (first - self.base) // s.word_bytes, "data": value, "flip": flip}
        )
        dut.inject__valid.value = 1
        await Timer(1, "ns")
        while not dut.inject__ready.value:
            await self.tick()
        await self.tick()
        dut.inject__valid.value = 0
        await self.tick()

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


def _words(addr: int, blob) -> tuple[int, list[int]]:
    blob = bytes(blob)
    pad = addr % 4
    blob = bytes(pad) + blob + bytes(-(pad + len(blob)) % 4)
    return addr - pad, [int.from_bytes(blob[i : i + 4], "little") for i in range(0, len(blob), 4)]


# ----- random co-simulation ------------------------------------------------------------------
_FIELDS = {name: (offset, width) for name, offset, width, *_ in _CODEC._fields}
_THREAD_MASK = (1 << _FIELDS["thread"][1]) - 1
assert _FIELDS["thread"][0] == 0


def _field_mask(*names) -> int:
    return sum(((1 << _FIELDS[n][1]) - 1) << _FIELDS[n][0] for n in names)


_ALL = (1 << _CODEC.width) - 1
_NO_MEM = _ALL & ~_field_mask("mem_addr", "mem_wdata", "mem_mask")
_NO_TRAP = ~_field_mask("cause", "tval")


def expected_word(rec: Retire) -> tuple[int, int]:
    """``(value, care mask)`` of the retire-port word the RTL must show for ``rec``: the fields
    :func:`to_retire` compares (store fields only for a store, cause and tval only for a trap)."""
    f = _FIELDS  # the codec's layout, packed inline: this runs for every expected instruction
    word = (
        rec.thread << f["thread"][0]
        | rec.pc << f["pc"][0]
        | rec.insn << f["insn"][0]
        | rec.rd << f["rd"][0]
        | rec.rd_value << f["rd_value"][0]
    )
    mask = _ALL
    if rec.mem:
        addr, wdata, lanes = rec.mem
        word |= 1 << f["mem_we"][0] | addr << f["mem_addr"][0] | wdata << f["mem_wdata"][0]
        word |= lanes << f["mem_mask"][0]
    else:
        mask &= _NO_MEM
    if rec.trap is not None:
        word |= 1 << f["trap"][0] | rec.trap << f["cause"][0] | rec.tval << f["tval"][0]
    else:
        mask &= _NO_TRAP
    return word, mask


async def run_traces(drv: TileDriver, programs, traces, *, max_cycles: int) -> int:
    """Run random ``programs`` (one per thread, :mod:`tatami.sim.core.randgen`) on the RTL and
    compare every retired instruction with the golden model's ``traces`` of them; returns the
    cycles from start until the last thread's ``done`` store.

    Reset, load (through the simulator where possible, else the host port), start every thread
    (the host port), then compare each retire word, masked, with the expected word: from the
    tile's retire log every ``TRACE_DEPTH // 8`` cycles when it has one (``tile_design(cfg,
    trace=True)``, back-pressure by its own generator), else in a tight loop every cycle.
    Precomputed traces are exact here because the programs' threads share nothing (own SRAM
    slices, own accumulators) and read no timing CSRs; interleaving does not change what each
    thread retires. Raises :class:`Mismatch` on the first difference.
    """
    from cocotb.triggers import FallingEdge

    dut = drv.dut
    expected = [[expected_word(r) for r in trace] for trace in traces]
    logged = hasattr(dut, "retire_count")
    p = drv.stall_p
    dut.ibus_stall.value = dut.dbus_stall.value = 0
    if logged:  # the tile's own generator makes the back-pressure, seeded while the rate is 0
        dut.stall_rate.value = 0
        dut.stall_seed.value = drv.rng.getrandbits(32)
        drv.stall_p = 0.0
    try:
        await drv.reset()
        for prog in programs:
            await drv.load_fast(prog.segments)
        for prog in programs:
            await drv.start(prog.thread, prog.entry)
    finally:
        drv.stall_p = p
    pos = [0] * drv.threads
    ends = [len(e) for e in expected] + [0] * (drv.threads - len(expected))
    remaining = sum(1 for n in ends if n)
    if logged:
        return await _run_logged(drv, expected, traces, pos, ends, remaining, max_cycles)
    edge = FallingEdge(dut.clk)
    valid, payload = dut.retire__valid, dut.retire__payload
    istall, dstall = dut.ibus_stall, dut.dbus_stall
    rand = drv.rng.random
    stalled = (0, 0)
    for cycle in range(1, max_cycles + 1):
        await edge
        if valid.value and _check_record(payload.value, "cycle", cycle, expected, traces, pos, ends):
            remaining -= 1
            if not remaining:
                drv.cycle += cycle
                return cycle
        if p:
            s = (int(rand() < p), int(rand() < p))
            if s != stalled:
                istall.value, dstall.value = s
                stalled = s
    drv.cycle += max_cycles
    late = {t: f"{pos[t]}/{ends[t]}" for t in range(len(ends)) if pos[t] < ends[t]}
    raise Mismatch(
        f"threads {sorted(late)} did not finish in {max_cycles} cycles (retired/expected {late})"
        f"\n{drv.debug_state()}"
    )


def _check_record(value, what, n, expected, traces, pos, ends) -> bool:
    """Compare one retire record (a simulator value; ``what n`` names it in errors, e.g. "cycle 12")
    with the next expected one of its thread and advance that thread; True when the thread has just
    retired its last expected instruction."""
    try:
        raw = int(value)
    except ValueError:
        raise Mismatch(f"{what} {n}: the retire record has X/Z bits: {value}") from None
    t = raw & _THREAD_MASK
    i = pos[t]
    if i >= ends[t]:
        return False
    want, mask = expected[t][i]
    if raw & mask != want:
        raise Mismatch(
            f"{what} {n}: RTL and golden model differ at instruction {i} of thread {t}\n"
            f"  RTL:   {to_retire(_CODEC.unpack(raw))}\n  model: {traces[t][i]}"
        )
    pos[t] = i + 1
    return i + 1 == ends[t]


async def _run_logged(drv, expected, traces, pos, ends, remaining, max_cycles):
    """:func:`run_traces` on the tile's retire log: wake up every ``TRACE_DEPTH // 8`` cycles and
    compare the records logged meanwhile (at most one per cycle, so none is overwritten)."""
    from cocotb.triggers import Timer

    dut = drv.dut
    log, count = dut.retire_log, dut.retire_count
    dut.stall_rate.value = round(drv.stall_p * 256)
    chunk = TRACE_DEPTH // 8
    # One simulator timer, not a Python wake-up per cycle (ClockCycles awaits every edge); from
    # a falling edge it ends on a falling edge, where every register is settled.
    wait = Timer(chunk * CLOCK_NS, "ns")
    seen = cycle = 0
    try:
        while cycle < max_cycles:
            await wait
            cycle += chunk
            n = int(count.value)
            for k in range(seen, n):
                if _check_record(log[k % TRACE_DEPTH].value, "record", k, expected, traces, pos, ends):
                    remaining -= 1
            seen = n
            if not remaining:
                drv.cycle += cycle
                return cycle
    finally:
        dut.stall_rate.value = 0
    drv.cycle += cycle
    late = {t: f"{pos[t]}/{ends[t]}" for t in range(len(ends)) if pos[t] < ends[t]}
    raise Mismatch(
        f"threads {sorted(late)} did not finish in {max_cycles} cycles (retired/expected {late})"
        f"\n{drv.debug_state()}"
    )


async def cosim_random(dut, cfg, first_seed: int, count: int, *, log=None, stop_on_divergence=True) -> dict:
    """Co-simulate random programs with seeds ``first_seed .. first_seed + count - 1``: each
    seed's programs (one per thread) are checked on the golden model against unicorn, then run
    on the RTL (:func:`run_traces`) under random back-pressure. One seed in four adds misaligned
    jump targets and custom instructions and is compared RTL vs golden model only (unicorn has
    RVC and no custom unit). Returns counts; divergent seeds are listed (the first one raises
    :class:`Mismatch` when ``stop_on_divergence``)."""
    import time

    from tatami.sim.core.cosim import Divergence, random_programs, reference_traces
    from tatami.sim.core.randgen import GenOptions

    drv = TileDriver(dut, cfg, rng=random.Random(first_seed))
    await drv.start_clock()
    stats = {
        "first_seed": first_seed,
        "count": count,
        "runs": 0,
        "programs": 0,
        "unicorn_programs": 0,
        "instructions": 0,
        "unicorn_instructions": 0,
        "cycles": 0,
        "divergences": 0,
        "divergent_seeds": [],
    }
    start = time.perf_counter()
    for seed in range(first_seed, first_seed + count):
        special = seed % 4 == 3
        opts = GenOptions(misaligned_jumps=special, custom=special)
        drv.rng.seed(seed)
        drv.stall_p = drv.rng.choice((0.0, 0.0, 0.2, 0.5))
        try:
            programs = random_programs(cfg, seed, opts)
            traces = reference_traces(cfg, programs, unicorn=not special)
            n = sum(len(t) for t in traces)
            longest = max(len(t) for t in traces)
            stats["cycles"] += await run_traces(drv, programs, traces, max_cycles=60 * longest + 2000)
        except (Mismatch, Divergence) as e:
            stats["divergences"] += 1
            stats["divergent_seeds"].append(seed)
            msg = f"seed {seed} ({cfg.node.core.threads} threads): {e}"
            if log:
                log(f"DIVERGENCE {msg}")
            if stop_on_divergence:
                raise Mismatch(msg) from e
            continue
        stats["runs"] += 1
        stats["programs"] += len(programs)
        stats["instructions"] += n
        if not special:
            stats["unicorn_programs"] += len(programs)
            stats["unicorn_instructions"] += n
        done = seed - first_seed + 1
        if log and done % 1000 == 0:
            log(
                f"{done} seeds, {stats['programs']} programs, {stats['instructions']} instructions, "
                f"{stats['divergences']} divergences"
            )
    stats["seconds"] = round(time.perf_counter() - start, 1)
    stats["loaded"] = "sram array" if getattr(drv, "backdoor", False) else "host port"
    return stats


async def cosim_job(dut):
    """``tatami cosim`` job: ``TATAMI_COSIM_JOB`` (JSON: ``first_seed``, ``count``, ``result``)."""
    from tatami.sim.cocotb_env import design_config

    job = json.loads(os.environ["TATAMI_COSIM_JOB"])
    stats = await cosim_random(
        dut, design_config(), job["first_seed"], job["count"], log=dut._log.info, stop_on_divergence=False
    )
    with open(job["result"], "w") as f:
        json.dump(stats, f)


def _tohost_watch(driver: TileDriver, tohost: int):
    state = {"value": None}

    def cb(rec: Retire):
        if rec.mem and rec.mem[0] == tohost & ~3 and state["value"] is None:
            state["value"] = rec.mem[1] >> (8 * (tohost & 3))

    driver.on_retire.append(cb)
    return state


async def _run_one(drv: TileDriver, cfg, path: str, job: dict) -> dict:
    """Reset the tile, load ``path`` (straight into the SRAM banks where the simulator allows it),
    start ``threads_to_start`` threads at its entry and run until it writes ``tohost`` (or, without
    the symbol, until every thread has stopped) or ``max_cycles``."""
    from tatami.asm import load_elf

    image = load_elf(path, allow_rvc=True)
    drv.model = CoreModel(cfg, custom=AccumulatorModel(cfg.node.core.threads)) if job.get("check") else None
    drv.on_retire = []
    drv.retired = [0] * drv.threads
    await drv.reset()
    segments = [(seg.address, seg.padded()) for seg in image.segments]
    await drv.load_fast(segments)
    if drv.model is not None:
        for addr, blob in segments:
            drv.model.write(addr, bytes(blob))
    # the core clears its register file after reset (32 x threads cycles): start after it, so the
    # cycle count is the program's (the host-bus load used to cover it)
    await drv.run_until(lambda: False, 32 * drv.threads + 1)
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
    return {
        "elf": path,
        "finished": finished,
        "tohost": watch["value"],
        "cycles": cycles,
        "retired": sum(drv.retired),
        "retired_per_thread": list(drv.retired),
        "running": drv.running(),
    }


async def run_program(dut):
    """``tatami run`` / ``tatami bench core`` job: run ELF programs one after the other (the tile
    reset between them; the SRAM is not cleared, each program's segments are loaded over the
    previous contents) and write a JSON list of results.

    Environment: ``TATAMI_CORE_JOB`` (JSON: ``elfs``, ``max_cycles``, ``threads_to_start``,
    ``result``, ``check``).
    """
    from tatami.sim.cocotb_env import design_config

    job = json.loads(os.environ["TATAMI_CORE_JOB"])
    cfg = design_config()
    drv = TileDriver(dut, cfg)
    await drv.start_clock()
    results = []
    for path in job["elfs"]:
        results.append(await _run_one(drv, cfg, path, job))
        with open(job["result"], "w") as f:  # (kept up to date: a failing run still reports the rest)
            json.dump(results, f)


try:
    import cocotb

    @cocotb.test()
    async def core_job(dut):
        """The job ``TATAMI_CORE_JOB`` describes (``tatami run``, ``tatami bench core``)."""
        await run_program(dut)

    @cocotb.test()
    async def random_cosim_job(dut):
        """The random co-simulation ``TATAMI_COSIM_JOB`` describes (``tatami cosim``)."""
        await cosim_job(dut)

except ImportError:  # pragma: no cover - cocotb is a dependency
    pass
