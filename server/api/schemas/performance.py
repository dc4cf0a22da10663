"""Query strings of the performance endpoints: a range of whole UTC days, whose user."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marshmallow import ValidationError, fields, validate, validates_schema

from server.api.schemas import InputSchema

MAX_RANGE_DAYS = 3660  # ten years


class UtcDay(fields.String):
    """`YYYY-MM-DD`, or an ISO-8601 time (the UTC day it falls on; UTC if no offset). A string
    to the API document, a `date` once loaded."""

    default_error_messages = {"invalid": "must be a date (YYYY-MM-DD) or an ISO-8601 time"}

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if not isinstance(value, str) or not value.strip():
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            if "T" in text:  # a "+02:00" offset arrives as " 02:00" when not URL-encoded
                text = text.replace(" ", "+")
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date()


class PerformanceQuery(InputSchema):
    """`GET /api/performance`: the UTC days `from ..= to` (both inclusive, either open)."""

    from_ = UtcDay(
        data_key="from",
        metadata={"description": "first UTC day (inclusive)", "example": "2026-03-01"},
    )
    to = UtcDay(metadata={"description": "last UTC day (inclusive)", "example": "2026-03-31"})
    user_id = fields.UUID(metadata={"description": "another user's figures (managers, admins)"})

    @validates_schema
    def _order(self, data, **kwargs):
        first, last = data.get("from_"), data.get("to")
        if first and last:
            if last < first:
                raise ValidationError("must not be before from", field_name="to")
            if (last - first).days > MAX_RANGE_DAYS:
                raise ValidationError("the range is at most ten years", field_name="to")


class PerformanceExportQuery(PerformanceQuery):
    """`GET /api/performance/export`: the closed trades of the range."""

    format = fields.String(load_default="csv", validate=validate.OneOf(["csv"]))
