"""Benchmark kernels for ``tatami bench core``: small assembly programs every started thread runs
on its own data (selected by ``mhartid``), each ending with ``thread.stop`` of itself.

* ``loop_nest``: two nested counted loops around a few ALU operations.
* ``memcpy``: word copy of 1 KiB.
* ``pointer_chase``: 256 dependent loads through a shuffled 128-node linked list.
* ``matmul``: 8x8 integer matrix multiply (``mul``), C = A x B.
"""

from __future__ import annotations

import random

__all__ = ["KERNELS", "kernel_source"]

_PROLOGUE = """
    .globl _start
_start:
    csrr s11, mhartid          # node 0: thread index
    la s10, regions
    slli t0, s11, 12           # 4 KiB of data per thread
    add s10, s10, t0
"""
_EPILOGUE = """
done:
    thread.stop s11
1:  j 1b
    .data
    .align 12
regions:
{data}
"""


def _loop_nest() -> tuple[str, str]:
    body = """
    li s0, 24
outer:
    li s1, 24
inner:
    add a1, a1, s1
    xor a2, a2, a1
    slli a3, a2, 1
    addi s1, s1, -1
    bnez s1, inner
    addi s0, s0, -1
    bnez s0, outer
"""
    return body, "    .space 4 * 4096"


def _memcpy() -> tuple[str, str]:
    body = """
    mv a0, s10                 # src: the first 1 KiB of the region
    addi a1, s10, 1024         # dst
    addi a1, a1, 1024
    li a2, 256
copy:
    lw t0, 0(a0)
    sw t0, 0(a1)
    addi a0, a0, 4
    addi a1, a1, 4
    addi a2, a2, -1
    bnez a2, copy
"""
    return body, "    .space 4 * 4096"


def _pointer_chase() -> tuple[str, str]:
    rng = random.Random(7)
    lines = []
    for t in range(4):
        order = list(range(128))
        rng.shuffle(order)
        nxt = [0] * 128
        for i, node in enumerate(order):
            nxt[node] = order[(i + 1) % 128]
        # node k is the word at regions + t*4096 + 8*k: next pointer (absolute), padding
        lines += [f"    .word regions + {t * 4096} + {8 * n}, 0" for n in nxt]
        lines.append(f"    .space {4096 - 8 * 128}")
    body = """
    mv a0, s10
    li a1, 256
chase:
    lw a0, 0(a0)
    addi a1, a1, -1
    bnez a1, chase
"""
    return body, "\n".join(lines)


def _matmul() -> tuple[str, str]:
    rng = random.Random(11)
    lines = []
    for _ in range(4):
        a = [rng.randrange(-100, 100) for _ in range(64)]
        b = [rng.randrange(-100, 100) for _ in range(64)]
        lines.append("    .word " + ", ".join(map(str, a + b)))
        lines.append(f"    .space {4096 - 4 * 128}")
    body = """
    mv a0, s10                 # A: 8x8 words
    addi a1, s10, 256          # B
    addi a2, s10, 512          # C
    li s0, 0                   # i
rows:
    li s1, 0                   # j
cols:
    li t3, 0                   # sum
    li s2, 0                   # k
    slli t0, s0, 5
    add t0, t0, a0             # &A[i][0]
    slli t1, s1, 2
    add t1, t1, a1             # &B[0][j]
dot:
    lw t4, 0(t0)
    lw t5, 0(t1)
    mul t6, t4, t5
    add t3, t3, t6
    addi t0, t0, 4
    addi t1, t1, 32
    addi s2, s2, 1
    li t2, 8
    blt s2, t2, dot
    slli t0, s0, 5
    slli t1, s1, 2
    add t0, t0, t1
    add t0, t0, a2
    sw t3, 0(t0)
    addi s1, s1, 1
    li t2, 8
    blt s1, t2, cols
    addi s0, s0, 1
    blt s0, t2, rows
"""
    return body, "\n".join(lines)


KERNELS = {"loop_nest": _loop_nest, "memcpy": _memcpy, "pointer_chase": _pointer_chase, "matmul": _matmul}


def kernel_source(name: str) -> str:
    """The assembly source of kernel ``name``."""
    body, data = KERNELS[name]()
    return _PROLOGUE + body + _EPILOGUE.format(data=data)
