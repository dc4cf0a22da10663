"""The PostgreSQL pool (`server.persistence.db.EnginePool`): a connection handed back a moment
ago is reused without the stock pool's `SELECT 1`; an idle one is still pinged, and one the
server dropped is replaced, never handed out."""

from __future__ import annotations

import psycopg2
import pytest

from server.persistence import db as db_module
from server.persistence.db import EnginePool, make_database
from tests.conftest import ADMIN_PG


class _Pings:
    """Counts the pool's liveness queries (the adapter's `is_connection_closed`)."""

    def __init__(self, database: EnginePool, monkeypatch) -> None:
        self.count = 0
        adapter = database._adapter
        original = adapter.is_connection_closed

        def counted(conn):
            self.count += 1
            return original(conn)

        monkeypatch.setattr(adapter, "is_connection_closed", counted)


@pytest.fixture
def pool():
    database = make_database(ADMIN_PG)
    assert isinstance(database, EnginePool)
    yield database
    database.close_all()


def _one_request(database) -> int:
    database.connect(reuse_if_open=True)
    try:
        return database.execute_sql("SELECT 1").fetchone()[0]
    finally:
        database.close()


def test_a_connection_back_a_moment_ago_is_not_pinged(pool, monkeypatch):
    """Ten requests in a row: one connection, created once, never pinged (the stock pool sends
    `SELECT 1` on each of the nine check-outs after the first)."""
    pings = _Pings(pool, monkeypatch)
    for _ in range(10):
        assert _one_request(pool) == 1
    assert pings.count == 0
    assert len(pool._connections) == 1


def test_an_idle_connection_is_pinged(pool, monkeypatch):
    """Handed back longer than PING_AFTER_IDLE_SEC ago: pinged before it is reused."""
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SEC", 0.0)
    pings = _Pings(pool, monkeypatch)
    _one_request(pool)
    _one_request(pool)
    assert pings.count == 1


def test_a_connection_the_server_dropped_is_replaced(pool, monkeypatch):
    """The server terminates the pooled connection while it sits idle: the next check-out
    pings it, finds it dead and opens a new one — the request never sees the dead one."""
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SEC", 0.0)
    pool.connect()
    pid = pool.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    pool.close()
    admin = psycopg2.connect(ADMIN_PG)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        admin.close()
    pool.connect()
    try:
        assert pool.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        pool.close()


def test_a_connection_closed_by_the_driver_is_never_reused(pool):
    """Closed while checked out (a broken socket): dropped at check-in, a new one next."""
    pool.connect()
    conn = pool.connection()
    conn.close()
    pool.close()
    pool.connect()
    try:
        assert pool.connection() is not conn
        assert pool.execute_sql("SELECT 1").fetchone()[0] == 1
    finally:
        pool.close()
