"""Logs: every webhook received, the system log, and the audit log of state changes."""

from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from server.persistence.fields import JSONDocField, UUIDTextField
from server.persistence.models.base import UUIDModel
from server.persistence.models.positions import PositionGroup
from server.persistence.models.signals import Signal
from server.persistence.models.users import User


class WebhookLog(UUIDModel):
    """Every webhook request, accepted or not, with its outcome; secrets redacted (SPEC §2.1).

    `status` is the answer given at intake; `classification` and `reason` are later updated
    with what the worker made of an accepted signal. Only `authenticated` rows can be replayed.
    """

    user = ForeignKeyField(User, null=True, backref="webhooks", on_delete="CASCADE")
    remote_addr = CharField(max_length=64, null=True)
    status = CharField(max_length=16)
    http_status = IntegerField()
    reason = TextField(null=True)
    payload = JSONDocField(null=True)
    symbol = CharField(max_length=32, null=True)
    authenticated = BooleanField(default=False)
    signal = ForeignKeyField(Signal, null=True, on_delete="SET NULL")
    group = ForeignKeyField(PositionGroup, null=True, on_delete="SET NULL")
    classification = CharField(max_length=32, null=True)
    is_replay = BooleanField(default=False)
    replay_of = UUIDTextField(null=True)

    class Meta:
        indexes = (
            (("user", "created_at"), False),
            (("user", "status", "created_at"), False),
            (("user", "symbol", "created_at"), False),
        )


class SystemLog(UUIDModel):
    """Engine log lines by level and category, shown on the Logs page."""

    user = ForeignKeyField(User, null=True, backref="system_logs", on_delete="CASCADE")
    level = CharField(max_length=8)
    category = CharField(max_length=16)
    message = TextField()
    symbol = CharField(max_length=32, null=True)
    context = JSONDocField(default=dict)
    acknowledged = BooleanField(default=False)

    class Meta:
        indexes = (
            (("user", "created_at"), False),
            (("category", "level"), False),
        )


class AuditLog(UUIDModel):
    """Who changed what, when and from where (SPEC §8)."""

    actor = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = CharField(max_length=64, index=True)
    target_type = CharField(max_length=32, null=True)
    target_id = CharField(max_length=64, null=True)
    detail = JSONDocField(default=dict)
    remote_addr = CharField(max_length=64, null=True)
