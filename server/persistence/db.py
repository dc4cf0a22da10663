"""The database proxy and how a URL becomes a Peewee database.

SQLite (a file under var/) is the embedded default; PostgreSQL is chosen by a
`postgresql://` URL. The same models and migrations serve both. Custom field types are
declared here per backend so `ExactDecimalField` is NUMERIC on PostgreSQL and TEXT on SQLite
(SQLite's own numeric affinity rounds to a double and loses digits).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg2.extras
from peewee import DatabaseProxy, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

db = DatabaseProxy()

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
        return PooledPostgresqlDatabase(
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


def is_postgres() -> bool:
    return isinstance(db.obj, PooledPostgresqlDatabase)
