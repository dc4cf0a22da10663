"""The risk engine's decision (SPEC §6): timers, the loser, the winners that pay for it.

Pure: no database, no clock, no exchange. The service reads every open group of a user into
a `GroupView`, calls `evaluate(views, settings, now)` and gets a `Plan` back; the same call
drives execution, the projected plan in the risk panel and the tests.

- **Timer** (`timer_state`): starts when `timer_start_condition` holds for a group —
  `after_max_pyramids`: `pyramid_count ≥ max_pyramids`; `after_all_dca_submitted`: every DCA
  leg of every pyramid so far has left `pending` (sent, whatever became of it);
  `after_all_dca_filled`: every DCA leg so far is filled. The group may become the loser
  `post_full_wait_minutes` later. When the condition stops holding (a new pyramid adds
  unsent or unfilled legs) the timer is cleared and starts again when it holds again.
- **Eligible loser**: timer expired; `loss % ≤ loss_threshold_percent`; full pyramids when
  `require_full_pyramids`; age ≥ `min_age_minutes` (0: off); not blocked; not skip-once.
- **Selection**: lowest loss %, then the larger loss in USD, then the older group, then the
  id (a total order, so two evaluations of the same data always pick the same group). A
  skip-once group that would have been selected is *consumed* (`Plan.skip_consumed`) and the
  next eligible group is selected instead.
- **Winners**: the other trading groups with unrealised USD > 0, not blocked, by profit in
  USD (then older, then id), at most `max_winners_to_combine`. For each in order:
  `close_usd = min(profit, remaining)`, `close_qty = close_usd / |price − avg_entry|`
  rounded UP to the market step (at least the market minimum quantity) but never above what
  the winner can sell (its held quantity rounded down to the step). What that quantity
  realises at the price (`qty × |price − avg_entry|`) is what it covers.
- It **acts** only when the winners cover `required_usd = |loser loss USD|` in full, or, with
  `allow_partial_offset`, when at least one winner covers something.

**What a plan depends on** (what lets the scheduled evaluation hand `evaluate` only the groups
that can matter, `services.risk._decide`): the loser, the skip-once groups consumed and the
group held back all lack `above_loss_threshold`, `timer_not_started` and `timer_running` —
so each has `loss % ≤ loss_threshold_percent` and a timer expired at `now`, i.e. a stored
start at or before `expired_by(settings, now)` (or no stored start and a wait of 0: a timer
starting now has expired). The winners are the first `max_winners_to_combine` candidates in
their order once the loser is left out — always among the first `max_winners_to_combine + 1`
candidates of all groups. The other groups change the plan only through their own timers
(`timer_holds`), never through the choice.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from server.domain.exact import ZERO, add, mul
from server.domain.precision import round_qty_down, round_qty_up

__all__ = [
    "TIMER_CONDITIONS",
    "GroupRisk",
    "GroupView",
    "Plan",
    "RiskSettings",
    "WinnerPick",
    "evaluate",
    "expired_by",
    "timer_condition_holds",
    "timer_holds",
    "timer_state",
    "winner_quantity",
]

TIMER_CONDITIONS = ("after_max_pyramids", "after_all_dca_submitted", "after_all_dca_filled")

# Why a group is not an eligible loser, in the order the rules are checked (API field values).
TIMER_NOT_STARTED = "timer_not_started"
TIMER_RUNNING = "timer_running"
ABOVE_THRESHOLD = "above_loss_threshold"
PYRAMIDS_NOT_FULL = "pyramids_not_full"
TOO_YOUNG = "age_filter"
BLOCKED = "blocked"
SKIP_ONCE = "skip_once"
NOTHING_HELD = "nothing_held"

# Why a plan does not act.
DISABLED = "disabled"
NO_LOSER = "no_eligible_loser"
NO_WINNERS = "no_winners"
INSUFFICIENT = "insufficient_winners"


@dataclass(frozen=True)
class RiskSettings:
    """The risk section of the settings document (SPEC §9), as Python values."""

    enabled: bool = True
    loss_threshold_percent: Decimal = Decimal("-5")
    require_full_pyramids: bool = True
    timer_start_condition: str = "after_all_dca_filled"
    post_full_wait_minutes: int = 60
    min_age_minutes: int = 0
    max_winners_to_combine: int = 3
    allow_partial_offset: bool = False
    evaluation_interval_sec: int = 60

    def __post_init__(self) -> None:
        if self.timer_start_condition not in TIMER_CONDITIONS:
            raise ValueError(f"unknown timer_start_condition {self.timer_start_condition!r}")

    @classmethod
    def of(cls, section: Mapping[str, Any]) -> RiskSettings:
        """From the validated settings section (decimals may arrive as text)."""
        known = {name: section[name] for name in cls.__dataclass_fields__ if name in section}
        if "loss_threshold_percent" in known:
            known["loss_threshold_percent"] = Decimal(str(known["loss_threshold_percent"]))
        return cls(**known)


@dataclass(slots=True)
class GroupView:
    """What the risk engine needs to know of one open group (read by the service)."""

    group_id: str
    side: str  # long | short
    created_at: datetime
    pyramid_count: int
    max_pyramids: int
    total_dca_legs: int
    filled_dca_legs: int
    pending_dca_legs: int  # legs not sent yet
    unrealized_pnl_usd: Decimal
    unrealized_pnl_percent: Decimal
    weighted_avg_entry: Decimal | None
    price: Decimal | None  # the last price the engine saw
    held_quantity: Decimal  # what the group can still sell
    step: Decimal  # market-order quantity step
    min_qty: Decimal = ZERO
    blocked: bool = False
    skip_once: bool = False
    timer_started_at: datetime | None = None
    # Shown in the risk panel, never read by the rules:
    symbol: str = ""
    timeframe: int = 0
    status: str = ""


@dataclass(slots=True)
class TimerState:
    holds: bool
    started_at: datetime | None
    expires_at: datetime | None
    expired: bool


@dataclass(slots=True)
class GroupRisk:
    """One group's line in the risk panel."""

    group_id: str
    loss_percent: Decimal
    loss_usd: Decimal
    timer_started_at: datetime | None
    timer_expires_at: datetime | None
    timer_expired: bool
    pyramids_reached: bool
    age_filter_passed: bool
    eligible: bool
    blocked: bool
    skip_once: bool
    reasons: tuple[str, ...]  # why it is not eligible (empty when it is)


@dataclass(frozen=True)
class WinnerPick:
    group_id: str
    profit_usd: Decimal  # its unrealised profit
    close_usd: Decimal  # min(profit, remaining)
    close_quantity: Decimal  # rounded up to the step, capped at what it holds
    covered_usd: Decimal  # what that quantity realises at the price (before fees)
    price: Decimal
    avg_entry: Decimal
    capped: bool  # the quantity was capped at what the winner holds


@dataclass(frozen=True)
class Plan:
    """What the engine would do now (and does, when `will_act`)."""

    groups: tuple[GroupRisk, ...] = ()
    loser: str | None = None
    loser_loss_percent: Decimal | None = None
    required_usd: Decimal = ZERO
    winners: tuple[WinnerPick, ...] = ()
    covered_usd: Decimal = ZERO
    will_act: bool = False
    reason: str | None = None
    skip_consumed: tuple[str, ...] = ()
    # The worst group past its timer and threshold that a rule keeps from being the loser
    # (blocked, pyramids, age) — recorded as a blocked evaluation.
    held_back: str | None = None
    held_back_rule: str | None = None
    timers: dict[str, datetime | None] = field(default_factory=dict)


# --------------------------------------------------------------------------- timer


def timer_condition_holds(view: GroupView, condition: str) -> bool:
    """Does the group meet the timer's start condition now (module docstring)?"""
    return timer_holds(condition, view.pyramid_count, view.max_pyramids, view.total_dca_legs,
                       view.filled_dca_legs, view.pending_dca_legs)  # fmt: skip


def timer_holds(condition: str, pyramid_count: int, max_pyramids: int, total_dca_legs: int,
                filled_dca_legs: int, pending_dca_legs: int) -> bool:  # fmt: skip
    """`timer_condition_holds` on the five counts it reads (the scheduled evaluation asks it
    for every open group without building a `GroupView`)."""
    if condition == "after_max_pyramids":
        return pyramid_count >= max_pyramids
    if total_dca_legs <= 0:
        return False
    if condition == "after_all_dca_submitted":
        return pending_dca_legs == 0
    if condition == "after_all_dca_filled":
        return filled_dca_legs >= total_dca_legs
    raise ValueError(f"unknown timer_start_condition {condition!r}")


def expired_by(settings: RiskSettings, now: datetime) -> datetime:
    """The latest stored timer start that has expired at `now` (module docstring)."""
    return now - timedelta(minutes=settings.post_full_wait_minutes)


def timer_state(view: GroupView, settings: RiskSettings, now: datetime) -> TimerState:
    """The timer as it stands at `now`: started now when the condition has just come true,
    cleared when it no longer holds."""
    holds = timer_condition_holds(view, settings.timer_start_condition)
    if not holds:
        return TimerState(False, None, None, False)
    started = view.timer_started_at or now
    expires = started + timedelta(minutes=settings.post_full_wait_minutes)
    return TimerState(True, started, expires, now >= expires)


# --------------------------------------------------------------------------- winners


def winner_quantity(
    close_usd: Decimal,
    price: Decimal,
    avg_entry: Decimal,
    held: Decimal,
    step: Decimal,
    min_qty: Decimal = ZERO,
) -> tuple[Decimal, bool]:
    """`close_usd / |price − avg_entry|` rounded UP to the step (at least `min_qty`), never
    above `held` rounded down to the step. Returns (quantity, capped)."""
    move = abs(add(price, -avg_entry))
    most = round_qty_down(held, step)
    if move == 0 or close_usd <= 0:
        return ZERO, False
    wanted = round_qty_up(close_usd / move, step)
    if min_qty > 0 and wanted < min_qty:
        wanted = round_qty_up(min_qty, step)
    if wanted > most:
        return most, True
    return wanted, False


def _profit_of(quantity: Decimal, price: Decimal, avg_entry: Decimal) -> Decimal:
    return mul(quantity, abs(add(price, -avg_entry)))


def _winners(
    views: Iterable[GroupView], loser: str, required: Decimal, cap: int
) -> tuple[list[WinnerPick], Decimal]:
    candidates = [
        v
        for v in views
        if v.group_id != loser
        and not v.blocked
        and v.unrealized_pnl_usd > 0
        and v.price is not None
        and v.weighted_avg_entry is not None
        and v.held_quantity > 0
    ]
    ranked = heapq.nsmallest(
        cap, candidates, key=lambda v: (-v.unrealized_pnl_usd, v.created_at, v.group_id)
    )
    picks: list[WinnerPick] = []
    covered = ZERO
    for view in ranked:
        remaining = add(required, -covered)
        if remaining <= 0:
            break
        close_usd = min(view.unrealized_pnl_usd, remaining)
        qty, capped = winner_quantity(
            close_usd, view.price, view.weighted_avg_entry, view.held_quantity, view.step,
            view.min_qty,
        )  # fmt: skip
        if qty <= 0:
            continue
        realises = _profit_of(qty, view.price, view.weighted_avg_entry)
        picks.append(WinnerPick(view.group_id, view.unrealized_pnl_usd, close_usd, qty,
                                realises, view.price, view.weighted_avg_entry, capped))  # fmt: skip
        covered = add(covered, min(realises, remaining))
    return picks, covered


# --------------------------------------------------------------------------- evaluation


# A group's reasons as a bit set, in the order the rules are checked; each set of reasons is
# one shared tuple (5,000 groups share a handful of them: no tuple built per group).
_REASON_BITS = (NOTHING_HELD, TIMER_NOT_STARTED, TIMER_RUNNING, ABOVE_THRESHOLD,
                PYRAMIDS_NOT_FULL, TOO_YOUNG, BLOCKED, SKIP_ONCE)  # fmt: skip
_REASONS = tuple(
    tuple(r for bit, r in enumerate(_REASON_BITS) if mask >> bit & 1)
    for mask in range(1 << len(_REASON_BITS))
)
_SKIP_ONCE_ONLY = 1 << _REASON_BITS.index(SKIP_ONCE)


def _group_risk(view: GroupView, settings: RiskSettings, now: datetime, wait: timedelta,
                min_age: timedelta | None) -> GroupRisk:  # fmt: skip
    """One group's line: its timer and every rule it fails (the hot loop: 5,000 groups in
    a few milliseconds, hence the plain local arithmetic and the reasons as bits)."""
    mask = 0 if view.held_quantity > 0 else 1  # NOTHING_HELD
    started = expires = None
    expired = False
    if timer_holds(settings.timer_start_condition, view.pyramid_count, view.max_pyramids,
                   view.total_dca_legs, view.filled_dca_legs, view.pending_dca_legs):  # fmt: skip
        started = view.timer_started_at or now
        expires = started + wait
        expired = now >= expires
        if not expired:
            mask |= 4  # TIMER_RUNNING
    else:
        mask |= 2  # TIMER_NOT_STARTED
    if view.unrealized_pnl_percent > settings.loss_threshold_percent:
        mask |= 8  # ABOVE_THRESHOLD
    full = view.pyramid_count >= view.max_pyramids
    if not full and settings.require_full_pyramids:
        mask |= 16  # PYRAMIDS_NOT_FULL
    age = min_age is None or now - view.created_at >= min_age
    if not age:
        mask |= 32  # TOO_YOUNG
    if view.blocked:
        mask |= 64  # BLOCKED
    if view.skip_once:
        mask |= 128  # SKIP_ONCE
    return GroupRisk(view.group_id, view.unrealized_pnl_percent, view.unrealized_pnl_usd,
                     started, expires, expired, full, age, not mask, view.blocked,
                     view.skip_once, _REASONS[mask])  # fmt: skip


def _loser_order(view: GroupView) -> tuple:
    """Lowest loss % first, then the larger loss in USD, then the older group."""
    return (view.unrealized_pnl_percent, view.unrealized_pnl_usd, view.created_at, view.group_id)


_HOLD_BACK_RULES = (BLOCKED, PYRAMIDS_NOT_FULL, TOO_YOUNG)


def evaluate(views: Iterable[GroupView], settings: RiskSettings, now: datetime) -> Plan:
    """The plan for one user's open groups at `now` (module docstring)."""
    views = list(views)
    wait = timedelta(minutes=settings.post_full_wait_minutes)
    min_age = timedelta(minutes=settings.min_age_minutes) if settings.min_age_minutes > 0 else None
    rows = tuple([_group_risk(v, settings, now, wait, min_age) for v in views])
    started = {r.group_id: r.timer_started_at for r in rows}
    if not settings.enabled:
        return Plan(groups=rows, reason=DISABLED, timers=started)
    # eligible, and eligible but for skip-once
    skip_only = _REASONS[_SKIP_ONCE_ONLY]
    eligible = [v for v, r in zip(views, rows, strict=True) if r.eligible]
    skipping = [v for v, r in zip(views, rows, strict=True) if r.reasons == skip_only]
    loser = min(eligible, key=_loser_order) if eligible else None
    skipped = [
        v.group_id
        for v in sorted(skipping, key=_loser_order)
        if loser is None or _loser_order(v) < _loser_order(loser)
    ]
    if loser is None:
        held_back, rule = _held_back(views, {r.group_id: r for r in rows})
        return Plan(groups=rows, reason=NO_LOSER, skip_consumed=tuple(skipped),
                    held_back=held_back, held_back_rule=rule, timers=started)  # fmt: skip
    required = abs(loser.unrealized_pnl_usd)
    winners, covered = _winners(views, loser.group_id, required, settings.max_winners_to_combine)
    if not winners:
        reason, act = NO_WINNERS, False
    elif covered >= required or settings.allow_partial_offset:
        reason, act = None, True
    else:
        reason, act = INSUFFICIENT, False
    return Plan(
        groups=rows,
        loser=loser.group_id,
        loser_loss_percent=loser.unrealized_pnl_percent,
        required_usd=required,
        winners=tuple(winners),
        covered_usd=covered,
        will_act=act,
        reason=reason,
        skip_consumed=tuple(skipped),
        timers=started,
    )


def _held_back(views: list[GroupView], risk: dict[str, GroupRisk]) -> tuple[str | None, str | None]:
    """The worst group past its timer and threshold that only a rule (blocked, pyramids, age)
    keeps from being the loser, and that rule."""
    for view in sorted(views, key=_loser_order):
        reasons = set(risk[view.group_id].reasons)
        if not reasons or reasons & {TIMER_NOT_STARTED, TIMER_RUNNING, ABOVE_THRESHOLD,
                                     NOTHING_HELD}:  # fmt: skip
            continue
        rule = next((r for r in _HOLD_BACK_RULES if r in reasons), None)
        if rule is not None:
            return view.group_id, rule
    return None, None
