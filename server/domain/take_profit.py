"""Take-profit decisions (SPEC §4.4) and the trigger price a price monitor indexes.

Pure. Given a group's legs, its side, its `tp_mode` / `tp_aggregate_percent`, the market rules
and a new price, `evaluate()` says what to close:

- `per_leg`: every open leg (filled, not yet closed by its TP) whose target is reached closes
  its own quantity; the group stays open while other legs are held or working.
- `aggregate`: when the price reaches the aggregate target, everything held is closed and the
  unfilled DCA orders are cancelled (`close_all`).
- `hybrid`: both are watched. When the aggregate target is reached, `close_all` — it closes
  everything left, including legs whose own target was reached on the same price (one market
  close instead of several; the exit price is the same). Otherwise the reached legs close.
  After a leg TP the aggregate is recomputed from what is left (see `aggregates`), so "whichever
  triggers first wins" holds in both orders of events.

Targets come from the actual average fill prices:
- a leg: long `fill × (1 + tp/100)`, short `fill × (1 − tp/100)` (`grid.tp_price`);
- aggregate: long `weighted_avg_entry × (1 + p/100)`, short `× (1 − p/100)`;
both rounded to the tick toward the safe side (a long's target up — closing is a sell; a short's
down — closing is a buy), so a target is never short of the configured profit. A target is
reached when the price is at or beyond it: long `price ≥ target`, short `price ≤ target`.

Decisions (docs/decisions.md):
- a leg that is still working (partially filled) takes profit on what filled so far; the
  decision sets `cancel_remainder` so the rest of its entry order is cancelled first — the leg
  is done once its TP closed it;
- a leg close sells the leg's held quantity (filled − base-asset fee) rounded down to the step,
  capped by what the group holds; it may round to zero (dust): the caller marks the leg
  `tp_hit` without sending anything.

`trigger_price()` is the one number an index needs: for a long group the LOWEST target that
matters (the group needs evaluating once the price is ≥ it), for a short the HIGHEST (≤ it);
`None` when nothing is held. A monitor keeps longs and shorts of a symbol in two sorted sets
scored by it and, on a tick at price P, evaluates only longs scored ≤ P and shorts scored ≥ P.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from server.domain.aggregates import GroupAggregates, LegState, aggregate, sellable_quantity
from server.domain.decimals import plain_decimal
from server.domain.enums import PositionSide
from server.domain.exact import ZERO, as_decimal
from server.domain.grid import tp_price
from server.domain.precision import MarketRules

__all__ = [
    "LegClose",
    "TakeProfitDecision",
    "TpMode",
    "aggregate_target",
    "evaluate",
    "reached",
    "trigger_price",
]


class TpMode(StrEnum):
    PER_LEG = "per_leg"
    AGGREGATE = "aggregate"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class LegClose:
    """Close one leg's quantity at market: its TP was reached."""

    pyramid: int
    leg: int
    quantity: Decimal  # sellable, rounded down to the step; 0 = dust, mark tp_hit only
    tp_price: Decimal
    cancel_remainder: bool  # the entry order is still working: cancel its rest first


@dataclass(frozen=True)
class TakeProfitDecision:
    close_legs: tuple[LegClose, ...]
    close_all: bool  # aggregate TP: cancel every open order, close everything held
    aggregate_target: Decimal | None
    quantity: Decimal  # close_all: the group's sellable quantity; else Σ leg closes
    reason: str | None

    @property
    def triggered(self) -> bool:
        return self.close_all or bool(self.close_legs)


def _long(side: PositionSide | str) -> bool:
    return PositionSide(str(side).lower()) is PositionSide.LONG


def reached(side: PositionSide | str, target: Decimal | None, price: Decimal) -> bool:
    """Long: `price ≥ target`; short: `price ≤ target`; never for a missing target."""
    if target is None:
        return False
    return price >= target if _long(side) else price <= target


def aggregate_target(
    side: PositionSide | str, avg_entry: Decimal | None, percent: Decimal, tick: Decimal
) -> Decimal | None:
    """`weighted_avg_entry × (1 ± percent/100)` rounded to the tick toward the safe side."""
    if avg_entry is None:
        return None
    return tp_price(side, avg_entry, percent, tick)


def _leg_target(side: PositionSide | str, leg: LegState, tick: Decimal) -> Decimal:
    return tp_price(side, leg.avg_fill_price, leg.tp_percent, tick)


def _mode(mode: TpMode | str) -> TpMode:
    return TpMode(str(mode))


def trigger_price(
    side: PositionSide | str,
    legs: Iterable[LegState],
    *,
    mode: TpMode | str,
    aggregate_percent: Decimal,
    tick: Decimal,
    closed_quantity: Decimal = ZERO,
) -> Decimal | None:
    """The price at which the group must next be evaluated: a long's lowest relevant target,
    a short's highest; `None` when the group holds nothing."""
    legs = list(legs)
    mode = _mode(mode)
    targets: list[Decimal] = []
    if mode in (TpMode.PER_LEG, TpMode.HYBRID):
        targets += [_leg_target(side, leg, tick) for leg in legs if leg.is_open]
    if mode in (TpMode.AGGREGATE, TpMode.HYBRID):
        totals = aggregate(legs, closed_quantity)
        if totals.held_quantity > 0:
            target = aggregate_target(side, totals.weighted_avg_entry, aggregate_percent, tick)
            if target is not None:
                targets.append(target)
    if not targets:
        return None
    return min(targets) if _long(side) else max(targets)


def evaluate(
    side: PositionSide | str,
    legs: Iterable[LegState],
    price: Decimal,
    *,
    mode: TpMode | str,
    aggregate_percent: Decimal,
    rules: MarketRules,
    closed_quantity: Decimal = ZERO,
) -> TakeProfitDecision:
    """What the group must close at `price` (module docstring)."""
    legs = list(legs)
    mode = _mode(mode)
    price = as_decimal(price, "price")
    percent = as_decimal(aggregate_percent, "aggregate_percent")
    totals: GroupAggregates = aggregate(legs, closed_quantity)
    group_sellable = sellable_quantity(totals.held_quantity, rules.step_size)
    target = None
    if mode in (TpMode.AGGREGATE, TpMode.HYBRID) and totals.held_quantity > 0:
        target = aggregate_target(side, totals.weighted_avg_entry, percent, rules.tick_size)
        if reached(side, target, price):
            return TakeProfitDecision(
                close_legs=(),
                close_all=True,
                aggregate_target=target,
                quantity=group_sellable,
                reason=(
                    f"aggregate take-profit: price {plain_decimal(price)} reached "
                    f"{plain_decimal(target)} (weighted average entry "
                    f"{plain_decimal(totals.weighted_avg_entry)} "
                    f"{'+' if _long(side) else '−'} {plain_decimal(percent)} %)"
                ),
            )
    closes: list[LegClose] = []
    if mode in (TpMode.PER_LEG, TpMode.HYBRID):
        remaining = group_sellable
        for leg in sorted((leg for leg in legs if leg.is_open), key=lambda x: (x.pyramid, x.leg)):
            leg_target = _leg_target(side, leg, rules.tick_size)
            if not reached(side, leg_target, price):
                continue
            quantity = sellable_quantity(leg.held, rules.step_size, cap=remaining)
            remaining -= quantity
            closes.append(LegClose(leg.pyramid, leg.leg, quantity, leg_target, leg.working))
    if not closes:
        return TakeProfitDecision((), False, target, ZERO, None)
    listed = ", ".join(
        f"pyramid {c.pyramid} leg {c.leg} at {plain_decimal(c.tp_price)}" for c in closes
    )
    return TakeProfitDecision(
        close_legs=tuple(closes),
        close_all=False,
        aggregate_target=target,
        quantity=sum((c.quantity for c in closes), ZERO),
        reason=f"leg take-profit: price {plain_decimal(price)} reached {listed}",
    )
