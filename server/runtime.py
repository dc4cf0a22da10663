"""Per-process handles the services need (vault, Redis, settings), read from the Flask app.

Both the web process and RQ workers run inside an app context (workers build one in their
bootstrap), so services reach their dependencies the same way in either place.
"""

from __future__ import annotations

import redis
from flask import current_app

from server.security.vault import Vault, load_master_key
from server.state.connection import redis_for, rq_redis_for


def config(name: str):
    return current_app.config[name]


def redis_client() -> redis.Redis:
    return redis_for(current_app.config["REDIS_URL"])


def vault() -> Vault:
    cached = current_app.extensions.get("engine.vault")
    if cached is None:
        key = load_master_key(
            current_app.config.get("ENGINE_MASTER_KEY"),
            current_app.config["ENGINE_MASTER_KEY_FILE"],
        )
        cached = current_app.extensions["engine.vault"] = Vault(key)
    return cached


def rq_connection() -> redis.Redis:
    """RQ stores pickled bytes, so it needs a client without response decoding."""
    return rq_redis_for(current_app.config["REDIS_URL"])
