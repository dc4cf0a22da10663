"""Request schemas for authentication and user administration."""

from __future__ import annotations

from marshmallow import fields, validate

from server.api.schemas import InputSchema
from server.domain.enums import Role

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$", error="3–64 letters, digits, '_', '.' or '-'")


class RegisterSchema(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, validate=validate.Length(max=200))


class LoginSchema(InputSchema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class LogoutSchema(InputSchema):
    refresh_token = fields.String(load_default=None, validate=validate.Length(max=4096))


class ForgotPasswordSchema(InputSchema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=254))


class ResetPasswordSchema(InputSchema):
    token = fields.String(required=True, validate=validate.Length(min=10, max=200))
    password = fields.String(required=True, validate=validate.Length(max=200))


class InviteUserSchema(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    username = fields.String(required=True, validate=USERNAME)
    role = fields.String(
        load_default=Role.TRADER.value, validate=validate.OneOf([r.value for r in Role])
    )


class UpdateUserSchema(InputSchema):
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    is_active = fields.Boolean()


class RegistrationModeSchema(InputSchema):
    registration = fields.String(required=True, validate=validate.OneOf(["open", "invite"]))
