"""Helpers for the signal tests: exchange accounts without a connectivity call, TradingView
payloads rendered as TradingView renders them, and signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

from server import runtime
from server.persistence.models import ExchangeAccount, PositionGroup


def make_account(app, user, exchange="binance", market_type="spot", label=None, mode="simulated"):
    """An active account of `user` (a User or its id) with properly encrypted test keys (the
    simulator's `test-key`), made without the connectivity call of `POST /api/accounts`."""
    with app.app_context():
        vault = runtime.vault()
        account = ExchangeAccount(
            user=getattr(user, "id", user),
            exchange=exchange,
            market_type=market_type,
            mode=mode,
            label=label or f"{exchange}-{market_type}-{uuid.uuid4().hex[:4]}",
            api_key_masked="test…-key",
        )
        account.api_key_enc = vault.encrypt("test-key", f"account:{account.id}:api_key")
        account.api_secret_enc = vault.encrypt("test-secret", f"account:{account.id}:api_secret")
        account.save(force_insert=True)
    return account


def make_group(app, user, account=None, status="active", **figures) -> PositionGroup:
    """A Binance BTCUSDT 60-minute long group of `user` on `account` (a fresh simulated one
    when none is given) in `status`, with `figures` over the model's defaults — stored
    directly, as the engine would have left it."""
    account = account or make_account(app, user)
    with app.app_context():
        return PositionGroup.create(
            user=getattr(user, "id", user), account=account.id, exchange="binance",
            symbol="BTCUSDT", timeframe=60, side="long", status=status, **figures,
        )  # fmt: skip


def now_text(offset_seconds: float = 0) -> str:
    """`{{timenow}}` as TradingView renders it: ISO-8601 UTC to the second with a Z."""
    stamp = datetime.now(UTC).timestamp() + offset_seconds
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tv_alert(secret: str, intent: dict | None = None, **tv) -> dict:
    """A strategy alert as TradingView renders the docs/tradingview.md entry template:
    every placeholder becomes text (numbers too). `intent` replaces `execution_intent`."""
    rendered = {
        "exchange": "BINANCE",
        "symbol": "BTCUSDT",
        "timeframe": "60",
        "action": "buy",
        "market_position": "long",
        "prev_market_position": "flat",
        "entry_price": "64250.5",
        "order_id": "Long 1",
        "time": now_text(),
    } | tv
    return {
        "secret": secret,
        "tv": rendered,
        "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"}
        if intent is None
        else intent,
    }


def sign(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def body(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def run_placements(app) -> int:
    """Run here the follow-up jobs of signals driven in this process (`placement-<pyramid>`
    on the `orders` queue: the first leg's answer, the other legs, the TP hook). A job a
    running stack's worker took already is left to it. Returns how many ran here."""
    from server import queues
    from server.services import positions

    ran = 0
    with app.app_context():
        q = queues.queue(queues.ORDERS)
        for job_id in q.get_job_ids():
            if not job_id.startswith("placement-"):
                continue
            job = q.fetch_job(job_id)
            if job is None or not q.connection.lrem(q.key, 1, job_id):
                continue  # a worker took it
            positions.finish_placement(*job.args)
            job.delete()
            ran += 1
    return ran
