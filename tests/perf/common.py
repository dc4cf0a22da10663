"""What the in-process benchmarks (bench_api_read, bench_performance, bench_queue, bench_risk)
share: a throwaway PostgreSQL database with the engine's environment pointed at it, cleaned up
afterwards, and the facts about the machine printed with every result.

The database and Redis helpers are the engine harness's (`engine_bench.launcher`): one way to
create, drop and forget a run, whichever script starts it."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.perf.engine_bench.launcher import ADMIN_PG, forget_redis_keys, pg


@contextmanager
def throwaway_engine(kind: str, redis_url: str, prefix: str) -> Iterator[str]:
    """A fresh database `engine_bench_<kind>_<hex>`, and the environment `server.create_app`
    reads pointed at it, at `redis_url` under the key prefix `prefix<hex>:` and at a temporary
    directory (master key, mail outbox). Yields the database URL; on the way out the
    process's connections are closed, the database dropped, the prefix's Redis keys and the
    directory deleted — whether the benchmark finished or not."""
    run_id = secrets.token_hex(3)
    name = f"engine_bench_{kind}_{run_id}"
    db_url = f"{ADMIN_PG.rsplit('/', 1)[0]}/{name}"
    key_prefix = f"{prefix}{run_id}:"
    pg(f'CREATE DATABASE "{name}"')
    var = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    os.environ.update(
        {
            "ENGINE_ENV": "test",
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "RQ_QUEUE_PREFIX": key_prefix,
            "EVENTS_CHANNEL": f"{key_prefix}events",
            "ENGINE_MASTER_KEY_FILE": str(var / "master.key"),
            "MAIL_OUTBOX": str(var / "outbox.jsonl"),
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-" + name,
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        yield db_url
    finally:
        from server.persistence.db import db

        if db.obj is not None:
            db.obj.close_all()
        pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        forget_redis_keys(redis_url, key_prefix)
        shutil.rmtree(var, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    """The `q` quantile (0–1) of `values`, nearest rank below; NaN for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def host() -> dict:
    """The machine a result was measured on (what other helpers add: time, load average)."""
    return {
        "uname": " ".join(platform.uname()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
