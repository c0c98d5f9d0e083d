"""``tatami fpga build``: elaborate, synthesize, place and route, check timing, pack.

The flow is Amaranth's own (the platform writes RTLIL, the Yosys script and the pin constraints),
run step by step here so that each step reports progress, nextpnr writes a JSON report, and the
bitstream is packed only when every clock meets its constraint. A build that misses timing ends
with :class:`TimingError` and leaves no bitstream behind.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
import zlib
from pathlib import Path

from tatami.config import TatamiConfig
from tatami.hw.noc.tester import NODE_COPY

from .boards import Board
from .boards import board as get_board
from .designs import design as get_design
from .synth import parse_report
from .tools import TOOLS, find_tool

__all__ = ["BuildError", "TimingError", "build", "uart_divisor"]

#: Largest UART baud-rate error the bridge tolerates (8N1 sampling mid-bit).
MAX_BAUD_ERROR = 0.02


class BuildError(RuntimeError):
    """A step of the flow failed; the message names its log."""


def _check_netlist(rpt: Path) -> None:
    """Stop before place and route when Yosys' CHECK pass found a net with more than one driver
    (nextpnr would fail on it later, naming only a cell). Amaranth gives every signal one
    driver, so such a net comes from the synthesis flow, not from the design."""
    text = rpt.read_text(errors="replace") if rpt.exists() else ""
    nets = re.findall(r"multiple conflicting drivers for (\S+)", text)
    if nets:
        raise BuildError(
            f"Yosys made a netlist with multiply driven nets ({', '.join(nets[:3])}); log: {rpt}. "
            "The design has one driver per signal, so this comes from the synthesis script (see "
            "docs/fpga.md, 'Toward 75 MHz')"
        )


class TimingError(BuildError):
    """Place-and-route did not reach the requested clock; no bitstream was written."""


def uart_divisor(freq_mhz: float, baud: int) -> int:
    divisor = round(freq_mhz * 1e6 / baud)
    if divisor < 4:
        raise BuildError(f"{baud} baud is too fast for a {freq_mhz} MHz clock (at least 4 cycles per bit)")
    error = abs(freq_mhz * 1e6 / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise BuildError(f"{baud} baud at {freq_mhz} MHz is {error:.1%} off; choose another --baud or --freq")
    return divisor


#: Yosys command run after reading the design: the per-node copies of broadcast registers
#: (``NocTester(node_copies=True)``) are kept apart (``opt_merge`` would merge flip-flops with the
#: same inputs back into one, whose output then crosses the die again).
KEEP_NODE_COPIES = f"setattr -set keep 1 w:*{NODE_COPY}* %ci1:+$dff[Q] t:$dff %i"

#: Yosys command run first after reading the design: the wires that Amaranth names after an array
#: element (``drops[5]``, a 16-bit view of ``drops[95:80]``) get private names. Yosys prints bit 5
#: of the wire ``drops`` as ``drops [5]`` too, and with both names public Yosys 0.70 made a
#: netlist in which two flip-flops drive one bit (``drops`` bit 5 and bit 80, in the checker-split
#: build of docs/fpga.md, "Toward 75 MHz"). Ports keep their names (the constraints use them).
HIDE_ELEMENT_NAMES = r"rename -hide w:*\[* x:* %d"

#: The flow's commands after reading the design.
SCRIPT_AFTER_READ = "\n".join([HIDE_ELEMENT_NAMES, KEEP_NODE_COPIES])

#: The net of the design clock when a PLL makes it (fpga/board_top.py): ``pnr_freq_mhz`` constrains it.
PLL_NET = "clk"

#: Steps of a board's build script that this flow leaves out: ``dfu-suffix`` marks an OrangeCrab
#: bitstream for dfu-util; openFPGALoader loads the plain bitstream over DFU.
SKIPPED_STEPS = {"DFU_SUFFIX"}


def _commands(script: Path) -> list[list[str]]:
    """The tool invocations of Amaranth's generated build script, with the tools resolved."""
    env_to_tool = {v[0]: k for k, v in TOOLS.items()}
    out = []
    for line in script.read_text().splitlines():
        m = re.match(r'^"\$(\w+)"\s+(.*)$', line.strip())
        if m and m.group(1) not in SKIPPED_STEPS:
            if m.group(1) not in env_to_tool:
                raise BuildError(f"{script}: unknown tool step ${m.group(1)}")
            out.append([find_tool(env_to_tool[m.group(1)]), *shlex.split(m.group(2))])
    return out


def build(
    board_name: str,
    cfg: TatamiConfig,
    design_name: str = "mesh-bridge",
    *,
    freq_mhz: float | None = None,
    baud: int = 115200,
    out_dir: str | Path | None = None,
    seed: int = 1,
    pnr_opts: tuple[str, ...] = (),
    pnr_freq_mhz: float | None = None,
    do_build: bool = True,
    progress=print,
) -> dict:
    """Build ``design_name`` for ``cfg`` on a board. Returns the report (also written to
    ``<out_dir>/report.json``); raises :class:`TimingError` when timing is not met. ``pnr_opts``
    are extra nextpnr arguments; when given they replace the design's own
    (:attr:`FpgaDesign.pnr_opts`). ``pnr_freq_mhz`` (ECP5, PLL clock) is the clock nextpnr places
    and routes for, above ``freq_mhz`` to ask it for margin; timing is judged at ``freq_mhz``."""
    from tatami.hw.common import hier

    from .board_top import BoardTop

    b: Board = get_board(board_name)
    d = get_design(design_name)
    freq = float(freq_mhz or cfg.clock_hz / 1e6)
    divisor = uart_divisor(freq, baud)
    pnr_freq = float(pnr_freq_mhz or freq)
    if pnr_freq < freq:
        raise ValueError(f"the place-and-route clock ({pnr_freq:g} MHz) is below the clock ({freq:g} MHz)")
    if pnr_freq != freq and (b.family != "ecp5" or abs(freq - b.clock_mhz) < 1e-6):
        raise ValueError(
            "a place-and-route clock above the design's needs an ECP5 board with the design clock "
            f"from its PLL (--freq other than {b.clock_mhz:g} MHz)"
        )
    # builds with other seeds, place-and-route clocks or nextpnr options do not overwrite it
    tag = (f"-seed{seed}" if seed != 1 else "") + (f"-pnr{pnr_freq:g}" if pnr_freq != freq else "")
    if pnr_opts and list(pnr_opts) != list(d.pnr_opts):
        tag += f"-opts{zlib.crc32(' '.join(pnr_opts).encode()):08x}"
    out = Path(out_dir or f"build/fpga/{b.name}-{design_name}-{cfg.name}-{freq:g}MHz{tag}")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("tatami.bit", "tatami.bin", "report.json"):
        (out / stale).unlink(missing_ok=True)
    report = {
        "board": b.name,
        "design": design_name,
        "config": cfg.name,
        "mesh": f"{cfg.mesh.width}x{cfg.mesh.height}",
        "freq_mhz": freq,
        "baud": baud,
        "uart_divisor": divisor,
        "out_dir": str(out),
        "steps": {},
    }
    steps = 4 if do_build else 1
    t0 = time.perf_counter()
    progress(f"[1/{steps}] elaborating {design_name} ({cfg.summary()}) for {b.name} at {freq:g} MHz")
    platform = b.make_platform()
    with hier.flat():
        inner = d.build(cfg, divisor)
        plan = platform.build(
            BoardTop(inner, b, freq), name="tatami", do_build=False, script_after_read=SCRIPT_AFTER_READ
        )
    plan.extract(out)
    if pnr_freq != freq:
        # The user constraint on the PLL's output net replaces the one nextpnr derives from the
        # PLL's settings (checked after place and route: the report's constraint). Amaranth's
        # file ends in a comment without a newline.
        with open(out / "tatami.lpf", "a") as lpf:
            lpf.write(f'\nFREQUENCY NET "{PLL_NET}" {pnr_freq:g} MHZ;\n')
        report["pnr_freq_mhz"] = pnr_freq
    report["steps"]["elaborate_s"] = round(time.perf_counter() - t0, 1)
    if not do_build:
        report["elaborated"] = True
        return report

    cmds = _commands(out / "build_tatami.sh")
    if len(cmds) != 3:
        raise BuildError(f"unexpected build script {out / 'build_tatami.sh'}: {len(cmds)} tool steps")
    synth_cmd, pnr_cmd, pack_cmd = cmds
    pnr_cmd = [a for a in pnr_cmd if a != "--quiet"]
    pnr_cmd += ["--report", "report.json", "--timing-allow-fail", "--seed", str(seed)]
    if b.family == "ecp5":
        # router2 (negotiated congestion): the default router1 routed a few thousand of the full
        # noc-tester top's 161k arcs in 10 minutes.
        pnr_cmd += ["--router", "router2"]
    # Extra nextpnr options (e.g. ``--placer-heap-beta 0.6`` to spread a congested placement):
    # the design's own unless the caller gives some; recorded in the report.
    opts = list(pnr_opts) if pnr_opts else list(d.pnr_opts)
    pnr_cmd += opts
    report["pnr_opts"] = opts

    def run(step, cmd, log, what):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
        report["steps"][step] = round(time.perf_counter() - t, 1)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
            raise BuildError(f"{what} failed (exit {proc.returncode}); log: {out / log}\n{tail}")

    progress(f"[2/{steps}] synthesizing with Yosys (log: {out / 'tatami.rpt'})")
    try:
        run("synth_s", synth_cmd, "tatami.rpt", "Yosys synthesis")
    except BuildError as e:
        # Some Yosys builds trip an internal assertion in the abc9 flow on large designs; the
        # classic ABC flow is slower to time but sound.
        if "Assert" not in str(e) and "ABC" not in (out / "tatami.rpt").read_text(errors="replace")[-4000:]:
            raise
        progress("      Yosys failed inside abc9; retrying with synth_ecp5 -noabc9")
        ys = out / "tatami.ys"
        ys.write_text(re.sub(r"^(\s*synth_\w+)", r"\1 -noabc9", ys.read_text(), count=1, flags=re.M))
        run("synth_s", synth_cmd, "tatami.rpt", "Yosys synthesis (-noabc9)")
        report["yosys_noabc9"] = True
    _check_netlist(out / "tatami.rpt")
    progress(f"[3/{steps}] placing and routing with nextpnr at {freq:g} MHz (log: {out / 'tatami.tim'})")
    run("pnr_s", pnr_cmd, "tatami.tim", "nextpnr place-and-route")
    figures = parse_report(json.loads((out / "report.json").read_text()), b.family)
    report.update({k: v for k, v in figures.items() if k != "utilization"})
    report["utilization"] = figures["utilization"]
    # (nextpnr reports the constraint from its period in picoseconds: 85 MHz reads 85.01)
    if pnr_freq != freq and not any(
        abs(c["constraint_mhz"] - pnr_freq) < 0.1 for c in figures["clocks"].values()
    ):
        raise BuildError(
            f"nextpnr did not take the {pnr_freq:g} MHz constraint on net {PLL_NET} "
            f"(clocks: {figures['clocks']}); log: {out / 'tatami.tim'}"
        )
    # Judged at the design's clock (with pnr_freq, nextpnr's constraint is above it).
    failing = {name: c for name, c in figures["clocks"].items() if c["achieved_mhz"] < freq - 1e-6}
    report["timing_met"] = not failing
    (out / "tatami-report.json").write_text(json.dumps(report, indent=1))
    if failing:
        worst = min(c["achieved_mhz"] for c in failing.values())
        names = ", ".join(f"{n}: {c['achieved_mhz']:.1f} of {freq:.1f} MHz" for n, c in failing.items())
        raise TimingError(
            f"timing NOT met ({names}); no bitstream written. Build at a lower clock, e.g. "
            f"--freq {int(worst)}, or shorten the critical path (see {out / 'tatami.tim'}, "
            f"'Critical path report'). Report: {out / 'tatami-report.json'}"
        )
    progress(f"[4/{steps}] timing met ({figures['fmax_mhz']:.1f} MHz >= {freq:g}); packing the bitstream")
    run("pack_s", pack_cmd, "tatami.tim", "bitstream packing")
    bit = out / ("tatami.bit" if b.family == "ecp5" else "tatami.bin")
    report["bitstream"] = str(bit)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "tatami-report.json").write_text(json.dumps(report, indent=1))
    return report
