"""Every line of the Berkeley TestFloat vectors (RISC-V specialisation), results and flags, against the
golden models. The vectors carry only the five IEEE flags, so the DENORMAL bit is masked off here."""

import gzip
from pathlib import Path

import pytest

from tatami.sim.numerics import (
    IEEE_FLAGS_MASK,
    RoundingMode,
    bf16_to_f32,
    f32_add,
    f32_fma,
    f32_mul,
    f32_to_bf16,
)

VECTORS = Path(__file__).resolve().parent.parent / "data" / "testvectors" / "softfloat-riscv"

# file stem: (model, number of operands, number of lines the file must hold)
CASES = {
    "f32_add_rne": (f32_add, 2, 46_464),
    "f32_mul_rne": (f32_mul, 2, 46_464),
    "f32_mulAdd_rne_first200k": (f32_fma, 3, 200_000),
    "f32_to_bf16_rne": (lambda a: f32_to_bf16(a, RoundingMode.RNE), 1, 8_800),
    "f32_to_bf16_rtz": (lambda a: f32_to_bf16(a, RoundingMode.RTZ), 1, 8_800),
    "bf16_to_f32": (bf16_to_f32, 1, 2_500),
}


def read_vectors(stem):
    with gzip.open(VECTORS / f"{stem}.tv.gz", "rt") as f:
        for number, line in enumerate(f, 1):
            yield number, line.strip(), [int(field, 16) for field in line.split()]


@pytest.mark.parametrize("stem", sorted(CASES))
def test_every_vector(stem):
    model, operands, expected_lines = CASES[stem]
    lines = mismatches = 0
    first = []
    for number, text, fields in read_vectors(stem):
        lines += 1
        assert len(fields) == operands + 2, f"{stem}:{number}: malformed line {text!r}"
        result, flags = model(*fields[:operands])
        if result != fields[operands] or flags & IEEE_FLAGS_MASK != fields[operands + 1]:
            mismatches += 1
            if len(first) < 10:
                first.append(f"{stem}:{number}: {text} -> model {result:X} {flags & IEEE_FLAGS_MASK:02X}")
    assert lines == expected_lines, f"{stem}: {lines} lines, expected {expected_lines} (truncated copy?)"
    assert mismatches == 0, f"{mismatches} of {lines} vectors differ; first:\n" + "\n".join(first)


def test_vectors_cover_the_hard_cases():
    """The vector files exercise what they are trusted for: every flag, NaNs and subnormal results."""
    seen_flags = 0
    nan_results = subnormal_results = 0
    for _, _, fields in read_vectors("f32_mulAdd_rne_first200k"):
        seen_flags |= fields[4]
        nan_results += (fields[3] & 0x7FFFFFFF) > 0x7F800000
        subnormal_results += 0 < (fields[3] & 0x7FFFFFFF) < 0x00800000
    assert seen_flags == 0x17  # NX, UF, OF and NV (no divide-by-zero in a multiply-add)
    assert nan_results > 100 and subnormal_results > 100
