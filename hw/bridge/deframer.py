"""Frame receiver: SLIP decoding, CRC-32 check, frame buffer; rejects and counts bad frames."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tatami.host.protocol import END, ESC, ESC_END, ESC_ESC, MIN_FRAME

from .crc import CRC32_INIT, CRC32_RESIDUE, crc32_byte

__all__ = ["Deframer"]

COUNTER_BITS = 32


class Deframer(wiring.Component):
    """Turns a byte stream into CRC-checked frames, exactly as :class:`tatami.host.protocol.Deframer`.

    Bytes are unescaped into a buffer while a CRC-32 register runs over them; at ``END`` a frame
    whose register holds the residue is offered to the consumer (``frame_valid``, ``frame_len``
    bytes without the CRC, read through ``rd_addr``/``rd_data``). Nothing is offered before its
    CRC has been checked. While a frame is offered, input stalls (``i.ready`` low) until
    ``frame_done``. A framing error (``ESC`` followed by anything but ``ESC_END``/``ESC_ESC``), an
    overlong frame (more than ``max_frame`` bytes), a short one (< 6 bytes) or a bad CRC is counted
    and the bytes up to the next ``END`` are discarded.

    Parameters
    ----------
    max_frame : int
        Largest unescaped frame, CRC included (:attr:`tatami.host.protocol.Limits.max_frame`).

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes from the UART.
    frame_valid : Out(1), frame_len : Out(range(max_frame + 1)), frame_done : In(1)
        A checked frame is in the buffer; ``frame_done`` (one cycle) releases it.
    rd_addr : In(range(max_frame)), rd_data : Out(8)
        Buffer read port; ``rd_data`` is the byte at the previous cycle's ``rd_addr``.
    frames_ok, crc_errors, framing_errors, overlong, short : Out(32)
        Wrapping counters. ``clear`` (one cycle) zeroes them.
    """

    def __init__(self, max_frame: int):
        if not isinstance(max_frame, int) or max_frame < MIN_FRAME:
            raise ValueError(f"max_frame must be an integer >= {MIN_FRAME}, not {max_frame!r}")
        self.max_frame = max_frame
        super().__init__(
            {
                "i": In(stream.Signature(8)),
                "frame_valid": Out(1),
                "frame_len": Out(range(max_frame + 1)),
                "frame_done": In(1),
                "rd_addr": In(range(max_frame)),
                "rd_data": Out(8),
                "frames_ok": Out(COUNTER_BITS),
                "crc_errors": Out(COUNTER_BITS),
                "framing_errors": Out(COUNTER_BITS),
                "overlong": Out(COUNTER_BITS),
                "short": Out(COUNTER_BITS),
                "clear": In(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        n = self.max_frame
        m.submodules.mem = mem = Memory(shape=8, depth=n, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=())
        m.d.comb += [rd.addr.eq(self.rd_addr), self.rd_data.eq(rd.data)]

        count = Signal(range(n + 1))
        crc = Signal(32, init=CRC32_INIT)
        esc = Signal()
        discard = Signal()

        def bump(counter):
            m.d.sync += counter.eq(counter + 1)

        def restart():
            m.d.sync += [count.eq(0), crc.eq(CRC32_INIT), esc.eq(0), discard.eq(0)]

        def error(counter):
            bump(counter)
            m.d.sync += [discard.eq(1), esc.eq(0), count.eq(0), crc.eq(CRC32_INIT)]

        def store(byte):
            with m.If(count >= n):
                error(self.overlong)
            with m.Else():
                m.d.comb += [wr.addr.eq(count), wr.data.eq(byte), wr.en.eq(1)]
                m.d.sync += [count.eq(count + 1), crc.eq(crc32_byte(crc, byte))]

        m.d.comb += self.i.ready.eq(~self.frame_valid)
        with m.If(self.frame_done):
            m.d.sync += self.frame_valid.eq(0)

        b = self.i.payload
        with m.If(self.i.valid & self.i.ready):
            with m.If(b == END):
                restart()
                with m.If(discard):
                    pass
                with m.Elif(esc):
                    bump(self.framing_errors)
                with m.Elif(count == 0):
                    pass
                with m.Elif(count < MIN_FRAME):
                    bump(self.short)
                with m.Elif(crc != CRC32_RESIDUE):
                    bump(self.crc_errors)
                with m.Else():
                    bump(self.frames_ok)
                    m.d.sync += [self.frame_valid.eq(1), self.frame_len.eq(count - 4)]
            with m.Elif(discard):
                pass
            with m.Elif(esc):
                m.d.sync += esc.eq(0)
                with m.If(b == ESC_END):
                    store(END)
                with m.Elif(b == ESC_ESC):
                    store(ESC)
                with m.Else():
                    error(self.framing_errors)
            with m.Elif(b == ESC):
                m.d.sync += esc.eq(1)
            with m.Else():
                store(b)

        with m.If(self.clear):
            m.d.sync += [c.eq(0) for c in (self.frames_ok, self.crc_errors, self.framing_errors)]
            m.d.sync += [c.eq(0) for c in (self.overlong, self.short)]
        return m
