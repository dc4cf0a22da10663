"""Order and group state machines (SPEC §4.1, §4.2): every legal move works, every other one
raises, and a group's status follows from its legs."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from server.domain.aggregates import LegState
from server.domain.enums import GroupStatus, OrderStatus
from server.domain.order_fsm import (
    GROUP_TRANSITIONS,
    ORDER_TRANSITIONS,
    IllegalTransition,
    OrderEvent,
    apply,
    derive_group_status,
    event_from_exchange,
    group_transition,
)

S, E, G = OrderStatus, OrderEvent, GroupStatus

LEGAL_ORDER_MOVES = [
    (S.PENDING, E.ACKNOWLEDGED, S.OPEN),
    (S.PENDING, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PENDING, E.FILLED, S.FILLED),
    (S.PENDING, E.CANCELLED, S.CANCELLED),
    (S.PENDING, E.EXPIRED, S.CANCELLED),
    (S.PENDING, E.REJECTED, S.FAILED),
    (S.OPEN, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.OPEN, E.FILLED, S.FILLED),
    (S.OPEN, E.CANCELLED, S.CANCELLED),
    (S.OPEN, E.EXPIRED, S.CANCELLED),
    (S.PARTIALLY_FILLED, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, E.FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, E.CANCELLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, E.EXPIRED, S.CANCELLED),
    # reconciliation: unknown at the exchange after several lookups, and found again
    (S.OPEN, E.LOST, S.LOST),
    (S.PARTIALLY_FILLED, E.LOST, S.LOST),
    (S.LOST, E.ACKNOWLEDGED, S.OPEN),
    (S.LOST, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.LOST, E.FILLED, S.FILLED),
    (S.LOST, E.CANCELLED, S.CANCELLED),
    (S.LOST, E.EXPIRED, S.CANCELLED),
]
ILLEGAL_ORDER_MOVES = [
    (status, event)
    for status, event in itertools.product(OrderStatus, OrderEvent)
    if (status, event) not in ORDER_TRANSITIONS
]


def test_the_table_is_exactly_the_documented_one():
    assert {(s, e): t for s, e, t in LEGAL_ORDER_MOVES} == dict(ORDER_TRANSITIONS)


@pytest.mark.parametrize(("status", "event", "target"), LEGAL_ORDER_MOVES)
def test_legal_order_moves(status, event, target):
    assert apply(status, event) is target
    assert apply(status.value, event.value) is target  # stored strings work too


@pytest.mark.parametrize(("status", "event"), ILLEGAL_ORDER_MOVES)
def test_every_other_order_move_raises(status, event):
    """The complement of the table: 7 statuses × 7 events − 21 legal moves = 28 illegal."""
    with pytest.raises(IllegalTransition):
        apply(status, event)


def test_illegal_moves_cover_the_whole_complement():
    assert len(ILLEGAL_ORDER_MOVES) == len(OrderStatus) * len(OrderEvent) - len(LEGAL_ORDER_MOVES)
    assert (S.OPEN, E.ACKNOWLEDGED) in ILLEGAL_ORDER_MOVES  # a repeated ack is not a move
    assert (S.FILLED, E.CANCELLED) in ILLEGAL_ORDER_MOVES
    assert len(ILLEGAL_ORDER_MOVES) == 7 * 7 - 21
    assert (S.PENDING, E.LOST) in ILLEGAL_ORDER_MOVES  # a pending order is re-sent, not lost
    assert (S.FILLED, E.LOST) in ILLEGAL_ORDER_MOVES


def test_final_states_say_so():
    with pytest.raises(IllegalTransition, match="filled \\(a final state\\) cannot become"):
        apply(S.FILLED, E.PARTIALLY_FILLED)


def test_unknown_names_raise():
    with pytest.raises(IllegalTransition):
        apply("vanished", E.FILLED)
    with pytest.raises(IllegalTransition):
        apply(S.OPEN, "teleported")


# --------------------------------------------------------------------------- exchange reports


@pytest.mark.parametrize(
    ("status", "reported", "filled", "before", "event"),
    [
        (S.PENDING, "open", D(0), D(0), E.ACKNOWLEDGED),
        (S.PENDING, "open", D("0.1"), D(0), E.PARTIALLY_FILLED),
        (S.PENDING, "closed", D(1), D(0), E.FILLED),  # ccxt spelling
        (S.PENDING, "filled", D(1), D(0), E.FILLED),
        (S.PENDING, "rejected", D(0), D(0), E.REJECTED),
        (S.PENDING, "expired", D(0), D(0), E.EXPIRED),
        (S.OPEN, "open", D(0), D(0), None),  # nothing changed
        (S.OPEN, "partially_filled", D("0.2"), D(0), E.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, "partially_filled", D("0.2"), D("0.2"), None),
        (S.PARTIALLY_FILLED, "open", D("0.3"), D("0.2"), E.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, "canceled", D("0.3"), D("0.2"), E.CANCELLED),
        (S.FILLED, "filled", D(1), D(1), None),  # a repeated report of a final order
        (S.LOST, "open", D(0), D(0), E.ACKNOWLEDGED),  # a lost order turns up again
        (S.LOST, "open", D("0.2"), D("0.2"), E.PARTIALLY_FILLED),
        (S.LOST, "filled", D(1), D("0.2"), E.FILLED),
        (S.LOST, "rejected", D(0), D(0), E.CANCELLED),
    ],
)
def test_event_from_exchange(status, reported, filled, before, event):
    assert event_from_exchange(status, reported, filled, before) == event
    if event is not None:
        apply(status, event)  # and the event is always legal


# --------------------------------------------------------------------------- groups

LEGAL_GROUP_MOVES = sorted(
    (before, after) for before, targets in GROUP_TRANSITIONS.items() for after in targets
)
ILLEGAL_GROUP_MOVES = [
    (before, after)
    for before, after in itertools.product(GroupStatus, GroupStatus)
    if after not in GROUP_TRANSITIONS[before]
]


def test_group_table_follows_the_spec_chain():
    """waiting → live → partially_filled → active → closing → closed; any (not final) →
    failed; closed and failed are final."""
    chain = [G.WAITING, G.LIVE, G.PARTIALLY_FILLED, G.ACTIVE, G.CLOSING, G.CLOSED]
    for before, after in itertools.pairwise(chain):
        assert group_transition(before, after) is after
    for status in GroupStatus:
        if status not in (G.CLOSED, G.FAILED):
            assert G.FAILED in GROUP_TRANSITIONS[status]
    assert GROUP_TRANSITIONS[G.CLOSED] == GROUP_TRANSITIONS[G.FAILED] == frozenset()


@pytest.mark.parametrize(("before", "after"), LEGAL_GROUP_MOVES)
def test_legal_group_moves(before, after):
    assert group_transition(before, after) is after


@pytest.mark.parametrize(("before", "after"), ILLEGAL_GROUP_MOVES)
def test_every_other_group_move_raises(before, after):
    with pytest.raises(IllegalTransition):
        group_transition(before, after)


def _leg(leg, status, filled="0", tp_hit=False, quantity="0.00062", price="64250.5"):
    filled = D(filled)
    return LegState(
        pyramid=0,
        leg=leg,
        status=status,
        quantity=D(quantity),
        filled_quantity=filled,
        avg_fill_price=D(price) if filled else None,
        tp_percent=D("0.5"),
        tp_hit=tp_hit,
    )


def test_sent_and_nothing_filled_is_live():
    legs = [_leg(0, S.OPEN), _leg(1, S.PENDING)]
    assert derive_group_status(G.LIVE, legs) is G.LIVE


def test_some_filled_while_others_work_is_partially_filled():
    legs = [_leg(0, S.FILLED, "0.00062"), _leg(1, S.OPEN)]
    assert derive_group_status(G.LIVE, legs) is G.PARTIALLY_FILLED
    partial = [_leg(0, S.PARTIALLY_FILLED, "0.0003"), _leg(1, S.OPEN)]
    assert derive_group_status(G.LIVE, partial) is G.PARTIALLY_FILLED


def test_every_leg_filled_is_active():
    legs = [_leg(0, S.FILLED, "0.00062"), _leg(1, S.FILLED, "0.00062")]
    assert derive_group_status(G.PARTIALLY_FILLED, legs) is G.ACTIVE
    assert derive_group_status(G.LIVE, legs) is G.ACTIVE  # both filled at once


def test_monitoring_unfilled_legs_cancelled_or_failed_is_active():
    """A cancel signal (or insufficient funds on leg 2) leaves filled legs to be managed."""
    legs = [_leg(0, S.FILLED, "0.00062"), _leg(1, S.CANCELLED), _leg(2, S.FAILED)]
    assert derive_group_status(G.PARTIALLY_FILLED, legs) is G.ACTIVE


def test_a_new_pyramid_turns_an_active_group_partially_filled():
    legs = [_leg(0, S.FILLED, "0.00062"), _leg(0, S.OPEN)]
    assert derive_group_status(G.ACTIVE, legs) is G.PARTIALLY_FILLED


def test_every_leg_closed_or_cancelled_is_closed():
    legs = [_leg(0, S.FILLED, "0.00062", tp_hit=True), _leg(1, S.CANCELLED)]
    assert derive_group_status(G.ACTIVE, legs) is G.CLOSED
    assert derive_group_status(G.LIVE, [_leg(0, S.CANCELLED), _leg(1, S.CANCELLED)]) is G.CLOSED


def test_a_leg_tp_with_others_still_working_keeps_the_group_open():
    legs = [_leg(0, S.FILLED, "0.00062", tp_hit=True), _leg(1, S.OPEN)]
    assert derive_group_status(G.PARTIALLY_FILLED, legs) is G.PARTIALLY_FILLED


def test_nothing_filled_and_an_order_failed_is_failed():
    legs = [_leg(0, S.FAILED), _leg(1, S.CANCELLED)]
    assert derive_group_status(G.LIVE, legs) is G.FAILED


@pytest.mark.parametrize("status", [G.WAITING, G.CLOSING, G.CLOSED, G.FAILED])
def test_explicit_states_are_not_derived(status):
    legs = [_leg(0, S.FILLED, "0.00062")]
    assert derive_group_status(status, legs) is status
