"""A transport that drives the bridge's UART pins in a cocotb simulation, bit by bit."""

from __future__ import annotations

from collections import deque

from .transport import Transport

__all__ = ["CocotbUart"]

#: Host timeouts are given in seconds of a 115200-baud link; a simulated link scales them.
REFERENCE_BAUD = 115200


class CocotbUart(Transport):
    """8N1 on the design's ``uart_rx`` (driven) and ``uart_tx`` (sampled mid-bit) pins.

    Parameters
    ----------
    dut : cocotb handle
    divisor : int
        Clock cycles per bit, as the design was built with.
    clock_ns : float
        The simulation clock period.
    """

    def __init__(self, dut, divisor: int, clock_ns: float = 10, rx: str = "uart_rx", tx: str = "uart_tx"):
        import cocotb
        from cocotb.triggers import Event

        self.rx, self.tx = getattr(dut, rx), getattr(dut, tx)
        self.bit_ns = divisor * clock_ns
        self.baud = 1e9 / self.bit_ns
        self.received: deque[int] = deque()
        self.bytes_sent = 0
        self._event = Event()
        self.rx.value = 1
        self._task = cocotb.start_soon(self._monitor())

    async def _monitor(self):
        from cocotb.triggers import FallingEdge, Timer

        while True:
            await FallingEdge(self.tx)
            await Timer(self.bit_ns * 1.5, unit="ns")
            byte = 0
            for i in range(8):
                byte |= int(self.tx.value) << i
                await Timer(self.bit_ns, unit="ns")
            if int(self.tx.value) == 1:  # stop bit
                self.received.append(byte)
                self._event.set()

    async def write(self, data: bytes) -> None:
        from cocotb.triggers import Timer

        for byte in bytes(data):
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                self.rx.value = bit
                await Timer(self.bit_ns, unit="ns")
            self.bytes_sent += 1

    async def read(self, timeout: float) -> bytes:
        from cocotb.triggers import First, Timer

        if not self.received:
            self._event.clear()
            wait_ns = max(1, timeout * REFERENCE_BAUD) * self.bit_ns
            await First(self._event.wait(), Timer(wait_ns, unit="ns", round_mode="round"))
        out = bytes(self.received)
        self.received.clear()
        return out

    def close(self) -> None:
        self._task.cancel()
