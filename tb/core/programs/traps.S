# One trap of every cause: mcause, mepc, mtval and mstatus as the handler sees them, and mret.
# The handler records (mcause, mepc, mtval, mstatus) at s0 and skips the instruction; an
# instruction access fault resumes at ra.
    .include "env.inc"
    .macro CHECKTRAP cause, epc, tval
    lw t1, 0(s0)
    li t2, \cause
    bne t1, t2, fail
    lw t1, 4(s0)
    lui t2, %hi(\epc)
    addi t2, t2, %lo(\epc)
    bne t1, t2, fail
    lw t1, 8(s0)
    lui t2, %hi(\tval)
    addi t2, t2, %lo(\tval)
    bne t1, t2, fail
    lw t1, 12(s0)
    li t2, 0x1880           # MPP=3, MPIE=1, MIE=0 inside the handler
    bne t1, t2, fail
    sw zero, 0(s0)
    .endm
    TEST_BEGIN
    la s0, log
    csrsi mstatus, 8          # MIE=1: the trap clears it and saves it in MPIE
    # cause 0: jump to a misaligned target
    li gp, 1
    la t0, c0_land
t_c0: jalr x0, 2(t0)
c0_land:
    CHECKTRAP 0, t_c0, c0_land + 2
    # cause 1: jump to an address outside the SRAM
    li gp, 2
    li t0, 0x1000
t_c1: jalr ra, 0(t0)
    CHECKTRAP 1, 0x1000, 0x1000
    # cause 2: illegal instruction
    li gp, 3
t_c2: .word 0x00000000
    CHECKTRAP 2, t_c2, 0
    # cause 3: ebreak
    li gp, 4
t_c3: ebreak
    CHECKTRAP 3, t_c3, t_c3
    # cause 4: misaligned load
    li gp, 5
    la t0, log
t_c4: lw t1, 2(t0)
    CHECKTRAP 4, t_c4, log + 2
    # cause 5: load outside the SRAM
    li gp, 6
    li t0, 0x7ffffffc
t_c5: lw t1, 0(t0)
    CHECKTRAP 5, t_c5, 0x7ffffffc
    # cause 6: misaligned store
    li gp, 7
    la t0, log
t_c6: sh t1, 1(t0)
    CHECKTRAP 6, t_c6, log + 1
    # cause 7: store outside the SRAM
    li gp, 8
    li t0, -4
t_c7: sw t1, 0(t0)
    CHECKTRAP 7, t_c7, 0xfffffffc
    # cause 11: ecall
    li gp, 9
t_c11: ecall
    CHECKTRAP 11, t_c11, 0
    # mret restored MIE from MPIE (1) each time
    li gp, 10
    csrr t0, mstatus
    andi t0, t0, 8
    beqz t0, fail
    j pass


handler:
    csrr t3, mcause
    sw t3, 0(s0)
    csrr t3, mepc
    sw t3, 4(s0)
    csrr t3, mtval
    sw t3, 8(s0)
    csrr t3, mstatus
    sw t3, 12(s0)
    csrr t3, mcause
    li t4, 1
    beq t3, t4, 1f
    csrr t3, mepc
    addi t3, t3, 4
    csrw mepc, t3
    mret
1:  csrw mepc, ra
    mret
    .data
    .align 2
log: .word 0, 0, 0, 0
    TEST_END
