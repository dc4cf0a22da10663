"""Promotion from the queue (SPEC §5): after every slot release (in the job that freed it), on
the sweep, and by hand.

"Take the top signal and its slot" is one Lua script (`state.pool_store`); then, in one
transaction, the queued row is claimed under a row lock (a signal is never promoted twice),
moves `queued → promoted`, and its group opens anchored per `promotion_anchor` (`market`: the
ticker's last price now; `signal`: the queued price). A continuation (its lane has an open
group) becomes the group's next pyramid and needs no slot unless pyramids count toward the
pool. Orders are sent after the commit. A market that cannot be read puts the signal back and
frees the slot. Manual: `promote_now` (409 while the pool is full), `force_add` (over the
limit, flagged).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from server import events
from server.clock import utcnow
from server.domain import queue_priority as qp
from server.domain.enums import LogCategory, LogLevel
from server.exchange.errors import ExchangeError
from server.persistence.db import db, locked
from server.persistence.models import ExchangeAccount, PositionGroup, QueuedSignal, Signal, User
from server.services import pool
from server.services.exchanges import client_for
from server.services.journal import after_commit, system_log
from server.services.queue import (
    QueueActionRefused,
    announce,
    finish_row,
    lane_groups,
    lane_of,
    mark_signal,
    put_now,
)
from server.services.settings import effective_settings
from server.state.pool_store import slot_value

log = logging.getLogger(__name__)

MAX_PROMOTIONS_PER_CALL = 1000


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

    row = locked(QueuedSignal.select().where(QueuedSignal.id == row.id)).first()
    if row is None or row.status != "queued":  # promoted/removed meanwhile: never twice
        raise _NotQueued
    signal = Signal.get_by_id(row.signal_id)
    account = ExchangeAccount.get_by_id(row.account_id)
    waited = int((utcnow() - row.queued_at).total_seconds())
    if not account.is_active:
        reason = f"not promoted ({how}): the account was deactivated"
        finish_row(row.id, "failed", reason)
        mark_signal(signal.id, "rejected", reason)
        return Promotion(row, None, reason)
    anchor = _anchor(settings, signal, account)
    lane_group = lane_groups(row.user_id).get(lane_of(row))
    if lane_group is not None:
        group = PositionGroup.get_by_id(lane_group)
        try:
            placement = positions.prepare_pyramid(group, signal, settings, anchor=anchor)
        except positions.PyramidRefused as exc:
            reason = f"promoted ({how}) after {waited} s but the pyramid was refused: {exc}"
            finish_row(row.id, "failed", reason)
            mark_signal(signal.id, "ignored", reason, lane_group)
            return Promotion(row, None, reason)
        reason = (
            f"promoted ({how}) after {waited} s in the queue: pyramid "
            f"{placement.plan.pyramid_index} of the open group, anchored at "
            f"{placement.plan.entry_price}"
        )
        finish_row(row.id, "promoted", reason)
        mark_signal(signal.id, "promoted", reason, lane_group)
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
        finish_row(row.id, "failed", reason)
        mark_signal(signal.id, "rejected", reason, group_id)
        after_commit(lambda: pool.store().release_group(row.user_id, group_id))
        return Promotion(row, group_id, reason)
    over = " over the pool limit (forced)" if forced else ""
    reason = (
        f"promoted ({how}) after {waited} s in the queue: new group{over}, pyramid 0 with "
        f"{len(placement.plan.legs)} legs anchored at {placement.plan.entry_price} "
        f"(promotion_anchor {settings['pool']['promotion_anchor']})"
    )
    finish_row(row.id, "promoted", reason)
    mark_signal(signal.id, "promoted", reason, group_id)
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
                finish_row(row.id, "failed", reason)
                mark_signal(row.signal_id, "rejected", reason)
                system_log(LogLevel.ERROR, LogCategory.TRADING, f"{row.symbol}: {reason}",
                           user_id=user_id, symbol=row.symbol)  # fmt: skip
                if slot_held:
                    after_commit(lambda s=slot_id: pool.store().free_slot(user_id, s))
            announce(user_id, pool_too=True)
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
            announce(user_id, pool_too=True)
    if failure is not None:  # outside the transaction: after_commit would never run here
        pool.store().free_slot(user_id, slot_id)
        if isinstance(failure, _NotQueued):
            raise QueueActionRefused("the signal is no longer queued")
        put_now(row)
        raise QueueActionRefused(f"the market cannot be read now ({failure}); try again")
    _after_promotion(promotion)
    return promotion


def promote_now(row_id, user_id) -> Promotion:
    """Manual promote: take the next free slot now (409 when the pool is full)."""
    return _manual(row_id, user_id, forced=False)


def force_add(row_id, user_id) -> Promotion:
    """Force add: open the group even when the pool is full (an over-limit slot)."""
    return _manual(row_id, user_id, forced=True)
