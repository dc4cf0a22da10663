"""Exchange accounts (keys encrypted at rest) and per-user settings versions."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from server.persistence.fields import JSONDocField
from server.persistence.models.base import UUIDModel
from server.persistence.models.users import User


class ExchangeAccount(UUIDModel):
    """One set of exchange API keys. Only ciphertext and a masked key are ever stored."""

    user = ForeignKeyField(User, backref="accounts", on_delete="CASCADE", index=True)
    exchange = CharField(max_length=16)
    market_type = CharField(max_length=16)
    mode = CharField(max_length=16)
    label = CharField(max_length=64)
    api_key_enc = TextField()
    api_secret_enc = TextField()
    api_key_masked = CharField(max_length=32)
    is_active = BooleanField(default=True)
    last_validated_at = DateTimeField(null=True)
    last_validation_error = TextField(null=True)


class SettingsVersion(UUIDModel):
    """Every saved settings document is a new immutable version (SPEC §9)."""

    user = ForeignKeyField(User, backref="settings_versions", on_delete="CASCADE")
    version = IntegerField()
    document = JSONDocField()
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    note = CharField(max_length=200, default="")

    class Meta:
        indexes = ((("user", "version"), True),)
