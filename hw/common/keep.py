"""Register copies that a synthesis flow must keep apart.

A flip-flop copied on purpose (a broadcast register's copy at each node, or a register duplicated
so that one group of its loads gets a copy placed next to it) has the same input as the original,
and Yosys' ``opt_merge`` merges such flip-flops back into one, whose output then crosses the die
again. Designs mark the copies' names with :data:`NODE_COPY`; ``tatami fpga build`` keeps every
flip-flop that drives such a wire (:data:`tatami.fpga.build.KEEP_NODE_COPIES`). Simulation and
the generated Verilog are unaffected.
"""

__all__ = ["NODE_COPY"]

#: Marks the names of register copies to be kept apart in synthesis.
NODE_COPY = "_nodecopy"
