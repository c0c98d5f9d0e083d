"""FPGA board builds."""
