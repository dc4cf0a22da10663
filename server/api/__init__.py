"""HTTP API blueprints. Routes are thin: validate, call a service, shape the answer."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from server.api import (
        accounts,
        admin,
        auth,
        dashboard,
        health,
        logs,
        openapi,
        performance,
        positions,
        preview,
        settings,
        webhooks,
    )

    modules = (
        auth,
        admin,
        accounts,
        settings,
        preview,
        positions,
        webhooks,
        logs,
        performance,
        dashboard,
        health,
        openapi,
    )
    for module in modules:
        app.register_blueprint(module.bp)
