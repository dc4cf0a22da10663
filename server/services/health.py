"""Dependency checks for `GET /api/health`: database, Redis, RQ workers, the scheduler."""

from __future__ import annotations

import time

from flask import current_app
from rq import Worker

from server import queues, runtime
from server.persistence.db import db

SCHEDULER_HEARTBEAT = "engine:scheduler:heartbeat"


def heartbeat_key(prefix: str) -> str:
    return f"{prefix}{SCHEDULER_HEARTBEAT}"


def _check(fn) -> dict:
    try:
        return fn()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


def _db() -> dict:
    db.execute_sql("SELECT 1")
    return {"ok": True}


def _redis() -> dict:
    runtime.redis_client().ping()
    return {"ok": True}


def _workers() -> dict:
    ours = {queues.queue_name(q) for q in queues.PRIORITY_ORDER}
    workers = [
        w for w in Worker.all(connection=runtime.rq_connection()) if ours & set(w.queue_names())
    ]
    return {
        "ok": bool(workers),
        "count": len(workers),
        **({} if workers else {"error": "no RQ worker is listening; start `worker`"}),
    }


def _scheduler() -> dict:
    value = runtime.redis_client().get(heartbeat_key(current_app.config["RQ_QUEUE_PREFIX"]))
    stale_after = current_app.config["SCHEDULER_STALE_SECONDS"]
    if value is None:
        return {"ok": False, "error": "no scheduler heartbeat; start `scheduler`"}
    age = time.time() - float(value)
    if age > stale_after:
        return {
            "ok": False,
            "age_seconds": round(age, 1),
            "error": f"scheduler heartbeat is {age:.0f}s old (limit {stale_after}s)",
        }
    return {"ok": True, "age_seconds": round(age, 1)}


def _exchanges() -> dict:
    """Circuit breakers of every active account, counted (no account details on a public
    endpoint; each user sees their own accounts' breakers in GET /api/accounts)."""
    from server.persistence.models import ExchangeAccount
    from server.services.exchanges import breaker_report

    accounts = ExchangeAccount.select().where(ExchangeAccount.is_active == True)  # noqa: E712
    states = [row["breaker"] for row in breaker_report(accounts)]
    open_count = sum(1 for s in states if s == "open")
    return {
        "ok": True,
        "accounts": len(states),
        "open_breakers": open_count,
        "status": "degraded" if open_count else "ok",
    }


def health_report() -> tuple[dict, bool]:
    report = {
        "db": _check(_db),
        "redis": _check(_redis),
        "workers": _check(_workers),
        "scheduler": _check(_scheduler),
        "exchanges": _check(_exchanges),
    }
    healthy = all(report[k]["ok"] for k in ("db", "redis", "workers", "scheduler"))
    return {"status": "ok" if healthy else "degraded", **report}, healthy
