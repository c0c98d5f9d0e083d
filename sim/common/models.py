"""Bit-exact, cycle-level golden models of the shared building blocks.

Each model steps once per clock cycle with the same inputs as the RTL and returns the same
outputs, so a testbench can compare every cycle (arbiters, LFSR) or every transfer (FIFOs).
"""

from __future__ import annotations

from collections import deque

from tatami.hw.common.lfsr import MAXIMAL_TAPS, ZERO_SEED_SUBSTITUTE

__all__ = ["FifoModel", "LfsrModel", "MatrixArbiterModel", "RoundRobinArbiterModel"]


class RoundRobinArbiterModel:
    """Model of :class:`tatami.hw.common.arbiter.RoundRobinArbiter`."""

    def __init__(self, n: int):
        self.n = n
        self.last = n - 1

    def grant(self, requests: int) -> int | None:
        """Index granted for this cycle's request bits (combinational), or None."""
        for off in range(self.n):
            idx = (self.last + 1 + off) % self.n
            if requests >> idx & 1:
                return idx
        return None

    def step(self, requests: int, advance: bool) -> int | None:
        """The grant of this cycle; then the clock edge."""
        g = self.grant(requests)
        if advance and g is not None:
            self.last = g
        return g


class MatrixArbiterModel:
    """Model of :class:`tatami.hw.common.arbiter.MatrixArbiter` (least recently granted)."""

    def __init__(self, n: int):
        self.n = n
        # beats[i][j] for i < j; lower index wins initially.
        self.w = {(i, j): True for i in range(n) for j in range(i + 1, n)}

    def _beats(self, i, j):
        return self.w[(i, j)] if i < j else not self.w[(j, i)]

    def grant(self, requests: int) -> int | None:
        for i in range(self.n):
            if requests >> i & 1 and not any(
                requests >> j & 1 and self._beats(j, i) for j in range(self.n) if j != i
            ):
                return i
        return None

    def step(self, requests: int, advance: bool) -> int | None:
        g = self.grant(requests)
        if advance and g is not None:
            for i, j in self.w:
                if i == g:
                    self.w[(i, j)] = False
                elif j == g:
                    self.w[(i, j)] = True
        return g


class LfsrModel:
    """Model of :class:`tatami.hw.common.lfsr.LFSR`."""

    def __init__(self, width: int = 32, step: int = 1, *, seed: int = 1, taps=None):
        self.width, self.step_bits = width, step
        self.taps = tuple(taps) if taps else MAXIMAL_TAPS[width]
        self.mask = (1 << width) - 1
        self.state = seed or ZERO_SEED_SUBSTITUTE

    def single_step(self):
        fb = 0
        for t in self.taps:
            fb ^= self.state >> (t - 1) & 1
        self.state = ((self.state << 1) | fb) & self.mask

    def load(self, seed: int):
        self.state = seed or ZERO_SEED_SUBSTITUTE

    def advance(self) -> int:
        """One enabled cycle; returns the new value."""
        for _ in range(self.step_bits):
            self.single_step()
        return self.state

    def period(self, limit: int | None = None) -> int:
        """Single steps until the state repeats (for checking maximal length)."""
        start, n = self.state, 0
        limit = limit or (1 << self.width)
        while True:
            self.single_step()
            n += 1
            if self.state == start or n > limit:
                return n


class FifoModel:
    """Transfer-level model of a FIFO: what goes in comes out, in order, never more than depth."""

    def __init__(self, depth: int):
        self.depth = depth
        self.q: deque = deque()

    def push(self, item):
        if len(self.q) >= self.depth:
            raise AssertionError(f"FIFO accepted item {item!r} while holding {self.depth} (its depth)")
        self.q.append(item)

    def pop(self, item):
        if not self.q:
            raise AssertionError(f"FIFO produced {item!r} while empty")
        expected = self.q.popleft()
        if expected != item:
            raise AssertionError(f"FIFO produced {item!r}, expected {expected!r}")
