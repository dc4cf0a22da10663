"""The queue sweep (scheduled every QUEUE_SWEEP_SEC, default 5 s; SPEC §5): rebuild when Redis
lost its copy, reconcile slots and members with PostgreSQL (a release lost in a crash, a slot
of a rolled-back transaction, a member never ranked), expire signals older than
`queue_max_age_minutes` with a log line, re-score from live prices, promote.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import UTC, timedelta
from decimal import Decimal

from server.clock import utcnow
from server.domain import queue_priority as qp
from server.domain.enums import LogCategory, LogLevel
from server.exchange.errors import ExchangeError
from server.persistence.db import db
from server.persistence.models import ExchangeAccount, PositionGroup, QueuedSignal, User
from server.services import pool
from server.services.exchanges import client_for
from server.services.journal import system_log
from server.services.position_book import index, venue_of
from server.services.queue import (
    OPEN,
    RECONCILE_GRACE_MS,
    announce,
    cached_price,
    entry_of,
    finish_row,
    lane_groups,
    lane_of,
    mark_signal,
    venues_of,
)
from server.services.queue_promotion import promote_ready
from server.services.settings import effective_settings
from server.state.pool_store import parse_slot, slot_value

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the sweep


def _users_to_sweep() -> set[str]:
    users = {str(r.user_id) for r in QueuedSignal.select(QueuedSignal.user).where(
        QueuedSignal.status == "queued").distinct()}  # fmt: skip
    users |= set(pool.open_group_counts())
    store = pool.store()
    pattern = store.pool_key("*")
    for key in store.client.scan_iter(match=pattern, count=500):
        name = str(key).rsplit(":", 1)[-1]
        try:
            users.add(str(uuid.UUID(name)))
        except ValueError:
            continue  # the marker key
    return users


def _open_group_ids(user_id) -> set[str]:
    """Every open group of the user (two may share a lane after a Redis flush lost its
    baton: each holds a slot, so the reconciliation must see both)."""
    query = PositionGroup.select(PositionGroup.id).where(
        (PositionGroup.user == user_id) & PositionGroup.status.in_(OPEN)
    )
    return {str(g.id) for g in query}


def _reconcile_slots(user_id, limit: int) -> int:
    """Free slots whose group is no longer open (a release lost in a crash, a transaction
    rolled back after taking one); give a slot to an open group that has none (within the limit)."""
    store, now = pool.store(), pool.now_ms()
    open_ids = _open_group_ids(user_id)
    fixed = 0
    slots = store.slots(user_id)
    held = {s.group_id for s in slots}
    for slot in slots:
        if slot.group_id not in open_ids and now - slot.taken_ms > RECONCILE_GRACE_MS:
            fresh = store.client.hget(store.pool_key(user_id), slot.slot_id)
            if fresh and parse_slot(slot.slot_id, fresh).taken_ms == slot.taken_ms:
                store.free_slot(user_id, slot.slot_id)
                fixed += 1
    for group_id in open_ids - held:
        group = PositionGroup.get_or_none(PositionGroup.id == group_id)
        if group is None or group.status not in OPEN:
            continue
        created = int(group.created_at.replace(tzinfo=UTC).timestamp() * 1000)
        # never over the limit: a group that closed since it was read must not overfill it
        if now - created > RECONCILE_GRACE_MS and store.take(
            user_id, group_id, slot_value(group_id, now), limit
        ):
            fixed += 1
    if fixed:
        log.warning("pool of %s reconciled with PostgreSQL: %d slot(s) fixed", user_id, fixed)
    return fixed


def _expire(user_id, rows: list[QueuedSignal], settings: dict) -> list[QueuedSignal]:
    max_age = int(settings["pool"]["queue_max_age_minutes"])
    limit = utcnow() - timedelta(minutes=max_age)
    kept = []
    for row in rows:
        if row.queued_at >= limit:
            kept.append(row)
            continue
        waited = int((utcnow() - row.queued_at).total_seconds() // 60)
        reason = (
            f"expired after {waited} min in the queue (queue_max_age_minutes {max_age}); "
            f"{row.replacement_count} replacement(s)"
        )
        with db.atomic():
            if not finish_row(row.id, "expired", reason):
                continue
            mark_signal(row.signal_id, "expired", reason)
            line = f"{row.symbol} {row.timeframe}m {row.side}: queued signal {reason}"
            system_log(LogLevel.WARNING, LogCategory.TRADING, line, user_id=user_id,
                       symbol=row.symbol, queued_signal_id=str(row.id))  # fmt: skip
        pool.store().remove(user_id, qp.member(str(row.id), row.queued_at))
    return kept


def _live_prices(rows: list[QueuedSignal]) -> dict[tuple[str, str], Decimal]:
    """(account id, symbol) → price: the monitor's cache, else one batched ticker read per
    account (stored back in the cache for the next look)."""
    venues = venues_of(rows)
    prices: dict[tuple[str, str], Decimal] = {}
    missing: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        cached = cached_price(venues, row)
        if cached is not None:
            prices[(str(row.account_id), row.symbol)] = cached
        else:
            missing[str(row.account_id)].add(row.symbol)
    for account_id, symbols in missing.items():
        account = ExchangeAccount.get_or_none(ExchangeAccount.id == account_id)
        if account is None:
            continue
        try:
            tickers = client_for(account).fetch_tickers(sorted(symbols))
        except ExchangeError as exc:
            log.warning("queue sweep: prices of %s not readable: %s", account.label, exc)
            continue
        read = {s: t.last for s, t in tickers.items() if t.last}
        index().set_prices(venue_of(account), read)
        for symbol, price in read.items():
            prices[(account_id, symbol)] = price
    return prices


def _rescore(user_id, rows: list[QueuedSignal], lanes: dict[tuple, str]) -> bool:
    """Re-score every queued signal from live prices; members missing from Redis for longer
    than the grace are put back. True when the ranking changed."""
    store = pool.store()
    before = store.ranked(user_id)
    prices = _live_prices(rows)
    scores, missing = {}, {}
    present = {m for m, _ in before}
    now = utcnow()
    for row in rows:
        member, score = entry_of(
            row, prices.get((str(row.account_id), row.symbol)), lane_of(row) in lanes
        )
        if member in present:
            scores[member] = score
        elif (now - row.queued_at).total_seconds() * 1000 > RECONCILE_GRACE_MS:
            missing[member] = score
    store.rescore(user_id, scores)
    for member, score in missing.items():
        store.put(user_id, member, score)
    known = {qp.member(str(r.id), r.queued_at) for r in rows}
    for member in present - known:
        row = QueuedSignal.get_or_none(QueuedSignal.id == qp.id_of(member))
        if row is None or row.status != "queued":
            store.remove(user_id, member)
    return store.ranked(user_id) != before


def sweep() -> dict[str, int]:
    """The periodic queue job (module doc)."""
    rebuilt = pool.ensure_built()
    totals = {"rebuilt": int(rebuilt), "expired": 0, "promoted": 0, "reconciled": 0}
    for user_id in _users_to_sweep():
        user = User.get_or_none(User.id == user_id)
        if user is None:
            continue
        settings = effective_settings(user)
        lanes = lane_groups(user_id)
        try:
            limit = pool.limit_of(settings)
            totals["reconciled"] += pool.call(lambda u=user_id, m=limit: _reconcile_slots(u, m))
            rows = list(QueuedSignal.select().where(
                (QueuedSignal.user == user_id) & (QueuedSignal.status == "queued")))  # fmt: skip
            kept = _expire(user_id, rows, settings)
            totals["expired"] += len(rows) - len(kept)
            changed = _rescore(user_id, kept, lanes) or len(kept) != len(rows)
            promoted = promote_ready(user_id)
            totals["promoted"] += promoted
            if changed and not promoted:
                announce(user_id)
        except pool.NotBuilt:
            pool.ensure_built()
    return totals
