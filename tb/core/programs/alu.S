# Every RV32I register and immediate ALU instruction, lui and auipc.
    .include "env.inc"
    TEST_BEGIN
    li a0, 0x7fffffff
    li a1, 1
    li a3, -8
    add a2, a0, a1
    CHECK 1, a2, 0x80000000
    sub a2, a1, a0
    CHECK 2, a2, 0x80000002
    sll a2, a3, a1
    CHECK 3, a2, -16
    li a4, 33
    sll a2, a1, a4
    CHECK 4, a2, 2
    slt a2, a3, a1
    CHECK 5, a2, 1
    sltu a2, a3, a1
    CHECK 6, a2, 0
    xor a2, a0, a3
    CHECK 7, a2, 0x80000007
    srl a2, a3, a1
    CHECK 8, a2, 0x7ffffffc
    sra a2, a3, a1
    CHECK 9, a2, -4
    or a2, a3, a1
    CHECK 10, a2, -7
    and a2, a3, a0
    CHECK 11, a2, 0x7ffffff8
    addi a2, a0, -1
    CHECK 12, a2, 0x7ffffffe
    slti a2, a3, -7
    CHECK 13, a2, 1
    sltiu a2, a1, -1
    CHECK 14, a2, 1
    xori a2, a3, -1
    CHECK 15, a2, 7
    ori a2, a1, 0x7f0
    CHECK 16, a2, 0x7f1
    andi a2, a3, 0x0ff
    CHECK 17, a2, 0xf8
    slli a2, a1, 31
    CHECK 18, a2, 0x80000000
    srli a2, a3, 28
    CHECK 19, a2, 0xf
    srai a2, a3, 2
    CHECK 20, a2, -2
    lui a2, 0xfffff
    CHECK 21, a2, 0xfffff000
1:  auipc a2, 0
    la a5, 1b
    sub a2, a2, a5
    CHECK 23, a2, 0
    add zero, a0, a1
    CHECK 24, zero, 0
    j pass
handler:
    li gp, 99
    j fail
    TEST_END
