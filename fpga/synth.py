"""Area and Fmax of one unit on a real FPGA: Yosys synthesis plus nextpnr place-and-route.

For engineers sizing a unit (an FPU, a core, a router), not for building a board: the unit is
placed *out of context* (no I/O buffers, so a unit with more ports than the package has pins still
places), its ``clk`` port is the clock, and the figures come from nextpnr's JSON report::

    from tatami.fpga.synth import synthesize
    r = synthesize(Router(cfg), freq_mhz=75)               # ECP5-85F, CABGA381 by default
    r["luts"], r["ffs"], r["brams"], r["dsps"], r["fmax_mhz"], r["timing_met"]
    synthesize(Path("adder.v"), top="adder", device="up5k", package="sg48")   # iCE40 UltraPlus

``design`` is a :class:`~amaranth.lib.wiring.Component` (converted with the harness's one
Amaranth-to-Verilog path, so shared modules come along and the top has ``clk``/``rst``), Verilog
text, or the path of a Verilog file (then ``top`` names the module). Runs take from seconds (a
small unit) to many minutes (a whole 85k design); pass ``workdir`` to keep the logs.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from .tools import find_tool

__all__ = ["ECP5_DEVICES", "ICE40_DEVICES", "SynthError", "parse_report", "synthesize"]

#: nextpnr-ecp5 device flags, by the name used here.
ECP5_DEVICES = {"12k": "--12k", "25k": "--25k", "45k": "--45k", "85k": "--85k", "um-85k": "--um-85k"}
ECP5_DEVICES |= {"um5g-85k": "--um5g-85k", "um-45k": "--um-45k", "um-25k": "--um-25k"}
#: nextpnr-ice40 device flags.
ICE40_DEVICES = {"up5k": "--up5k", "hx8k": "--hx8k", "lp8k": "--lp8k", "hx1k": "--hx1k", "u4k": "--u4k"}

#: Which nextpnr utilization entries count as LUTs, FFs, block RAMs and DSPs, per family.
_CELLS = {
    "ecp5": {"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "brams": "DP16KD", "dsps": "MULT18X18D"},
    "ice40": {"luts": "ICESTORM_LC", "ffs": None, "brams": "ICESTORM_RAM", "dsps": "ICESTORM_DSP"},
}


class SynthError(RuntimeError):
    """Synthesis or place-and-route failed; the message names the log."""


def family_of(device: str) -> str:
    if device in ECP5_DEVICES:
        return "ecp5"
    if device in ICE40_DEVICES:
        return "ice40"
    raise ValueError(
        f"unknown device {device!r}; ECP5: {', '.join(ECP5_DEVICES)}; iCE40: {', '.join(ICE40_DEVICES)}"
    )


def _verilog_of(design, top: str | None) -> tuple[str, str]:
    from amaranth.lib import wiring

    if isinstance(design, wiring.Component):
        from tatami.sim.harness import generate_verilog

        name = top or re.sub(r"\W", "_", type(design).__name__.lower())
        return generate_verilog(design, name), name
    if isinstance(design, Path) or (isinstance(design, str) and "\n" not in design and design.endswith(".v")):
        text = Path(design).read_text()
    elif isinstance(design, str):
        text = design
    else:
        raise TypeError(f"synthesize() takes a wiring.Component, Verilog text or a .v path, not {design!r}")
    if top is None:
        found = re.findall(r"^\s*module\s+(\w+)", text, re.M)
        if len(found) != 1:
            raise ValueError(f"the Verilog has modules {found}: name the top with top=...")
        top = found[0]
    return text, top


def _run(cmd: list[str], log: Path, what: str, timeout: float | None):
    # YoWASP tools see the working directory only: run there, with relative paths.
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=log.parent)
    except subprocess.TimeoutExpired:
        raise SynthError(f"{what} did not finish within {timeout:.0f} s; log: {log}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SynthError(f"{what} failed (exit {proc.returncode}); log: {log}\n{tail}")
    return proc


def parse_report(report: dict, family: str) -> dict:
    """Figures from a nextpnr ``--report`` JSON: cell counts, available cells, Fmax per clock."""
    util = report.get("utilization", {})
    out = {}
    for key, cell in _CELLS[family].items():
        out[key] = util.get(cell, {}).get("used", 0) if cell else None
        out[f"{key}_available"] = util.get(cell, {}).get("available", 0) if cell else None
    clocks = {}
    for clk, fm in report.get("fmax", {}).items():
        clocks[re.sub(r"\$glb_clk$|\$TRELLIS_IO_IN$", "", clk)] = {
            "achieved_mhz": round(fm["achieved"], 2),
            "constraint_mhz": round(fm["constraint"], 2),
        }
    out["clocks"] = clocks
    out["fmax_mhz"] = min((c["achieved_mhz"] for c in clocks.values()), default=None)
    out["utilization"] = {k: v for k, v in util.items() if v.get("used")}
    return out


def synthesize(
    design,
    device: str = "85k",
    package: str = "CABGA381",
    freq_mhz: float = 75.0,
    *,
    top: str | None = None,
    workdir: str | Path | None = None,
    seed: int = 1,
    timeout: float | None = 3600,
    place: bool = True,
    synth_opts: str = "",
) -> dict:
    """Synthesize and (unless ``place=False``) place and route ``design`` out of context.

    Returns a dict: ``luts``, ``ffs``, ``brams``, ``dsps`` (nextpnr's used cells; for iCE40 ``luts``
    counts logic cells and ``ffs`` is None), ``*_available``, ``fmax_mhz`` (worst clock),
    ``clocks`` (per clock: achieved and constraint MHz), ``timing_met``, ``freq_mhz``,
    ``yosys_cells`` (Yosys's cell count by type), ``seconds``, ``workdir``. With ``place=False``
    only the Yosys figures are filled in (``luts``/``ffs`` from Yosys), and Fmax is None.
    ``synth_opts`` are added to the ``synth_*`` command (e.g. ``"-noabc9"``).
    """
    family = family_of(device)
    if not freq_mhz or freq_mhz <= 0:
        raise ValueError(f"freq_mhz must be positive, not {freq_mhz!r}")
    text, top = _verilog_of(design, top)
    if workdir is None:
        holder = tempfile.TemporaryDirectory(prefix="tatami-synth-")
        wd = Path(holder.name)
    else:
        holder, wd = None, Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        (wd / f"{top}.v").write_text(text)
        synth_cmd = f"synth_{family} {synth_opts} -top {top} -json {top}.json" + (
            " -dsp" if device == "up5k" else ""
        )
        script = f"read_verilog -sv {top}.v\n{synth_cmd}\ntee -o {top}.stat.json stat -json\n"
        (wd / f"{top}.ys").write_text(script)
        ylog = wd / "yosys.log"
        _run(
            [find_tool("yosys"), "-q", "-l", ylog.name, "-s", f"{top}.ys"],
            ylog,
            "Yosys synthesis",
            timeout,
        )
        cells = _yosys_cells(wd / f"{top}.stat.json")
        result = {
            "top": top,
            "device": device,
            "package": package,
            "family": family,
            "freq_mhz": freq_mhz,
            "yosys_cells": cells,
            "workdir": str(wd) if holder is None else None,
        }
        if not place:
            lut = sum(v for k, v in cells.items() if re.match(r"(LUT4|SB_LUT4)$", k))
            ff = sum(v for k, v in cells.items() if re.match(r"(TRELLIS_FF|SB_DFF\w*)$", k))
            result |= {"luts": lut, "ffs": ff, "fmax_mhz": None, "timing_met": None}
            result["brams"] = sum(v for k, v in cells.items() if k in ("DP16KD", "SB_RAM40_4K"))
            result["dsps"] = sum(v for k, v in cells.items() if k in ("MULT18X18D", "SB_MAC16"))
        else:
            plog = wd / "nextpnr.log"
            dev = (ECP5_DEVICES if family == "ecp5" else ICE40_DEVICES)[device]
            cmd = [
                find_tool(f"nextpnr-{family}"),
                dev,
                "--package",
                package,
                "--json",
                f"{top}.json",
                "--report",
                "report.json",
                "--freq",
                str(freq_mhz),
                "--timing-allow-fail",
                "--seed",
                str(seed),
                "--log",
                plog.name,
                "-q",
            ]
            if family == "ecp5":
                cmd.append("--out-of-context")
            _run(cmd, plog, "nextpnr place-and-route", timeout)
            result |= parse_report(json.loads((wd / "report.json").read_text()), family)
            fmax = result["fmax_mhz"]
            result["timing_met"] = None if fmax is None else fmax >= freq_mhz
        result["seconds"] = round(time.perf_counter() - start, 1)
        return result
    finally:
        if holder is not None:
            holder.cleanup()


def _yosys_cells(path: Path) -> dict:
    try:
        stat = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    design = stat.get("design", {})
    cells = design.get("num_cells_by_type")
    if cells is None:  # older Yosys: per module
        cells = {}
        for mod in stat.get("modules", {}).values():
            for k, v in mod.get("num_cells_by_type", {}).items():
                cells[k] = cells.get(k, 0) + v
    return {k.lstrip("$"): v for k, v in cells.items()}
