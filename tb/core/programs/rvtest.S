# The standard riscv-tests "p" machine-mode environment, written out (env/p/riscv_test.h and
# isa/macros/scalar/test_macros.h expand to this): zero every register, probe satp, PMP and
# trap delegation with mtvec pointing past each probe (unimplemented CSRs trap and are skipped),
# install trap_vector, mret into the test with MPP = M, report through ecall -> tohost.
    .section .text.init, "ax", @progbits
    .align 6
    .weak stvec_handler
    .weak mtvec_handler
    .globl _start
_start:
    j reset_vector
    .align 2
trap_vector:
    csrr t5, mcause
    li t6, 8                     # ecall from U
    beq t5, t6, write_tohost
    li t6, 9                     # ecall from S
    beq t5, t6, write_tohost
    li t6, 11                    # ecall from M
    beq t5, t6, write_tohost
    la t5, mtvec_handler
    beqz t5, 1f
    jr t5
1:  csrr t5, mcause
    bgez t5, handle_exception
    j other_exception
handle_exception:
other_exception:
1:  ori gp, gp, 1337
write_tohost:
    sw gp, tohost, t5
    sw zero, tohost + 4, t5
    j write_tohost
reset_vector:
    .irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    li x\r, 0
    .endr
    csrr a0, mhartid
1:  bnez a0, 1b
    la t0, 1f
    csrw mtvec, t0
    csrwi 0x180, 0               # satp
    .align 2
1:  la t0, 1f
    csrw mtvec, t0
    li t0, 0x7fffffff
    csrw 0x3b0, t0               # pmpaddr0
    li t0, 0x1f
    csrw 0x3a0, t0               # pmpcfg0
    .align 2
1:  csrwi mie, 0
    la t0, 1f
    csrw mtvec, t0
    csrwi 0x302, 0               # medeleg
    csrwi 0x303, 0               # mideleg
    .align 2
1:  li gp, 0
    la t0, trap_vector
    csrw mtvec, t0
    li a0, 1
    slli a0, a0, 31
    bltz a0, 1f
    j pass
1:  la t0, stvec_handler
    beqz t0, 1f
    j fail
1:  csrwi mstatus, 0
    li a0, 0x1800                # RVTEST_RV32M init: MPP = M
    csrs mstatus, a0
    la t0, 1f
    csrw mepc, t0
    csrr a0, mhartid
    mret
1:
    # TEST_RR_OP / TEST_IMM_OP / TEST_LD_OP style cases
    li gp, 2
    li x1, 0x00000003
    li x2, 0x00000007
    add x14, x1, x2
    li x7, 0x0000000a
    bne x14, x7, fail
    li gp, 3
    li x1, 0x80000000
    li x2, 0xffff8000
    sub x14, x1, x2
    li x7, 0x80008000
    bne x14, x7, fail
    li gp, 4
    li x1, 0xff00ff00
    srai x14, x1, 4
    li x7, 0xfff00ff0
    bne x14, x7, fail
    li gp, 5
    la x1, tdat
    lw x14, 4(x1)
    li x7, 0x0ff00ff0
    bne x14, x7, fail
    li gp, 6
    li x1, -20
    li x2, 6
    rem x14, x1, x2
    li x7, -2
    bne x14, x7, fail
    bne x0, gp, pass
fail:
    fence
1:  beqz gp, 1b
    sll gp, gp, 1
    or gp, gp, 1
    li a7, 93
    addi a0, gp, 0
    ecall
pass:
    fence
    li gp, 1
    li a7, 93
    li a0, 0
    ecall
    unimp
    .data
    .pushsection .tohost, "aw", @progbits
    .align 6
    .global tohost
tohost: .dword 0
    .align 6
    .global fromhost
fromhost: .dword 0
    .popsection
    .align 4
tdat: .word 0x00ff00ff, 0x0ff00ff0, 0xf00ff00f, 0xff00ff00
