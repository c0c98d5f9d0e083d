"""Formal proofs of the router (tb/noc/formal): bounded model checks from reset with Yosys' SAT
solver, on the ``tiny`` router with table routing (any table contents, loaded at any time), and
deliberately broken routers that the same checks must catch; the bounded-wait check under
SymbiYosys (smtbmc with Yices), which reaches its depth about three times faster.

Each check is small: depth counts cycles from reset, enough to fill every buffer (2 flits per link
VC, 4 per local VC in ``tiny``) and to run the credit loop several times round.
"""

import pytest

from tatami.config import preset
from tatami.hw.noc.router import Router

from .formal.harness import RouterHarness
from .formal.prove import prove, prove_sby
from .netsim import ALL_VARIANTS, OTHER_VARIANTS, VARIANTS


def _cfg(variant="lookpast"):
    return preset("tiny").replace(
        **{"noc.routing": "table"}, **{f"noc.{k}": v for k, v in ALL_VARIANTS[variant].items()}
    )


def _check(props, depth, variant="lookpast", **kw):
    # Depths are for one router stage; a second stage puts each flit on its link a cycle later.
    cfg = _cfg(variant)
    result = prove(RouterHarness(cfg, props, **kw), depth=depth + cfg.noc.router_stages - 1)
    return result


_SAFETY = {"credits": (("credits",), 4), "route": (("route",), 3), "tag": (("tag",), 4)}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("props", "depth", "variant"),
    [pytest.param(*_SAFETY[p], v, id=f"{p}-{v}") for p in _SAFETY for v in VARIANTS]
    # The combinations no preset uses (look-past with two stages, FIFO with one): the same checks;
    # the tag proofs (35 s and 110 s) in the long run.
    + [
        pytest.param(*_SAFETY[p], v, id=f"{p}-{v}", marks=[pytest.mark.long] if p == "tag" else [])
        for p in _SAFETY
        for v in OTHER_VARIANTS
    ],
)
def test_router_safety(props, depth, variant):
    result = _check(props, depth, variant)
    assert result.passed, result.log[-2000:]


@pytest.mark.long
@pytest.mark.parametrize("props", ["credits", "tag"])
def test_cut_through_router_safety(props):
    """The look-past router with 4-flit VCs, where packets of up to 2 flits are cut-through (room
    check, locks, whole packets passing older ones): the same safety checks, deep enough to fill a
    VC. (``tiny``'s 2-flit VCs make only 1-flit packets cut-through, plus the free environment's
    heads whose length field says 1 flit: those exercise the lock and passing in the default run.)"""
    cfg = _cfg("lookpast").replace(**{"noc.vc_depth": 4})
    assert Router.cut_through(cfg) == 2
    result = prove(RouterHarness(cfg, (props,)), depth=CUT_DEPTH)
    assert result.passed, result.log[-2000:]


#: Cycles from reset for the cut-through checks: a 4-flit VC filled and a packet passing.
CUT_DEPTH = 6


def _wait_cfg():
    """The bounded-wait proof's router: the look-past router with one flit per VC buffer -- one
    credit per output VC, so the 3-cycle credit loop empties an output VC after every flit, the case
    that starved a waiting flit under round robin -- 1-flit packets and XY routing."""
    return preset("tiny").replace(**{"noc.vc_depth": 1, "noc.max_packet_flits": 1, "noc.routing": "xy"})


def _wait(mutation=None):
    harness = RouterHarness(_wait_cfg(), ("wait",), live=True, bound=WAIT_BOUND, mutation=mutation)
    return prove_sby(harness, depth=WAIT_DEPTH)


@pytest.mark.slow
def test_router_bounded_wait():
    """Every input VC's front flit is served within WAIT_BOUND cycles (urgent after
    ``Router.urgent_cycles`` = 2, then served after the urgent flits older than it)."""
    result = _wait()
    assert result.status == "bounded", result.log[-2000:]


def test_bounded_wait_needs_the_age_order():
    """Without urgency (longest queue first and round robin only) a flit waits past the bound."""
    result = _wait("no_urgency")
    assert result.status == "failed", result.log[-2000:]


@pytest.mark.parametrize(
    ("mutation", "props", "depth", "kw"),
    [
        ("no_credit_check", ("credits",), 6, {}),
        ("no_edge_check", ("route",), 3, {}),
    ],
    ids=["no_credit_check", "no_edge_check"],
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_broken_router_fails(mutation, props, depth, kw, variant):
    result = _check(props, depth, variant, mutation=mutation, **kw)
    assert result.status == "failed", result.log[-2000:]


@pytest.mark.long
def test_fifo_router_fixed_priority_fails_the_wait_check():
    """The FIFO router's round robin (no bounded-wait proof of its own yet): output arbiters that
    never advance starve an input."""
    result = _check(("wait",), 16, "fifo", mutation="fixed_priority", live=True, bound=12)
    assert result.status == "failed", result.log[-2000:]


#: The bounded-wait check under SymbiYosys (smtbmc, Yices): with prompt credits, XY routing (the
#: neighbours send XY-routed flits) and 1-flit packets, every input VC's front flit is served within
#: WAIT_BOUND cycles of reaching the front; checked over WAIT_DEPTH cycles from reset. Bound 11 is
#: refuted (depth 14), so the tight bound is 12 or 13.
WAIT_BOUND = 13
WAIT_DEPTH = 16


def test_fifo_router_bounded_wait_at_fpga_depth():
    """The FIFO router (``fpga-2x2``'s kind) with ``fpga-2x2``'s 4-flit VCs, in the bounded-wait
    environment (prompt credits, XY routing, 1-flit packets): every input VC's front flit is served
    within 20 cycles, checked over 23 cycles from reset. (With 1- or 2-flit VCs the same check
    fails: docs/noc.md, "Bounded wait".)"""
    cfg = preset("tiny").replace(
        **{"noc.vc_depth": 4, "noc.max_packet_flits": 1, "noc.routing": "xy"},
        **{f"noc.{k}": v for k, v in VARIANTS["fifo"].items()},
    )
    result = prove_sby(RouterHarness(cfg, ("wait",), live=True, bound=20), depth=23)
    assert result.status == "bounded", result.log[-2000:]
