"""The scalar core's interfaces, defined once: the memory bus, the custom-instruction port and
the retire trace.

Memory bus (:class:`MemBusSignature`, written from the initiator's side)
-----------------------------------------------------------------------
``req`` is an Amaranth stream of :class:`MemRequest` (``addr`` a byte address with bits 1..0
zero, ``wdata``, byte ``mask``, ``we``); ``resp`` an valid-only channel of
:class:`MemResponse` (``rdata``, ``err``). Every request, read or write, gets exactly one
response, in request order, one or more cycles after the request was accepted; the latency may
vary. The initiator never has more requests outstanding than it can take responses for, so the
response channel has no ``ready``. ``err`` reports an access the target refused (the core turns
it into an access-fault trap). See docs/core.md for waveforms.

Custom-instruction port (:class:`CustomSignature`)
--------------------------------------------------
``req`` carries one custom-0..3 instruction (:class:`CxRequest`: hardware ``thread``, the
instruction word ``insn``, ``a`` = x[rs1], ``b`` = x[rs2]); ``ready`` low is the unit's busy /
stall. ``resp`` (:class:`CxResponse`) returns, any number of cycles later, ``thread``, ``data``,
``wb`` (write ``data`` to rd) and ``err`` (the unit does not implement the instruction: illegal
instruction trap). Each thread has at most one custom instruction outstanding.

Retire trace (:class:`RetireRecord`)
------------------------------------
One record per instruction that completes or traps, the fields of
:class:`tatami.sim.core.model.Retire`.
"""

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "THREAD_BITS",
    "CustomSignature",
    "CxRequest",
    "CxResponse",
    "MemBusSignature",
    "MemRequest",
    "MemResponse",
    "RetireRecord",
    "ValidSignature",
]

#: Thread indices are two bits wide whatever the thread count (at most 4 threads per core).
THREAD_BITS = 2


class ValidSignature(wiring.Signature):
    """``valid`` + ``payload`` with no ``ready``: a channel whose receiver always accepts
    (responses, the retire trace). Written from the source's side."""

    def __init__(self, payload_shape):
        super().__init__({"valid": Out(1), "payload": Out(payload_shape)})


class MemRequest(data.Struct):
    addr: 32
    wdata: 32
    mask: 4
    we: 1


class MemResponse(data.Struct):
    rdata: 32
    err: 1


class MemBusSignature(wiring.Signature):
    """A 32-bit request/response memory port, from the initiator's side."""

    def __init__(self):
        super().__init__(
            {
                "req": Out(stream.Signature(MemRequest)),
                "resp": In(ValidSignature(MemResponse)),
            }
        )


class CxRequest(data.Struct):
    thread: THREAD_BITS
    insn: 32
    a: 32
    b: 32


class CxResponse(data.Struct):
    thread: THREAD_BITS
    data: 32
    wb: 1
    err: 1


class CustomSignature(wiring.Signature):
    """The custom-instruction port, from the core's side."""

    def __init__(self):
        super().__init__(
            {
                "req": Out(stream.Signature(CxRequest)),
                "resp": In(ValidSignature(CxResponse)),
            }
        )


class RetireRecord(data.Struct):
    thread: THREAD_BITS
    pc: 32
    insn: 32
    rd: 5  # 0: no register written
    rd_value: 32
    trap: 1
    cause: 32
    tval: 32
    mem_we: 1
    mem_addr: 32
    mem_wdata: 32
    mem_mask: 4
