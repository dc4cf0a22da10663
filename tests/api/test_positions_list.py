"""`GET /api/positions` (API.md "Positions"): the shape of a group row pinned key by key with
values worked by hand, the same bytes as the `group.updated` event's group, the status
filter, newest first, and the 1,000-row cap."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from server.api.serializers import group_out
from server.domain.enums import Role
from server.persistence.models import PositionGroup
from tests.signal_support import make_account, make_group

CREATED = datetime(2026, 3, 4, 5, 6, 7, 891999)  # naive UTC, as stored

ROW_KEYS = [
    "id", "user_id", "account_id", "exchange", "symbol", "timeframe", "side", "status",
    "pyramid_count", "max_pyramids", "filled_dca_legs", "total_dca_legs",
    "weighted_avg_entry", "total_filled_quantity", "total_invested_usd",
    "unrealized_pnl_usd", "unrealized_pnl_percent", "realized_pnl_usd", "tp_mode",
    "failure_reason", "no_more_orders", "no_more_orders_reason", "last_price",
    "created_at", "updated_at", "closed_at",
]  # fmt: skip


def test_a_group_row_key_by_key(app, client, make_user):
    """Decimals as plain strings without trailing zeros or exponents (60000.500 → "60000.5",
    1E-8 → "0.00000001", 100.00 → "100"), times ISO UTC with the milliseconds truncated and a
    Z (07.891999 → "07.891Z", + 1.0005 s → "08.892Z"), ids as text, a missing close time as
    null; keys in the contract's order."""
    user, h = make_user("trader")
    account = make_account(app, user)
    group = make_group(  # Binance BTCUSDT 60-minute long, active
        app,
        user,
        account,
        pyramid_count=2,
        max_pyramids=5,
        filled_dca_legs=3,
        total_dca_legs=10,
        weighted_avg_entry=Decimal("60000.500"),
        total_filled_quantity=Decimal("1E-8"),
        total_invested_usd=Decimal("100.00"),
        unrealized_pnl_usd=Decimal("-1.2500"),
        unrealized_pnl_percent=Decimal("-0.20"),
        realized_pnl_usd=Decimal("0"),
        tp_mode="aggregate",
        no_more_orders=True,
        no_more_orders_reason="insufficient funds",
        last_price=Decimal("59880.0"),
        created_at=CREATED,
        updated_at=CREATED + timedelta(seconds=1, microseconds=500),
    )
    r = client.get("/api/positions", headers=h)
    assert r.status_code == 200, r.json
    (row,) = r.json["items"]
    assert list(row) == ROW_KEYS
    assert row == {
        "id": str(group.id),
        "user_id": str(user.id),
        "account_id": str(account.id),
        "exchange": "binance",
        "symbol": "BTCUSDT",
        "timeframe": 60,
        "side": "long",
        "status": "active",
        "pyramid_count": 2,
        "max_pyramids": 5,
        "filled_dca_legs": 3,
        "total_dca_legs": 10,
        "weighted_avg_entry": "60000.5",
        "total_filled_quantity": "0.00000001",
        "total_invested_usd": "100",
        "unrealized_pnl_usd": "-1.25",
        "unrealized_pnl_percent": "-0.2",
        "realized_pnl_usd": "0",
        "tp_mode": "aggregate",
        "failure_reason": None,
        "no_more_orders": True,
        "no_more_orders_reason": "insufficient funds",
        "last_price": "59880",
        "created_at": "2026-03-04T05:06:07.891Z",
        "updated_at": "2026-03-04T05:06:08.892Z",
        "closed_at": None,
    }


def _odd_groups(user) -> list[PositionGroup]:
    """A group with every optional column empty, a failed one with text and a close time,
    and one with long and tiny decimals and a whole-second time."""
    bare = PositionGroup.create(
        user=user.id, exchange="bybit", symbol="ETHUSDT", timeframe=15, side="short"
    )
    failed = PositionGroup.create(
        user=user.id,
        exchange="binance",
        symbol="SOLUSDT",
        timeframe=5,
        side="long",
        status="failed",
        failure_reason='précision: quantity below the minimum «0.001»\n"tab"\there \\ \x01',
        closed_at=CREATED,
        created_at=CREATED - timedelta(days=1),
    )
    odd = PositionGroup.create(
        user=user.id,
        exchange="binance",
        symbol="PEPEUSDT",
        timeframe=1,
        side="long",
        status="active",
        weighted_avg_entry=Decimal("0.000000123456789012345678"),
        total_filled_quantity=Decimal("123456789012345678901234567890.5000"),
        total_invested_usd=Decimal("-0"),
        unrealized_pnl_usd=Decimal("-0.00000001"),
        realized_pnl_usd=Decimal("1E+3"),
        created_at=CREATED.replace(microsecond=0),
    )
    return [bare, failed, odd]


def _compact(value) -> str:
    """JSON as the list is written (orjson): compact, non-ASCII as UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_a_list_row_is_the_event_group_byte_for_byte(app, client, make_user):
    """API.md: live events carry the same shape as the REST resource — each list row and
    `group_out` of the stored model (what `group.updated` publishes) serialise to the same
    JSON text, for odd values too. The body is exactly the compact JSON of those dicts,
    escapes (quote, backslash, newline, control characters) and non-ASCII text included."""
    user, h = make_user("trader")
    with app.app_context():
        groups = _odd_groups(user)
        stored = {str(g.id): group_out(PositionGroup.get_by_id(g.id)) for g in groups}
    response = client.get("/api/positions?status=all", headers=h)
    assert response.mimetype == "application/json"
    items = response.json["items"]
    assert len(items) == 3
    for item in items:
        assert json.dumps(item) == json.dumps(stored[item["id"]])
    newest_first = [stored[str(g.id)] for g in (groups[0], groups[2], groups[1])]
    assert response.get_data(as_text=True) == _compact({"items": newest_first})
    failed = stored[str(groups[1].id)]
    assert failed["failure_reason"].endswith('\n"tab"\there \\ \x01')
    odd = stored[str(groups[2].id)]
    assert odd["weighted_avg_entry"] == "0.000000123456789012345678"
    assert odd["total_filled_quantity"] == "123456789012345678901234567890.5"
    assert odd["total_invested_usd"] == "0" and odd["realized_pnl_usd"] == "1000"
    assert odd["created_at"] == "2026-03-04T05:06:07.000Z"


def test_sqlite_list_is_written_as_on_postgresql(app, tmp_path):
    """The embedded database (decimals and times kept as text) goes through the Python
    writers instead of PostgreSQL's: the same rows, the same JSON text."""
    from server.persistence.db import db, init_db
    from server.persistence.migrate import upgrade
    from server.services.group_list import list_json
    from server.services.users import create_user

    previous = db.obj
    database = init_db(f"sqlite:///{tmp_path}/list.db")
    try:
        upgrade(database)
        with app.app_context():
            user = create_user("lite@example.com", "lite", "Passw0rd-ok", Role.TRADER)
            groups = _odd_groups(user)
            stored = {str(g.id): group_out(PositionGroup.get_by_id(g.id)) for g in groups}
            text = list_json(user.id, None)
    finally:
        database.close()
        db.initialize(previous)
    newest_first = [stored[str(g.id)] for g in (groups[0], groups[2], groups[1])]
    assert text.decode() == _compact(newest_first)


def test_status_filter_newest_first(app, client, make_user):
    """open = waiting … closing; closed = closed and failed; all = both; newest first."""
    user, h = make_user("trader")
    statuses = ["waiting", "live", "closing", "closed", "failed", "active"]
    with app.app_context():
        ids = {
            status: str(
                PositionGroup.create(
                    user=user.id,
                    exchange="binance",
                    symbol="BTCUSDT",
                    timeframe=60,
                    side="long",
                    status=status,
                    created_at=CREATED + timedelta(minutes=i),
                ).id
            )
            for i, status in enumerate(statuses)
        }

    def listed(status):
        return [
            g["id"] for g in client.get(f"/api/positions?status={status}", headers=h).json["items"]
        ]

    assert listed("open") == [ids[s] for s in ("active", "closing", "live", "waiting")]
    assert listed("closed") == [ids["failed"], ids["closed"]]
    assert listed("all") == [ids[s] for s in reversed(statuses)]


def test_the_list_stops_at_the_1000_newest(app, client, make_user):
    """1,001 open groups: the 1,000 newest come back, the oldest does not."""
    user, h = make_user("trader")
    rows = [
        {
            "id": uuid.uuid4(),
            "user": user.id,
            "exchange": "binance",
            "symbol": "BTCUSDT",
            "timeframe": 60,
            "side": "long",
            "status": "active",
            "created_at": CREATED + timedelta(seconds=i),
        }
        for i in range(1001)
    ]
    with app.app_context():
        PositionGroup.insert_many(rows).execute()
    items = client.get("/api/positions", headers=h).json["items"]
    assert len(items) == 1000
    assert items[0]["id"] == str(rows[-1]["id"])
    assert str(rows[0]["id"]) not in {g["id"] for g in items}
