"""Where a signal goes: freshness, account choice, lanes and SPEC §2.3 classification (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from server.domain.signal_routing import (
    AccountView,
    Classification,
    OpenGroup,
    choose_account,
    classify,
    freshness_problem,
    lane_of,
)
from server.domain.signals import SignalRequest

NOW = datetime(2026, 11, 21, 10, 15)
SPOT = AccountView("a-spot", "binance", "spot", "Main spot")
FUT = AccountView("a-fut", "binance", "futures", "Perps")
BYBIT = AccountView("a-bybit", "bybit", "spot", "Bybit")

LONG = SignalRequest(
    intent="entry",
    side="long",
    symbol="BTCUSDT",
    perpetual=False,
    exchange="binance",
    market_type=None,
    account_hint=None,
    timeframe=60,
    entry_price=None,
    signal_time=None,
    sender_signal_id=None,
    order_id=None,
)


# --- freshness --------------------------------------------------------------------------------


def test_fresh_signals_pass_and_missing_time_passes():
    """299 s old with a 300 s limit passes; so does a signal without tv.time."""
    assert freshness_problem(NOW - timedelta(seconds=299), NOW, 300) is None
    assert freshness_problem(NOW - timedelta(seconds=300), NOW, 300) is None  # not *older*
    assert freshness_problem(None, NOW, 300) is None


def test_stale_signal():
    """301 s old with a 300 s limit is stale, and the reason gives both numbers."""
    kind, reason = freshness_problem(NOW - timedelta(seconds=301), NOW, 300)
    assert kind == "stale"
    assert reason == (
        "signal time 2026-11-21T10:09:59Z is 301 s old; signals older than "
        "max_signal_age_seconds (300 s) are not traded"
    )


def test_future_signal_beyond_skew():
    """60 s ahead is tolerated clock skew; 61 s ahead is refused."""
    assert freshness_problem(NOW + timedelta(seconds=60), NOW, 300) is None
    kind, reason = freshness_problem(NOW + timedelta(seconds=61), NOW, 300)
    assert kind == "future" and "61 s in the future" in reason


# --- accounts ---------------------------------------------------------------------------------


def test_spot_preferred_when_user_has_both():
    """A plain ticker goes to spot when the user has spot and futures on the exchange."""
    assert choose_account(LONG, [FUT, SPOT, BYBIT]).account == SPOT


def test_perpetual_or_hint_picks_futures():
    """A .P ticker (market_type futures) goes to the futures account."""
    assert choose_account(replace(LONG, market_type="futures"), [SPOT, FUT]).account == FUT


def test_only_futures_account_takes_a_plain_ticker():
    """With only a futures account on the exchange, a plain ticker trades there."""
    assert choose_account(LONG, [FUT]).account == FUT


def test_short_on_spot_is_rejected():
    """Spot cannot short: a short entry routed to spot is rejected with the way out."""
    choice = choose_account(replace(LONG, side="short"), [SPOT, FUT])
    assert choice.account is None
    assert choice.reason.startswith("a spot account cannot short ('Main spot' is binance spot)")


def test_no_account_of_the_exchange():
    """A Bybit signal for a user with only Binance accounts is rejected by name."""
    choice = choose_account(replace(LONG, exchange="bybit"), [SPOT, FUT])
    assert choice.reason == "no active bybit account; add one under Accounts"
    assert choose_account(LONG, []).reason == ("no active exchange account; add one under Accounts")
    wanted = choose_account(replace(LONG, market_type="futures"), [SPOT])
    assert wanted.reason == "no active binance futures account; add one under Accounts"


def test_two_fitting_accounts_are_ambiguous_until_named():
    """Two Binance spot accounts: rejected as ambiguous; naming one by label or id picks it."""
    second = AccountView("a-spot-2", "binance", "spot", "Live spot")
    choice = choose_account(LONG, [SPOT, second])
    assert choice.account is None and "name one with execution_intent.account" in choice.reason
    assert choose_account(replace(LONG, account_hint="live SPOT"), [SPOT, second]).account == second
    assert choose_account(replace(LONG, account_hint="a-spot"), [SPOT, second]).account == SPOT
    missing = choose_account(replace(LONG, account_hint="nope"), [SPOT, second])
    assert missing.reason == "no active account named 'nope' (label or id)"


def test_missing_exchange_uses_the_only_exchange():
    """Without tv.exchange, a user whose accounts are all on one exchange is served; several
    exchanges make it ambiguous."""
    assert choose_account(replace(LONG, exchange=None), [SPOT, FUT]).account == SPOT
    choice = choose_account(replace(LONG, exchange=None), [SPOT, BYBIT])
    assert choice.account is None and "tv.exchange is missing" in choice.reason


def test_lane_is_the_group_key():
    """A lane is account, symbol, timeframe and side."""
    assert lane_of("acc", "BTCUSDT", 60, "long") == "acc:BTCUSDT:60:long"


# --- classification ---------------------------------------------------------------------------

GROUP = OpenGroup("g1", "live", pyramid_count=2, max_pyramids=5)


@pytest.mark.parametrize(
    ("intent", "group", "expected"),
    [
        ("entry", None, Classification.NEW_GROUP),
        ("entry", GROUP, Classification.PYRAMID),
        ("entry", replace(GROUP, pyramid_count=5), Classification.IGNORED),
        ("exit", GROUP, Classification.EXIT),
        ("exit", None, Classification.IGNORED),
        ("cancel", GROUP, Classification.CANCEL),
        ("cancel", None, Classification.IGNORED),
    ],
)
def test_classification_table(intent, group, expected):
    """SPEC §2.3: new group, pyramid, ignored at max, exit, cancel."""
    assert classify(intent, group).classification is expected


def test_reasons_carry_the_numbers():
    """The recorded reason says how many pyramids the group has of how many."""
    assert classify("entry", GROUP).reason == ("open group has 2 of 5 pyramids: adds a pyramid")
    assert classify("entry", replace(GROUP, pyramid_count=5)).reason == (
        "open group already has 5 of 5 pyramids (max_pyramids): entry ignored"
    )
