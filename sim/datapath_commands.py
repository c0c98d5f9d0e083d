"""``tatami bench gemm-node`` and ``tatami bench vector``: the node datapath's commands."""

from __future__ import annotations

__all__ = ["register"]


def register(commands):
    b = commands.bench(
        "gemm-node",
        help="single-node GEMM utilization (ideal / actual cycles) in RTL simulation, d1 and fpga-2x2",
    )
    b.add_argument(
        "--preset", action="append", dest="presets", help="preset(s) to run (default: fpga-2x2 and d1)"
    )
    b.add_argument("-o", "--output", help="results file (default docs/results/gemm_node.json)")
    b.set_defaults(func=lambda args: bench(commands, args))
    v = commands.bench(
        "vector",
        help="vector kernels on the vector unit RTL and SRAM to SRAM on the node: cycles per element",
    )
    v.add_argument("--preset", action="append", dest="presets", help="preset(s) to run (default: fpga-2x2)")
    v.add_argument("-o", "--output", help="results file (default docs/results/vector.json)")
    v.set_defaults(func=lambda args: bench_vector(args))


def bench(commands, args) -> int:
    from pathlib import Path

    from tatami.sim.benches.datapath_gemm import run

    presets = args.presets or ["fpga-2x2", "d1"]
    results = run(presets, Path(args.output) if args.output else None)
    for name, r in results["configs"].items():
        for g in r["gemms"]:
            print(
                f"{name:9s} {g['m']}x{g['n']}x{g['k']} {g['format']:8s} cycles {g['cycles']:6d} "
                f"ideal {g['ideal']:6d} utilization {100 * g['utilization']:.1f}% "
                f"(stalls: operand {g['stall_operand']}, write-back {g['stall_writeback']})"
            )
    return 0


def bench_vector(args) -> int:
    from pathlib import Path

    from tatami.sim.benches.datapath_vector import run

    results = run(args.presets or ["fpga-2x2"], Path(args.output) if args.output else None)
    for name, r in results["configs"].items():
        for k in r["kernels"]:
            print(
                f"{name:9s} {k['kernel']:12s} {k['elements']:6d} elements {k['unit_ops']:5d} ops "
                f"{k['cycles']:6d} cycles {k['cycles_per_element']:.4f} cycles/element (bit-exact)"
            )
        for k in r.get("node_kernels", []):
            print(
                f"{name:9s} {k['kernel']:12s} {k['elements']:6d} elements {k['instructions']:5d} insns "
                f"{k['cycles']:6d} cycles {k['cycles_per_element']:.4f} cycles/element SRAM-SRAM"
            )
    return 0
