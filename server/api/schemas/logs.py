"""Query strings of the log endpoints: `GET /api/logs`, `/api/logs/export`, `/api/audit`."""

from __future__ import annotations

from datetime import UTC

from marshmallow import ValidationError, fields, validate, validates_schema

from server.api.schemas import InputSchema
from server.domain.enums import LogCategory, LogLevel


class CsvChoice(fields.Field):
    """One value or a comma-separated list of them (`level=ERROR,CRITICAL`), as a tuple."""

    def __init__(self, choices, **kwargs):
        super().__init__(**kwargs)
        self.choices = tuple(choices)

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, ...]:
        if not isinstance(value, str):
            raise ValidationError("must be text")
        items = [part.strip().upper() for part in value.split(",") if part.strip()]
        unknown = [item for item in items if item not in self.choices]
        if unknown:
            raise ValidationError(
                f"unknown value {', '.join(unknown)}; use one or more of: {', '.join(self.choices)}"
            )
        return tuple(dict.fromkeys(items))


class _Range(InputSchema):
    from_ = fields.NaiveDateTime(
        timezone=UTC, data_key="from", metadata={"description": "ISO-8601 (UTC if no offset)"}
    )
    to = fields.NaiveDateTime(timezone=UTC, metadata={"description": "ISO-8601, exclusive"})
    q = fields.String(
        validate=validate.Length(max=200), metadata={"description": "text the message contains"}
    )

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["from_"] >= data["to"]:
            raise ValidationError("must be later than from", field_name="to")


class LogFilterQuery(_Range):
    """Filters of the system log (shared by the list and the export)."""

    level = CsvChoice(
        [lvl.value for lvl in LogLevel],
        metadata={"description": "one level or several, comma-separated (ERROR,CRITICAL)"},
    )
    category = CsvChoice(
        [c.value for c in LogCategory],
        metadata={"description": "one category or several, comma-separated"},
    )
    symbol = fields.String(validate=validate.Length(min=1, max=40))
    acknowledged = fields.Boolean(metadata={"description": "false: alerts still to acknowledge"})
    user_id = fields.UUID(metadata={"description": "another user's log (managers and admins)"})
    scope = fields.String(
        validate=validate.OneOf(["mine", "system"]),
        metadata={
            "description": "admins: default own + system-wide lines; `mine` only their own, "
            "`system` only lines without a user"
        },
    )


class LogQuery(LogFilterQuery):
    """`GET /api/logs`: filters and paging (newest first)."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=200))


class LogExportQuery(LogFilterQuery):
    """`GET /api/logs/export`: the filters, the format, and optionally a row cap."""

    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "json"]))
    limit = fields.Integer(validate=validate.Range(min=1, max=1_000_000))


class AuditQuery(_Range):
    """`GET /api/audit`: filters and paging (newest first)."""

    actor_id = fields.UUID()
    action = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "an action (settings.save) or its prefix (settings)"},
    )
    target_type = fields.String(validate=validate.Length(min=1, max=32))
    target_id = fields.String(validate=validate.Length(min=1, max=64))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=200))


class AckAllSchema(InputSchema):
    """`POST /api/logs/ack-all`: acknowledge alerts written up to `until` (default now)."""

    until = fields.NaiveDateTime(timezone=UTC)
