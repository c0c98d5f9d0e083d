"""Fair arbiters: round-robin and matrix (least recently granted).

Both grant combinationally from ``requests`` and update their priority state only when the grant
is used (``advance``), so a requester that is granted but cannot proceed (its target stalled)
keeps its turn. Both are starvation-free: a request held high is granted within ``n - 1`` other
grants.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ArbiterSignature", "MatrixArbiter", "RoundRobinArbiter"]


class ArbiterSignature(wiring.Signature):
    """The ports every arbiter has (see :class:`RoundRobinArbiter`)."""

    def __init__(self, n: int):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"an arbiter needs a positive number of requesters, not {n!r}")
        self.n = n
        super().__init__(
            {
                "requests": In(n),
                "grant": Out(n),
                "grant_index": Out(range(max(n, 2))),
                "valid": Out(1),
                "advance": In(1),
            }
        )


class _Arbiter(wiring.Component):
    def __init__(self, n: int):
        signature = ArbiterSignature(n)
        self.n = n
        super().__init__(signature)


class RoundRobinArbiter(_Arbiter):
    """Round-robin arbiter over ``n`` requesters.

    The requester after the last one granted has the highest priority.

    Attributes
    ----------
    requests : In(n)
        One bit per requester.
    grant : Out(n)
        One-hot grant (zero when no request).
    grant_index : Out(range(n))
        Index of the granted requester (valid while ``valid``).
    valid : Out(1)
        Some requester is granted.
    advance : In(1)
        The grant was used this cycle: the granted requester goes to the lowest priority.
    """

    def elaborate(self, platform):
        m = Module()
        n = self.n
        # last: index granted last time; priority starts at last + 1.
        last = Signal(range(max(n, 2)), init=n - 1)
        m.d.comb += self.valid.eq(self.requests.any())
        # Scan the requesters in priority order; the first requesting one wins. Written as a
        # chain over the doubled request vector so it synthesizes to a priority encoder per
        # starting point.
        for start in range(n):
            with m.If(last == (start - 1) % n):
                for off in reversed(range(n)):
                    idx = (start + off) % n
                    with m.If(self.requests[idx]):
                        m.d.comb += self.grant_index.eq(idx)
        m.d.comb += self.grant.eq(_onehot(self.grant_index, n, self.valid))
        with m.If(self.advance & self.valid):
            m.d.sync += last.eq(self.grant_index)
        return m


def _onehot(index, n, valid):
    return Cat(*[(index == i) & valid for i in range(n)]) if n > 1 else valid


class MatrixArbiter(_Arbiter):
    """Matrix arbiter over ``n`` requesters: grants the least recently granted requester.

    Keeps one priority bit per pair: ``w[i][j]`` set means ``i`` beats ``j``. A grant to ``i``
    clears row ``i`` and sets column ``i``. Same ports as :class:`RoundRobinArbiter`.
    """

    def elaborate(self, platform):
        m = Module()
        n = self.n
        # Upper triangle only: beats(i, j) for i < j is a register; beats(j, i) is its inverse.
        # Initially lower index beats higher.
        w = {(i, j): Signal(name=f"w_{i}_{j}", init=1) for i in range(n) for j in range(i + 1, n)}

        def beats(i, j):
            return w[(i, j)] if i < j else ~w[(j, i)]

        grants = []
        for i in range(n):
            blocked = Const(0)
            for j in range(n):
                if j != i:
                    blocked = blocked | (self.requests[j] & beats(j, i))
            grants.append(self.requests[i] & ~blocked)
        m.d.comb += [self.grant.eq(Cat(*grants)), self.valid.eq(self.requests.any())]
        for i in range(n):
            with m.If(grants[i]):
                m.d.comb += self.grant_index.eq(i)
        with m.If(self.advance & self.valid):
            for (i, j), bit in w.items():
                # A grant to i makes i lose to everyone; a grant to j makes i beat j.
                with m.If(self.grant[i]):
                    m.d.sync += bit.eq(0)
                with m.Elif(self.grant[j]):
                    m.d.sync += bit.eq(1)
        return m
