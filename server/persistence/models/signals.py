"""Signals as received, the queue of signals waiting for a pool slot, and risk actions."""

from __future__ import annotations

from decimal import Decimal

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from server.clock import utcnow
from server.persistence.fields import ExactDecimalField, JSONDocField
from server.persistence.models.accounts import ExchangeAccount
from server.persistence.models.base import UUIDModel
from server.persistence.models.positions import PositionGroup
from server.persistence.models.users import User


class Signal(UUIDModel):
    """One accepted webhook signal, normalised, and what the worker made of it.

    `dedupe_key` is unique per user: `id:<sender signal_id>` (a repeat is a duplicate forever),
    `new:<uuid>` without one, `replay:<uuid>` for a replay. `lane` is the position group key
    (account:symbol:timeframe:side); `arrival_seq` and `processing_seq` record the lane's order.
    `status`: received → processed | rejected.
    """

    user = ForeignKeyField(User, backref="signals", on_delete="CASCADE")
    account = ForeignKeyField(ExchangeAccount, null=True, on_delete="SET NULL")
    dedupe_key = CharField(max_length=128)
    sender_signal_id = CharField(max_length=128, null=True)
    intent = CharField(max_length=16, null=True)
    exchange = CharField(max_length=16, null=True)
    market_type = CharField(max_length=16, null=True)
    symbol = CharField(max_length=32, null=True)
    timeframe = IntegerField(null=True)
    side = CharField(max_length=8, null=True)
    entry_price = ExactDecimalField(null=True)
    signal_time = DateTimeField(null=True)
    payload = JSONDocField()
    lane = CharField(max_length=128, null=True)
    arrival_seq = BigIntegerField(null=True)
    processing_seq = BigIntegerField(null=True)
    is_replay = BooleanField(default=False)
    status = CharField(max_length=20, default="received")
    classification = CharField(max_length=32, null=True)
    reason = TextField(null=True)
    group = ForeignKeyField(PositionGroup, null=True, on_delete="SET NULL")
    processing_started_at = DateTimeField(null=True)
    processed_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("user", "dedupe_key"), True),
            (("status", "created_at"), False),
        )


class SignalFingerprint(UUIDModel):
    """The duplicate window (SPEC §2.1): one row per (user, body hash), taken over by a new
    signal only once `accepted_at` is older than the window (one atomic upsert)."""

    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    body_sha256 = CharField(max_length=64)
    signal = ForeignKeyField(Signal, null=True, backref="+", on_delete="SET NULL")
    accepted_at = DateTimeField()

    class Meta:
        indexes = ((("user", "body_sha256"), True),)


class QueuedSignal(UUIDModel):
    """An entry signal waiting for a pool slot (SPEC §5); Redis holds the ranked copy.

    `signal` is the latest signal of the lane (a replacement points it at the new one and
    counts `replacement_count`; `queued_at` stays). `status`: queued → promoted | expired |
    dropped | removed | failed, with `reason` and `finished_at`. `force_added`: opened over
    the limit by a trader.
    """

    user = ForeignKeyField(User, backref="queued_signals", on_delete="CASCADE")
    account = ForeignKeyField(ExchangeAccount, on_delete="CASCADE")
    signal = ForeignKeyField(Signal, on_delete="CASCADE")
    symbol = CharField(max_length=32)
    timeframe = IntegerField()
    side = CharField(max_length=8)
    entry_price = ExactDecimalField(null=True)
    replacement_count = IntegerField(default=0)
    queued_at = DateTimeField(default=utcnow)
    status = CharField(max_length=16, default="queued", index=True)
    force_added = BooleanField(default=False)
    finished_at = DateTimeField(null=True)
    reason = TextField(null=True)

    class Meta:
        indexes = (
            (("user", "status", "queued_at"), False),
            (("account", "symbol", "timeframe", "side", "status"), False),
        )


class RiskAction(UUIDModel):
    """One risk evaluation that acted or was blocked by a rule, with every number (SPEC §6)."""

    user = ForeignKeyField(User, backref="risk_actions", on_delete="CASCADE")
    loser = ForeignKeyField(PositionGroup, null=True, on_delete="SET NULL")
    trigger = CharField(max_length=16)  # scheduled | manual
    triggered_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    outcome = CharField(max_length=24)
    reason = TextField(null=True)
    required_usd = ExactDecimalField(null=True)
    covered_usd = ExactDecimalField(null=True)
    plan = JSONDocField(default=dict)

    class Meta:
        indexes = ((("user", "created_at"), False),)


class EquitySnapshot(UUIDModel):
    """Periodic equity reading for the performance page (SPEC §7)."""

    user = ForeignKeyField(User, backref="equity_snapshots", on_delete="CASCADE")
    taken_at = DateTimeField(default=utcnow)
    equity_usd = ExactDecimalField()
    realized_usd = ExactDecimalField()
    unrealized_usd = ExactDecimalField()
    allocated_usd = ExactDecimalField(default=Decimal("0"))

    class Meta:
        indexes = ((("user", "taken_at"), False),)
