"""Shared fixtures: a throwaway PostgreSQL database and a Redis database for the session,
emptied before every test, and helpers to make users with roles.

Everything real: PostgreSQL at TEST_POSTGRES_URL (default the local trust-auth server) and
Redis at TEST_REDIS_URL (default the local server, database 14, flushed per test).
"""

from __future__ import annotations

import os
import secrets
import time
import uuid

import psycopg2
import pytest
import redis

pytest_plugins = ["tests.sim_support"]  # the simulator fixtures: simulator_url, sim

ADMIN_PG = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
RUN_ID = secrets.token_hex(3)


def _pg_admin(sql: str) -> None:
    conn = psycopg2.connect(ADMIN_PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_url_for(name: str) -> str:
    base = ADMIN_PG.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"engine_test_{RUN_ID}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield pg_url_for(name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def test_env(pg_database, simulator_url, tmp_path_factory):
    """Environment of the stack under test (also handed to subprocesses)."""
    var = tmp_path_factory.mktemp("var")
    env = {
        "ENGINE_ENV": "test",
        "DATABASE_URL": pg_database,
        "REDIS_URL": TEST_REDIS,
        "RQ_QUEUE_PREFIX": f"t{RUN_ID}:",
        "EVENTS_CHANNEL": f"t{RUN_ID}-events",
        "ENGINE_MASTER_KEY_FILE": str(var / "master.key"),
        "MAIL_OUTBOX": str(var / "outbox.jsonl"),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-" + RUN_ID,
        "PUBLIC_URL": "http://127.0.0.1:5999",
        "SIMULATOR_URL": simulator_url,
        "EXCHANGE_TIMEOUT_MS": "3000",
        "PAPER_MARKET_DATA": "simulated",  # paper accounts never reach a real exchange in tests
        "LOG_LEVEL": "INFO",
        # Position lifecycle: pending orders are looked up and re-sent after 2 s (not 10), a
        # dead sender's lock frees its order after 4 s, and the crash tests may arm these
        # points (tests/integration/test_lifecycle_failures.py).
        "ORDER_RESEND_AFTER_SEC": "2",
        "ORDER_SEND_LOCK_MS": "4000",
        "ENGINE_TEST_CRASH_POINT": "after_store,after_send,follow_up",
    }
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def app(test_env):
    from server import create_app
    from server.persistence.db import db
    from server.persistence.migrate import upgrade

    application = create_app("test")
    upgrade(db.obj)
    return application


@pytest.fixture(scope="session")
def redis_client(test_env):
    return redis.Redis.from_url(TEST_REDIS, decode_responses=True)


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Empty every table and the Redis database before each test that uses the app."""
    if "app" not in request.fixturenames and "stack" not in request.fixturenames:
        yield
        return
    from server.persistence.db import db
    from server.persistence.models import ALL_MODELS

    request.getfixturevalue("app")
    tables = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS)
    _truncate(db, tables)
    _clear_redis()
    yield


def _truncate(db, tables: str, attempts: int = 10) -> None:
    """TRUNCATE every table. The stack's workers keep running between tests (fill monitor,
    sweeps) and hold row locks for a moment: a deadlock or lock timeout is retried."""
    from peewee import OperationalError

    for attempt in range(attempts):
        try:
            with db.connection_context(), db.atomic():
                db.execute_sql("SET LOCAL lock_timeout = '2s'")
                db.execute_sql(f"TRUNCATE {tables} CASCADE")
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


def _clear_redis() -> None:
    """Delete the engine's keys but keep RQ's worker registry, the scheduler's lock and its
    periodic jobs (fill monitor, sweeps), so the real processes started for the session keep
    working between tests."""
    client = redis.Redis.from_url(TEST_REDIS)
    periodic = {
        b"rq:job:" + job_id for job_id in client.zrange("rq:scheduler:scheduled_jobs", 0, -1)
    }
    doomed = [
        k
        for k in client.scan_iter(count=1000)
        if not k.startswith(b"rq:worker") and b"scheduler" not in k and k not in periodic
    ]
    if doomed:
        client.delete(*doomed)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """make_user(role="trader") -> (user, headers with a fresh access token)."""
    from flask_jwt_extended import create_access_token

    from server.domain.enums import Role
    from server.services.users import create_user

    def _make(role: str = "trader", password: str = "Passw0rd-ok"):
        name = f"{role}_{uuid.uuid4().hex[:8]}"
        with app.app_context():
            user = create_user(f"{name}@example.com", name, password, Role(role))
            token = create_access_token(identity=str(user.id))
        return user, {"Authorization": f"Bearer {token}"}

    return _make


# --- the real stack in subprocesses (web under gunicorn+gevent, RQ workers, scheduler) --------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def stack(app, test_env, tmp_path_factory):
    """The engine's real processes on a free loopback port, sharing the test database/Redis."""
    from tests.stack import start_stack

    running = start_stack(ROOT, test_env, tmp_path_factory.mktemp("stack-logs"))
    yield running
    running.stop()


@pytest.fixture
def down(stack):
    """Stops the worker pool and the scheduler with SIGKILL when asked; always brings the
    scheduler (and a worker, if none runs) back afterwards."""

    def kill() -> None:
        stack.kill("worker")
        stack.kill("scheduler")

    yield kill
    if stack.processes["scheduler"].poll() is not None:
        stack.start("scheduler")
    if stack.processes["worker"].poll() is not None:
        stack.start("worker")
