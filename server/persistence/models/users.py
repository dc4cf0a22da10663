"""People and their credentials: users, password-reset tokens, system-wide settings."""

from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from server.domain.enums import Role
from server.persistence.fields import JSONDocField
from server.persistence.models.base import BaseModel, UUIDModel


class User(UUIDModel):
    """A trader's login. The webhook secret is stored encrypted (HMAC checks need it back)."""

    email = CharField(max_length=254, unique=True)
    username = CharField(max_length=64, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=16, default=Role.TRADER.value, index=True)
    is_active = BooleanField(default=True)
    webhook_secret_enc = TextField()
    ip_allowlist = JSONDocField(default=list)
    last_login_at = DateTimeField(null=True)


class PasswordResetToken(UUIDModel):
    """One-time token for forgot/reset password and invitations; only its SHA-256 is kept."""

    user = ForeignKeyField(User, backref="reset_tokens", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class SystemSetting(BaseModel):
    """Admin-controlled, engine-wide settings (e.g. registration open/invite)."""

    key = CharField(max_length=64, primary_key=True)
    value = JSONDocField()
