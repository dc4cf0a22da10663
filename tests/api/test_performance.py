"""`GET /api/performance` and its CSV export (issue 10) against groups and snapshots written
straight into the database: the numbers of tests/unit/test_analytics.py, end to end."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from server.clock import utcnow
from server.domain.analytics import period_starts
from server.persistence.models import EquitySnapshot, PositionGroup, Pyramid
from server.services import performance as performance_service

SIX_TRADES = [  # closed_at, symbol, timeframe, pnl
    ("2026-03-01T10:00:00", "BTCUSDT", 60, "30"),
    ("2026-03-01T11:00:00", "ETHUSDT", 15, "-10"),
    ("2026-03-02T10:00:00", "BTCUSDT", 60, "20"),
    ("2026-03-02T11:00:00", "ETHUSDT", 60, "-5"),
    ("2026-03-02T12:00:00", "SOLUSDT", 15, "15"),
    ("2026-03-02T13:00:00", "BTCUSDT", 15, "-10"),
]
# Closes (last snapshot of each UTC day) give daily returns +1 %, −1 %, +2 %, −1 %, +1 %;
# the 12:00 dip on Mar 4 is the max drawdown: 1,010 (Mar 2 23:55) → 950, 60 / 1,010.
SNAPSHOTS = [
    ("2026-03-01T23:55:00", "1000"),
    ("2026-03-02T23:55:00", "1010"),
    ("2026-03-03T23:55:00", "999.9"),
    ("2026-03-04T12:00:00", "950"),
    ("2026-03-04T23:55:00", "1019.898"),
    ("2026-03-05T23:55:00", "1009.69902"),
    ("2026-03-06T23:55:00", "1019.7960102"),
]


def group(user, closed_at=None, pnl="0", symbol="BTCUSDT", timeframe=60, status="closed", **kw):
    when = datetime.fromisoformat(closed_at) if isinstance(closed_at, str) else closed_at
    return PositionGroup.create(
        user=user.id,
        exchange="binance",
        symbol=symbol,
        timeframe=timeframe,
        side=kw.pop("side", "long"),
        status=status,
        closed_at=when,
        realized_pnl_usd=D(pnl),
        total_invested_usd=D(kw.pop("invested", "100")),
        created_at=(when or utcnow()) - timedelta(hours=5),
        **kw,
    )


def snapshot(user, taken_at, equity):
    when = datetime.fromisoformat(taken_at) if isinstance(taken_at, str) else taken_at
    return EquitySnapshot.create(
        user=user.id,
        taken_at=when,
        equity_usd=D(equity),
        realized_usd=D(0),
        unrealized_usd=D(0),
    )


def seed(user):
    for closed_at, symbol, timeframe, pnl in SIX_TRADES:
        group(user, closed_at, pnl, symbol, timeframe)
    for taken_at, equity in SNAPSHOTS:
        snapshot(user, taken_at, equity)


def get(client, headers, **query):
    response = client.get("/api/performance", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def test_figures_match_the_seeded_trades_and_snapshots(client, make_user):
    """Six closed groups (+30, −10, +20, −5, +15, −10) and seven snapshots: win rate 50 %,
    average win 21.66666667, average loss −8.33333333, profit factor 2.6, expectancy
    6.66666667, Sharpe 5.6960, Sortino 10.8074 (worked in test_analytics), max drawdown
    60 / 1,010 = 5.94059405 % from Mar 2 23:55 to Mar 4 12:00. Failed and open groups and
    another user's groups do not count."""
    user, headers = make_user("viewer")
    other, _ = make_user("trader")
    seed(user)
    group(user, "2026-03-02T14:00:00", "-99", status="failed")
    group(user, None, "0", status="active")
    group(other, "2026-03-02T15:00:00", "1000")

    body = get(client, headers)

    assert body["trades"] == {
        "count": 6,
        "wins": 3,
        "losses": 3,
        "breakeven": 0,
        "realized": "40",
        "gross_profit": "65",
        "gross_loss": "-25",
    }
    assert body["win_rate"] == "50"
    assert (body["avg_win"], body["avg_loss"]) == ("21.66666667", "-8.33333333")
    assert (body["profit_factor"], body["expectancy"]) == ("2.6", "6.66666667")
    assert (body["sharpe"], body["sortino"]) == ("5.6960", "10.8074")
    assert body["annualisation"] == "sqrt(365) on daily returns"
    assert body["daily_returns"] == 5
    assert body["max_drawdown_percent"] == "5.94059405"
    assert body["max_drawdown"] == {
        "percent": "5.94059405",
        "peak_at": "2026-03-02T23:55:00.000Z",
        "peak_equity": "1010",
        "trough_at": "2026-03-04T12:00:00.000Z",
        "trough_equity": "950",
    }
    assert body["realized"]["all"] == "40"
    rows = body["by_symbol"]
    by_symbol = [(r["symbol"], r["trades"], r["realized"], r["win_rate"]) for r in rows]
    assert by_symbol == [
        ("BTCUSDT", 3, "40", "66.66666666"),
        ("SOLUSDT", 1, "15", "100"),
        ("ETHUSDT", 2, "-15", "0"),
    ]
    assert [(r["timeframe"], r["trades"], r["realized"]) for r in body["by_timeframe"]] == [
        (15, 3, "-5"),
        (60, 3, "45"),
    ]
    assert body["daily"][:3] == [
        {
            "date": "2026-03-01",
            "trades": 2,
            "wins": 1,
            "losses": 1,
            "realized": "20",
            "equity": "1000",
        },
        {
            "date": "2026-03-02",
            "trades": 4,
            "wins": 2,
            "losses": 2,
            "realized": "20",
            "equity": "1010",
        },
        {
            "date": "2026-03-03",
            "trades": 0,
            "wins": 0,
            "losses": 0,
            "realized": "0",
            "equity": "999.9",
        },
    ]
    assert sum(b["count"] for b in body["distribution"]) == 6
    assert body["equity_curve"][0] == {"t": "2026-03-01T23:55:00.000Z", "equity": "1000"}
    assert {"t": "2026-03-04T12:00:00.000Z", "equity": "950"} in body["equity_curve"]
    assert len(body["equity_curve"]) == 7


def test_api_md_fields_are_all_there(client, make_user):
    """Every field API.md lists, plus sortino, expectancy, max_drawdown, annualisation."""
    _, headers = make_user("viewer")
    body = get(client, headers)
    for name in (
        "realized", "win_rate", "avg_win", "avg_loss", "profit_factor", "sharpe",
        "max_drawdown_percent", "equity_curve", "distribution", "by_symbol", "by_timeframe",
        "daily", "allocation", "sortino", "expectancy", "max_drawdown", "annualisation",
    ):  # fmt: skip
        assert name in body, name
    assert set(body["realized"]) == {"day", "week", "month", "all"}
    assert {"allocated_usd", "free_usd", "tvl_usd"} <= set(body["allocation"])


def test_no_closed_trades_yet(client, make_user):
    """A new user: zero realised, every ratio null, empty lists, the whole capital free."""
    _, headers = make_user("viewer")
    body = get(client, headers)
    assert body["realized"] == {"day": "0", "week": "0", "month": "0", "all": "0"}
    for name in ("win_rate", "avg_win", "avg_loss", "profit_factor", "expectancy", "sharpe",
                 "sortino", "max_drawdown_percent"):  # fmt: skip
        assert body[name] is None, name
    assert body["equity_curve"] == body["distribution"] == body["daily"] == []
    assert body["allocation"]["free_usd"] == "10000"
    assert body["allocation"]["tvl_usd"] == "0"


def test_range_selects_whole_utc_days(client, make_user):
    """from=to=2026-03-02 holds the 4 trades of that day (+20 −5 +15 −10 = 20) and the
    snapshot returns from Mar 1's close (one return: no Sharpe). An ISO time means its day."""
    user, headers = make_user("viewer")
    seed(user)
    body = get(client, headers, **{"from": "2026-03-02", "to": "2026-03-02"})
    assert body["range"] == {"from": "2026-03-02", "to": "2026-03-02"}
    assert body["trades"]["count"] == 4 and body["trades"]["realized"] == "20"
    assert body["daily_returns"] == 1 and body["sharpe"] is None
    assert body["realized"]["all"] == "40"  # the headline periods ignore the range
    same = get(client, headers, **{"from": "2026-03-02T23:30:00+02:00", "to": "2026-03-02"})
    assert same["range"]["from"] == "2026-03-02"  # 23:30 at +02:00 is 21:30 UTC


def test_realized_periods_around_today(client, make_user):
    """Closed today +5 and −2, earlier this month (when not this week) and last year: the
    day is 3, all-time adds everything."""
    user, headers = make_user("viewer")
    now = utcnow()
    today = datetime(now.year, now.month, now.day)
    group(user, today + timedelta(seconds=1), "5")
    group(user, today + timedelta(seconds=2), "-2")
    group(user, today - timedelta(days=400), "100")
    starts = period_starts(today.date())
    body = get(client, headers)
    assert body["realized"]["day"] == "3"
    assert body["realized"]["week"] == "3"
    assert body["realized"]["month"] == "3"
    assert body["realized"]["all"] == "103"
    assert starts["week"] <= today.date()


def test_new_closes_and_snapshots_arrive_incrementally(app, client, make_user, redis_client):
    """After a first answer, a newly closed group, a late one (closed_at before the newest
    seen, within the lag) and a new snapshot all show up; nothing is counted twice; the
    answer is the same rebuilt from Redis alone or from the database after invalidation."""
    user, headers = make_user("viewer")
    now = utcnow()
    group(user, now - timedelta(minutes=3), "10")
    snapshot(user, now - timedelta(minutes=10), "1000")
    first = get(client, headers)
    assert first["trades"]["count"] == 1

    group(user, now - timedelta(minutes=1), "-4")
    group(user, now - timedelta(minutes=6), "7")  # committed late, closed earlier
    snapshot(user, now - timedelta(minutes=5), "1013")
    second = get(client, headers)
    assert second["trades"]["count"] == 3 and second["trades"]["realized"] == "13"
    assert second["equity_curve"][-1]["equity"] == "1013"
    assert get(client, headers)["trades"]["count"] == 3  # asked again: still 3

    keys = redis_client.keys(f"*engine:performance:{user.id}*")
    assert len(keys) == 2
    performance_service._memo.clear()  # a fresh process: the ledger comes from Redis
    from_redis = get(client, headers)
    with app.app_context():
        performance_service.invalidate(user.id)  # and from the database again
    rebuilt = get(client, headers)
    strip = lambda body: {k: v for k, v in body.items() if k != "generated_at"}  # noqa: E731
    assert strip(from_redis) == strip(second) == strip(rebuilt)


def test_allocation_and_tvl(client, make_user):
    """Open group A holds 2 pyramids of 500 (1,000), invested 600, unrealised +30; open group B
    has no pyramid yet, invested 0. Closed groups are not counted. Capital 10,000: allocated
    1,000, free 9,000, in positions 600, TVL 630."""
    user, headers = make_user("viewer")
    a = group(user, None, status="active", invested="600", unrealized_pnl_usd=D(30))
    for index in range(2):
        Pyramid.create(group=a.id, index=index, entry_price=D(100), capital_usd=D(500))
    group(user, None, status="waiting", invested="0")
    group(user, "2026-03-01T10:00:00", "5")
    alloc = get(client, headers)["allocation"]
    assert alloc == {
        "total_capital_usd": "10000",
        "allocated_usd": "1000",
        "free_usd": "9000",
        "in_positions_usd": "600",
        "unrealized_usd": "30",
        "tvl_usd": "630",
        "open_groups": 2,
    }


def test_who_may_read_whose_figures(client, make_user):
    """Own figures for everyone; another user's only for managers and admins (403 otherwise);
    an unknown user is 404; no token is 401."""
    owner, owner_headers = make_user("trader")
    group(owner, "2026-03-01T10:00:00", "42")
    _, viewer_headers = make_user("viewer")
    _, manager_headers = make_user("manager")
    mine = client.get(
        "/api/performance", headers=viewer_headers, query_string={"user_id": owner.id}
    )
    assert mine.status_code == 403 and mine.json["error"]["code"] == "forbidden"
    theirs = get(client, manager_headers, user_id=str(owner.id))
    assert theirs["realized"]["all"] == "42"
    missing = client.get(
        "/api/performance", headers=manager_headers, query_string={"user_id": uuid.uuid4()}
    )
    assert missing.status_code == 404
    assert client.get("/api/performance").status_code == 401
    assert get(client, owner_headers, user_id=str(owner.id))["realized"]["all"] == "42"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-03-05", "to": "2026-03-01"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "to"),
    ],
)
def test_bad_queries_are_422_on_the_field(client, make_user, query, field):
    """A reversed or unreadable range, an over-long one or a bad user id: 422 naming it."""
    _, headers = make_user("viewer")
    response = client.get("/api/performance", headers=headers, query_string=query)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_csv_export_lists_the_closed_trades_of_the_range(client, make_user):
    """The export holds exactly the closed groups the figures count, oldest first, decimals
    as stored; `to` includes its whole day; only `format=csv` is offered."""
    user, headers = make_user("viewer")
    seed(user)
    group(user, "2026-03-02T14:00:00", "-99", status="failed")
    response = client.get(
        "/api/performance/export",
        headers=headers,
        query_string={"format": "csv", "from": "2026-03-02", "to": "2026-03-02"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["symbol"], r["timeframe"], r["realized_pnl_usd"]) for r in rows] == [
        ("BTCUSDT", "60", "20"),
        ("ETHUSDT", "60", "-5"),
        ("SOLUSDT", "15", "15"),
        ("BTCUSDT", "15", "-10"),
    ]
    assert rows[-1]["closed_at"] == "2026-03-02T13:00:00.000Z"
    everything = client.get("/api/performance/export", headers=headers)
    assert len(everything.get_data(as_text=True).strip().splitlines()) == 1 + 6
    bad = client.get("/api/performance/export", headers=headers, query_string={"format": "xml"})
    assert bad.status_code == 422 and "format" in bad.json["error"]["fields"]


def test_figures_equal_a_direct_sum_of_the_database(client, make_user, monkeypatch):
    """300 closed groups with 18-decimal PnLs over 40 days, 100 of them written after the first
    answer with older close times (a backfill): totals, per symbol, per timeframe and per day
    equal sums taken straight from the rows, digit for digit; the export has the same rows."""
    import random

    monkeypatch.setattr(performance_service, "COUNT_EVERY_SEC", 0)  # count on every request
    user, headers = make_user("viewer")
    rng = random.Random(7)
    start = datetime(2026, 9, 1)

    def add(n):
        for _ in range(n):
            group(
                user,
                start + timedelta(seconds=rng.randint(0, 40 * 86400)),
                str(D(rng.randint(-(10**20), 10**20)) / 10**18),
                rng.choice(["BTCUSDT", "ETHUSDT", "SOLUSDT"]),
                rng.choice([15, 60, 240]),
            )

    add(200)
    get(client, headers)
    add(100)  # closed_at anywhere in the 40 days: older than the watermark, found by the count
    body = get(client, headers)

    rows = list(
        PositionGroup.select().where(
            (PositionGroup.user == user.id) & (PositionGroup.status == "closed")
        )
    )
    total = sum((r.realized_pnl_usd for r in rows), D(0))
    assert body["trades"]["count"] == 300
    assert D(body["trades"]["realized"]) == total
    for entry in body["by_symbol"]:
        mine = [r.realized_pnl_usd for r in rows if r.symbol == entry["symbol"]]
        assert (entry["trades"], D(entry["realized"])) == (len(mine), sum(mine, D(0)))
    for entry in body["by_timeframe"]:
        mine = [r.realized_pnl_usd for r in rows if r.timeframe == entry["timeframe"]]
        assert (entry["trades"], D(entry["realized"])) == (len(mine), sum(mine, D(0)))
    for entry in body["daily"]:
        mine = [r.realized_pnl_usd for r in rows if r.closed_at.date().isoformat() == entry["date"]]
        assert (entry["trades"], D(entry["realized"])) == (len(mine), sum(mine, D(0)))
    assert sum(b["count"] for b in body["distribution"]) == 300
    exported = client.get("/api/performance/export", headers=headers).get_data(as_text=True)
    assert sum(D(r["realized_pnl_usd"]) for r in csv.DictReader(io.StringIO(exported))) == total


def test_a_rewritten_pnl_shows_after_invalidation(app, client, make_user):
    """Rewriting an old group's PnL in place is invisible to the watermarks (same count, old
    close time); `invalidate` is the documented way to make the figures follow."""
    user, headers = make_user("viewer")
    old = group(user, "2026-03-01T10:00:00", "30")
    group(user, utcnow() - timedelta(minutes=1), "5")
    assert get(client, headers)["realized"]["all"] == "35"
    PositionGroup.update(realized_pnl_usd=D("-30")).where(PositionGroup.id == old.id).execute()
    assert get(client, headers)["realized"]["all"] == "35"
    with app.app_context():
        performance_service.invalidate(user.id)
    assert get(client, headers)["realized"]["all"] == "-25"
