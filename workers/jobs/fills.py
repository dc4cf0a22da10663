"""Fill-monitor jobs: the scheduled fan-out (queue `default`) and one pass per account
(queue `monitor`)."""

from __future__ import annotations

from server.services import fill_monitor, orders
from workers.bootstrap import job


@job
def monitor_fills() -> dict[str, int]:
    """Enqueue a pass for every account with working orders (scheduled, FILL_MONITOR_SEC)."""
    return fill_monitor.fan_out()


@job
def monitor_account(account_id: str) -> dict[str, int]:
    """One open-orders call for the account, then sync what changed."""
    return fill_monitor.check_account(account_id)


@job
def sync_order(order_id: str) -> str:
    """Read one order back from the exchange and apply it."""
    return orders.sync(order_id).status
