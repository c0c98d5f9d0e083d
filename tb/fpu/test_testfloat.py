"""Any TestFloat file through the golden model and the RTL (``tatami fpu testfloat``,
``tatami.sim.numerics.testfloat``, ``tatami.sim.benches.fpu_testfloat``).

The default run checks the route itself: file names to operation and mode, every operation to its
unit, a corrupted line caught by both sides, an RTZ file of an RNE-only unit reported as not run.
Other published vectors (other seeds and levels) run through the same route: set
``TATAMI_TESTFLOAT_FILES`` to files or folders (separated by ``:``) and run this file::

    TATAMI_TESTFLOAT_FILES=/path/to/vectors pytest -p no:xdist tb/fpu/test_testfloat.py --sim verilator

(or ``tatami fpu testfloat FILE...``).
"""

import gzip
import os
from pathlib import Path

import pytest

from tatami.config import preset
from tatami.sim.fpu_commands import check_testfloat_files
from tatami.sim.numerics import RoundingMode
from tatami.sim.numerics.testfloat import OPERATIONS, check_model, identify
from tb.fpu.common import VECTORS


@pytest.mark.parametrize(
    "name, op, mode",
    [
        ("f32_add_rne.tv.gz", "f32_add", "RNE"),
        ("f32_mulAdd_rne_first200k.tv.gz", "f32_mulAdd", "RNE"),
        ("f32_mul_rminMag_level2_seed7.tv", "f32_mul", "RTZ"),
        ("f32_to_bf16_rtz.tv.gz", "f32_to_bf16", "RTZ"),
        ("f32_to_bf16_near_even.tv", "f32_to_bf16", "RNE"),
        ("bf16_to_f32.tv.gz", "bf16_to_f32", "RNE"),
        ("bf16_to_f32_rmax.tv.gz", "bf16_to_f32", "RNE"),  # exact: the mode does not matter
        ("f32_sub.txt", "f32_sub", "RNE"),
    ],
)
def test_identify(name, op, mode):
    operation, rounding = identify(name)
    assert (operation.name, rounding.name) == (op, mode)


def test_identify_rejects():
    with pytest.raises(ValueError, match="cannot tell the operation"):
        identify("f64_add_rne.tv")
    with pytest.raises(ValueError, match="not implemented by Tatami"):
        identify("f32_add_rmax.tv")
    with pytest.raises(ValueError, match="unknown rounding mode"):
        identify("x.tv", op="f32_add", mode="sideways")
    assert identify("x.tv", op="f32_mul", mode="rtz")[0].name == "f32_mul"


def _head(stem, n):
    with gzip.open(VECTORS / f"{stem}.tv.gz", "rt") as f:
        return [next(f) for _ in range(n)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small files of every operation: heads of the shipped vectors, an f32_sub file derived from
    f32_add (``a + b`` is ``a - (-b)``, flags included), one with a corrupted result, and an RTZ
    addition file (its lines hold RTZ results the model computes)."""
    d = tmp_path_factory.mktemp("vectors")
    out = {}
    for stem in ("f32_add_rne", "f32_mul_rne", "f32_mulAdd_rne_first200k", "f32_to_bf16_rtz", "bf16_to_f32"):
        out[stem] = d / f"{stem}.tv"
        out[stem].write_text("".join(_head(stem, 300)))
    sub = []
    for line in _head("f32_add_rne", 300):
        a, b, r, f = line.split()
        sub.append(f"{a} {int(b, 16) ^ 0x80000000:08X} {r} {f}\n")
    out["f32_sub"] = d / "f32_sub_rne.tv"
    out["f32_sub"].write_text("".join(sub))
    bad = _head("f32_mul_rne", 50)
    a, b, r, f = bad[7].split()
    bad[7] = f"{a} {b} {int(r, 16) ^ 1:08X} {f}\n"
    out["bad"] = d / "f32_mul_rne_corrupted.tv"
    out["bad"].write_text("".join(bad))
    model = OPERATIONS["f32_add"].model(RoundingMode.RTZ)
    rtz = []
    for line in _head("f32_add_rne", 100):
        a, b = (int(x, 16) for x in line.split()[:2])
        r, f = model(a, b)
        rtz.append(f"{a:08X} {b:08X} {r:08X} {f & 0x1F:02X}\n")
    out["rtz"] = d / "f32_add_rtz.tv"
    out["rtz"].write_text("".join(rtz))
    return out


def test_model_route_catches_a_corrupted_line(files):
    operation, mode = identify(files["bad"])
    r = check_model(files["bad"], operation, mode)
    assert (r["lines"], r["mismatches"]) == (50, 1) and len(r["first"]) == 1


@pytest.mark.slow
def test_every_operation_through_model_and_rtl(sim, files):
    cfg = preset("d1")
    paths = [files[k] for k in ("f32_add_rne", "f32_sub", "f32_mul_rne", "f32_mulAdd_rne_first200k")]
    paths += [files["f32_to_bf16_rtz"], files["bf16_to_f32"], files["bad"], files["rtz"]]
    rows = {Path(r["path"]).name: r for r in check_testfloat_files(cfg, paths, sim=sim, log=lambda _: None)}
    assert {r["op"] for r in rows.values()} == set(OPERATIONS)
    for name, row in rows.items():
        if name == "f32_mul_rne_corrupted.tv":
            assert row["model"]["mismatches"] == 1 and row["rtl"]["mismatches"] == 1
        elif name == "f32_add_rtz.tv":
            assert row["model"]["mismatches"] == 0 and "RNE only" in row["rtl"]["skipped"]
        else:
            assert row["model"]["mismatches"] == 0 and row["rtl"]["mismatches"] == 0, row
            assert row["rtl"]["lines"] == row["model"]["lines"] > 0


def _user_files():
    found = []
    for item in filter(None, os.environ.get("TATAMI_TESTFLOAT_FILES", "").split(os.pathsep)):
        p = Path(item)
        found += sorted(x for x in p.iterdir() if x.is_file() and ".tv" in x.name) if p.is_dir() else [p]
    return found


@pytest.mark.parametrize("path", _user_files() or [None], ids=lambda p: p.name if p else "none")
def test_user_files(sim, path):
    """Every file named by ``TATAMI_TESTFLOAT_FILES`` (skipped when it is unset)."""
    if path is None:
        pytest.skip("set TATAMI_TESTFLOAT_FILES to TestFloat files or folders to run them")
    (row,) = check_testfloat_files(preset("d1"), [path], sim=sim)
    assert row["model"]["mismatches"] == 0, row["model"]["first"]
    if "skipped" not in row["rtl"]:
        assert row["rtl"]["mismatches"] == 0, row["rtl"]["first"]
