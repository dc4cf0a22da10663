"""The base model every table derives from, bound to the database proxy."""

from __future__ import annotations

import uuid

from peewee import DateTimeField, Model

from server.clock import utcnow
from server.persistence.db import db
from server.persistence.fields import UUIDTextField


class BaseModel(Model):
    """Bound to the proxy so the same models serve SQLite and PostgreSQL."""

    class Meta:
        database = db
        legacy_table_names = False


class UUIDModel(BaseModel):
    """A table whose primary key is a random UUID (ids cross the API as UUIDs)."""

    id = UUIDTextField(primary_key=True, default=uuid.uuid4)
    created_at = DateTimeField(default=utcnow, index=True)
