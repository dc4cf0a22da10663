"""Request schema for adding an exchange account."""

from __future__ import annotations

from marshmallow import fields, validate

from server.api.schemas import InputSchema
from server.domain.enums import AccountMode, Exchange, MarketType

_KEY = validate.Regexp(r"^[\x21-\x7e]{8,256}$", error="8–256 printable characters, no spaces")


class AccountCreateSchema(InputSchema):
    exchange = fields.String(required=True, validate=validate.OneOf([e.value for e in Exchange]))
    market_type = fields.String(
        required=True, validate=validate.OneOf([m.value for m in MarketType])
    )
    mode = fields.String(required=True, validate=validate.OneOf([m.value for m in AccountMode]))
    api_key = fields.String(required=True, validate=_KEY)
    api_secret = fields.String(required=True, validate=_KEY)
    label = fields.String(required=True, validate=validate.Length(min=1, max=64))
