"""The fill monitor (SPEC §4.3): finds what changed at the exchange with one call per account.

Every FILL_MONITOR_SEC the scheduler runs `fan_out`, which enqueues one `check_account` job
per account that has working orders (unique job ids, so a slow account never piles jobs up).
`check_account` holds the account's lock (`fill-monitor:<account>`: two passes never overlap,
whatever the number of workers and schedulers), makes ONE `fetch_open_orders()` call, and then
touches only what differs from the database:

- an order the exchange no longer lists as open (filled, cancelled, expired) → `orders.sync`
  (one order read, its trades when the fill grew);
- an open order whose filled quantity grew → its trades are applied (`orders.apply_answer`);
- a `pending` order (never acknowledged: a transient error, a worker that died between
  storing and sending or between sending and storing) → `orders.resend` once `resend_due`:
  the exchange is asked for its client order id first, and it is sent only when unseen.

Accounts of users whose trading is paused (invalid credentials) are left alone: nothing is
retried until the keys validate again. `check_soon` is the "immediate check" after placing a
grid: a limit that filled at once is picked up without waiting for the next period.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from flask import current_app

from server import queues, runtime
from server.domain.enums import FINISHED_GROUP_STATUSES
from server.exchange.errors import AuthenticationFailed, ExchangeError
from server.persistence.models import DcaOrder, ExchangeAccount, PositionGroup
from server.services import engine_state, orders
from server.services.exchanges import client_for
from server.state.locks import Locks

log = logging.getLogger(__name__)

ACCOUNT_JOB = "workers.jobs.fills.monitor_account"
PASS_LOCK_MS = 60_000  # a pass that dies holding the lock frees the account after this


def _working_orders():
    return (
        DcaOrder.select(DcaOrder, PositionGroup)
        .join(PositionGroup, on=(DcaOrder.group == PositionGroup.id))
        .where(
            DcaOrder.status.in_(orders.WORKING)
            & PositionGroup.account.is_null(False)
            & PositionGroup.status.not_in([s.value for s in FINISHED_GROUP_STATUSES])
        )
    )


def check_soon(account_id) -> None:
    """Enqueue one pass over the account now (unique: at most one waits at a time)."""
    queues.enqueue_once(
        queues.MONITOR,
        ACCOUNT_JOB,
        str(account_id),
        job_id=f"fills-{account_id}",
        result_ttl=0,
        failure_ttl=60,
    )


def fan_out() -> dict[str, int]:
    """One `check_account` job per account with working orders (users not paused)."""
    accounts: dict[str, str] = {}
    for row in (
        PositionGroup.select(PositionGroup.account, PositionGroup.user)
        .join(DcaOrder, on=(DcaOrder.group == PositionGroup.id))
        .where(
            DcaOrder.status.in_(orders.WORKING)
            & PositionGroup.account.is_null(False)
            & PositionGroup.status.not_in([s.value for s in FINISHED_GROUP_STATUSES])
        )
        .distinct()
    ):
        accounts[str(row.account_id)] = str(row.user_id)
    paused = engine_state.paused_users(set(accounts.values()))
    queued = 0
    for account_id, user_id in accounts.items():
        if user_id not in paused:
            check_soon(account_id)
            queued += 1
    return {"accounts": len(accounts), "queued": queued, "paused": len(accounts) - queued}


def _locks() -> Locks:
    return Locks(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def check_account(account_id) -> dict[str, int]:
    """One monitor pass over one account (see the module docstring)."""
    account = ExchangeAccount.get_or_none(ExchangeAccount.id == account_id)
    if account is None or engine_state.pause_of(account.user_id):
        return {"skipped": 1}
    locks = _locks()
    token = locks.acquire(f"fill-monitor:{account_id}", PASS_LOCK_MS)
    if token is None:
        return {"skipped": 1}
    try:
        return _pass(account, locks)
    finally:
        locks.release(f"fill-monitor:{account_id}", token)


def read_open_orders(account: ExchangeAccount, client, who: str):
    """The account's open orders at the exchange, indexed `(by exchange id, by client id)`,
    and None — or None and the pass's outcome when they cannot be read: a refused API key
    pauses the user's trading (SPEC §4.6, `paused`); anything else is logged (`unreadable`)
    and the next pass tries again. Shared by the fill monitor and the reconciliation."""
    try:
        listed = client.fetch_open_orders()
    except AuthenticationFailed as exc:
        engine_state.pause_user(
            account.user_id,
            f"the exchange refused the API key of account {account.label} ({exc})",
            status=engine_state.INVALID_CREDENTIALS,
            account_id=account.id,
        )
        return None, {"paused": 1}
    except ExchangeError as exc:
        log.warning("%s: open orders of %s not readable: %s", who, account.id, exc)
        return None, {"unreadable": 1}
    by_id = {o.id: o for o in listed}
    by_client = {o.client_order_id: o for o in listed if o.client_order_id}
    return (by_id, by_client), None


def _pass(account: ExchangeAccount, locks: Locks) -> dict[str, int]:
    rows = list(_working_orders().where(PositionGroup.account == account.id))
    counts: dict[str, int] = defaultdict(int)
    if not rows:
        return dict(counts)
    listed, outcome = read_open_orders(account, client_for(account), "fill monitor")
    if listed is None:
        return outcome
    by_id, by_client = listed
    for row in rows:
        try:
            counts[_check(row, by_id, by_client, locks)] += 1
        except Exception:  # one odd order must not stop the pass
            log.exception("fill monitor: order %s", row.id)
            counts["error"] += 1
    return dict(counts)


def _check(row: DcaOrder, by_id: dict, by_client: dict, locks: Locks) -> str:
    if row.status == "pending":
        if not orders.resend_due(row) or locks.held(f"order-send:{row.id}"):
            return "pending"
        orders.resend(row.id)
        return "resent"
    seen = by_id.get(row.exchange_order_id) or by_client.get(row.client_order_id)
    if seen is None:
        orders.sync(row.id)
        return "synced"
    if seen.filled > (row.filled_quantity or 0):
        orders.apply_answer(row.id, seen)
        return "filling"
    return "unchanged"
