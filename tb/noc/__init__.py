"""Tests of the network on chip: route compiler, golden model, traffic, router and mesh RTL."""
