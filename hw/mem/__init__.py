"""Node memory: banked SRAM with SECDED ECC and its port interface (docs/datapath.md)."""
