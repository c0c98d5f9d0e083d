"""Formal proofs of the router (tatami.hw.noc.router): harnesses and a small prover driver."""
