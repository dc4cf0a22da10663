"""The worker's part of a signal (SPEC §2.3): resolve the symbol against the account's markets,
classify against the lane's open group, hand off, and record the outcome on the signal and on
its webhook-log row. Called by the lane driver, one signal of a lane at a time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import redis
from flask import current_app
from peewee import JOIN, InterfaceError, OperationalError

from server.clock import utcnow
from server.domain.enums import OPEN_GROUP_STATUSES, LogCategory, LogLevel
from server.domain.signal_routing import Classification, Decision, OpenGroup, classify
from server.exchange.errors import ExchangeError, UnknownSymbol
from server.persistence.db import db
from server.persistence.models import ExchangeAccount, PositionGroup, Signal, WebhookLog
from server.persistence.prepared import Prepared, Slot, slots
from server.services import precision
from server.services.journal import system_log
from server.services.pool import PoolNotReady, ensure_built
from server.services.signal_handoff import HandOff, HoldSignal, hand_off

log = logging.getLogger(__name__)

# Failures that say nothing about the signal: the job fails and the lane is driven again later
# (HoldSignal: the market rules cannot be had yet, SPEC §3.3 "hold").
TRANSIENT = (OperationalError, InterfaceError, redis.RedisError, OSError, HoldSignal, PoolNotReady)


def _verify_symbol(
    account: ExchangeAccount, symbol: str
) -> tuple[Decision | None, str | None, object]:
    """(rejection, note, rules): the symbol must exist on the account's market. When the
    exchange cannot be asked, the signal goes on unverified (with a note): the lifecycle needs
    the market rules before any order anyway, and a transient outage must not drop a signal.
    The rules read here are handed on to the grid (one cache read per signal, not two)."""
    try:
        rules = precision.rules_for(account, symbol)
    except UnknownSymbol:
        return (
            Decision(
                Classification.REJECTED,
                f"unknown symbol: {symbol} is not traded on {account.exchange} "
                f"{account.market_type}",
            ),
            None,
            None,
        )
    except ExchangeError as exc:
        note = f"symbol not verified against the markets ({type(exc).__name__}: {exc})"
        return None, note, None
    return None, None, rules


_OPEN_GROUP = Prepared(
    lambda: (
        PositionGroup.select(
            PositionGroup.id,
            PositionGroup.status,
            PositionGroup.pyramid_count,
            PositionGroup.max_pyramids,
        )
        .where(
            (PositionGroup.account == Slot("account", PositionGroup.account))
            & (PositionGroup.symbol == Slot("symbol", PositionGroup.symbol))
            & (PositionGroup.timeframe == Slot("timeframe", PositionGroup.timeframe))
            & (PositionGroup.side == Slot("side", PositionGroup.side))
            & (PositionGroup.status.in_([s.value for s in OPEN_GROUP_STATUSES]))
        )
        .order_by(PositionGroup.created_at)
        .limit(1)
    )
)


def _open_group(signal: Signal) -> PositionGroup | None:
    """The lane's open group (the oldest, should there ever be two), with what classification
    and the hand-off read."""
    return _OPEN_GROUP.first(
        account=signal.account_id,
        symbol=signal.symbol,
        timeframe=signal.timeframe,
        side=signal.side,
    )


def _jitter() -> None:
    """SIGNAL_PROCESSING_JITTER_MS: a random pause while holding the lane (tests, chaos)."""
    ceiling = current_app.config.get("SIGNAL_PROCESSING_JITTER_MS") or 0
    if ceiling > 0:
        time.sleep(random.uniform(0, ceiling) / 1000)


class _AlreadyHandled(Exception):
    """Another worker recorded this signal first (its baton expired under it): roll back."""


def _record(signal_id, handoff: HandOff, seqs: tuple[int, int], started, note: str | None):
    """Record the outcome on the signal — only if it is still `received`, which also locks its
    row until commit, so two workers can never both act on one signal — and on its log row."""
    reason = f"{handoff.reason}; {note}" if note else handoff.reason
    status = "rejected" if handoff.classification is Classification.REJECTED else "processed"
    group_id = handoff.group.id if handoff.group is not None else None
    updated = _RECORD_SIGNAL.rowcount(
        id=signal_id,
        status=status,
        classification=handoff.classification.value,
        reason=reason,
        group=group_id,
        arrival_seq=seqs[0],
        processing_seq=seqs[1],
        processing_started_at=started,
        processed_at=utcnow(),
    )
    if updated != 1:
        raise _AlreadyHandled
    _RECORD_LOG.rowcount(
        signal=signal_id, classification=handoff.classification.value, reason=reason, group=group_id
    )


_RECORD_SIGNAL = Prepared(
    lambda: Signal.update(
        slots(
            Signal,
            "status",
            "classification",
            "reason",
            "group",
            "arrival_seq",
            "processing_seq",
            "processing_started_at",
            "processed_at",
        )
    ).where((Signal.id == Slot("id", Signal.id)) & (Signal.status == "received"))
)
_RECORD_LOG = Prepared(
    lambda: WebhookLog.update(slots(WebhookLog, "classification", "reason", "group")).where(
        WebhookLog.signal == Slot("signal", WebhookLog.signal)
    )
)


_LOAD = Prepared(
    lambda: (
        Signal.select(
            Signal.id,
            Signal.status,
            Signal.user,
            Signal.account,
            Signal.intent,
            Signal.symbol,
            Signal.timeframe,
            Signal.side,
            Signal.entry_price,
            Signal.created_at,
            ExchangeAccount,
        )
        .join(ExchangeAccount, JOIN.LEFT_OUTER)
        .where(Signal.id == Slot("id", Signal.id))
        .limit(1)
    )
)


def _load(signal_id: str) -> Signal | None:
    """The signal with its account (one query); `None` when unknown or already handled."""
    signal = _LOAD.first(id=signal_id)
    return signal if signal is not None and signal.status == "received" else None


def _decide(signal: Signal, seqs: tuple[int, int], started) -> HandOff | None:
    account = signal.account if signal.account_id is not None else None
    rejection, note, rules = None, None, None
    if account is None or not account.is_active:
        rejection = Decision(
            Classification.REJECTED, "the account was deleted or deactivated after intake"
        )
    else:
        rejection, note, rules = _verify_symbol(account, signal.symbol)
    _jitter()
    if rejection is None and signal.intent == "entry":
        ensure_built()  # a Redis that lost the pool copy is rebuilt before a slot is asked for
    try:
        with db.atomic():
            group = _open_group(signal) if rejection is None else None
            if rejection is None:
                view = None
                if group is not None:
                    view = OpenGroup(
                        str(group.id), group.status, group.pyramid_count, group.max_pyramids
                    )
                decision = classify(signal.intent, view)
            else:
                decision = rejection
            handoff = hand_off(signal, decision, group, account, rules=rules)
            _record(signal.id, handoff, seqs, started, note)
    except _AlreadyHandled:
        return None
    return handoff


def process(signal_id: str, arrival_seq: int, next_processing_seq: Callable[[], int]) -> None:
    """Classify and hand off one signal at the front of its lane (idempotent)."""
    signal = _load(signal_id)
    if signal is None:
        return  # processed before: a leftover lane entry
    started = utcnow()
    seqs = (arrival_seq, next_processing_seq())
    try:
        handoff = _decide(signal, seqs, started)
    except TRANSIENT:
        raise
    except Exception as exc:  # one bad signal must not block its lane forever
        log.exception("signal %s could not be processed", signal_id)
        failed = HandOff(
            Classification.REJECTED,
            f"internal error while processing ({type(exc).__name__}); see the system log",
        )
        try:
            with db.atomic():
                _record(signal.id, failed, seqs, started, None)
        except _AlreadyHandled:
            return
        system_log(
            LogLevel.ERROR,
            LogCategory.WEBHOOK,
            f"signal {signal_id} failed in the worker: {type(exc).__name__}: {exc}",
            user_id=signal.user_id,
            symbol=signal.symbol,
        )
        return
    if handoff is not None:
        _after_commit(signal, handoff)


def _after_commit(signal: Signal, handoff: HandOff) -> None:
    """Run what the hand-off left for after the commit (send orders, close, publish). The
    signal is recorded already; a failure here is logged and repaired by the fill monitor
    (pending orders are looked up and re-sent), never retried through the lane."""
    for action in handoff.after_commit:
        try:
            action()
        except Exception as exc:
            log.exception("after-commit action of signal %s failed", signal.id)
            try:
                system_log(
                    LogLevel.ERROR,
                    LogCategory.TRADING,
                    f"signal {signal.id}: {type(exc).__name__} after it was recorded: {exc}; "
                    "the fill monitor picks up its pending orders",
                    user_id=signal.user_id,
                    symbol=signal.symbol,
                )
            except Exception:  # the database itself may be what failed
                log.exception("could not log the failure")
