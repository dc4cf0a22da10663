"""The queue of entry signals that found the pool full (SPEC §5).

- **Queue** (`enqueue`): the signal's `QueuedSignal` row is stored in the signal worker's
  transaction; after the commit it is added to the user's Redis sorted set, ranked by
  `domain.queue_priority`, and `queue.updated` is published.
- **Replacement** (`replace`): a later entry signal of the same lane (account, symbol,
  timeframe, side) takes the queued row over — new signal, payload and price, same `queued_at`
  (its place in time), `replacement_count + 1`; the earlier signal's outcome becomes
  `replaced`. **Exit/cancel** of the lane drop the queued entry (`drop_for_lane`).
- **Promotion** (`promote_ready`): after every slot release (in the job that freed it) and on
  the sweep. "Take the top signal and its slot" is one Lua script; then, in one transaction,
  the row moves `queued → promoted` (only if still queued: a signal is never promoted twice)
  and the group opens anchored per `promotion_anchor` (`market`: the ticker's last price now;
  `signal`: the queued price). A continuation (its lane has an open group) becomes a pyramid
  and needs no slot unless pyramids count toward the pool.
- **Sweep** (`sweep`, scheduled every QUEUE_SWEEP_SEC): rebuild when Redis lost its copy,
  reconcile slots and members with PostgreSQL, expire signals older than
  `queue_max_age_minutes` (log line), re-score from live prices, promote.
- **Manual** (`promote_now`, `force_add`, `remove`): audited by the API.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from server import events
from server.clock import isoformat, utcnow
from server.domain import queue_priority as qp
from server.domain.enums import OPEN_GROUP_STATUSES, LogCategory, LogLevel
from server.domain.grid import group_capital
from server.domain.settings import legs_for_symbol
from server.exchange.errors import ExchangeError
from server.persistence.db import db
from server.persistence.models import (
    ExchangeAccount,
    PositionGroup,
    QueuedSignal,
    Signal,
    User,
    WebhookLog,
)
from server.services import pool
from server.services.exchanges import client_for
from server.services.journal import after_commit, system_log
from server.services.position_book import index, venue_of
from server.services.settings import effective_settings
from server.state.pool_store import parse_slot, slot_value

log = logging.getLogger(__name__)

OPEN = [s.value for s in OPEN_GROUP_STATUSES]
PRICE_MAX_AGE_MS = 15_000
RECONCILE_GRACE_MS = 30_000  # a slot or row younger than this may belong to an open transaction
MAX_PROMOTIONS_PER_CALL = 1000
EVENT_ITEMS = 100  # queue.updated carries the top of the queue and the total


class QueueActionRefused(Exception):
    """A manual action that cannot be done now (pool full, no longer queued): 409."""


# --------------------------------------------------------------------------- ranking


def _lane_groups(user_id=None) -> dict[tuple, str]:
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


def _lane(row: QueuedSignal) -> tuple:
    return (str(row.account_id), row.symbol, row.timeframe, row.side)


def _venues(rows) -> dict[str, str]:
    ids = {row.account_id for row in rows}
    if not ids:
        return {}
    return {
        str(a.id): venue_of(a) for a in ExchangeAccount.select().where(ExchangeAccount.id.in_(ids))
    }


def _cached_price(venues: dict[str, str], row: QueuedSignal) -> Decimal | None:
    venue = venues.get(str(row.account_id))
    if venue is None:
        return None
    return index().price(venue, row.symbol, PRICE_MAX_AGE_MS)


def _entry(row: QueuedSignal, price: Decimal | None, continuation: bool) -> tuple[str, int]:
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
    venues, lanes = _venues(rows), _lane_groups()
    queues: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        member, score = _entry(row, _cached_price(venues, row), _lane(row) in lanes)
        queues[str(row.user_id)][member] = score
    return dict(queues), len(rows)


def _put_now(row: QueuedSignal) -> None:
    venues = _venues([row])
    continuation = _lane(row) in _lane_groups(row.user_id)
    member, score = _entry(row, _cached_price(venues, row), continuation)
    pool.call(lambda: pool.store().put(row.user_id, member, score))


# --------------------------------------------------------------------------- outcomes


def _mark_signal(signal_id, classification: str, reason: str, group_id=None) -> None:
    """Rewrite a signal's outcome on the signal and its webhook-log row."""
    changes = {"classification": classification, "reason": reason}
    if group_id is not None:
        changes["group"] = group_id
    Signal.update(**changes).where(Signal.id == signal_id).execute()
    WebhookLog.update(**changes).where(WebhookLog.signal == signal_id).execute()


def _finish_row(row_id, status: str, reason: str, *, only_if_queued: bool = True) -> bool:
    query = QueuedSignal.update(status=status, reason=reason, finished_at=utcnow()).where(
        QueuedSignal.id == row_id
    )
    if only_if_queued:
        query = query.where(QueuedSignal.status == "queued")
    return query.execute() == 1


def _announce(user_id, *, pool_too: bool = False) -> None:
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
    query = QueuedSignal.select().where(
        (QueuedSignal.account == account_id)
        & (QueuedSignal.symbol == symbol)
        & (QueuedSignal.timeframe == timeframe)
        & (QueuedSignal.side == side)
        & (QueuedSignal.status == "queued")
    )
    if lock and db.in_transaction():
        query = query.for_update()
    return query.first()


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
        try:
            _put_now(row)
            promote_ready(user_id)  # a slot may have freed since the pool said no
        except Exception:  # the row is committed: the sweep ranks and promotes it later
            log.exception("queued signal %s not ranked yet; the sweep will", row.id)

    after_commit(rank_and_promote)
    _announce(user_id)
    return row


def replace(row: QueuedSignal, signal: Signal) -> QueuedSignal:
    """A later entry of the lane takes the queued row over (caller's transaction, row locked
    by `queued_for_lane`): same place in time, one more replacement."""
    previous = row.signal_id
    row.signal = signal.id
    row.entry_price = signal.entry_price
    row.replacement_count += 1
    row.save()
    _mark_signal(
        previous,
        "replaced",
        f"replaced in the queue by signal {signal.id} (replacement {row.replacement_count}); "
        "the queued entry keeps its place in time",
    )
    after_commit(lambda: _rescore_one(row))
    _announce(row.user_id)
    return row


def _rescore_one(row: QueuedSignal) -> None:
    venues = _venues([row])
    member, score = _entry(row, _cached_price(venues, row), _lane(row) in _lane_groups(row.user_id))
    pool.call(lambda: pool.store().put(row.user_id, member, score, only_existing=True))


def drop_for_lane(signal: Signal, why: str) -> QueuedSignal | None:
    """An exit or cancel for a lane with a queued entry: the entry leaves the queue."""
    row = queued_for_lane(signal.account_id, signal.symbol, signal.timeframe, signal.side)
    if row is None:
        return None
    reason = f"dropped from the queue by {why} signal {signal.id}"
    _finish_row(row.id, "dropped", reason)
    _mark_signal(row.signal_id, "dropped", reason)
    member = qp.member(str(row.id), row.queued_at)
    user_id = row.user_id
    after_commit(lambda: pool.call(lambda: pool.store().remove(user_id, member)))
    _announce(user_id)
    return row


# --------------------------------------------------------------------------- promotion


@dataclass
class Promotion:
    row: QueuedSignal
    group_id: str | None
    reason: str
    send: object = None  # the placement's send, run after the commit


def _anchor(settings: dict, signal: Signal, account: ExchangeAccount) -> Decimal:
    """SPEC §3.2: a promoted signal's grid is anchored on the market price now (`market`) or
    on the queued signal's price (`signal`; the market when it had none)."""
    if settings["pool"]["promotion_anchor"] == "signal" and signal.entry_price:
        return signal.entry_price
    return client_for(account).fetch_ticker(signal.symbol).last


def _open_promoted(row: QueuedSignal, slot_id: str, slot_held: bool, settings: dict, how: str,
                   forced: bool = False) -> Promotion:  # fmt: skip
    """Inside the caller's transaction: the row is promoted and its group opened (or its
    pyramid added). Raises ExchangeError when the market cannot be read (caller puts back)."""
    from server.services import positions

    row = QueuedSignal.select().where(QueuedSignal.id == row.id).for_update().first()
    if row is None or row.status != "queued":  # promoted/removed meanwhile: never twice
        raise _NotQueued
    signal = Signal.get_by_id(row.signal_id)
    account = ExchangeAccount.get_by_id(row.account_id)
    waited = int((utcnow() - row.queued_at).total_seconds())
    if not account.is_active:
        reason = f"not promoted ({how}): the account was deactivated"
        _finish_row(row.id, "failed", reason)
        _mark_signal(signal.id, "rejected", reason)
        return Promotion(row, None, reason)
    anchor = _anchor(settings, signal, account)
    lane_group = _lane_groups(row.user_id).get(_lane(row))
    if lane_group is not None:
        group = PositionGroup.get_by_id(lane_group)
        try:
            placement = positions.prepare_pyramid(group, signal, settings, anchor=anchor)
        except positions.PyramidRefused as exc:
            reason = f"promoted ({how}) after {waited} s but the pyramid was refused: {exc}"
            _finish_row(row.id, "failed", reason)
            _mark_signal(signal.id, "ignored", reason, lane_group)
            return Promotion(row, None, reason)
        reason = (
            f"promoted ({how}) after {waited} s in the queue: pyramid "
            f"{placement.plan.pyramid_index} of the open group, anchored at "
            f"{placement.plan.entry_price}"
        )
        _finish_row(row.id, "promoted", reason)
        _mark_signal(signal.id, "promoted", reason, lane_group)
        if slot_held:
            if pool.pyramids_count(settings):
                pool.store().bind(
                    row.user_id, slot_id, slot_value(lane_group, pool.now_ms(), forced)
                )
            else:
                after_commit(lambda: pool.store().free_slot(row.user_id, slot_id))
        return Promotion(row, lane_group, reason, placement.send)
    if not slot_held:  # ranked as a continuation, but the lane's group has closed meanwhile
        group_stub = type("Stub", (), {"id": slot_id})()
        if not pool.try_take_slot(row.user_id, group_stub, settings):
            raise _PoolFull
    placement = positions.prepare_group(
        signal, account, settings, anchor=anchor, group_id=slot_id, slot_held=True
    )
    group_id = str(placement.group.id)
    if placement.refused:
        reason = f"promoted ({how}) after {waited} s but refused, nothing sent: {placement.refused}"
        _finish_row(row.id, "failed", reason)
        _mark_signal(signal.id, "rejected", reason, group_id)
        after_commit(lambda: pool.store().release_group(row.user_id, group_id))
        return Promotion(row, group_id, reason)
    over = " over the pool limit (forced)" if forced else ""
    reason = (
        f"promoted ({how}) after {waited} s in the queue: new group{over}, pyramid 0 with "
        f"{len(placement.plan.legs)} legs anchored at {placement.plan.entry_price} "
        f"(promotion_anchor {settings['pool']['promotion_anchor']})"
    )
    _finish_row(row.id, "promoted", reason)
    _mark_signal(signal.id, "promoted", reason, group_id)
    return Promotion(row, group_id, reason, placement.send)


class _PoolFull(Exception):
    pass


class _NotQueued(Exception):
    pass


def _after_promotion(promotion: Promotion) -> None:
    from server.api.serializers import group_out

    system_log(
        LogLevel.INFO, LogCategory.TRADING, f"{promotion.row.symbol}: {promotion.reason}",
        user_id=promotion.row.user_id, symbol=promotion.row.symbol,
        group_id=promotion.group_id, queued_signal_id=str(promotion.row.id),
    )  # fmt: skip
    if promotion.send is not None:
        try:
            promotion.send()
        except Exception:
            log.exception(
                "sending promoted group %s failed; the fill monitor re-sends", promotion.group_id
            )
    if promotion.group_id is not None:
        group = PositionGroup.get_or_none(PositionGroup.id == promotion.group_id)
        if group is not None:
            events.publish(events.Event.GROUP_UPDATED, group_out(group), group.user_id)


def _put_back(user_id, member: str, score: float, slot_id: str | None) -> None:
    if slot_id is not None:
        pool.store().free_slot(user_id, slot_id)
    pool.call(lambda: pool.store().put(user_id, member, int(score)))


def promote_ready(user_id) -> int:
    """Promote from the top of the user's queue while slots are free (or the top is a
    continuation that needs none). Returns how many signals were promoted."""
    if not pool.store().queued(user_id):
        if not pool.store().built():
            pool.ensure_built()
        else:
            return 0
    settings = effective_settings(User.get_by_id(user_id))
    done = 0
    while done < MAX_PROMOTIONS_PER_CALL:
        slot_id = str(uuid.uuid4())
        promotion = None
        with db.atomic():
            pool._slot_guard()
            taken = pool.call(
                lambda slot_id=slot_id: pool.store().take_top(
                    user_id, slot_id, slot_value(slot_id, pool.now_ms()), pool.limit_of(settings),
                    qp.CONTINUATION_SCORE, pool.pyramids_count(settings),
                )
            )  # fmt: skip
            if taken is None:
                break
            member, score, slot_held = taken
            row = QueuedSignal.get_or_none(QueuedSignal.id == qp.id_of(member))
            if row is None or row.status != "queued":
                if slot_held:
                    after_commit(lambda s=slot_id: pool.store().free_slot(user_id, s))
                continue
            try:
                with db.atomic():
                    promotion = _open_promoted(row, slot_id, slot_held, settings, "slot freed")
            except _NotQueued:
                if slot_held:
                    after_commit(lambda s=slot_id: pool.store().free_slot(user_id, s))
                continue
            except (ExchangeError, _PoolFull) as exc:
                log.warning("promotion of %s deferred: %s", row.id, exc)
                after_commit(
                    lambda m=member, sc=score, s=slot_id if slot_held else None: _put_back(
                        user_id, m, sc, s
                    )
                )
                break
            except Exception as exc:  # a broken signal must not block the queue behind it
                log.exception("promotion of %s failed", row.id)
                reason = f"not promoted: internal error ({type(exc).__name__}: {exc})"
                _finish_row(row.id, "failed", reason)
                _mark_signal(row.signal_id, "rejected", reason)
                system_log(LogLevel.ERROR, LogCategory.TRADING, f"{row.symbol}: {reason}",
                           user_id=user_id, symbol=row.symbol)  # fmt: skip
                if slot_held:
                    after_commit(lambda s=slot_id: pool.store().free_slot(user_id, s))
            _announce(user_id, pool_too=True)
        if promotion is not None:
            done += 1
            _after_promotion(promotion)
    return done


def _manual(row_id, user_id, *, forced: bool) -> Promotion:
    settings = effective_settings(User.get_by_id(user_id))
    pool.ensure_built()
    row = QueuedSignal.get_or_none((QueuedSignal.id == row_id) & (QueuedSignal.user == user_id))
    if row is None or row.status != "queued":
        raise QueueActionRefused("the signal is no longer queued")
    member = qp.member(str(row.id), row.queued_at)
    slot_id = str(uuid.uuid4())
    limit = 0 if forced else pool.limit_of(settings)
    how = "force add" if forced else "manual promote"
    with db.atomic():
        pool._slot_guard()
        value = slot_value(slot_id, pool.now_ms(), forced)
        answer = pool.call(lambda: pool.store().take_member(user_id, member, slot_id, value, limit))
        if answer == 0:
            raise QueueActionRefused(
                f"the pool is full ({pool.limit_of(settings)} of {pool.limit_of(settings)} "
                "slots): force add opens it over the limit"
            )
        if answer != 1:
            raise QueueActionRefused("the signal is no longer queued")
        failure: Exception | None = None
        try:
            with db.atomic():
                promotion = _open_promoted(row, slot_id, True, settings, how, forced)
                if forced:
                    QueuedSignal.update(force_added=True).where(QueuedSignal.id == row.id).execute()
        except (_NotQueued, ExchangeError) as exc:
            failure = exc  # the savepoint rolled back; Redis is put right below
        else:
            _announce(user_id, pool_too=True)
    if failure is not None:  # outside the transaction: after_commit would never run here
        pool.store().free_slot(user_id, slot_id)
        if isinstance(failure, _NotQueued):
            raise QueueActionRefused("the signal is no longer queued")
        _put_now(row)
        raise QueueActionRefused(f"the market cannot be read now ({failure}); try again")
    _after_promotion(promotion)
    return promotion


def promote_now(row_id, user_id) -> Promotion:
    """Manual promote: take the next free slot now (409 when the pool is full)."""
    return _manual(row_id, user_id, forced=False)


def force_add(row_id, user_id) -> Promotion:
    """Force add: open the group even when the pool is full (an over-limit slot)."""
    return _manual(row_id, user_id, forced=True)


def remove(row_id, user_id, actor_name: str) -> QueuedSignal:
    """Take a signal out of the queue by hand."""
    pool.ensure_built()
    row = QueuedSignal.get_or_none((QueuedSignal.id == row_id) & (QueuedSignal.user == user_id))
    if row is None or row.status != "queued":
        raise QueueActionRefused("the signal is no longer queued")
    reason = f"removed from the queue by {actor_name}"
    with db.atomic():
        if not _finish_row(row.id, "removed", reason):
            raise QueueActionRefused("the signal is no longer queued")
        _mark_signal(row.signal_id, "removed", reason)
        _announce(user_id)
    pool.call(lambda: pool.store().remove(user_id, qp.member(str(row.id), row.queued_at)))
    return row


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


def _reconcile_slots(user_id, lanes: dict[tuple, str], limit: int) -> int:
    """Free slots whose group is no longer open (a release lost in a crash, a transaction
    rolled back after taking one); give a slot to an open group that has none (within the limit)."""
    store, now = pool.store(), pool.now_ms()
    open_ids = set(lanes.values())
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
        created = int(group.created_at.timestamp() * 1000)
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
            if not _finish_row(row.id, "expired", reason):
                continue
            _mark_signal(row.signal_id, "expired", reason)
            line = f"{row.symbol} {row.timeframe}m {row.side}: queued signal {reason}"
            system_log(LogLevel.WARNING, LogCategory.TRADING, line, user_id=user_id,
                       symbol=row.symbol, queued_signal_id=str(row.id))  # fmt: skip
        pool.store().remove(user_id, qp.member(str(row.id), row.queued_at))
    return kept


def _live_prices(rows: list[QueuedSignal]) -> dict[tuple[str, str], Decimal]:
    """(account id, symbol) → price: the monitor's cache, else one batched ticker read per
    account (stored back in the cache for the next look)."""
    venues = _venues(rows)
    prices: dict[tuple[str, str], Decimal] = {}
    missing: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        cached = _cached_price(venues, row)
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
        member, score = _entry(
            row, prices.get((str(row.account_id), row.symbol)), _lane(row) in lanes
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
        lanes = _lane_groups(user_id)
        try:
            limit = pool.limit_of(settings)
            totals["reconciled"] += pool.call(
                lambda u=user_id, la=lanes, m=limit: _reconcile_slots(u, la, m)
            )
            rows = list(QueuedSignal.select().where(
                (QueuedSignal.user == user_id) & (QueuedSignal.status == "queued")))  # fmt: skip
            kept = _expire(user_id, rows, settings)
            totals["expired"] += len(rows) - len(kept)
            changed = _rescore(user_id, kept, lanes) or len(kept) != len(rows)
            promoted = promote_ready(user_id)
            totals["promoted"] += promoted
            if changed and not promoted:
                _announce(user_id)
        except pool.NotBuilt:
            pool.ensure_built()
    return totals


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
