"""Position jobs: closing a group, take-profit evaluation, the take-profit sweep, equity
snapshots. Thin: each calls one service."""

from __future__ import annotations

from decimal import Decimal

from server.services import closing, equity, positions, take_profit
from workers.bootstrap import job, worker_app


@job
def close_position(group_id: str, reason: str, trigger: str) -> str:
    """Run the close routine (SPEC §4.5) for one group: manual close, exit signal, risk."""
    return closing.close_group(group_id, reason, trigger).status


def evaluate_take_profit(group_id: str, price: str) -> str:
    """The price monitor saw `price` cross the group's trigger: decide and act (SPEC §4.4).
    However the evaluation ends — the database unreachable at the job's start included — the
    trigger index hears that it is over, so the monitor may hand the group over again (until
    then it holds the group back: one evaluation per group in the queue at most)."""
    moved = False
    try:
        status, moved = _evaluate_take_profit(group_id, price)
        return status
    finally:
        with worker_app().app_context():
            take_profit.evaluation_over(group_id, moved)


@job
def _evaluate_take_profit(group_id: str, price: str) -> tuple[str, bool]:
    return take_profit.evaluate_group(group_id, Decimal(price))


@job
def on_order_filled(order_id: str) -> None:
    """A fill was applied to an order: place its leg's take-profit, or book a TP fill."""
    take_profit.on_leg_filled(order_id, wait=True)


@job
def take_profit_sweep() -> dict[str, int]:
    """Place missing TP orders, finish stuck closes, rebuild the trigger index (scheduled)."""
    return take_profit.sweep()


@job
def equity_snapshots() -> int:
    """One equity snapshot per user with positions (scheduled, SPEC §7)."""
    return equity.snapshot_all()


@job
def finish_placement(
    pyramid_id: str, first_order_id=None, outcome=None, token=None, notional: str = "0"
) -> int:
    """After a signal job sent a pyramid's first leg: store its answer, send the other legs,
    run the take-profit hook, publish (`positions.finish_placement`)."""
    return len(positions.finish_placement(pyramid_id, first_order_id, outcome, token, notional))
