"""Prepared statements (`server.persistence.prepared`) on both databases: the SQL text is built
once, yet every run uses its own values (converted as peewee converts them), rows come back
as the same model instances peewee yields, and `insert_rows` stores exactly what
`bulk_create` / `save(force_insert=True)` store."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from peewee import JOIN, Query

from server.persistence.db import db
from server.persistence.models import ExchangeAccount, Signal, User
from server.persistence.prepared import Prepared, Slot, insert_rows, slots
from tests.unit.test_intake_queries import _user, bound  # noqa: F401  (the fixture)

AT = datetime(2026, 12, 5, 11, 0, 0)


def _account(user: User, label: str) -> ExchangeAccount:
    return ExchangeAccount.create(
        user=user,
        exchange="binance",
        market_type="spot",
        mode="simulated",
        label=label,
        api_key_enc="k",
        api_secret_enc="s",
        api_key_masked="m",
    )


def _signal(user: User, account: ExchangeAccount | None, key: str, price: str) -> Signal:
    return Signal(
        user=user.id,
        account=account.id if account else None,
        dedupe_key=key,
        intent="entry",
        symbol="BTCUSDT",
        timeframe=60,
        side="long",
        entry_price=Decimal(price),
        signal_time=AT,
        payload={"tv": {"entry_price": price}},
    )


def _by_id():
    return (
        Signal.select(Signal.id, Signal.status, Signal.entry_price, Signal.payload, ExchangeAccount)
        .join(ExchangeAccount, JOIN.LEFT_OUTER)
        .where(Signal.id == Slot("id", Signal.id))
        .limit(1)
    )


def test_text_built_once_values_per_run(bound, monkeypatch):  # noqa: F811
    """Two runs with different ids: one SQL build, each run finds its own row, with its
    account joined (or none), exactly as the same query run by peewee returns it."""
    user = _user()
    account = _account(user, "Main")
    one = _signal(user, account, "k1", "64250.123456789012345678")
    two = _signal(user, None, "k2", "0.00000001")
    insert_rows([one, two])

    builds = []
    original = Query.sql

    def counted(query):
        builds.append(query)
        return original(query)

    statement = Prepared(_by_id)
    monkeypatch.setattr(Query, "sql", counted)
    first = statement.first(id=one.id)
    second = statement.first(id=str(two.id))  # a string id is converted like a UUID
    missing = statement.first(id=uuid.uuid4())
    monkeypatch.undo()
    assert len(builds) == 1
    assert first.id == one.id and first.entry_price == Decimal("64250.123456789012345678")
    assert first.account.label == "Main" and first.payload == {
        "tv": {"entry_price": "64250.123456789012345678"}
    }
    assert second.id == two.id and second.account_id is None
    assert second.entry_price == Decimal("0.00000001")
    assert missing is None
    by_peewee = (
        Signal.select(Signal.id, Signal.status, Signal.entry_price, Signal.payload, ExchangeAccount)
        .join(ExchangeAccount, JOIN.LEFT_OUTER)
        .where(Signal.id == one.id)
        .first()
    )
    assert by_peewee.__data__ == first.__data__
    assert by_peewee.account.__data__ == first.account.__data__


def test_update_rowcount_and_scalar(bound):  # noqa: F811
    """An UPDATE with slotted assignments changes only the matching row (and only while the
    constant condition holds): 1, then 0 on a second run."""
    user = _user()
    one, two = _signal(user, None, "k1", "1"), _signal(user, None, "k2", "2")
    insert_rows([one, two])
    record = Prepared(
        lambda: Signal.update(slots(Signal, "status", "reason", "processed_at")).where(
            (Signal.id == Slot("id", Signal.id)) & (Signal.status == "received")
        )
    )
    assert record.rowcount(id=one.id, status="processed", reason="r1", processed_at=AT) == 1
    assert record.rowcount(id=one.id, status="rejected", reason="r2", processed_at=AT) == 0
    status = Prepared(
        lambda: Signal.select(Signal.status).where(Signal.id == Slot("id", Signal.id))
    )
    assert status.scalar(id=one.id) == "processed"
    assert status.scalar(id=two.id) == "received"
    assert status.scalar(id=uuid.uuid4()) is None
    stored = Signal.get_by_id(one.id)
    assert (stored.reason, stored.processed_at) == ("r1", AT)


def test_insert_rows_stores_what_peewee_stores(bound):  # noqa: F811
    """Rows inserted by `insert_rows` read back field for field like rows `bulk_create`
    inserted from equal instances; the instances are left clean (saved)."""
    user = _user()
    ours = [_signal(user, None, f"ours{n}", f"{n}.5") for n in range(3)]
    theirs = [_signal(user, None, f"theirs{n}", f"{n}.5") for n in range(3)]
    insert_rows(ours)
    with db.atomic():
        Signal.bulk_create(theirs)
    assert all(not row.dirty_fields for row in ours)
    for mine, peer in zip(ours, theirs, strict=True):
        a, b = Signal.get_by_id(mine.id).__data__, Signal.get_by_id(peer.id).__data__
        for name in ("id", "created_at", "dedupe_key"):
            a.pop(name), b.pop(name)
        assert a == b
    assert insert_rows([]) is None


@pytest.mark.parametrize("count", [1, 2])
def test_insert_text_per_row_count(bound, count):  # noqa: F811
    """One statement text per number of rows: 1 row and then 2 rows both store all rows."""
    user = _user()
    rows = [_signal(user, None, f"c{count}-{n}", "3") for n in range(count)]
    insert_rows(rows)
    assert Signal.select().where(Signal.dedupe_key.startswith(f"c{count}-")).count() == count
