"""The webhook fast path's storage on both databases: PostgreSQL's single statements and the
ORM path SQLite takes must behave the same (sender lookup, duplicate window, signal_id key)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from peewee import IntegrityError

from server.persistence.db import db, make_database
from server.persistence.intake_queries import insert_accepted, load_sender
from server.persistence.migrate import upgrade
from server.persistence.models import (
    ExchangeAccount,
    SettingsVersion,
    Signal,
    SignalFingerprint,
    User,
    WebhookLog,
)
from tests.conftest import _pg_admin, pg_url_for

NOW = datetime(2026, 11, 21, 10, 15)
WINDOW = timedelta(minutes=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def bound(request, tmp_path):
    """A migrated database of each kind bound to the model proxy for the test."""
    if request.param == "sqlite":
        database = make_database(f"sqlite:///{tmp_path / 'engine.db'}")
    else:
        name = f"engine_iq_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        database = make_database(pg_url_for(name))
    upgrade(database)
    previous = db.obj
    db.initialize(database)
    yield request.param
    db.initialize(previous)
    if request.param == "sqlite":
        database.close()
    else:
        database.close_all()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _user() -> User:
    return User.create(
        email=f"{uuid.uuid4().hex[:6]}@example.com",
        username=uuid.uuid4().hex[:10],
        password_hash="x",
        webhook_secret_enc="v1:secret",
    )


def _rows(user: User, dedupe_key: str, at: datetime):
    signal_id = uuid.uuid4()
    signal = {
        "id": signal_id,
        "created_at": at,
        "user_id": user.id,
        "account_id": None,
        "dedupe_key": dedupe_key,
        "sender_signal_id": None,
        "intent": "entry",
        "exchange": "binance",
        "market_type": "spot",
        "symbol": "BTCUSDT",
        "timeframe": 60,
        "side": "long",
        "entry_price": Decimal("64250.123456789012345678"),
        "signal_time": at,
        "payload": {"tv": {"entry_price": Decimal("64250.5")}},
        "lane": "a:BTCUSDT:60:long",
        "is_replay": False,
        "status": "received",
    }
    log = {
        "id": uuid.uuid4(),
        "created_at": at,
        "user_id": user.id,
        "remote_addr": "127.0.0.1",
        "status": "accepted",
        "http_status": 202,
        "reason": None,
        "payload": {"tv": {"entry_price": Decimal("64250.5")}},
        "symbol": "BTCUSDT",
        "authenticated": True,
        "is_replay": False,
        "replay_of": None,
    }
    return signal, log


def test_sender_in_one_lookup(bound):
    """The sender comes back with the stored signals section and only active accounts."""
    user = _user()
    active = ExchangeAccount.create(
        user=user,
        exchange="binance",
        market_type="spot",
        mode="simulated",
        label="Main",
        api_key_enc="k",
        api_secret_enc="s",
        api_key_masked="m",
    )
    ExchangeAccount.create(
        user=user,
        exchange="bybit",
        market_type="spot",
        mode="simulated",
        label="Off",
        api_key_enc="k",
        api_secret_enc="s",
        api_key_masked="m",
        is_active=False,
    )
    assert load_sender(user.id).signals_settings is None
    SettingsVersion.create(
        user=user, version=1, document={"signals": {"ip_allowlist": ["1.2.3.4"]}}
    )
    SettingsVersion.create(
        user=user, version=2, document={"signals": {"max_signal_age_seconds": 60}}
    )
    sender = load_sender(user.id)
    assert sender.user.id == user.id and sender.user.is_active is True
    assert sender.user.webhook_secret_enc == "v1:secret"
    assert sender.signals_settings == {"max_signal_age_seconds": 60}
    assert sender.accounts == [(str(active.id), "binance", "spot", "Main")]
    assert load_sender(uuid.uuid4()) is None


def test_duplicate_window_and_signal_id_key(bound):
    """Same body: accepted, then a duplicate within the window (nothing stored), then accepted
    again once the window has passed; a repeated dedupe key raises IntegrityError."""
    user = _user()
    signal, log = _rows(user, "new:1", NOW)
    assert insert_accepted(signal, log, "h" * 64, NOW, WINDOW) is True
    again, again_log = _rows(user, "new:2", NOW + timedelta(minutes=9, seconds=59))
    assert insert_accepted(again, again_log, "h" * 64, again["created_at"], WINDOW) is False
    assert Signal.select().count() == 1 and WebhookLog.select().count() == 1
    later, later_log = _rows(user, "new:3", NOW + WINDOW)
    assert insert_accepted(later, later_log, "h" * 64, later["created_at"], WINDOW) is True
    assert SignalFingerprint.get().signal_id == later["id"]
    stored = Signal.get_by_id(signal["id"])
    assert stored.entry_price == Decimal("64250.123456789012345678")
    assert stored.payload == {"tv": {"entry_price": "64250.5"}}
    assert WebhookLog.get_by_id(log["id"]).signal_id == signal["id"]
    same_key, same_key_log = _rows(user, "new:1", NOW)
    with pytest.raises(IntegrityError):
        insert_accepted(same_key, same_key_log, "other" + "h" * 59, NOW, WINDOW)
    assert Signal.select().count() == 2


def test_replays_skip_the_window(bound):
    """Without a digest (a replay) nothing is claimed and the same body can be stored again."""
    user = _user()
    for n in range(2):
        signal, log = _rows(user, f"replay:{n}", NOW)
        assert insert_accepted(signal, log, None, NOW, WINDOW) is True
    assert SignalFingerprint.select().count() == 0
