# CSR instructions and the machine-mode CSR map: values, WARL fields, counters, and illegal
# accesses (unimplemented CSRs and writes to read-only ones trap; the handler skips them and
# counts them in s11).
    .include "env.inc"
    TEST_BEGIN
    li s11, 0
    li a0, 0x12345678
    csrw mscratch, a0
    csrr a2, mscratch
    CHECK 1, a2, 0x12345678
    li a1, 0xff
    csrrs a2, mscratch, a1
    CHECK 2, a2, 0x12345678
    csrrc a2, mscratch, a1
    CHECK 3, a2, 0x123456ff
    csrr a2, mscratch
    CHECK 4, a2, 0x12345600
    csrrwi a2, mscratch, 21
    CHECK 5, a2, 0x12345600
    csrrsi a2, mscratch, 8
    csrrci a2, mscratch, 1
    csrr a2, mscratch
    CHECK 6, a2, 28
    csrr a2, misa
    CHECK 7, a2, 0x40001100
    csrr a2, mhartid
    CHECK 8, a2, 0
    csrr a2, mvendorid
    CHECK 9, a2, 0
    csrr a2, mstatus
    CHECK 10, a2, 0x1800
    csrsi mstatus, 8
    csrr a2, mstatus
    CHECK 11, a2, 0x1808
    csrci mstatus, 8
    li a1, -1
    csrw mtvec, a1
    csrr a2, mtvec
    CHECK 12, a2, 0xfffffffc
    la t0, handler
    csrw mtvec, t0
    csrw mepc, a1
    csrr a2, mepc
    CHECK 13, a2, 0xfffffffc
    csrw mie, a1
    csrr a2, mie
    CHECK 14, a2, 0x888
    csrw mie, zero
    csrr a2, mip
    CHECK 15, a2, 0
    csrw misa, zero
    csrr a2, misa
    CHECK 16, a2, 0x40001100
    csrr a2, hpmcounter3
    CHECK 17, a2, 0
    csrw mhpmcounter3, a1
    csrr a2, mhpmcounter3
    CHECK 18, a2, 0
    csrw mhpmevent3, a1
    csrw mcountinhibit, zero
    csrr a2, mstatush
    CHECK 19, a2, 0
    # counters: minstret counts retired instructions, mcycle advances
    csrr a3, minstret
    nop
    nop
    csrr a4, minstret
    sub a2, a4, a3
    CHECK 20, a2, 3
    csrr a3, mcycle
    csrr a4, cycle
    bgeu a3, a4, fail
    csrr a3, instret
    csrr a4, minstreth
    CHECK 21, a4, 0
    csrw minstret, zero
    csrr a2, minstret
    CHECK 22, a2, 0
    csrw minstreth, a1
    csrr a2, minstreth
    CHECK 23, a2, 0xffffffff
    csrw mcycleh, zero
    csrr a2, timeh
    CHECK 24, a2, 0
    # trigger registers tselect, tdata1..3: no triggers, read as zero, writes ignored
    csrw 0x7a0, a1
    csrr a2, 0x7a0
    CHECK 26, a2, 0
    csrw 0x7a1, a1
    csrr a2, 0x7a1
    CHECK 27, a2, 0
    csrrs a2, 0x7a2, a1
    csrrw a2, 0x7a3, a1
    csrr a3, 0x7a2
    or a2, a2, a3
    CHECK 28, a2, 0
    # illegal: unimplemented CSRs and writes to read-only ones
    li gp, 25
    csrr a2, 0x302
    csrw 0x303, zero
    csrw 0x180, zero
    csrr a2, 0x3a0
    csrr a2, 0x7c0
    csrr a2, 0x7a4
    csrw 0x7a5, a1
    csrw 0x306, zero
    csrw mhartid, zero
    csrw cycle, zero
    csrrs a2, mvendorid, a1
    csrrwi a2, time, 0
    li a2, 12
    bne s11, a2, fail
    # reading a read-only CSR with csrrs/csrrc x0 or csrrsi 0 is legal
    csrrs a2, mhartid, zero
    csrrci a2, mimpid, 0
    li a2, 12
    bne s11, a2, fail
    j pass
handler:
    csrr t0, mcause
    li t1, 2
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
