"""Schemas of the signal endpoints: the webhook body (validated in the domain, named here for
the API document) and the webhook-log query string."""

from __future__ import annotations

from datetime import UTC

from marshmallow import ValidationError, fields, validate, validates_schema

from server.api.schemas import InputSchema
from server.domain.enums import WebhookOutcome
from server.domain.signal_routing import Classification
from server.domain.signals import WebhookPayloadSchema

__all__ = ["WebhookLogQuery", "WebhookPayloadSchema"]


class WebhookLogQuery(InputSchema):
    """`GET /api/webhooks` filters and paging (newest first)."""

    status = fields.String(validate=validate.OneOf([o.value for o in WebhookOutcome]))
    classification = fields.String(validate=validate.OneOf([c.value for c in Classification]))
    symbol = fields.String(validate=validate.Length(min=1, max=40))
    from_ = fields.NaiveDateTime(
        timezone=UTC, data_key="from", metadata={"description": "ISO-8601 (UTC if no offset)"}
    )
    to = fields.NaiveDateTime(timezone=UTC, metadata={"description": "ISO-8601, exclusive"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(max=200))
    user_id = fields.UUID(metadata={"description": "another user's log (managers and admins)"})

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["from_"] >= data["to"]:
            raise ValidationError("must be later than from", field_name="to")
