"""Tests of the floating-point units (hw/fpu) against the golden models and TestFloat vectors."""
