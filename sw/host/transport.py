"""Byte transports under :class:`~tatami.host.host.Host`."""

from __future__ import annotations

import asyncio

__all__ = ["SerialTransport", "Transport"]


class Transport:
    """Moves bytes to and from the bridge. ``timeout`` is in seconds of the link's own time: a
    simulated UART converts it to simulated time at :attr:`baud`."""

    baud = 115200

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def read(self, timeout: float) -> bytes:
        """Whatever bytes arrived, waiting at most ``timeout`` for the first; ``b""`` if none."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialTransport(Transport):
    """A serial port (the board's USB-UART) through pyserial.

    Parameters
    ----------
    port : str
        ``/dev/ttyUSB0``, ``COM3``, ...
    baud : int
        Must match the bitstream's (``tatami fpga build --baud``; 115200 by default).
    """

    def __init__(self, port: str, baud: int = 115200):
        import serial

        try:
            self.serial = serial.Serial(port, baud, timeout=0)
        except serial.SerialException as e:
            raise ConnectionError(
                f"cannot open serial port {port}: {e}. Is the board plugged in and programmed? "
                "(list ports with `python -m serial.tools.list_ports`)"
            ) from None
        self.baud = baud

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.serial.write, bytes(data))

    async def read(self, timeout: float) -> bytes:
        def blocking():
            self.serial.timeout = timeout
            first = self.serial.read(1)
            if not first:
                return b""
            self.serial.timeout = 0
            return first + self.serial.read(self.serial.in_waiting or 0)

        return await asyncio.to_thread(blocking)

    def close(self) -> None:
        self.serial.close()
