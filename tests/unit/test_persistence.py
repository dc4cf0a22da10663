"""Lossless decimals and reversible migrations on both databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from peewee import Model

from server.persistence.db import make_database
from server.persistence.fields import ExactDecimalField
from server.persistence.migrate import downgrade_all, upgrade
from tests.conftest import _pg_admin, pg_url_for

MIGRATIONS = [
    "001_initial",
    "002_signal_intake",
    "003_position_lifecycle",
    "004_performance_indexes",
    "005_pool_queue",
    "006_positions_list_index",
]
EXTREMES = [
    Decimal("0.000000012345678901"),
    Decimal("12345678901234.123456789012345678"),
    Decimal("-98765.43210000000000000001"),
    Decimal("0"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A fresh empty database of each kind."""
    if request.param == "sqlite":
        db = make_database(f"sqlite:///{tmp_path / 'engine.db'}")
        yield db
        db.close()
        return
    name = f"engine_unit_{tmp_path.name[-20:]}".replace("-", "_").lower()
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    _pg_admin(f'CREATE DATABASE "{name}"')
    db = make_database(pg_url_for(name))
    yield db
    db.close_all()
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_decimal_round_trips_exactly(database):
    """Tiny and huge decimals come back digit for digit, as Decimal, on both databases."""

    class Amount(Model):
        value = ExactDecimalField()

        class Meta:
            table_name = "amount"

    Amount._meta.set_database(database)
    database.create_tables([Amount])
    ids = [Amount.create(value=v).id for v in EXTREMES]
    back = [Amount.get_by_id(i).value for i in ids]
    assert back == EXTREMES
    assert all(isinstance(v, Decimal) for v in back)
    assert str(back[1]) == "12345678901234.123456789012345678"


def test_decimal_field_refuses_float():
    """A float is already inexact, so the field refuses it instead of storing noise."""
    with pytest.raises(TypeError):
        ExactDecimalField().db_value(0.1)


def test_migrations_run_up_and_down(database):
    """The same migration files build the whole schema and drop it again, on both databases."""
    from server.persistence.models import ALL_MODELS

    applied = upgrade(database)
    assert applied == MIGRATIONS
    tables = set(database.get_tables())
    assert {m._meta.table_name for m in ALL_MODELS} <= tables
    assert upgrade(database) == []  # idempotent
    assert downgrade_all(database) == list(reversed(MIGRATIONS))
    assert set(database.get_tables()) <= {"migratehistory"}
    assert upgrade(database) == MIGRATIONS  # and up again after down


def test_every_model_column_exists_after_migrating(database):
    """The migrations build every column the models declare (no model drifts from them)."""
    from server.persistence.models import ALL_MODELS

    upgrade(database)
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {c.name for c in database.get_columns(table)}
        declared = {f.column_name for f in model._meta.sorted_fields}
        assert declared <= columns, (table, declared - columns)


def test_migrated_schema_keeps_decimals(database):
    """Columns built by the migration (not by create_tables) are lossless too."""
    from server.persistence.db import db
    from server.persistence.models import PositionGroup, User

    upgrade(database)
    previous = db.obj
    db.initialize(database)
    try:
        user = User.create(
            email="a@example.com", username="alice", password_hash="x", webhook_secret_enc="v1:x"
        )
        group = PositionGroup.create(
            user=user,
            exchange="binance",
            symbol="BTCUSDT",
            timeframe=60,
            side="long",
            weighted_avg_entry=EXTREMES[1],
            total_filled_quantity=EXTREMES[0],
        )
        again = PositionGroup.get_by_id(group.id)
    finally:
        db.initialize(previous)
    assert again.weighted_avg_entry == EXTREMES[1]
    assert again.total_filled_quantity == EXTREMES[0]
