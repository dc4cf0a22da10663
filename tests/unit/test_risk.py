"""The risk engine's decision (SPEC §6), rule by rule, with numbers worked by hand.

Every group below is a long unless said otherwise; `price`, `avg` and `held` are chosen so
the unrealised figures are easy to check: unrealised USD = (price − avg) × held.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from server.domain import risk
from server.domain.risk import GroupView, RiskSettings, evaluate, timer_state, winner_quantity

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=5)


def view(gid: str, **kw) -> GroupView:
    """A full, filled group whose timer started two hours ago (eligible when losing ≥ 5 %)."""
    base = dict(
        group_id=gid,
        side="long",
        created_at=LONG_AGO,
        pyramid_count=5,
        max_pyramids=5,
        total_dca_legs=25,
        filled_dca_legs=25,
        pending_dca_legs=0,
        unrealized_pnl_usd=D("0"),
        unrealized_pnl_percent=D("0"),
        weighted_avg_entry=D("100"),
        price=D("100"),
        held_quantity=D("10"),
        step=D("0.01"),
        timer_started_at=NOW - timedelta(hours=2),
    )
    base.update(kw)
    return GroupView(**base)


def loser(gid="L", pct="-7", usd="-70", **kw) -> GroupView:
    """10 held at avg 100, price 93: (93 − 100) × 10 = −70 USD on 1,000 invested = −7 %."""
    return view(gid, unrealized_pnl_usd=D(usd), unrealized_pnl_percent=D(pct), price=D("93"), **kw)


def winner(gid: str, price: str, held="10", avg="100", **kw) -> GroupView:
    """Profit (price − avg) × held, e.g. price 104, held 10 → +40 USD."""
    usd = (D(price) - D(avg)) * D(held)
    pct = usd / (D(avg) * D(held)) * 100
    return view(gid, unrealized_pnl_usd=usd, unrealized_pnl_percent=pct, price=D(price),
                weighted_avg_entry=D(avg), held_quantity=D(held), **kw)  # fmt: skip


S = RiskSettings()


# --------------------------------------------------------------------------- timers


@pytest.mark.parametrize(
    ("condition", "fields", "holds"),
    [
        # after_max_pyramids: 5 of 5 pyramids, whatever the legs do
        ("after_max_pyramids", dict(pyramid_count=5, filled_dca_legs=3, pending_dca_legs=2), True),
        ("after_max_pyramids", dict(pyramid_count=4, total_dca_legs=20, filled_dca_legs=20), False),
        # after_all_dca_submitted: no leg still pending (sent, filled or not)
        ("after_all_dca_submitted", dict(filled_dca_legs=10, pending_dca_legs=0), True),
        ("after_all_dca_submitted", dict(filled_dca_legs=10, pending_dca_legs=1), False),
        # after_all_dca_filled: 25 of 25 filled
        ("after_all_dca_filled", dict(filled_dca_legs=25), True),
        ("after_all_dca_filled", dict(filled_dca_legs=24), False),
        ("after_all_dca_filled", dict(total_dca_legs=0, filled_dca_legs=0), False),
    ],
)
def test_timer_condition_per_mode(condition, fields, holds):
    assert risk.timer_condition_holds(view("g", **fields), condition) is holds


@pytest.mark.parametrize("condition", risk.TIMER_CONDITIONS)
def test_timer_starts_now_and_expires_after_the_wait(condition):
    """A group meeting the condition with no timer yet: started at NOW, expires NOW + 60 min;
    started 60 min ago it has expired (≥), 59 min ago it has not."""
    settings = RiskSettings(timer_start_condition=condition)
    fresh = timer_state(view("g", timer_started_at=None), settings, NOW)
    assert (fresh.started_at, fresh.expires_at, fresh.expired) == (
        NOW, NOW + timedelta(minutes=60), False)  # fmt: skip
    at = timer_state(view("g", timer_started_at=NOW - timedelta(minutes=60)), settings, NOW)
    assert at.expired
    before = timer_state(view("g", timer_started_at=NOW - timedelta(minutes=59)), settings, NOW)
    assert not before.expired


def test_timer_resets_when_a_new_pyramid_adds_unfilled_legs():
    """after_all_dca_filled, 4 pyramids all filled (20/20), timer started 90 min ago; a fifth
    pyramid adds 5 legs (20/25 filled): the condition stops holding, the timer is cleared.
    When the five fill, it starts again at that evaluation's time."""
    s = RiskSettings(require_full_pyramids=False)
    before = view("g", pyramid_count=4, total_dca_legs=20, filled_dca_legs=20,
                  timer_started_at=NOW - timedelta(minutes=90))  # fmt: skip
    assert timer_state(before, s, NOW).expired
    grown = view("g", pyramid_count=5, total_dca_legs=25, filled_dca_legs=20,
                 timer_started_at=NOW - timedelta(minutes=90))  # fmt: skip
    cleared = timer_state(grown, s, NOW)
    assert (cleared.holds, cleared.started_at, cleared.expired) == (False, None, False)
    assert evaluate([grown], s, NOW).timers == {"g": None}
    later = NOW + timedelta(minutes=10)
    filled = view("g", total_dca_legs=25, filled_dca_legs=25, timer_started_at=None)
    again = timer_state(filled, s, later)
    assert (again.started_at, again.expires_at) == (later, later + timedelta(minutes=60))


# --------------------------------------------------------------------------- eligibility


@pytest.mark.parametrize(
    ("fields", "settings", "reason"),
    [
        (dict(timer_started_at=None), S, risk.TIMER_RUNNING),  # starts now: 60 min to go
        (dict(timer_started_at=NOW - timedelta(minutes=30)), S, risk.TIMER_RUNNING),
        (dict(filled_dca_legs=24), S, risk.TIMER_NOT_STARTED),
        # −4.99 % is above the −5 % threshold
        (dict(pct="-4.99", usd="-49.9"), S, risk.ABOVE_THRESHOLD),
        (dict(pyramid_count=4, total_dca_legs=20, filled_dca_legs=20), S, risk.PYRAMIDS_NOT_FULL),
        # created 5 h ago, age filter 6 h
        ({}, RiskSettings(min_age_minutes=360), risk.TOO_YOUNG),
        (dict(blocked=True), S, risk.BLOCKED),
    ],
)  # fmt: skip
def test_each_eligibility_rule(fields, settings, reason):
    """The −7 % loser fails exactly one rule each time; with a +80 USD winner there would be
    enough to act, so the only thing missing is the loser."""
    groups = [loser(**fields), winner("W", "108")]
    plan = evaluate(groups, settings, NOW)
    row = next(r for r in plan.groups if r.group_id == "L")
    assert reason in row.reasons
    assert not row.eligible
    assert plan.loser is None and not plan.will_act and plan.reason == risk.NO_LOSER


def test_exactly_at_threshold_and_age_is_eligible():
    """−5 % ≤ −5 %; age 5 h ≥ 300 min; pyramids 4 < 5 allowed without require_full_pyramids."""
    s = RiskSettings(min_age_minutes=300, require_full_pyramids=False)
    l5 = view("L", unrealized_pnl_percent=D("-5"), unrealized_pnl_usd=D("-50"), price=D("95"),
              pyramid_count=4, total_dca_legs=20, filled_dca_legs=20)  # fmt: skip
    plan = evaluate([l5, winner("W", "106")], s, NOW)
    assert plan.loser == "L" and plan.will_act


@pytest.mark.parametrize(
    ("fields", "settings", "rule"),
    [
        (dict(blocked=True), S, risk.BLOCKED),
        (dict(pyramid_count=4, total_dca_legs=20, filled_dca_legs=20), S, risk.PYRAMIDS_NOT_FULL),
        ({}, RiskSettings(min_age_minutes=360), risk.TOO_YOUNG),
    ],
)
def test_the_rule_holding_back_the_worst_group_is_reported(fields, settings, rule):
    """The −7 % group is past its timer and threshold; only `rule` keeps it from being the
    loser, and the plan names it (the evaluation is recorded as blocked by that rule). A −6 %
    group whose timer still runs is never reported: the timer is not a rule holding it back."""
    running = loser("R", pct="-6", usd="-60", timer_started_at=NOW - timedelta(minutes=10))
    plan = evaluate([loser(**fields), running, winner("W", "108")], settings, NOW)
    assert (plan.loser, plan.held_back, plan.held_back_rule) == (None, "L", rule)
    alone = evaluate([running, winner("W", "108")], settings, NOW)
    assert (alone.held_back, alone.held_back_rule) == (None, None)


def test_skip_once_is_consumed_and_the_next_loser_taken():
    """A at −9 % is marked skip-once: this evaluation consumes the mark and selects B (−7 %)."""
    a = loser("A", pct="-9", usd="-90", skip_once=True)
    b = loser("B")
    plan = evaluate([a, b, winner("W", "110")], S, NOW)
    assert plan.skip_consumed == ("A",)
    assert plan.loser == "B"
    alone = evaluate([a, winner("W", "110")], S, NOW)
    assert alone.skip_consumed == ("A",) and alone.loser is None


def test_disabled_engine_never_acts():
    plan = evaluate([loser(), winner("W", "108")], RiskSettings(enabled=False), NOW)
    assert (plan.will_act, plan.reason, plan.loser) == (False, risk.DISABLED, None)


# --------------------------------------------------------------------------- selection


@pytest.mark.parametrize(
    ("a", "b", "chosen"),
    [
        # lowest loss % wins: −8 % before −7 %
        (dict(pct="-8", usd="-80"), dict(pct="-7", usd="-700"), "A"),
        # same −7 %: the larger loss in USD (−140 < −70)
        (dict(pct="-7", usd="-70"), dict(pct="-7", usd="-140"), "B"),
        # same % and USD: the older group (A created 5 h ago, B 3 h ago)
        (dict(pct="-7", usd="-70"), dict(pct="-7", usd="-70",
                                         created_at=NOW - timedelta(hours=3)), "A"),
        (dict(pct="-7", usd="-70", created_at=NOW - timedelta(hours=2)),
         dict(pct="-7", usd="-70"), "B"),
    ],
)  # fmt: skip
def test_loser_tie_breaks(a, b, chosen):
    plan = evaluate([loser("A", **a), loser("B", **b), winner("W", "200", held="100")], S, NOW)
    assert plan.loser == chosen


# --------------------------------------------------------------------------- winners


def test_top_three_winners_partially_close_to_cover_the_loss():
    """Loser −70 USD. Winners by profit: W1 +40 (104), W2 +30 (103), W3 +20 (102), W4 +10
    (101); the cap is three, W4 is never used.
    W1: close_usd = min(40, 70) = 40 → 40 / 4 = 10 → whole position (10), covers 40;
    W2: min(30, 30) = 30 → 30 / 3 = 10 → 10, covers 30; remaining 0 → W3 not needed.
    """
    ws = [winner("W4", "101"), winner("W2", "103"), winner("W1", "104"), winner("W3", "102")]
    plan = evaluate([loser(), *ws], S, NOW)
    assert plan.will_act and plan.required_usd == D("70")
    assert [(w.group_id, w.close_usd, w.close_quantity, w.covered_usd) for w in plan.winners] == [
        ("W1", D("40"), D("10.00"), D("40")),
        ("W2", D("30"), D("10.00"), D("30")),
    ]
    assert plan.covered_usd == D("70")


def test_winner_cap_and_insufficient_winners():
    """Four winners of +20 each (102 × 10), loser −70: the cap of three gives 60 < 70 →
    insufficient, nothing acts; a cap of four covers 70 (the fourth closes 10 / 2 = 5)."""
    ws = [winner(f"W{i}", "102", created_at=LONG_AGO + timedelta(minutes=i)) for i in range(4)]
    plan = evaluate([loser(), *ws], S, NOW)
    assert (plan.will_act, plan.reason, plan.covered_usd) == (False, risk.INSUFFICIENT, D("60"))
    assert [w.group_id for w in plan.winners] == ["W0", "W1", "W2"]  # equal profit: older first
    four = evaluate([loser(), *ws], RiskSettings(max_winners_to_combine=4), NOW)
    assert four.will_act and four.winners[-1].close_quantity == D("5.00")


def test_partial_offset_acts_with_what_there_is():
    """One +20 winner against −70: insufficient by default; with allow_partial_offset it acts,
    covering 20 of 70."""
    plan = evaluate([loser(), winner("W", "102")], RiskSettings(allow_partial_offset=True), NOW)
    assert plan.will_act and plan.covered_usd == D("20") and plan.required_usd == D("70")


def test_no_winner_when_none_profits():
    plan = evaluate([loser(), view("F")], S, NOW)
    assert (plan.will_act, plan.reason) == (False, risk.NO_WINNERS)


def test_winners_exclude_blocked_and_the_loser():
    """W1 (+40) is blocked, so W2 (+30) and W3 (+20) take it: 30 + 20 = 50 < 70."""
    groups = [loser(), winner("W1", "104", blocked=True), winner("W2", "103"), winner("W3", "102")]
    plan = evaluate(groups, S, NOW)
    assert [w.group_id for w in plan.winners] == ["W2", "W3"]
    assert plan.reason == risk.INSUFFICIENT


@pytest.mark.parametrize(
    ("close_usd", "price", "avg", "held", "step", "min_qty", "expected", "capped"),
    [
        # 10 / (64,500 − 64,000) = 0.02 exactly: on the step, unchanged
        ("10", "64500", "64000", "1", "0.00001", "0", "0.02000", False),
        # 10 / 300 = 0.0333… → up to 0.03334 (down would cover only 10.002 − 0.003 = 9.999…)
        ("10", "64300", "64000", "1", "0.00001", "0", "0.03334", False),
        # 25 / 3 = 8.333… → 8.34 but only 5.005 held → capped at 5.00 (down to the step)
        ("25", "103", "100", "5.005", "0.01", "0", "5.00", True),
        # 0.5 / 4 = 0.125 → 0.13 is below the minimum 1 → raised to 1
        ("0.5", "104", "100", "10", "0.01", "1", "1.00", False),
        # a short: |95 − 100| = 5 → 12 / 5 = 2.4
        ("12", "95", "100", "10", "0.1", "0", "2.4", False),
    ],
)
def test_close_quantity_rounds_up_to_the_step_never_above_what_is_held(
    close_usd, price, avg, held, step, min_qty, expected, capped
):
    qty, was_capped = winner_quantity(D(close_usd), D(price), D(avg), D(held), D(step), D(min_qty))
    assert qty == D(expected) and str(qty) == expected
    assert was_capped is capped


def test_rounding_up_covers_slightly_more_than_asked():
    """Loser −10 USD; one winner at 64,300 over 64,000 holding 1 BTC (+300): 10 / 300 =
    0.0333… → 0.03334, which realises 0.03334 × 300 = 10.002 ≥ 10."""
    w = winner("W", "64300", held="1", avg="64000", step=D("0.00001"))
    plan = evaluate([loser(usd="-10", pct="-7"), w], S, NOW)
    (pick,) = plan.winners
    assert pick.close_quantity == D("0.03334") and pick.covered_usd == D("10.00200")
    assert plan.covered_usd == D("10") and plan.will_act


def test_short_winner_quantity():
    """Short at avg 100, price 95, held 10: +50 USD. Loser −30 → 30 / 5 = 6 to buy back."""
    w = view("S", side="short", unrealized_pnl_usd=D("50"), unrealized_pnl_percent=D("5"),
             price=D("95"), weighted_avg_entry=D("100"))  # fmt: skip
    plan = evaluate([loser(usd="-30", pct="-7"), w], S, NOW)
    assert plan.winners[0].close_quantity == D("6.00") and plan.will_act


# --------------------------------------------------------------------------- realised (SPEC §7)


def _leg(qty="10", price="100", fee="1", fee_base="0"):
    from server.domain.aggregates import LegState

    return LegState(0, 0, "filled", D(qty), D(qty), D(price), D("50"), False, D(fee), D(fee_base))


def test_partial_offset_realises_its_share_of_the_entry_fee():
    """One leg: 10 @ 100 (cost 1,000), entry fee 1 USDT. The risk engine sells 4 @ 110, fee
    0.44: 4 × 110 − 4 × 100 − 1 × 4 / 10 − 0.44 = 440 − 400 − 0.4 − 0.44 = 39.16.
    The group close then sells the other 6 @ 90, fee 0.54: both together are one close of 10
    for 440 + 540 = 980 against 1,000, fees 1 + 0.44 + 0.54 → −20 − 1.98 = −21.98
    (= 39.16 + (540 − 600 − 0.6 − 0.54))."""
    from server.domain.closing import Fills, realised

    offset = Fills.of(D("4"), D("110"), D("0.44"))
    partial = realised("long", [_leg()], {}, None, offset)
    assert partial.total == D("39.16") and partial.close_quantity == D("4")
    closed = realised("long", [_leg()], {}, Fills.of(D("6"), D("90"), D("0.54")), offset)
    assert closed.total == D("-21.98")


def test_offset_of_everything_held_charges_the_whole_entry_fee():
    """Spot: 0.1 ETH bought at 2,000 with 0.0001 ETH fee (0.2 USDT) → 0.0999 held. The offset
    sells all 0.0999 @ 2,060 (fee 0.205794): 205.794 − 200 × 0.0999 / 0.1 − 0.2 − 0.205794 =
    205.794 − 199.8 − 0.2 − 0.205794 = 5.588206."""
    from server.domain.closing import Fills, realised

    leg = _leg("0.1", "2000", "0.2", "0.0001")
    out = realised("long", [leg], {}, None, Fills.of(D("0.0999"), D("2060"), D("0.205794")))
    assert out.total == D("5.588206")
