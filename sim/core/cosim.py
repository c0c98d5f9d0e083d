"""Co-simulation of the golden model against unicorn, and expected retire traces for the RTL.

:func:`reference_traces` runs each thread's random program on the golden model
(:class:`~tatami.sim.core.model.CoreModel`) and on its own unicorn hart, comparing the
architectural state (pc, x1..x31, stores, traps) after every instruction, and returns the
golden model's retire records per thread: what the RTL's retire trace must show.
"""

from __future__ import annotations

from tatami.config import TatamiConfig

from .model import AccumulatorModel, CoreModel, Retire
from .randgen import GenOptions, RandomProgram, generate

__all__ = ["Divergence", "check_against_unicorn", "random_programs", "reference_traces"]


class Divergence(AssertionError):
    """Two models disagree; the message shows the instruction and both states."""


def random_programs(cfg: TatamiConfig, seed: int, opts: GenOptions | None = None) -> list[RandomProgram]:
    """One random program per hardware thread of ``cfg``, each in its own SRAM slice."""
    return [generate(cfg, seed, thread=t, opts=opts) for t in range(cfg.node.core.threads)]


def _uc_stores_as_mem(stores):
    out = []
    for addr, size, value in stores:
        lane = addr & 3
        out.append((addr & ~3, (value << (8 * lane)) & 0xFFFFFFFF, ((1 << size) - 1) << lane))
    return out


def _compare(u, rec: Retire, h, prog: RandomProgram, t: int, i: int):
    """Unicorn's step ``u`` against the model's record ``rec`` and hart state ``h`` after it."""
    mem = [rec.mem] if rec.mem else []
    problems = []
    if u.pc != rec.pc:
        problems.append(f"pc: unicorn {u.pc:#x}")
    if u.trap != rec.trap or (rec.trap is not None and u.tval != rec.tval):
        problems.append(f"trap: unicorn {u.trap} tval {u.tval:#x}")
    if u.next_pc != h.pc:
        problems.append(f"next pc: unicorn {u.next_pc:#x} model {h.pc:#x}")
    if u.x[1:] != h.x[1:]:
        problems += [f"x{r}: unicorn {u.x[r]:#x} model {h.x[r]:#x}" for r in range(1, 32) if u.x[r] != h.x[r]]
    if (u.stores or mem) and _uc_stores_as_mem(u.stores) != mem:
        problems.append(f"stores: unicorn {_uc_stores_as_mem(u.stores)} model {mem}")
    if problems:
        raise Divergence(
            f"seed {prog.seed} thread {t}: unicorn and the model differ after instruction {i} "
            f"({rec}):\n  " + "\n  ".join(problems)
        )


def _unicorn_hart(model: CoreModel, prog: RandomProgram):
    from .unicorn_ref import UnicornHart

    return UnicornHart(model.base, model.size, prog.segments, prog.entry)


def check_against_unicorn(model: CoreModel, t: int, records: list[Retire], prog: RandomProgram):
    """Re-run thread ``t``'s records on unicorn and on a fresh model from the same initial image
    and compare (``reference_traces`` does the same in lockstep with its own model)."""
    hart = _unicorn_hart(model, prog)
    shadow = CoreModel(model.cfg)
    for addr, data in prog.segments:
        shadow.write(addr, data)
    shadow.start(t, prog.entry)
    for i, rec in enumerate(records):
        u = hart.step()
        shadow.step(t)
        _compare(u, rec, shadow.harts[t], prog, t, i)


def reference_traces(
    cfg: TatamiConfig,
    programs: list[RandomProgram],
    *,
    unicorn: bool = True,
    max_steps: int = 20000,
) -> list[list[Retire]]:
    """The golden model's retire records of each thread up to and including the store to its
    ``done`` word, checked against unicorn when ``unicorn`` is set."""
    model = CoreModel(cfg, custom=AccumulatorModel(cfg.node.core.threads))
    for prog in programs:
        for addr, data in prog.segments:
            model.write(addr, data)
    traces = []
    for prog in programs:
        t = prog.thread
        model.start(t, prog.entry)
        hart = _unicorn_hart(model, prog) if unicorn else None
        recs = []
        for i in range(max_steps):
            r = model.step(t)
            if hart is not None:
                _compare(hart.step(), r, model.harts[t], prog, t, i)
            recs.append(r)
            if r.mem and r.mem[0] == prog.done:
                break
        else:
            raise Divergence(f"seed {prog.seed} thread {t}: no done store within {max_steps} steps")
        traces.append(recs)
    return traces
