# Loads and stores of every size, sign and zero extension, byte lanes.
    .include "env.inc"
    TEST_BEGIN
    la s0, buf
    li a0, 0x8899aabb
    sw a0, 0(s0)
    lw a2, 0(s0)
    CHECK 1, a2, 0x8899aabb
    lb a2, 0(s0)
    CHECK 2, a2, 0xffffffbb
    lbu a2, 1(s0)
    CHECK 3, a2, 0xaa
    lb a2, 3(s0)
    CHECK 4, a2, 0xffffff88
    lh a2, 2(s0)
    CHECK 5, a2, 0xffff8899
    lhu a2, 0(s0)
    CHECK 6, a2, 0xaabb
    li a1, 0x11
    sb a1, 2(s0)
    lw a2, 0(s0)
    CHECK 7, a2, 0x8811aabb
    li a1, 0x2233
    sh a1, 0(s0)
    lw a2, 0(s0)
    CHECK 8, a2, 0x88112233
    sh a1, 6(s0)
    lw a2, 4(s0)
    CHECK 9, a2, 0x22330000
    lw a2, -4(s0)
    CHECK 10, a2, 0x5a5a5a5a
    addi s1, s0, 2047
    sb a1, 1(s1)
    lbu a2, 1(s1)
    CHECK 11, a2, 0x33
    j pass
handler:
    li gp, 99
    j fail
    .data
    .word 0x5a5a5a5a
buf: .space 2100
    TEST_END
