"""HTTP API blueprints. Routes are thin: validate, call a service, shape the answer."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from server.api import accounts, admin, auth, health, openapi, positions, settings, webhooks

    for module in (auth, admin, accounts, settings, positions, webhooks, health, openapi):
        app.register_blueprint(module.bp)
