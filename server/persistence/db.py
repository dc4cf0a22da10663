"""The database proxy and how a URL becomes a Peewee database.

SQLite (a file under var/) is the embedded default; PostgreSQL is chosen by a
`postgresql://` URL. The same models and migrations serve both. Custom field types are
declared here per backend so `ExactDecimalField` is NUMERIC on PostgreSQL and TEXT on SQLite
(SQLite's own numeric affinity rounds to a double and loses digits).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg2.extras
from peewee import DatabaseProxy, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

db = DatabaseProxy()

# A pooled connection handed back less than this long ago is handed out again without the
# pool's `SELECT 1` liveness round trip (see EnginePool).
PING_AFTER_IDLE_SEC = 1.0


class EnginePool(PooledPostgresqlDatabase):
    """Peewee's PostgreSQL pool, minus one round trip per request under load.

    On every check-out the stock pool sends `SELECT 1` to prove the connection is alive: a
    whole database round trip for each HTTP request (one in three of an accepted webhook's).
    A connection that came back to the pool in a clean state (idle, not closed) less than
    `PING_AFTER_IDLE_SEC` ago is handed out without it; an older one is still pinged, so
    connections the server dropped while they sat idle (a restart, an idle timeout) are still
    found and replaced before use. What the ping never covered is unchanged: a server that
    goes away between the check-out and the first statement fails that statement either way.
    """

    def __init__(self, *args, **kwargs):
        self._returned_at: dict[int, float] = {}
        super().__init__(*args, **kwargs)

    def _close(self, conn, close_conn=False):
        super()._close(conn, close_conn)
        key = self.conn_key(conn)
        if close_conn or conn.closed:
            self._returned_at.pop(key, None)
        else:
            self._returned_at[key] = time.monotonic()

    def _close_raw(self, conn):
        self._returned_at.pop(self.conn_key(conn), None)
        return super()._close_raw(conn)

    def _is_closed(self, conn):
        if conn.closed:
            return True
        returned = self._returned_at.get(self.conn_key(conn))
        if (
            returned is not None
            and time.monotonic() - returned < PING_AFTER_IDLE_SEC
            and self._adapter.txn_status(conn) == self._adapter.txn_idle
        ):
            return False
        return super()._is_closed(conn)


POSTGRES_FIELD_TYPES = {"EXACT_DECIMAL": "NUMERIC", "UUID": "UUID", "JSON": "JSONB"}
SQLITE_FIELD_TYPES = {"EXACT_DECIMAL": "TEXT", "UUID": "TEXT", "JSON": "TEXT"}


def make_database(url: str):
    """Build (but do not connect) the Peewee database for `url`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if path.startswith("//"):  # sqlite:////abs/path
            path = path[1:]
        elif (
            path.startswith("/")
            and url.startswith("sqlite:///")
            and not url.startswith("sqlite:////")
        ):
            path = path[1:] if not Path(path).is_absolute() else path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(
            path,
            field_types=SQLITE_FIELD_TYPES,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000},
        )
    if parsed.scheme in ("postgres", "postgresql"):
        # Hand JSONB back as text so JSONDocField decodes it the same way on both backends
        # (psycopg2 would otherwise pre-decode it, and a JSON string would be parsed twice).
        psycopg2.extras.register_default_jsonb(loads=lambda text: text, globally=True)
        return EnginePool(
            (parsed.path or "/").lstrip("/"),
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            field_types=POSTGRES_FIELD_TYPES,
            max_connections=int(_query_param(parsed.query, "pool_size", "20")),
            stale_timeout=300,
            timeout=10,
        )
    raise ValueError(
        f"unsupported DATABASE_URL scheme {parsed.scheme!r} (use sqlite or postgresql)"
    )


def _query_param(query: str, key: str, default: str) -> str:
    for part in query.split("&"):
        if part.startswith(key + "="):
            return part.split("=", 1)[1]
    return default


def init_db(url: str):
    """Point the proxy at the database for `url` and return it."""
    database = make_database(url)
    db.initialize(database)
    return database


def locked(query):
    """`query` with FOR UPDATE where the database has it (PostgreSQL; SQLite serialises
    writers by itself and refuses the clause)."""
    return query.for_update() if getattr(db.obj, "for_update", False) else query


def is_postgres() -> bool:
    return isinstance(db.obj, PooledPostgresqlDatabase)


def plain_rows(query, fields) -> list[tuple]:
    """The rows of `query` (which selects `fields`, in that order) as plain tuples, without
    building a model per row. On PostgreSQL nothing is converted: psycopg2 already hands back
    `Decimal` for NUMERIC, `datetime` for timestamps and `bool` (building thousands of models,
    or running every field's `python_value`, costs several times what the caller does with
    them). SQLite stores decimals and timestamps as text, so there each field's converter
    runs. UUID columns come back as text on PostgreSQL and as `uuid.UUID` on SQLite."""
    rows = db.execute(query).fetchall()
    if is_postgres():
        return rows
    convert = [getattr(field, "python_value", _as_stored) for field in fields]
    return [tuple(c(v) for c, v in zip(convert, row, strict=True)) for row in rows]


def _as_stored(value):
    return value
