# Hardware threads: thread 0 starts the others with thread.start (an index beyond the core's
# threads is an illegal instruction), each worker stores its mhartid and raises a flag, thread 0
# stops a worker with thread.stop and restarts it at another pc.
    .include "env.inc"
    TEST_BEGIN
    li s11, 0                  # illegal thread.start count
    la s1, worker
    li s2, 1
1:  thread.start s2, s1
    addi s2, s2, 1
    li t0, 4
    blt s2, t0, 1b
    li s3, 4
    sub s3, s3, s11            # threads = 4 - traps
    # wait for every started worker's flag
    la s4, flags
    li s2, 1
2:  bge s2, s3, 4f
    slli t0, s2, 2
    add t0, t0, s4
3:  lw t1, 0(t0)
    beqz t1, 3b
    # slot = mhartid = thread index (node 0)
    lw t1, 16(t0)
    li gp, 10
    bne t1, s2, fail
    addi s2, s2, 1
    j 2b
4:  li gp, 20
    li t0, 1
    bge t0, s3, pass           # single thread: nothing more to do
    # stop worker 1, restart it at worker2
    li a0, 1
    thread.stop a0
    la a1, worker2
    nop
    nop
    thread.start a0, a1
    la t0, flag2
5:  lw t1, 0(t0)
    beqz t1, 5b
    li gp, 21
    li t2, 0x5a
    bne t1, t2, fail
    thread.stop a0
    j pass

worker:
    csrr a0, mhartid
    la t0, flags
    slli t1, a0, 2
    add t0, t0, t1
    sw a0, 16(t0)
    li t2, 1
    sw t2, 0(t0)
6:  j 6b
worker2:
    la t0, flag2
    li t1, 0x5a
    sw t1, 0(t0)
7:  j 7b

handler:
    csrr t0, mcause
    li t1, 2
    li gp, 30
    bne t0, t1, fail
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    addi s11, s11, 1
    mret
    .data
    .align 2
flags: .word 0, 0, 0, 0
slots: .word 0, 0, 0, 0
flag2: .word 0
    TEST_END
