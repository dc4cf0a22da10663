"""Reconciliation jobs (SPEC §4.6): the fan-out (scheduled, at worker start-up and after a
worker died; queue `default`/`monitor`) and one pass per account (queue `monitor`)."""

from __future__ import annotations

from server.services import reconciliation
from workers.bootstrap import job


@job
def reconcile_all(reason: str = "scheduled") -> dict[str, int]:
    """Enqueue a reconciliation of every account with orders to look after."""
    return reconciliation.fan_out(reason)


@job
def reconcile_account(account_id: str, reason: str = "scheduled") -> dict[str, int]:
    """Compare one account's orders and balances at the exchange with the database, repair."""
    return reconciliation.reconcile_account(account_id, reason)
