"""Reconciliation (SPEC §4.6): compare the database with the exchange and repair the database.

Runs when a worker process starts, when the worker pool replaces a worker that died (a
crash), and every RECONCILE_SEC (`fan_out` enqueues one `reconcile_account` job per account
with orders to look after). One pass over one account at a time (`reconcile:<account>` lock;
not the fill monitor's, which a worker killed mid-pass leaves held for a minute). A monitor
pass may run alongside: every step is safe twice (sends under the order's send lock, fills
keyed by trade id, answers applied with the order row locked).

- **open orders**: one `fetch_open_orders()`. A working order listed there with more fill
  than stored gets its trades applied; one no longer listed is read by exchange id, then by
  client id, and whatever the exchange says (filled meanwhile, cancelled on the exchange,
  partly filled) is applied with its trades — a fill that happened while no worker ran is
  picked up here.
- **pending orders** (stored, never acknowledged: a worker killed between "stored" and
  "sent" or between "sent" and "stored") are looked up by client id and sent only when the
  exchange never saw them (`orders.resend`) — never twice; only once ORDER_RESEND_AFTER_SEC
  old (a live sender has long finished). One whose send lock a dead sender still holds is
  waited for (at most ORDER_SEND_LOCK_MS for the whole pass; later passes take the rest).
- **unknown at the exchange**: an order the exchange finds by neither id is counted
  (`<prefix>engine:reconcile:missing`, one Redis hash field per order) and, after
  RECONCILE_LOST_AFTER passes in a row, marked `lost` (status, a `order_lost` position event,
  a WARNING ORDER log line and an alert). A lost order is no longer working but stays under
  watch: every pass asks for it again and applies it when it turns up.
- **orphans**: an open order at the exchange carrying one of the engine's client ids that the
  database does not know is reported (WARNING), never cancelled: the database is repaired,
  the exchange is not touched without a person deciding.
- **balances**: one `fetch_balance()`; on spot, a base asset the open groups hold more of
  than the account has is reported (WARNING: coins moved or sold by hand).

Every repair writes a system-log line (category ORDER) that says what the database said,
what the exchange said and what was changed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from decimal import Decimal

from flask import current_app

from server import queues, runtime
from server.domain.enums import (
    FINISHED_GROUP_STATUSES,
    LogCategory,
    LogLevel,
    MarketType,
    OrderStatus,
)
from server.domain.exact import ZERO, add
from server.domain.grid import parse_client_order_id
from server.exchange.errors import ExchangeError, OrderNotFound
from server.exchange.types import ExchangeOrder
from server.persistence.db import db
from server.persistence.models import DcaOrder, ExchangeAccount, PositionGroup
from server.persistence.prepared import lock_row
from server.services import (
    engine_state,
    fill_monitor,
    group_state,
    order_outcomes,
    orders,
    trail,
)
from server.services.exchanges import client_for
from server.services.journal import system_log
from server.state.locks import Locks

log = logging.getLogger(__name__)

__all__ = ["check_soon", "fan_out", "reconcile_account"]

ACCOUNT_JOB = "workers.jobs.reconcile.reconcile_account"
ACCOUNT_LOCK = "reconcile:{account}"
PASS_LOCK_MS = 30_000  # beyond the wait for dead senders: a pass that died frees the account
WATCHED = (*orders.WORKING, OrderStatus.LOST.value)


def _locks() -> Locks:
    return Locks(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def _missing_key() -> str:
    return f"{current_app.config['RQ_QUEUE_PREFIX']}engine:reconcile:missing"


def _watched_orders():
    """Working orders of unfinished groups, and lost orders of any group (kept under watch)."""
    unfinished = PositionGroup.status.not_in([s.value for s in FINISHED_GROUP_STATUSES])
    return (
        DcaOrder.select(DcaOrder, PositionGroup)
        .join(PositionGroup, on=(DcaOrder.group == PositionGroup.id))
        .where(
            PositionGroup.account.is_null(False)
            & (
                (DcaOrder.status.in_(orders.WORKING) & unfinished)
                | (DcaOrder.status == OrderStatus.LOST.value)
            )
        )
    )


# --------------------------------------------------------------------------- scheduling


def check_soon(account_id, reason: str = "scheduled") -> None:
    """Enqueue one reconciliation of the account (unique: at most one waits at a time)."""
    queues.enqueue_once(
        queues.MONITOR,
        ACCOUNT_JOB,
        str(account_id),
        reason,
        job_id=f"reconcile-{account_id}",
        result_ttl=0,
        failure_ttl=600,
    )


def fan_out(reason: str = "scheduled") -> dict[str, int]:
    """One reconciliation job per account with watched orders (users not paused)."""
    accounts = {str(r.group.account_id): str(r.group.user_id) for r in _watched_orders()}
    paused = engine_state.paused_users(set(accounts.values()))
    queued = 0
    for account_id, user_id in accounts.items():
        if user_id not in paused:
            check_soon(account_id, reason)
            queued += 1
    return {"accounts": len(accounts), "queued": queued}


# --------------------------------------------------------------------------- one account


def reconcile_account(account_id, reason: str = "scheduled") -> dict[str, int]:
    """One reconciliation pass over one account (module docstring); counts by outcome."""
    account = ExchangeAccount.get_or_none(ExchangeAccount.id == account_id)
    if account is None or engine_state.pause_of(account.user_id):
        return {"skipped": 1}
    locks, name = _locks(), ACCOUNT_LOCK.format(account=account_id)
    token = locks.acquire(name, current_app.config["ORDER_SEND_LOCK_MS"] + PASS_LOCK_MS)
    if token is None:
        return {"skipped": 1}  # another reconciliation of the account is under way
    try:
        counts = _pass(account, locks)
    finally:
        locks.release(name, token)
    repaired = {k: v for k, v in counts.items() if k not in ("unchanged", "pending") and v}
    level = LogLevel.INFO if repaired else LogLevel.DEBUG
    log.log(logging.getLevelName(level.value), "reconciliation (%s) of %s: %s", reason,
            account.label, dict(counts))  # fmt: skip
    return dict(counts)


def _pass(account: ExchangeAccount, locks: Locks) -> dict[str, int]:
    client = client_for(account)
    rows = list(_watched_orders().where(PositionGroup.account == account.id))
    counts: dict[str, int] = defaultdict(int)
    listed, outcome = fill_monitor.read_open_orders(account, client, "reconciliation")
    if listed is None:
        return outcome
    by_id, by_client = listed
    deadline = time.monotonic() + current_app.config["ORDER_SEND_LOCK_MS"] / 1000 + 0.5
    for row in rows:
        try:
            counts[_order(account, row, by_id, by_client, locks, deadline)] += 1
        except Exception:  # one odd order must not stop the pass
            log.exception("reconciliation: order %s", row.id)
            counts["error"] += 1
    counts["orphans"] = _orphans(account, list(by_id.values()), {r.client_order_id for r in rows})
    counts["balance_warnings"] = _balances(account, client)
    return {k: v for k, v in counts.items() if v}


def _wait_for_sender(row: DcaOrder, locks: Locks, deadline: float) -> bool:
    """Wait until no process holds the order's send lock — for an order this old it is a dead
    sender's, which expires by itself (ORDER_SEND_LOCK_MS). One deadline for the whole pass,
    so many such orders never add up to a long wait."""
    while locks.held(f"order-send:{row.id}"):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _order(account, row: DcaOrder, by_id: dict, by_client: dict, locks: Locks, deadline) -> str:
    before = (row.status, row.filled_quantity or ZERO)
    if row.status == OrderStatus.PENDING.value:
        if not orders.resend_due(row) or not _wait_for_sender(row, locks, deadline):
            return "pending"
        after = orders.resend(row.id)
        if after.status != OrderStatus.PENDING.value and not after.send_count > row.send_count:
            _repaired(row, before, after, "found at the exchange under its client order id")
            return "found"
        return "resent" if after.status != OrderStatus.PENDING.value else "pending"
    seen = by_id.get(row.exchange_order_id) or by_client.get(row.client_order_id)
    if seen is not None and row.status != OrderStatus.LOST.value:
        _forget_missing(row)
        if seen.filled > (row.filled_quantity or ZERO):
            after = orders.apply_answer(row.id, seen)
            _repaired(row, before, after, "filled further at the exchange")
            return "repaired"
        return "unchanged"
    answer = seen or _read(account, row)
    if answer is None:
        return _missing(row)
    _forget_missing(row)
    after = orders.apply_answer(row.id, answer)
    if (after.status, after.filled_quantity) == before:
        return "unchanged"
    why = (
        "found again at the exchange"
        if row.status == OrderStatus.LOST.value
        else f"the exchange reports it {answer.status.value}"
    )
    _repaired(row, before, after, why)
    return "repaired"


def _read(account, row: DcaOrder) -> ExchangeOrder | None:
    """The exchange's view of the order, by exchange id then by client id; None when the
    exchange knows neither (other errors propagate to the pass, which counts them)."""
    client = client_for(account)
    ids = [("exchange_id", row.exchange_order_id), ("client_order_id", row.client_order_id)]
    for name, value in ids:
        if not value:
            continue
        with contextlib.suppress(OrderNotFound):
            return client.fetch_order(row.group.symbol, **{name: value})
    return None


def _forget_missing(row: DcaOrder) -> None:
    runtime.redis_client().hdel(_missing_key(), str(row.id))


def _missing(row: DcaOrder) -> str:
    if row.status == OrderStatus.LOST.value:
        return "still_lost"
    misses = runtime.redis_client().hincrby(_missing_key(), str(row.id), 1)
    limit = current_app.config["RECONCILE_LOST_AFTER"]
    ctx = orders.context(row.id)
    if misses < limit:
        system_log(
            LogLevel.WARNING,
            LogCategory.ORDER,
            f"Reconciliation: {trail.label(ctx.group)}: "
            f"{order_outcomes.role(row, ctx.pyramid_index)} ({row.client_order_id}) is "
            f"{row.status} in the engine but the exchange does not know it (lookup {misses} of "
            f"{limit}); asked again next pass",
            user_id=ctx.group.user_id,
            symbol=ctx.group.symbol,
            order_id=str(row.id),
        )
        return "missing"
    _mark_lost(row.id, misses)
    _forget_missing(row)
    return "lost"


def _mark_lost(order_id, lookups: int) -> None:
    """`open|partially_filled → lost` (order lock, group recomputed, events after commit)."""
    ctx = orders.context(order_id)
    actions: group_state.AfterCommit = []
    with db.atomic():
        ctx.group = group_state.lock_group(ctx.group.id)
        fresh = lock_row(DcaOrder, order_id)
        if fresh.status not in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value):
            return
        order_outcomes.mark_lost(ctx, fresh, lookups, actions)
        _, more = group_state.recompute_in_tx(ctx.group.id)
        actions += more
    group_state.run(actions)


def _repaired(row: DcaOrder, before: tuple, after: DcaOrder, why: str) -> None:
    """The reconciliation's own log line for a repair (the order's change has its own)."""
    ctx = orders.context(row.id)
    status, filled = before
    system_log(
        LogLevel.INFO,
        LogCategory.ORDER,
        f"Reconciliation repaired {trail.label(ctx.group)}: "
        f"{order_outcomes.role(after, ctx.pyramid_index)} was {status} with "
        f"{trail.num(filled)} filled in the database; {why}: now {after.status} with "
        f"{trail.num(after.filled_quantity)} filled",
        user_id=ctx.group.user_id,
        symbol=ctx.group.symbol,
        order_id=str(row.id),
        client_order_id=row.client_order_id,
        reconciliation=True,
    )


# --------------------------------------------------------------------------- orphans, balances


def _orphans(account, listed: list[ExchangeOrder], known: set[str]) -> int:
    """Open orders carrying an engine client id that the database does not know (logged)."""
    ours = [o for o in listed if o.client_order_id and parse_client_order_id(o.client_order_id)]
    unknown = [o for o in ours if o.client_order_id not in known]
    if not unknown:
        return 0
    stored = {
        r.client_order_id
        for r in DcaOrder.select(DcaOrder.client_order_id).where(
            DcaOrder.client_order_id.in_([o.client_order_id for o in unknown])
        )
    }
    found = 0
    for order in unknown:
        if order.client_order_id in stored:
            continue  # an order of a finished group, still resting: the group's own business
        found += 1
        system_log(
            LogLevel.WARNING,
            LogCategory.ORDER,
            f"Reconciliation: account {account.label} has an open {order.side.value} order "
            f"{order.symbol} {trail.num(order.amount)} with the engine's client order id "
            f"{order.client_order_id} that the database does not know; left as it is — cancel "
            "it on the exchange if it is not yours",
            user_id=account.user_id,
            symbol=order.symbol,
        )
    return found


FEE_ALLOWANCE = Decimal("0.001")  # the highest spot taker fee taken in the base asset


def _held_by_groups(account) -> dict[str, Decimal]:
    """Base asset the account's open long spot groups hold (gross filled quantity)."""
    held: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for group in PositionGroup.select().where(
        (PositionGroup.account == account.id)
        & (PositionGroup.side == "long")
        & PositionGroup.status.not_in([s.value for s in FINISHED_GROUP_STATUSES])
    ):
        held[group.symbol] = add(held[group.symbol], group.total_filled_quantity or ZERO)
    return held


def _balances(account, client) -> int:
    """Spot only: warn when the open groups hold more of a base asset than the account has."""
    if account.market_type != MarketType.SPOT.value:
        return 0
    held = {s: q for s, q in _held_by_groups(account).items() if q > 0}
    if not held:
        return 0
    try:
        balances = client.fetch_balance()
        markets = client.load_markets()
    except ExchangeError as exc:
        log.warning("reconciliation: balance of %s not readable: %s", account.id, exc)
        return 0
    warned = 0
    for symbol, quantity in held.items():
        rules = markets.get(symbol)
        if rules is None:
            continue
        balance = balances.get(rules.base)
        total = balance.total if balance is not None else ZERO
        # slack: the base-asset fees the exchange kept (≤ 0.1 %) and one step
        if total < quantity - quantity * FEE_ALLOWANCE - rules.step_size:
            warned += 1
            system_log(
                LogLevel.WARNING,
                LogCategory.TRADING,
                f"Reconciliation: the open {symbol} groups of account {account.label} hold "
                f"{trail.num(quantity)} {rules.base} but the exchange balance is "
                f"{trail.num(total)}; coins moved or sold outside the engine? A close sells "
                "at most the free balance",
                user_id=account.user_id,
                symbol=symbol,
            )
    return warned
