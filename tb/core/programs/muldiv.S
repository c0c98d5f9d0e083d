# The M extension with its corner cases (division by zero, overflow).
    .include "env.inc"
    TEST_BEGIN
    li a0, -7
    li a1, 3
    li a3, 0x80000000
    li a4, -1
    mul a2, a0, a1
    CHECK 1, a2, -21
    mulh a2, a0, a1
    CHECK 2, a2, -1
    mulhu a2, a0, a1
    CHECK 3, a2, 2
    mulhsu a2, a0, a1
    CHECK 4, a2, -1
    mulh a2, a3, a3
    CHECK 5, a2, 0x40000000
    mulhu a2, a4, a4
    CHECK 6, a2, 0xfffffffe
    div a2, a0, a1
    CHECK 7, a2, -2
    rem a2, a0, a1
    CHECK 8, a2, -1
    divu a2, a0, a1
    CHECK 9, a2, 0x55555553
    remu a2, a0, a1
    CHECK 10, a2, 0
    div a2, a0, zero
    CHECK 11, a2, -1
    rem a2, a0, zero
    CHECK 12, a2, -7
    divu a2, a0, zero
    CHECK 13, a2, 0xffffffff
    remu a2, a0, zero
    CHECK 14, a2, -7
    div a2, a3, a4
    CHECK 15, a2, 0x80000000
    rem a2, a3, a4
    CHECK 16, a2, 0
    li a5, 1000003
    li a6, 997
    mul a7, a5, a6
    divu a2, a7, a6
    CHECK 17, a2, 1000003
    j pass
handler:
    li gp, 99
    j fail
    TEST_END
