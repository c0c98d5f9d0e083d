"""The host library: talk to a Tatami mesh through the host bridge, on a board or in simulation.

One API (:class:`~tatami.host.host.Host`, async) over a transport: :class:`SerialTransport` for a
board's USB-UART, :class:`~tatami.host.sim.CocotbUart` for the RTL in a cocotb simulation. The
same session function runs on both::

    async def session(host):
        info = await host.ping()
        await host.write((1, 1), 0x0, [0x1234])
        assert await host.read((1, 1), 0x0, 1) == [0x1234]

    asyncio.run(session(Host(SerialTransport("/dev/ttyUSB0"), cfg)))   # a board
    await session(Host(CocotbUart(dut, divisor), cfg))                # cocotb
"""

from .host import BridgeError, Host, Packet
from .protocol import BridgeInfo, BridgeReg, Op, Status
from .transport import SerialTransport, Transport

__all__ = [
    "BridgeError",
    "BridgeInfo",
    "BridgeReg",
    "Host",
    "Op",
    "Packet",
    "SerialTransport",
    "Status",
    "Transport",
]
