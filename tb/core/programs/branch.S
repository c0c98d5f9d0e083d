# Branches taken and not taken, jal and jalr links, jalr clearing bit 0.
    .include "env.inc"
    TEST_BEGIN
    li a0, -1
    li a1, 1
    li gp, 1
    beq a0, a1, fail
    bne a0, a0, fail
    blt a1, a0, fail
    bge a0, a1, fail
    bltu a0, a1, fail
    bgeu a1, a0, fail
    li gp, 2
    beq a0, a0, 1f
    j fail
1:  bne a0, a1, 1f
    j fail
1:  blt a0, a1, 1f
    j fail
1:  bge a1, a0, 1f
    j fail
1:  bltu a1, a0, 1f
    j fail
1:  bgeu a0, a1, 1f
    j fail
1:  bge a0, a0, 1f
    j fail
1:  li gp, 3
    jal ra, 2f
back:
    j 3f
2:  la t0, back
    bne ra, t0, fail
    ret
3:  li gp, 4
    la t1, 4f
    addi t1, t1, 1
    jalr s0, 0(t1)
    j fail
4:  la t0, 4b
    addi t0, t0, -4
    bne s0, t0, fail
    li gp, 5
    la t1, 5f
    jalr x0, -4(t1)
    j fail
    j 6f
5:  j fail
6:  j pass
handler:
    li gp, 99
    j fail
    TEST_END
