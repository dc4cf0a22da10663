"""What the benchmark scripts share: for the in-process ones (bench_api_read, bench_performance,
bench_queue, bench_risk) a throwaway PostgreSQL database with the engine's environment pointed
at it, cleaned up afterwards; for those that drive a running stack over HTTP, a trader
registered with a simulated Binance spot account; for all, the quantile they report and the
facts about the machine printed with every result.

The database, Redis and stack helpers are the engine harness's (`engine_bench.launcher`): one
way to start, drop and forget a run, whichever script starts it."""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.perf.engine_bench.launcher import ADMIN_PG, engine_env, forget_redis_keys, pg

PASSWORD = "Bench-Passw0rd"
# One pyramid of one market leg and a 1 % aggregate take-profit, room for 1,000 groups: each
# signal opens a group with one order, each group closes on one trigger (signal_to_order,
# tick_to_close).
ONE_LEG_SETTINGS = {
    "pool": {"max_open_groups": 1000},
    "capital": {"total_capital_usd": "1000000", "max_pyramids": 1, "pyramid_weights": ["100"]},
    "grid": {"legs": [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "1"}]},
    "take_profit": {"tp_mode": "aggregate", "tp_aggregate_percent": "1"},
    "signals": {"max_signal_age_seconds": 3600},
}


@contextmanager
def throwaway_engine(
    kind: str, redis_url: str, prefix: str, extra_env: dict | None = None
) -> Iterator[str]:
    """A fresh database `engine_bench_<kind>_<hex>`, and the environment `server.create_app`
    reads pointed at it, at `redis_url` under the key prefix `prefix<hex>:` and at a temporary
    directory (master key, mail outbox), with `extra_env` over it (logging at WARNING unless
    it says otherwise). Yields the database URL; on the way out the
    process's connections are closed, the database dropped, the prefix's Redis keys and the
    directory deleted — whether the benchmark finished or not."""
    run_id = secrets.token_hex(3)
    name = f"engine_bench_{kind}_{run_id}"
    db_url = f"{ADMIN_PG.rsplit('/', 1)[0]}/{name}"
    key_prefix = f"{prefix}{run_id}:"
    pg(f'CREATE DATABASE "{name}"')
    var = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    os.environ.update(
        engine_env(db_url, redis_url, key_prefix, var)
        | {"ENGINE_ENV": "test", "SECRET_KEY": "bench-secret-key-that-is-long-enough-" + name}
        | (extra_env or {})
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


def register_trader(
    base: str,
    name: str,
    api_key: str,
    api_secret: str,
    settings: dict | None = None,
    label: str = "bench",
    password: str = PASSWORD,
) -> tuple[dict, tuple[str, str]]:
    """Register trader `name` through the API at `base`, save `settings` when given, add a
    simulated Binance spot account on the simulator's `api_key` and create the webhook
    secret. Returns the trader's auth header and (webhook URL, webhook secret)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post(
            "/api/auth/register",
            json={"email": f"{name}@example.com", "username": name, "password": password},
        )
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        if settings is not None:
            http.put("/api/settings", headers=auth, json=settings).raise_for_status()
        account = {
            "exchange": "binance",
            "market_type": "spot",
            "mode": "simulated",
            "api_key": api_key,
            "api_secret": api_secret,
            "label": label,
        }
        http.post("/api/accounts", headers=auth, json=account).raise_for_status()
        secret = http.post("/api/auth/webhook-secret", headers=auth).json()
    return auth, (secret["webhook_url"], secret["webhook_secret"])


def load_1m_before_after(before: tuple[float, float, float]) -> list[float]:
    """The 1-minute load average when the measurement started (`before`, os.getloadavg())
    and now, to two places: how busy the shared machine was around the numbers."""
    return [round(before[0], 2), round(os.getloadavg()[0], 2)]


def emit(result: dict, path: Path | None) -> None:
    """Print the result as indented JSON, and write the same text to `path` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.write_text(text)
