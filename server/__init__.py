"""The engine's web application: `create_app()` builds Flask + Socket.IO + the REST API."""

from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from server.config import BaseConfig, load_config


def create_app(config: BaseConfig | str | None = None, *, web: bool = True) -> Flask:
    """Application factory: one app per process, everything configured from the environment.

    `web=False` builds the app RQ workers and the scheduler run inside: database, JWT-free
    services and a write-only Socket.IO emitter, but no routes, limiter or SPA.
    """
    from server import events
    from server.api import register_blueprints
    from server.api.errors import register_error_handlers
    from server.extensions import limiter, socketio
    from server.jobs_dashboard import register_jobs_dashboard
    from server.jwt_setup import configure_jwt
    from server.logging_setup import configure_logging
    from server.persistence.db import init_db
    from server.sockets import register_socket_handlers
    from server.spa import register_spa

    cfg = config if isinstance(config, BaseConfig) else load_config(config)
    app = Flask(__name__, static_folder=None)
    app.config.from_object(cfg)
    app.config.update({k: v for k, v in vars(cfg).items() if k.isupper()})
    app.json.sort_keys = False
    configure_logging(cfg.LOG_LEVEL)

    database = init_db(cfg.DATABASE_URL)

    @app.before_request
    def _open_db():
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(_exc):
        if not database.is_closed():
            database.close()

    if not web:
        events.use_emitter(SocketIO(message_queue=cfg.REDIS_URL, channel=cfg.EVENTS_CHANNEL))
        return app

    configure_jwt(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        message_queue=cfg.REDIS_URL,
        channel=cfg.EVENTS_CHANNEL,
        async_mode=cfg.SOCKETIO_ASYNC_MODE,
        cors_allowed_origins=[],  # same origin only: the SPA is served by this app
    )
    events.use_emitter(socketio)
    register_error_handlers(app)
    register_blueprints(app)
    register_jobs_dashboard(app)
    register_socket_handlers(socketio)
    register_spa(app)
    logging.getLogger(__name__).debug("app created (%s)", cfg.ENV_NAME)
    return app
