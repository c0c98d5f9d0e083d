"""The host bridge: UART, SLIP framing with CRC-32, and the frame <-> mesh packet bridge.

The protocol is defined, and modelled, in :mod:`tatami.host.protocol`; see docs/fpga.md.
"""
