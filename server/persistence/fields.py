"""Field types that keep money and ids exact on both databases."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal, InvalidOperation

from peewee import Field

from server.domain.decimals import plain_decimal


class ExactDecimalField(Field):
    """A decimal stored losslessly: NUMERIC (unbounded) on PostgreSQL, text on SQLite.

    Values are always handed back as `Decimal`. Floats are refused: they are already inexact.
    On SQLite the column is text, so never compare or sort these columns in SQL there;
    do it in Python (the engine does).
    """

    field_type = "EXACT_DECIMAL"

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("ExactDecimalField refuses float; pass Decimal or str")
        try:
            dec = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
        if not dec.is_finite():
            raise ValueError(f"not a finite decimal: {value!r}")
        return plain_decimal(dec)

    def python_value(self, value):
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UUIDTextField(Field):
    """UUID column: native UUID on PostgreSQL, 36-char text on SQLite."""

    field_type = "UUID"

    def db_value(self, value):
        if value is None:
            return None
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))

    def python_value(self, value):
        if value is None:
            return None
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


class JSONDocField(Field):
    """JSON document: JSONB on PostgreSQL, text on SQLite; decimals are written as strings."""

    field_type = "JSON"

    def db_value(self, value):
        if value is None:
            return None
        return json.dumps(value, default=_json_default, separators=(",", ":"))

    def python_value(self, value):
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            return value
        return json.loads(value)


def _json_default(obj):
    if isinstance(obj, Decimal):
        return plain_decimal(obj)
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
