"""The network on chip: router, mesh fabric, traffic generators and checkers (see docs/noc.md)."""
