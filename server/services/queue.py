"""The queue of entry signals that found the pool full (SPEC §5): the signal worker's part,
the shared ranking and outcome helpers, and the queue as the API shows it.

- **Queue** (`enqueue`): the signal's `QueuedSignal` row is stored in the signal worker's
  transaction; after the commit it is added to the user's Redis sorted set, ranked by
  `domain.queue_priority`, and `queue.updated` is published.
- **Replacement** (`replace`): a later entry signal of the same lane (account, symbol,
  timeframe, side) takes the queued row over — new signal, payload and price, same `queued_at`
  (its place in time), `replacement_count + 1`; the earlier signal's outcome becomes
  `replaced`. **Exit/cancel** of the lane drop the queued entry (`drop_for_lane`).
- **Remove** by hand (`remove`, audited by the API).

Promotion lives in `services.queue_promotion`, the periodic sweep in `services.queue_sweep`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from decimal import Decimal

from server import events
from server.clock import isoformat, utcnow
from server.domain import queue_priority as qp
from server.domain.enums import OPEN_GROUP_STATUSES
from server.domain.grid import group_capital
from server.domain.settings import legs_for_symbol
from server.persistence.db import db, locked
from server.persistence.models import (
    ExchangeAccount,
    PositionGroup,
    QueuedSignal,
    Signal,
    User,
    WebhookLog,
)
from server.persistence.prepared import Prepared, Slot
from server.services import pool
from server.services.journal import after_commit
from server.services.position_book import index, venue_of
from server.services.settings import effective_settings

log = logging.getLogger(__name__)

OPEN = [s.value for s in OPEN_GROUP_STATUSES]
PRICE_MAX_AGE_MS = 15_000
RECONCILE_GRACE_MS = 30_000  # a slot or row younger than this may belong to an open transaction
MAX_PROMOTIONS_PER_CALL = 1000
EVENT_ITEMS = 100  # queue.updated carries the top of the queue and the total


class QueueActionRefused(Exception):
    """A manual action that cannot be done now (pool full, no longer queued): 409."""


# --------------------------------------------------------------------------- ranking


def lane_groups(user_id=None) -> dict[tuple, str]:
    """(account, symbol, timeframe, side) → open group id."""
    query = PositionGroup.select(
        PositionGroup.id,
        PositionGroup.account,
        PositionGroup.symbol,
        PositionGroup.timeframe,
        PositionGroup.side,
    ).where(PositionGroup.status.in_(OPEN))
    if user_id is not None:
        query = query.where(PositionGroup.user == user_id)
    return {(str(g.account_id), g.symbol, g.timeframe, g.side): str(g.id) for g in query}


def lane_of(row: QueuedSignal) -> tuple:
    return (str(row.account_id), row.symbol, row.timeframe, row.side)


def venues_of(rows) -> dict[str, str]:
    ids = {row.account_id for row in rows}
    if not ids:
        return {}
    return {
        str(a.id): venue_of(a) for a in ExchangeAccount.select().where(ExchangeAccount.id.in_(ids))
    }


def cached_price(venues: dict[str, str], row: QueuedSignal) -> Decimal | None:
    venue = venues.get(str(row.account_id))
    if venue is None:
        return None
    return index().price(venue, row.symbol, PRICE_MAX_AGE_MS)


def entry_of(row: QueuedSignal, price: Decimal | None, continuation: bool) -> tuple[str, int]:
    return qp.entry(
        qp.QueuedView(
            id=str(row.id),
            side=row.side,
            queued_price=row.entry_price,
            current_price=price,
            replacement_count=row.replacement_count,
            queued_at=row.queued_at,
            is_continuation=continuation,
        )
    )


def scores_from_database() -> tuple[dict[str, dict[str, int]], int]:
    """Every queued signal's (member, score) per user, from cached prices (the rebuild)."""
    rows = list(QueuedSignal.select().where(QueuedSignal.status == "queued"))
    venues, lanes = venues_of(rows), lane_groups()
    queues: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        member, score = entry_of(row, cached_price(venues, row), lane_of(row) in lanes)
        queues[str(row.user_id)][member] = score
    return dict(queues), len(rows)


def put_now(row: QueuedSignal) -> None:
    venues = venues_of([row])
    continuation = lane_of(row) in lane_groups(row.user_id)
    member, score = entry_of(row, cached_price(venues, row), continuation)
    pool.call(lambda: pool.store().put(row.user_id, member, score))


# --------------------------------------------------------------------------- outcomes


def mark_signal(signal_id, classification: str, reason: str, group_id=None) -> None:
    """Rewrite a signal's outcome on the signal and its webhook-log row."""
    changes = {"classification": classification, "reason": reason}
    if group_id is not None:
        changes["group"] = group_id
    Signal.update(**changes).where(Signal.id == signal_id).execute()
    WebhookLog.update(**changes).where(WebhookLog.signal == signal_id).execute()


def finish_row(row_id, status: str, reason: str, *, only_if_queued: bool = True) -> bool:
    query = QueuedSignal.update(status=status, reason=reason, finished_at=utcnow()).where(
        QueuedSignal.id == row_id
    )
    if only_if_queued:
        query = query.where(QueuedSignal.status == "queued")
    return query.execute() == 1


def announce(user_id, *, pool_too: bool = False) -> None:
    """queue.updated (and pool.updated) once the current transaction has committed."""

    def publish() -> None:
        try:
            events.publish(events.Event.QUEUE_UPDATED, queue_out(user_id, EVENT_ITEMS), user_id)
        except Exception:
            log.exception("queue.updated not published")
        if pool_too:
            pool.publish_pool(user_id)

    after_commit(publish)


# --------------------------------------------------------------------------- the hand-off's part


def queued_for_lane(account_id, symbol: str, timeframe: int, side: str, lock: bool = True):
    """The lane's queued row (locked until commit), or None."""
    statement = _QUEUED_FOR_LANE_LOCKED if lock and db.in_transaction() else _QUEUED_FOR_LANE
    return statement.first(account=account_id, symbol=symbol, timeframe=timeframe, side=side)


def _queued_for_lane():
    return (
        QueuedSignal.select()
        .where(
            (QueuedSignal.account == Slot("account", QueuedSignal.account))
            & (QueuedSignal.symbol == Slot("symbol", QueuedSignal.symbol))
            & (QueuedSignal.timeframe == Slot("timeframe", QueuedSignal.timeframe))
            & (QueuedSignal.side == Slot("side", QueuedSignal.side))
            & (QueuedSignal.status == "queued")
        )
        .limit(1)
    )


_QUEUED_FOR_LANE = Prepared(_queued_for_lane)
_QUEUED_FOR_LANE_LOCKED = Prepared(lambda: locked(_queued_for_lane()))


def enqueue(signal: Signal, account_id, *, forced: bool = False) -> QueuedSignal:
    """Store the signal as queued (caller's transaction); ranked in Redis after the commit."""
    row = QueuedSignal.create(
        user=signal.user_id,
        account=account_id,
        signal=signal.id,
        symbol=signal.symbol,
        timeframe=signal.timeframe,
        side=signal.side,
        entry_price=signal.entry_price,
        queued_at=utcnow(),
        force_added=forced,
    )
    user_id = row.user_id

    def rank_and_promote() -> None:
        from server.services.queue_promotion import promote_ready

        try:
            put_now(row)
            promote_ready(user_id)  # a slot may have freed since the pool said no
        except Exception:  # the row is committed: the sweep ranks and promotes it later
            log.exception("queued signal %s not ranked yet; the sweep will", row.id)

    after_commit(rank_and_promote)
    announce(user_id)
    return row


def replace(row: QueuedSignal, signal: Signal) -> QueuedSignal:
    """A later entry of the lane takes the queued row over (caller's transaction, row locked
    by `queued_for_lane`): same place in time, one more replacement."""
    previous = row.signal_id
    row.signal = signal.id
    row.entry_price = signal.entry_price
    row.replacement_count += 1
    row.save()
    mark_signal(
        previous,
        "replaced",
        f"replaced in the queue by signal {signal.id} (replacement {row.replacement_count}); "
        "the queued entry keeps its place in time",
    )
    after_commit(lambda: _rescore_one(row))
    announce(row.user_id)
    return row


def _rescore_one(row: QueuedSignal) -> None:
    venues = venues_of([row])
    member, score = entry_of(
        row, cached_price(venues, row), lane_of(row) in lane_groups(row.user_id)
    )
    pool.call(lambda: pool.store().put(row.user_id, member, score, only_existing=True))


def drop_for_lane(signal: Signal, why: str) -> QueuedSignal | None:
    """An exit or cancel for a lane with a queued entry: the entry leaves the queue."""
    row = queued_for_lane(signal.account_id, signal.symbol, signal.timeframe, signal.side)
    if row is None:
        return None
    reason = f"dropped from the queue by {why} signal {signal.id}"
    finish_row(row.id, "dropped", reason)
    mark_signal(row.signal_id, "dropped", reason)
    member = qp.member(str(row.id), row.queued_at)
    user_id = row.user_id
    after_commit(lambda: pool.call(lambda: pool.store().remove(user_id, member)))
    announce(user_id)
    return row


def remove(row_id, user_id, actor_name: str) -> QueuedSignal:
    """Take a signal out of the queue by hand."""
    pool.ensure_built()
    row = QueuedSignal.get_or_none((QueuedSignal.id == row_id) & (QueuedSignal.user == user_id))
    if row is None or row.status != "queued":
        raise QueueActionRefused("the signal is no longer queued")
    reason = f"removed from the queue by {actor_name}"
    with db.atomic():
        if not finish_row(row.id, "removed", reason):
            raise QueueActionRefused("the signal is no longer queued")
        mark_signal(row.signal_id, "removed", reason)
        announce(user_id)
    pool.call(lambda: pool.store().remove(user_id, qp.member(str(row.id), row.queued_at)))
    return row


# --------------------------------------------------------------------------- reading


def queue_out(user_id, limit: int | None = None) -> dict:
    """GET /api/queue: queued signals in priority order (API.md fields, plus a few). With a
    `limit` (the events) only the top of the queue is read: O(limit), not O(queue)."""
    if not db.in_transaction():
        pool.ensure_built()
    store = pool.store()
    end = -1 if limit is None else limit - 1
    ranked = [
        (str(m), float(sc))
        for m, sc in store.client.zrevrange(store.queue_key(user_id), 0, end, withscores=True)
    ]
    query = QueuedSignal.select().where(
        (QueuedSignal.user == user_id) & (QueuedSignal.status == "queued")
    )
    if limit is not None:
        query = query.where(QueuedSignal.id.in_([qp.id_of(m) for m, _ in ranked] or [None]))
    rows = {str(r.id): r for r in query}
    settings = effective_settings(User.get_by_id(user_id))
    capital = group_capital(settings)
    now = utcnow()
    order = [(qp.id_of(m), sc) for m, sc in ranked if qp.id_of(m) in rows]
    if limit is None:  # queued in PostgreSQL, not ranked yet (a moment after the commit)
        seen = {i for i, _ in order}
        later = sorted((r.queued_at, i) for i, r in rows.items() if i not in seen)
        order += [(i, None) for _, i in later]
    total = len(order) if limit is None else store.queued(user_id)
    items = []
    for rank, (row_id, score) in enumerate(order, start=1):
        if limit is not None and rank > limit:
            break
        row = rows[row_id]
        legs = legs_for_symbol(settings, row.symbol)
        items.append(
            {
                "id": row_id,
                "signal_id": str(row.signal_id),
                "account_id": str(row.account_id),
                "symbol": row.symbol,
                "timeframe": row.timeframe,
                "side": row.side,
                "entry_price": None if row.entry_price is None else str(row.entry_price),
                "replacement_count": row.replacement_count,
                "current_loss_percent": str(qp.loss_of_score(score))
                if score is not None
                else "0.00",
                "expected_profit_usd": str(qp.expected_profit(capital, legs)),
                "queued_at": isoformat(row.queued_at),
                "time_in_queue_seconds": int((now - row.queued_at).total_seconds()),
                "priority_rank": rank,
                "is_pyramid_continuation": bool(
                    score is not None and qp.is_continuation_score(score)
                ),
            }
        )
    return {"items": items, "total": total, "generated_at_ms": int(time.time() * 1000)}
