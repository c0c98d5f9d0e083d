"""Tatami: an open AI training processor modelled on the public description of the Tesla Dojo D1."""

__version__ = "0.1.0"
