"""The scheduled evaluation's lean read (`services.risk._decide`) against the full one
(`services.risk._evaluate`, which the risk panel shows), on real PostgreSQL.

`_decide` hands `domain.risk.evaluate` only the groups that can change the choice (at or
below the loss threshold with an expired stored timer, and the first `max_winners + 1`
winner candidates, picked by PostgreSQL) and checks every group's timer on its counts. These
tests hold it to the full evaluation: same loser, winners (quantities and USD to the last
digit), skipped and held-back groups, same timers started and cleared — on random books full
of ties and boundary values, under each timer mode and a wait of 0; and nothing it reads is
cached, so a write committed by another connection between two evaluations is seen.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import psycopg2
import pytest

from server import runtime
from server.clock import utcnow
from server.domain.precision import rules_from_binance_symbol
from server.persistence.models import PositionGroup, User
from server.services import risk as risk_service
from server.services.settings import save_settings
from server.state import precision_cache
from tests.signal_support import make_account

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
PLAN_FIELDS = ("loser", "loser_loss_percent", "required_usd", "winners", "covered_usd",
               "will_act", "reason", "skip_consumed", "held_back", "held_back_rule")  # fmt: skip


def _market_rules(app) -> None:
    """Real Binance spot rules for SYMBOLS in the precision cache (no exchange call)."""
    info = json.loads((Path("/work/shared/data") / "binance_exchangeInfo.json").read_text())
    rules = [rules_from_binance_symbol(s) for s in info["symbols"] if s["symbol"] in SYMBOLS]
    with app.app_context():
        precision_cache.put_many(runtime.redis_client(), app.config["RQ_QUEUE_PREFIX"],
                                 "binance.simulated", "spot", rules, None)  # fmt: skip


def _random_book(rng: random.Random, user, account, now, wait: int, n: int = 80) -> list[dict]:
    """`n` groups drawn from small value sets, so loss %, loss USD, profit USD and creation
    times tie often, the threshold (−5 %) and the timer boundary (`now − wait`) are hit
    exactly, and some groups are blocked, skip-once, unpriced, empty or not trading."""
    created = [now - timedelta(minutes=m) for m in (30, 90, 400, 400, 2000)]
    timers = [None, None, now - timedelta(minutes=wait), now - timedelta(minutes=wait, seconds=1),
              now - timedelta(minutes=max(wait - 1, 0)), now - timedelta(minutes=wait + 30),
              now + timedelta(minutes=1)]  # fmt: skip
    rows = []
    for i in range(n):
        pct = rng.choice(["-9", "-7", "-7", "-5", "-5.00000001", "-4.99999999", "-2", "0",
                          "1", "3", "3"])  # fmt: skip
        usd = D(rng.choice(["40", "70", "70", "120"])) * D(pct) / 10
        if rng.random() < 0.15:  # a profit that disagrees with the % (both are stored)
            usd = D(rng.choice(["0", "5", "500"]))
        total = rng.randint(0, 5)
        pyramids = rng.randint(1, 3)
        rows.append(
            {
                "id": uuid.uuid4(),
                "user": user.id,
                "account": account.id,
                "exchange": "binance",
                "symbol": SYMBOLS[i % len(SYMBOLS)],
                "timeframe": 5 * (i + 1),
                "side": rng.choice(["long", "short"]),
                "status": rng.choice(["active"] * 6 + ["live", "partially_filled", "closed"]),
                "pyramid_count": pyramids,
                "max_pyramids": rng.choice([pyramids, 3]),
                "total_dca_legs": total,
                "filled_dca_legs": rng.randint(0, total),
                "unrealized_pnl_usd": usd,
                "unrealized_pnl_percent": D(pct),
                "weighted_avg_entry": rng.choice([D("100"), D("2500"), None]),
                "last_price": rng.choice([D("103.7"), D("96.5"), D("2601.13"), None]),
                "total_filled_quantity": rng.choice([D("0"), D("0.5"), D("2.123"), D("10")]),
                "total_invested_usd": D("1000"),
                "risk_blocked": rng.random() < 0.15,
                "risk_skip_once": rng.random() < 0.15,
                "risk_timer_started_at": rng.choice(timers),
                "created_at": rng.choice(created),
            }
        )
    PositionGroup.insert_many(rows).execute()
    return rows


def _both(user, now):
    views, _settings, full = risk_service._evaluate(user, now)
    full_timers = risk_service._timer_changes(views, full)
    lean_timers, lean = risk_service._decide(user, now)
    return full, full_timers, lean, lean_timers


def _sorted(timers: dict) -> dict:
    return {started: sorted(ids) for started, ids in timers.items()}


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(
    "risk",
    [
        {"timer_start_condition": "after_all_dca_filled", "post_full_wait_minutes": 60},
        {"timer_start_condition": "after_max_pyramids", "post_full_wait_minutes": 0,
         "require_full_pyramids": False, "max_winners_to_combine": 1},
        {"timer_start_condition": "after_all_dca_submitted", "post_full_wait_minutes": 15,
         "min_age_minutes": 100, "allow_partial_offset": True, "max_winners_to_combine": 5},
    ],
)  # fmt: skip
def test_the_scheduled_read_decides_as_the_full_evaluation(app, make_user, seed, risk):
    """On a random book of 80 groups, `_decide` returns exactly the plan and the timer
    changes of the full evaluation."""
    _market_rules(app)
    user, _ = make_user("trader")
    account = make_account(app, user)
    rng = random.Random(seed)
    now = utcnow()
    with app.app_context():
        save_settings(user, user, {"risk": risk})
        user = User.get_by_id(user.id)
        _random_book(rng, user, account, now, risk["post_full_wait_minutes"])
        full, full_timers, lean, lean_timers = _both(user, now)
    for name in PLAN_FIELDS:
        assert getattr(lean, name) == getattr(full, name), name
    assert _sorted(lean_timers) == _sorted(full_timers)


def test_small_books_reach_every_branch_and_decide_the_same(app, make_user):
    """Smaller random books (16 groups, 24 of them) decide the same too, and between them
    reach every branch the comparison is meant to cover (so the test above is not
    vacuous): a plan that acts, a consumed skip-once, a group held back by a rule when there
    is no loser, timers started and cleared."""
    _market_rules(app)
    seen = set()
    for seed in range(24):
        user, _ = make_user("trader")
        account = make_account(app, user)
        now = utcnow()
        with app.app_context():
            save_settings(user, user, {"risk": {"post_full_wait_minutes": 60}})
            user = User.get_by_id(user.id)
            _random_book(random.Random(100 + seed), user, account, now, 60, n=16)
            full, full_timers, plan, timers = _both(user, now)
        assert [getattr(plan, f) for f in PLAN_FIELDS] == [getattr(full, f) for f in PLAN_FIELDS]
        assert _sorted(timers) == _sorted(full_timers)
        seen |= {"acts"} if plan.will_act else {plan.reason}
        seen |= {"skip"} if plan.skip_consumed else set()
        seen |= {"held_back"} if plan.held_back else set()
        seen |= {"start" if started else "clear" for started in timers}
    assert {"acts", "skip", "held_back", "start", "clear"} <= seen, seen


def _committed_elsewhere(sql: str, *params) -> None:
    """A write by another connection, committed before the next evaluation starts."""
    conn = psycopg2.connect(os.environ["DATABASE_URL"])
    with conn, conn.cursor() as cur:
        cur.execute(sql, params)
    conn.close()


def test_a_write_between_two_evaluations_is_seen(app, make_user):
    """Three groups past their 60-minute timer, 10 held at avg 100 each: A at −6 % (price 94,
    −60 USD), C at −3 % (97, −30 USD), W at +10 % (110, +100 USD). First evaluation: A is
    the loser (−6 % < −5 %), C is above the threshold, W covers 60 with
    60 / (110 − 100) = 6 units. Then another connection commits: C drops to −8 % (price 92,
    −80 USD) and W adds a pyramid (legs 5 → 10, 5 filled). The next evaluation sees both: C
    is the loser (−8 % < −6 %), needing 80 USD; W's profit still covers it with 8 units;
    W's timer is cleared (its new legs are not filled)."""
    _market_rules(app)
    user, _ = make_user("trader")
    account = make_account(app, user)
    now = utcnow()
    expired = now - timedelta(minutes=90)
    common = dict(user=user.id, account=account.id, exchange="binance", symbol="SOLUSDT",
                  side="long", status="active", pyramid_count=5, max_pyramids=5,
                  total_dca_legs=5, filled_dca_legs=5, weighted_avg_entry=D("100"),
                  total_filled_quantity=D("10"), total_invested_usd=D("1000"),
                  risk_timer_started_at=expired, created_at=now - timedelta(hours=3))  # fmt: skip
    with app.app_context():
        save_settings(user, user, {"risk": {"post_full_wait_minutes": 60}})
        user = User.get_by_id(user.id)
        a = PositionGroup.create(timeframe=5, last_price=D("94"), unrealized_pnl_usd=D("-60"),
                                 unrealized_pnl_percent=D("-6"), **common)  # fmt: skip
        c = PositionGroup.create(timeframe=15, last_price=D("97"), unrealized_pnl_usd=D("-30"),
                                 unrealized_pnl_percent=D("-3"), **common)  # fmt: skip
        w = PositionGroup.create(timeframe=60, last_price=D("110"), unrealized_pnl_usd=D("100"),
                                 unrealized_pnl_percent=D("10"), **common)  # fmt: skip
        timers, first = risk_service._decide(user, now)
        assert (first.loser, first.required_usd, first.will_act) == (str(a.id), D("60"), True)
        assert [(p.group_id, p.close_quantity) for p in first.winners] == [(str(w.id), D("6"))]
        assert timers == {}
        _committed_elsewhere(
            "UPDATE position_group SET unrealized_pnl_percent = -8, unrealized_pnl_usd = -80,"
            " last_price = 92 WHERE id = %s",
            str(c.id),
        )
        _committed_elsewhere(
            "UPDATE position_group SET total_dca_legs = 10 WHERE id = %s", str(w.id)
        )
        timers, second = risk_service._decide(user, utcnow())
    assert (second.loser, second.required_usd, second.will_act) == (str(c.id), D("80"), True)
    assert [(p.group_id, p.close_quantity) for p in second.winners] == [(str(w.id), D("8"))]
    assert timers == {None: [str(w.id)]}


def test_a_loser_that_ranks_first_among_winner_candidates(app, make_user):
    """`max_winners_to_combine` 1. L is past its timer at −6 % but its stored USD says +500
    (figures that disagree: the rules take them as stored), so it heads the winner
    candidates; W (10 held at avg 100, price 110, +100 USD) is second. L is the loser
    (the only group at or below −5 %), required |500| = 500; the winners leave L out, so W is
    the one winner: min(100, 500) / (110 − 100) = 10 units, all it holds; 100 < 500 →
    insufficient. The read must bring the second candidate too."""
    _market_rules(app)
    user, _ = make_user("trader")
    account = make_account(app, user)
    now = utcnow()
    common = dict(user=user.id, account=account.id, exchange="binance", symbol="SOLUSDT",
                  side="long", status="active", pyramid_count=5, max_pyramids=5,
                  total_dca_legs=5, filled_dca_legs=5, weighted_avg_entry=D("100"),
                  total_filled_quantity=D("10"), total_invested_usd=D("1000"),
                  risk_timer_started_at=now - timedelta(hours=2),
                  created_at=now - timedelta(hours=3))  # fmt: skip
    with app.app_context():
        save_settings(user, user, {"risk": {"max_winners_to_combine": 1}})
        user = User.get_by_id(user.id)
        loser = PositionGroup.create(timeframe=5, last_price=D("94"),
                                     unrealized_pnl_usd=D("500"),
                                     unrealized_pnl_percent=D("-6"), **common)  # fmt: skip
        w = PositionGroup.create(timeframe=15, last_price=D("110"), unrealized_pnl_usd=D("100"),
                                 unrealized_pnl_percent=D("10"), **common)  # fmt: skip
        _timers, plan = risk_service._decide(user, now)
    assert (plan.loser, plan.required_usd) == (str(loser.id), D("500"))
    assert [(p.group_id, p.close_quantity, p.covered_usd) for p in plan.winners] == [
        (str(w.id), D("10"), D("100"))
    ]
    assert (plan.will_act, plan.reason) == (False, "insufficient_winners")


@pytest.fixture
def sqlite_db(tmp_path):
    """A migrated SQLite database (the embedded default) bound to the models for the test."""
    from server.persistence.db import db, make_database
    from server.persistence.migrate import upgrade

    database = make_database(f"sqlite:///{tmp_path / 'engine.db'}")
    upgrade(database)
    previous = db.obj
    db.initialize(database)
    yield database
    db.initialize(previous)
    database.close()


def test_on_sqlite_every_group_is_read_and_the_plan_is_the_same(sqlite_db):
    """SQLite stores decimals as text, so `_decide` reads every group there (`_evaluate`).
    Two groups past their 60-minute timer, 10 held at avg 100 each, no account (the market
    step falls back to 1e-8): A at −6 % (−60 USD), W at +10 % (price 110, +100 USD); N has
    just filled its legs and has no timer yet. A is the loser, W covers 60 with
    60 / 10 = 6 units; N's timer starts at `now`."""
    now = utcnow()
    user = User.create(email="s@example.com", username="sqlite_trader", password_hash="x",
                       webhook_secret_enc="v1:secret")  # fmt: skip
    common = dict(user=user.id, exchange="binance", symbol="SOLUSDT", side="long",
                  status="active", pyramid_count=5, max_pyramids=5, total_dca_legs=5,
                  filled_dca_legs=5, weighted_avg_entry=D("100"), total_filled_quantity=D("10"),
                  total_invested_usd=D("1000"), created_at=now - timedelta(hours=3))  # fmt: skip
    expired = now - timedelta(minutes=90)
    a = PositionGroup.create(timeframe=5, last_price=D("94"), unrealized_pnl_usd=D("-60"),
                             unrealized_pnl_percent=D("-6"), risk_timer_started_at=expired,
                             **common)  # fmt: skip
    w = PositionGroup.create(timeframe=15, last_price=D("110"), unrealized_pnl_usd=D("100"),
                             unrealized_pnl_percent=D("10"), risk_timer_started_at=expired,
                             **common)  # fmt: skip
    n = PositionGroup.create(timeframe=60, last_price=D("100"), **common)
    timers, plan = risk_service._decide(user, now)
    assert (plan.loser, plan.required_usd, plan.will_act) == (str(a.id), D("60"), True)
    assert [(p.group_id, p.close_quantity) for p in plan.winners] == [(str(w.id), D("6"))]
    assert timers == {now: [str(n.id)]}
