"""Amaranth hardware units."""
