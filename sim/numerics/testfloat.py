"""Berkeley TestFloat vector files: which operation and rounding mode a file holds, how to read it,
and how to check every line against the golden models.

A file is plain or gzip-compressed text, one case a line, hexadecimal fields: the operands, the
expected result and the five IEEE flags (TestFloat's ``testfloat_gen`` output, as in
``tb/data/testvectors/softfloat-riscv/``). The operation and the rounding mode come from the file
name (``f32_add_rne.tv.gz``, ``f32_mulAdd_rtz_level2_seed7.tv``) unless given explicitly; see
:func:`identify`. The hardware side (the same files through the RTL units) is
``tatami fpu testfloat`` (:mod:`tatami.sim.fpu_commands`).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .convert import bf16_to_f32, f32_to_bf16
from .flags import IEEE_FLAGS_MASK
from .ops import f32_add, f32_fma, f32_mul, f32_sub
from .rounding import RoundingMode

__all__ = ["MODE_NAMES", "OPERATIONS", "Operation", "check_model", "identify", "read_rows"]


@dataclass(frozen=True)
class Operation:
    """One TestFloat function Tatami implements.

    ``operands``: fields before the result; ``model(mode)``: the golden function of the operands;
    ``unit``: the :data:`tatami.hw.fpu.UNITS` name that computes it; ``unit_modes``: the rounding
    modes that unit implements for it; ``exact``: the result never rounds (the mode is irrelevant).
    """

    name: str
    operands: int
    model: Callable[[RoundingMode], Callable[..., tuple[int, int]]]
    unit: str
    unit_modes: tuple[RoundingMode, ...]
    exact: bool = False


_RNE, _RTZ = RoundingMode.RNE, RoundingMode.RTZ

#: TestFloat function name -> how Tatami computes it. The arithmetic units round to nearest-even
#: only; ``Convert`` implements RNE, RTZ (and stochastic rounding, which TestFloat does not have).
OPERATIONS = {
    op.name: op
    for op in [
        Operation("f32_add", 2, lambda m: lambda a, b: f32_add(a, b, m), "fp32_add", (_RNE,)),
        Operation("f32_sub", 2, lambda m: lambda a, b: f32_sub(a, b, m), "fp32_add", (_RNE,)),
        Operation("f32_mul", 2, lambda m: lambda a, b: f32_mul(a, b, m), "fp32_mul", (_RNE,)),
        Operation("f32_mulAdd", 3, lambda m: lambda a, b, c: f32_fma(a, b, c, m), "fp32_fma", (_RNE,)),
        Operation("f32_to_bf16", 1, lambda m: lambda a: f32_to_bf16(a, m), "convert", (_RNE, _RTZ)),
        Operation("bf16_to_f32", 1, lambda m: bf16_to_f32, "convert", (_RNE, _RTZ), exact=True),
    ]
}

#: Rounding-mode words in file names (TestFloat's ``-r`` options and the usual short names). ``None``:
#: a TestFloat mode Tatami does not implement.
MODE_NAMES = {
    "rne": _RNE,
    "near_even": _RNE,
    "rnear_even": _RNE,
    "rtz": _RTZ,
    "minmag": _RTZ,
    "rminmag": _RTZ,
    "rdn": None,
    "rmin": None,
    "rup": None,
    "rmax": None,
    "rmm": None,
    "near_maxmag": None,
    "rnear_maxmag": None,
    "rod": None,
    "rodd": None,
}


def identify(path, op: str | None = None, mode: str | None = None) -> tuple[Operation, RoundingMode]:
    """The operation and rounding mode of vector file ``path``: from ``op``/``mode`` when given,
    else from the file name (the longest operation name it starts with; a mode word between
    underscores; RNE when the name has none). Raises ``ValueError`` with a message otherwise."""
    stem = Path(path).name.split(".")[0]
    if op is None:
        known = sorted((n for n in OPERATIONS if stem.lower().startswith(n.lower())), key=len)
        if not known:
            raise ValueError(
                f"{path}: cannot tell the operation from the name; pass it explicitly "
                f"(one of {', '.join(OPERATIONS)})"
            )
        op = known[-1]
        rest = stem[len(op) :].lower()
    else:
        rest = ""
    if op not in OPERATIONS:
        raise ValueError(f"{path}: Tatami has no TestFloat operation {op!r}; known: {', '.join(OPERATIONS)}")
    operation = OPERATIONS[op]
    if mode is None:
        words = [w for w in MODE_NAMES if re.search(rf"(^|_){w}(_|$)", rest)]
        mode = max(words, key=len) if words else "rne"
    key = mode.lower()
    if key not in MODE_NAMES:
        raise ValueError(f"{path}: unknown rounding mode {mode!r}; known: {', '.join(MODE_NAMES)}")
    if MODE_NAMES[key] is None and not operation.exact:
        raise ValueError(
            f"{path}: rounding mode {mode!r} is not implemented by Tatami (the models and units "
            "implement nearest-even and toward zero, and stochastic rounding in conversions)"
        )
    return operation, MODE_NAMES[key] if MODE_NAMES[key] is not None else _RNE


def read_rows(path, operation: Operation | None = None, batch: int = 50_000) -> Iterator[list[list[int]]]:
    """The fields of every line of ``path``, in lists of up to ``batch`` lines. With ``operation``,
    each line must hold its operands, the result and the flags (``ValueError`` naming the line)."""
    path = Path(path)
    with open(path, "rb") as f:
        opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
    rows = []
    with opener(path, "rt") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                fields = [int(x, 16) for x in line.split()]
            except ValueError:
                raise ValueError(f"{path}:{number}: not hexadecimal fields: {line.strip()!r}") from None
            if operation is not None and len(fields) != operation.operands + 2:
                raise ValueError(
                    f"{path}:{number}: {operation.name} lines hold {operation.operands} operands, the "
                    f"result and the flags; got {len(fields)} fields"
                )
            rows.append(fields)
            if len(rows) == batch:
                yield rows
                rows = []
    if rows:
        yield rows


def check_model(path, operation: Operation, mode: RoundingMode, limit: int = 8) -> dict:
    """Every line of ``path`` against the golden model: ``{"lines", "mismatches", "first"}`` (the
    first ``limit`` differing lines, described). Flags are compared on the five IEEE bits."""
    model = operation.model(mode)
    lines = bad = 0
    first = []
    for rows in read_rows(path, operation):
        for fields in rows:
            lines += 1
            result, flags = model(*fields[: operation.operands])
            want_r, want_f = fields[operation.operands :]
            if result != want_r or flags & IEEE_FLAGS_MASK != want_f:
                bad += 1
                if len(first) < limit:
                    first.append(
                        " ".join(f"{x:X}" for x in fields)
                        + f" -> model {result:X} {flags & IEEE_FLAGS_MASK:02X}"
                    )
    return {"lines": lines, "mismatches": bad, "first": first}
