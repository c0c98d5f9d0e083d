# The custom-instruction port with the example accumulator unit: acc.add and acc.swap on every
# custom opcode, and instructions the unit refuses (illegal instruction, mtval = the word).
    .include "env.inc"
    TEST_BEGIN
    li s11, 0
    li a0, 5
    li a1, 7
    .insn r 0x0b, 0, 0x7f, a2, a0, a1      # acc = 12
    CHECK 1, a2, 12
    .insn r 0x2b, 0, 0x7f, a2, a0, zero    # acc = 17
    CHECK 2, a2, 17
    li a0, 100
    .insn r 0x5b, 1, 0x7f, a2, a0, zero    # a2 = 17, acc = 100
    CHECK 3, a2, 17
    .insn r 0x7b, 0, 0x7f, a2, a1, a1      # acc = 114
    CHECK 4, a2, 114
    .insn r 0x0b, 0, 0x7f, zero, a1, a1    # acc = 128, rd = x0
    CHECK 5, zero, 0
    .insn r 0x0b, 1, 0x7f, a3, zero, zero
    CHECK 6, a3, 128
    # refused: wrong funct7 / funct3, a Tatami vector instruction, sem.add (no such unit here)
    li gp, 7
    li a4, 0
    .insn r 0x0b, 2, 0x7f, a2, a0, a1
    .insn r 0x0b, 0, 0x00, a2, a0, a1
    vadd.f32 v1, v2, v3
    sem.add a0, a1
    li t0, 4
    bne s11, t0, fail
    CHECK 8, a2, 114
    j pass
handler:
    csrr t0, mcause
    li t1, 2
    li gp, 30
    bne t0, t1, fail
    csrr t0, mepc
    lw t1, 0(t0)
    csrr t2, mtval
    bne t1, t2, fail
    addi t0, t0, 4
    csrw mepc, t0
    addi s11, s11, 1
    mret
    TEST_END
