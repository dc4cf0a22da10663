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
        onboarding,
        openapi,
        performance,
        pool,
        positions,
        preview,
        risk,
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
        pool,
        webhooks,
        logs,
        performance,
        risk,
        dashboard,
        onboarding,
        health,
        openapi,
    )
    for module in modules:
        app.register_blueprint(module.bp)
