# a riscv-tests flavoured program
    .option norvc
    .equ UART, 0x10000000
    .set COUNT, 4
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    la sp, stack_top
    li t0, UART
    call main
1:  j 1b
    .text
main:
    addi sp, sp, -16
    sw ra, 12(sp)
    la a0, message
    lw a1, counter
    sw a1, counter, t2
    lui a2, %hi(table)
    addi a2, a2, %lo(table)
    lw a3, %lo(table+4)(a2)
2:  auipc a4, %pcrel_hi(table)
    addi a4, a4, %pcrel_lo(2b)
    li a5, COUNT * 2
    beqz a5, 3f
    addi a5, a5, -1
3:  bnez a5, 2b
    tail helper
    .align 4
helper:
    csrr a0, mhartid
    ret
    .rept 3
    nop
    .endr
    .macro twice reg, val=1
    addi \reg, \reg, \val
    addi \reg, \reg, \val
    .endm
    twice a0
    twice a1, 5
    .data
message: .string "hello, tatami\n"
    .align 2
counter: .word 7, message, end - message
table:  .half 1, 2, -1; .byte 1, 2, 3, 'x'
    .balign 8
    .dword 0x123456789abcdef0
    .zero 3
    .ascii "ab"
end:
    .section .rodata
ro: .word UART, COUNT
    .bss
    .align 4
buf: .space 64
stack_top: .skip 16
    .section .tohost, "aw", @progbits
    .align 6
    .globl tohost
tohost: .dword 0
