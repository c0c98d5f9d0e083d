"""Shared building blocks: stream skid buffer, FIFOs, arbiters, LFSR, layout codecs, hierarchy."""
