"""The risk engine at work (SPEC §6): read a user's open groups, ask `domain.risk.evaluate`,
keep the timers, record what it decided, and act.

- `projection(user)` — what `GET /api/risk` shows: every open group's risk line and the plan
  the engine would carry out now. Read-only: a timer whose start condition holds but that no
  evaluation has stored yet is decided as starting now and flagged `timer_pending` (it starts
  for real at the next evaluation, `next_run_at`).
- `run(user_id, trigger, actor_id)` — one evaluation (scheduled every
  `evaluation_interval_sec` by `run_due`, or Run Now): timers started/cleared in the
  database, a consumed skip-once cleared, and then either nothing, a *blocked* record, or an
  action:
  1. one `RiskAction` row (`outcome="executing"`) and one pending market order per winner
     (purpose `risk`, `reduce_only` on futures, deterministic client id — the attempt is the
     winner's count of earlier risk offsets) are stored in ONE transaction before anything
     is sent; the order ids are written into the action's plan;
  2. each winner, under its group lock: its resting leg TPs are cancelled (on spot they
     lock the coins), its offset order is sent (`orders.send`, or `orders.resend` — which
     asks the exchange for the client id first — when an earlier run already tried), and
     read until final; its realised USD (the change of the group's realised PnL, SPEC §7)
     is recorded on the action;
  3. a winner whose offset was refused or did not fill stops the action:
     `winner_close_failed`, the loser is NOT closed;
  4. otherwise the loser is closed by the one close routine (`closing.close_group`,
     trigger `risk`) and the action ends `executed` with the loser's realised PnL and the
     action's net.
  An action left `executing` by a crash is resumed by the next run of that user before
  anything new is decided: its orders exist already, so a retry never closes twice.
- Blocked evaluations (a loser without enough winners, a worst group held back by a rule,
  a skip-once consumed) are recorded — but a scheduled evaluation whose blocked state is the
  same as the user's last record (same outcome, rule and loser) writes nothing: an unchanged
  state is not a new fact every minute. Run Now always records.
- `status(user_id)` — the dashboard's `{enabled, last_run_at, next_run_at, last_action}`.
- `risk.updated` (after every run and every control) is a notice, not the panel:
  `{user_id, cause, outcome, enabled, last_run_at, next_run_at}` (docs/api.md). The panel of
  5,000 groups costs a second evaluation and a 2.6 MB message; the page that shows it
  re-reads `GET /api/risk` when told, and nobody else pays for it.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from peewee import fn

from server import events, runtime
from server.clock import isoformat, utcnow
from server.domain import risk as rules
from server.domain.decimals import plain_decimal
from server.domain.enums import LogCategory, LogLevel, OrderPurpose, OrderStatus
from server.domain.exact import ZERO, add
from server.domain.grid import exit_side
from server.domain.precision import round_qty_down
from server.exchange.errors import ExchangeError
from server.heap import collector_paused
from server.persistence.db import db, is_postgres, plain_rows
from server.persistence.models import (
    DcaOrder,
    ExchangeAccount,
    PositionGroup,
    RiskAction,
    User,
)
from server.services import closing, engine_state, group_state, orders, trail
from server.services.group_lock import group_lock
from server.services.journal import after_commit, system_log
from server.services.position_book import TRADING, WORKING, is_futures, load, reindex
from server.services.precision import rules_for
from server.services.settings import effective_settings
from server.state.locks import Locks

log = logging.getLogger(__name__)

__all__ = [
    "RiskBusy",
    "action_out",
    "projection",
    "run",
    "run_due",
    "set_control",
    "status",
]

EXECUTING = "executing"
EXECUTED = "executed"
WINNER_FAILED = "winner_close_failed"
LOSER_FAILED = "loser_close_failed"
BLOCKED = "blocked"
SKIPPED = "skipped"
NO_ACTION = "no_action"
RUN_LOCK_MS = 300_000
FILL_WAIT_SECONDS = 5.0


class RiskBusy(RuntimeError):
    """Another evaluation of the same user is running."""


# --------------------------------------------------------------------------- reading


def settings_of(user: User) -> rules.RiskSettings:
    return rules.RiskSettings.of(effective_settings(user)["risk"])


# What the decision reads of a group, split in two: the columns that change (read at every
# evaluation) and the facts fixed when the group is created (side, created_at, max_pyramids,
# symbol, timeframe, account — read once per group and process, `_static_facts`). Ids are
# cast to text in SQL: parsing 10,000 UUIDs would cost more than the decision itself.
_CHANGING = (
    PositionGroup.id.cast("text"), PositionGroup.pyramid_count, PositionGroup.total_dca_legs,
    PositionGroup.filled_dca_legs, PositionGroup.unrealized_pnl_usd,
    PositionGroup.unrealized_pnl_percent, PositionGroup.weighted_avg_entry,
    PositionGroup.last_price, PositionGroup.total_filled_quantity, PositionGroup.risk_blocked,
    PositionGroup.risk_skip_once, PositionGroup.risk_timer_started_at, PositionGroup.status,
)  # fmt: skip
_FIXED = (
    PositionGroup.id.cast("text"), PositionGroup.side, PositionGroup.created_at,
    PositionGroup.max_pyramids, PositionGroup.symbol, PositionGroup.timeframe,
    PositionGroup.account.cast("text"),
)  # fmt: skip
# A group's cached facts: these, then its market's key (account id, symbol).
_SIDE, _CREATED, _MAX_PYRAMIDS, _SYMBOL, _TIMEFRAME, _ACCOUNT, _MARKET = range(7)

# user id → {group id → its fixed facts}. Never stale: a group's id is a random UUID and
# nothing changes those columns while the group is open (services.positions sets them when
# it creates the group; the account is only cleared by deleting the account, which is
# refused while it has open groups), so the only invalidation is forgetting the groups that
# are no longer open (`_FACTS_SLACK`).
_FACTS: dict[str, dict[str, tuple]] = {}
_FACTS_SLACK = 256  # closed groups forgotten once this many have piled up

# market key → (kept until, by time.monotonic(); market-order step; minimum quantity)
_MARKET_RULES: dict[str, tuple[float, Decimal, Decimal]] = {}
MARKET_RULES_TTL_SEC = 60.0


def _trading(user_id):
    return (PositionGroup.user == user_id) & (PositionGroup.status.in_(list(TRADING)))


def _open_groups(user_id) -> list[tuple]:
    """The user's trading groups, oldest first, as tuples of `_CHANGING` (one round trip)."""
    query = (
        PositionGroup.select(*_CHANGING).where(_trading(user_id)).order_by(PositionGroup.created_at)
    )
    return plain_rows(query, _CHANGING)


def _static_facts(user_id, ids: list[str], alive: list[str] | None = None) -> dict[str, tuple]:
    """Group id → (side, created_at, max_pyramids, symbol, timeframe, account id, its market
    key) for `ids`, from this process's cache; the groups it has not seen yet are read
    (first evaluation: all of them, later: the groups opened since). `alive`: every open
    group of the user when `ids` are only some of them (the others stay cached)."""
    alive = ids if alive is None else alive
    key = str(user_id)
    known = _FACTS.get(key, {})
    missing = [gid for gid in ids if gid not in known]
    if missing:
        known = dict(known)  # a new dict: a concurrent reader keeps a consistent one
        for at in range(0, len(missing), 1000):
            query = PositionGroup.select(*_FIXED).where(
                PositionGroup.id.in_(missing[at : at + 1000])
            )
            known.update((row[0], (*row[1:], _market_key(row[-1], row[4])))
                         for row in plain_rows(query, _FIXED))  # fmt: skip
    if len(known) > len(alive) + _FACTS_SLACK:
        known = {gid: known[gid] for gid in alive if gid in known}
    if missing or known is not _FACTS.get(key):
        _FACTS[key] = known
    return known


def _market_key(account_id: str | None, symbol: str) -> str:
    """'<account id> <symbol>', one shared (interned) string per market: it is looked up
    twice per group and evaluation, and a string keeps its hash (a tuple computes it anew)."""
    return sys.intern(f"{account_id or ''} {symbol}")


def _pending_legs(user_id) -> dict:
    """Group id → its entry legs still `pending` (one grouped query over the user's groups)."""
    rows = (
        DcaOrder.select(DcaOrder.group, fn.COUNT(DcaOrder.id))
        .join(PositionGroup, on=(DcaOrder.group == PositionGroup.id))
        .where(
            _trading(user_id)
            & (DcaOrder.purpose == OrderPurpose.ENTRY.value)
            & (DcaOrder.status == OrderStatus.PENDING.value)
        )
        .group_by(DcaOrder.group)
        .tuples()
    )
    return {str(gid): n for gid, n in rows}


def _market_rules(markets: set) -> tuple[dict, dict]:
    """For each market (`_market_key`): the market-order quantity step and minimum, as two
    maps; (1e-8, 0) when unknown (the quantity is re-checked against the real rules before
    anything is sent). Rules read from the precision cache are kept `MARKET_RULES_TTL_SEC`
    in the process: a market's step changes a few times a year, and every offset order
    reads the rules again when it is created (`_offset_order`)."""
    steps: dict = {}
    minimums: dict = {}
    clock = time.monotonic()
    unknown = []
    for key in markets:
        kept = _MARKET_RULES.get(key)
        if kept is not None and kept[0] > clock:
            steps[key], minimums[key] = kept[1], kept[2]
        else:
            unknown.append(key)
    if not unknown:
        return steps, minimums
    accounts = {
        str(a.id): a
        for a in ExchangeAccount.select().where(
            ExchangeAccount.id.in_(list({key.split(" ")[0] for key in unknown} - {""}))
        )
    }
    for key in unknown:
        account, symbol = key.split(" ", 1)
        try:
            step, min_qty, _ = rules_for(accounts[account], symbol).quantity_rules("market")
            _MARKET_RULES[key] = (clock + MARKET_RULES_TTL_SEC, step, min_qty)
        except Exception as exc:  # the projection must not fail on one market
            log.warning("risk: no market rules for %s: %s", symbol, exc)
            step, min_qty = Decimal("0.00000001"), ZERO
        steps[key], minimums[key] = step, min_qty
    return steps, minimums


def view_of(group, pending: int, market: tuple) -> rules.GroupView:
    """A `PositionGroup` as the risk engine sees it."""
    return rules.GroupView(
        group_id=str(group.id),
        side=group.side,
        created_at=group.created_at,
        pyramid_count=group.pyramid_count,
        max_pyramids=group.max_pyramids,
        total_dca_legs=group.total_dca_legs,
        filled_dca_legs=group.filled_dca_legs,
        pending_dca_legs=pending,
        unrealized_pnl_usd=group.unrealized_pnl_usd or ZERO,
        unrealized_pnl_percent=group.unrealized_pnl_percent or ZERO,
        weighted_avg_entry=group.weighted_avg_entry,
        price=group.last_price,
        held_quantity=group.total_filled_quantity or ZERO,
        step=market[0],
        min_qty=market[1],
        blocked=group.risk_blocked,
        skip_once=group.risk_skip_once,
        timer_started_at=group.risk_timer_started_at,
        symbol=group.symbol,
        timeframe=group.timeframe,
        status=group.status,
    )


def _views(rows: list[tuple], known: dict, pending: dict, steps: dict, minimums: dict):
    """`_open_groups` rows and their fixed facts as `GroupView`s (positional arguments: this
    runs 5,000 times an evaluation); a row without facts (deleted between the two reads) is
    left out."""
    view, zero = rules.GroupView, ZERO
    return [
        view(r[0], f[_SIDE], f[_CREATED], r[1], f[_MAX_PYRAMIDS], r[2], r[3],
             pending.get(r[0], 0), r[4] or zero, r[5] or zero, r[6], r[7], r[8] or zero,
             steps[f[_MARKET]], minimums[f[_MARKET]], r[9], r[10], r[11], f[_SYMBOL],
             f[_TIMEFRAME], r[12])
        for r in rows
        if (f := known.get(r[0])) is not None
    ]  # fmt: skip


def _evaluate(user: User, now: datetime):
    """(views, settings, plan) for the user's open groups at `now`: one query for what
    changes, the fixed facts from the process's cache, the pending legs only when the timer
    waits for every leg to be sent (the only rule that reads them), the market rules (kept a
    minute in the process), then the decision — with the garbage collector paused, so no pass
    lands inside."""
    settings = settings_of(user)
    with collector_paused():  # ~12,000 container objects, no cycles (server/heap.py)
        rows = _open_groups(user.id)
        known = _static_facts(user.id, [r[0] for r in rows])
        markets = {f[_MARKET] for r in rows if (f := known.get(r[0])) is not None}
        pending = (
            _pending_legs(user.id)
            if settings.timer_start_condition == "after_all_dca_submitted"
            else {}
        )
        views = _views(rows, known, pending, *_market_rules(markets))
        plan = rules.evaluate(views, settings, now)
    return views, settings, plan


# The scheduled evaluation's read (PostgreSQL): every trading group's timer counts, and the
# figures of only the groups that can change the plan (domain.risk, "What a plan depends
# on"): those at or below the loss threshold whose stored timer has expired, and the first
# `max_winners_to_combine + 1` winner candidates in `_winners`' order. The figures of the
# others come back NULL (no Decimal built). ONE statement, so the timers and the choice are
# read from one snapshot. `OFFSET 0` keeps the subquery from being flattened, so `matters`
# is worked out once per group, not once per CASE (PostgreSQL's time stays that of a plain
# read, ~3 ms; the winner candidates are one InitPlan). The comparisons are PostgreSQL's on
# NUMERIC (exact); uuids sort in the order of their text, as the decision sorts ids.
_FIGURES = ("unrealized_pnl_usd", "unrealized_pnl_percent", "weighted_avg_entry", "last_price",
            "total_filled_quantity", "risk_blocked", "risk_skip_once", "risk_timer_started_at",
            "status")  # fmt: skip
_DECIDE_SQL = f"""
WITH offering AS (
    SELECT id FROM position_group
    WHERE user_id = %(user)s::uuid AND status IN %(trading)s
      AND NOT risk_blocked AND unrealized_pnl_usd > 0 AND last_price IS NOT NULL
      AND weighted_avg_entry IS NOT NULL AND total_filled_quantity > 0
    ORDER BY unrealized_pnl_usd DESC, created_at, id
    LIMIT %(winners)s
)
SELECT id::text, pyramid_count, total_dca_legs, filled_dca_legs,
       {", ".join(f"CASE WHEN matters THEN {c} END" for c in _FIGURES)},
       max_pyramids, risk_timer_started_at IS NOT NULL, matters
FROM (
    SELECT *, (
        COALESCE(unrealized_pnl_percent, 0) <= %(threshold)s
        AND (risk_timer_started_at <= %(expired_by)s
             OR (risk_timer_started_at IS NULL AND %(no_wait)s))
    ) OR id = ANY(ARRAY(SELECT id FROM offering)) AS matters
    FROM position_group WHERE user_id = %(user)s::uuid AND status IN %(trading)s
    OFFSET 0
) AS g
"""  # noqa: S608 — no input is formatted in: the columns are the constants above
_ROW_MAX_PYRAMIDS, _ROW_TIMED, _ROW_MATTERS = 13, 14, 15  # after `_CHANGING`'s thirteen


def _decide(user: User, now: datetime) -> tuple[dict, rules.Plan]:
    """What one scheduled evaluation (or Run Now) needs: ({new timer start or None: the
    group ids to set to it}, the plan). Every open group's timer is checked
    (`rules.timer_holds` on its counts); only the groups that can change the choice are
    turned into `GroupView`s for `rules.evaluate` — the same function, on fewer groups, the
    same plan (tests/integration/test_risk_scheduled_read.py compares it with `_evaluate`
    on random books). Nothing of what changes is cached, so a write committed before the
    statement is always seen. SQLite keeps decimals as text (no comparing them in SQL): there
    every group is read (`_evaluate`)."""
    if not is_postgres():
        views, _settings, plan = _evaluate(user, now)
        return _timer_changes(views, plan), plan
    settings = settings_of(user)
    params = {
        "user": str(user.id),
        "trading": tuple(sorted(TRADING)),
        "winners": settings.max_winners_to_combine + 1,
        "threshold": settings.loss_threshold_percent,
        "expired_by": rules.expired_by(settings, now),
        "no_wait": settings.post_full_wait_minutes <= 0,
    }
    condition, holds = settings.timer_start_condition, rules.timer_holds
    with collector_paused():
        rows = db.execute_sql(_DECIDE_SQL, params).fetchall()
        pending = _pending_legs(user.id) if condition == "after_all_dca_submitted" else {}
        started, cleared, chosen = [], [], []
        for r in rows:
            timed, group_id = r[_ROW_TIMED], r[0]
            now_holds = holds(condition, r[1], r[_ROW_MAX_PYRAMIDS], r[2], r[3],
                              pending.get(group_id, 0))  # fmt: skip
            if now_holds != timed:
                (cleared if timed else started).append(group_id)
            if r[_ROW_MATTERS]:
                chosen.append(r)
        known = _static_facts(user.id, [r[0] for r in chosen], [r[0] for r in rows])
        markets = {f[_MARKET] for r in chosen if (f := known.get(r[0])) is not None}
        views = _views(chosen, known, pending, *_market_rules(markets))
        plan = rules.evaluate(views, settings, now)
    changes = {now: started} if started else {}
    if cleared:
        changes[None] = cleared
    return changes, plan


# --------------------------------------------------------------------------- shapes


def _money(value) -> str | None:
    return None if value is None else plain_decimal(value)


def plan_out(plan: rules.Plan) -> dict:
    return {
        "loser": plan.loser,
        "loser_loss_percent": _money(plan.loser_loss_percent),
        "required_usd": _money(plan.required_usd),
        "winners": [
            {
                "group_id": w.group_id,
                "close_quantity": _money(w.close_quantity),
                "close_usd": _money(w.close_usd),
                "covered_usd": _money(w.covered_usd),
                "profit_usd": _money(w.profit_usd),
                "price": _money(w.price),
                "avg_entry": _money(w.avg_entry),
                "capped": w.capped,
            }
            for w in plan.winners
        ],
        "covered_usd": _money(plan.covered_usd),
        "will_act": plan.will_act,
        "reason": plan.reason,
        "skip_consumed": list(plan.skip_consumed),
        "held_back": plan.held_back,
        "held_back_rule": plan.held_back_rule,
    }


def _row_out(row: rules.GroupRisk, view: rules.GroupView) -> dict:
    return {
        "group_id": row.group_id,
        "symbol": view.symbol,
        "timeframe": view.timeframe,
        "side": view.side,
        "status": view.status,
        "pyramid_count": view.pyramid_count,
        "max_pyramids": view.max_pyramids,
        "loss_percent": _money(row.loss_percent),
        "loss_usd": _money(row.loss_usd),
        "timer_started_at": isoformat(row.timer_started_at),
        "timer_expires_at": isoformat(row.timer_expires_at),
        "timer_expired": row.timer_expired,
        "pyramids_reached": row.pyramids_reached,
        "age_filter_passed": row.age_filter_passed,
        "eligible": row.eligible,
        "blocked": row.blocked,
        "skip_once": row.skip_once,
        "reasons": list(row.reasons),
        "is_winner_candidate": view.unrealized_pnl_usd > 0 and not row.blocked,
        # the condition holds but no evaluation has stored the timer: it starts at the next
        "timer_pending": row.timer_started_at is not None and view.timer_started_at is None,
    }


def action_out(action: RiskAction) -> dict:
    return {
        "id": str(action.id),
        "created_at": isoformat(action.created_at),
        "loser": str(action.loser_id) if action.loser_id else None,
        "trigger": action.trigger,
        "triggered_by": str(action.triggered_by_id) if action.triggered_by_id else None,
        "outcome": action.outcome,
        "reason": action.reason,
        "required_usd": _money(action.required_usd),
        "covered_usd": _money(action.covered_usd),
        "plan": action.plan,
    }


def projection(user: User) -> dict:
    """`GET /api/risk`: every open group's risk line and the projected plan."""
    now = utcnow()
    views, settings, plan = _evaluate(user, now)
    by_id = {v.group_id: v for v in views}
    return {
        "enabled": settings.enabled,
        "settings": {
            k: _money(v) if isinstance(v, Decimal) else v for k, v in asdict(settings).items()
        },
        "evaluated_at": isoformat(now),
        "groups": [_row_out(r, by_id[r.group_id]) for r in plan.groups],
        "plan": plan_out(plan),
        **status(user.id),
    }


# --------------------------------------------------------------------------- bookkeeping


def _timer_changes(views: list[rules.GroupView], plan: rules.Plan) -> dict:
    """{new timer start or None: group ids} for the groups whose stored timer the plan
    starts or clears (timers started by one evaluation all start at its `now`)."""
    changed: dict = {}
    for view in views:
        started = plan.timers.get(view.group_id)
        if started != view.timer_started_at:
            changed.setdefault(started, []).append(view.group_id)
    return changed


def _store_timers(changed: dict) -> None:
    """Start and clear timers (`_decide`): one UPDATE per new value and 1,000 groups."""
    for started, ids in changed.items():
        for at in range(0, len(ids), 1000):
            PositionGroup.update(risk_timer_started_at=started).where(
                PositionGroup.id.in_(ids[at : at + 1000])
            ).execute()


def _blocked_record(plan: rules.Plan) -> tuple[str, str, str | None] | None:
    """(outcome, reason, loser) of an evaluation a rule stopped, or None."""
    if plan.skip_consumed:
        return SKIPPED, rules.SKIP_ONCE, plan.skip_consumed[0]
    if plan.loser is not None and not plan.will_act:
        return BLOCKED, plan.reason, plan.loser
    if plan.held_back is not None:
        return BLOCKED, plan.held_back_rule, plan.held_back
    return None


def _same_as_last(user_id, outcome: str, reason: str, loser: str | None) -> bool:
    last = (
        RiskAction.select()
        .where(RiskAction.user == user_id)
        .order_by(RiskAction.created_at.desc())
        .first()
    )
    return (
        last is not None
        and last.outcome == outcome
        and last.reason == reason
        and (str(last.loser_id) if last.loser_id else None) == loser
    )


def _publish_action(action: RiskAction) -> None:
    payload, user_id = action_out(action), action.user_id
    after_commit(lambda: events.publish(events.Event.RISK_ACTION, payload, user_id))


def _publish_updated(user_id, cause: str, outcome: str | None = None) -> None:
    """`risk.updated`: the panel moved — `cause` the run's trigger (`scheduled`, `manual`) or
    the control (`block`, `unblock`, `skip`), `outcome` the run's. A notice, not the panel
    (module docstring): whoever shows the panel re-reads it."""
    try:
        payload = {"user_id": str(user_id), "cause": cause, "outcome": outcome,
                   **_schedule(User.get_by_id(user_id))}  # fmt: skip
    except Exception:  # an event must never fail the evaluation
        log.exception("risk.updated not built")
        return
    events.publish(events.Event.RISK_UPDATED, payload, user_id)


def _label(group_id) -> str:
    group = PositionGroup.get_or_none(PositionGroup.id == group_id)
    return trail.label(group) if group else str(group_id)


# --------------------------------------------------------------------------- running


def _locks() -> Locks:
    return Locks(runtime.redis_client(), current_app.config["RQ_QUEUE_PREFIX"])


def _last_run_key(user_id) -> str:
    return f"{current_app.config['RQ_QUEUE_PREFIX']}risk:last-run:{user_id}"


def run(user_id, trigger: str = "scheduled", actor_id=None) -> dict:
    """One evaluation of the user's groups (module docstring). Returns
    `{outcome, reason, action, plan}`; `RiskBusy` when another one is running."""
    locks, name = _locks(), f"risk-run:{user_id}"
    token = locks.acquire(name, RUN_LOCK_MS)
    if token is None:
        raise RiskBusy("a risk evaluation is already running for this user")
    try:
        user = User.get_by_id(user_id)
        unfinished = (
            RiskAction.select()
            .where((RiskAction.user == user.id) & (RiskAction.outcome == EXECUTING))
            .order_by(RiskAction.created_at)
        )
        pause = engine_state.pause_of(user.id)
        if pause is None:
            for action in unfinished:
                _execute(action)
        result = _run_once(user, trigger, actor_id, pause)
    finally:
        # when the evaluation ended (the next one is due `evaluation_interval_sec` later)
        runtime.redis_client().set(_last_run_key(user_id), utcnow().isoformat(), ex=7 * 86400)
        locks.release(name, token)
    _publish_updated(user_id, trigger, result["outcome"])
    return result


def _run_once(user: User, trigger: str, actor_id, pause: dict | None = None) -> dict:
    now = utcnow()
    if pause is not None:  # nothing may be sent: an offset would wait and go out later alone
        with db.atomic():
            timers, plan = _decide(user, now)
            _store_timers(timers)
        reason = f"trading is paused: {pause.get('reason', 'paused')}"
        return {"outcome": NO_ACTION, "reason": reason, "action": None, "plan": plan_out(plan)}
    with db.atomic():
        timers, plan = _decide(user, now)
        _store_timers(timers)
        if plan.skip_consumed:
            PositionGroup.update(risk_skip_once=False).where(
                PositionGroup.id.in_(list(plan.skip_consumed))
            ).execute()
        record = _blocked_record(plan)
        action = None
        if not plan.will_act and record is not None:
            outcome, reason, loser = record
            if (
                trigger != "scheduled"
                or outcome == SKIPPED
                or not _same_as_last(user.id, outcome, reason, loser)
            ):
                action = _record(user, plan, trigger, actor_id, outcome, reason, loser)
    if plan.will_act:
        action = _start(user, plan, trigger, actor_id)
        action = _execute(action)
    doc = plan_out(plan)
    if action is None:
        return {"outcome": NO_ACTION, "reason": plan.reason, "action": None, "plan": doc}
    return {"outcome": action.outcome, "reason": action.reason, "action": action_out(action),
            "plan": doc}  # fmt: skip


def _record(user, plan, trigger, actor_id, outcome, reason, loser) -> RiskAction:
    action = RiskAction.create(
        user=user.id, loser=loser, trigger=trigger, triggered_by=actor_id, outcome=outcome,
        reason=reason, required_usd=plan.required_usd if plan.loser else None,
        covered_usd=plan.covered_usd if plan.loser else None, plan=plan_out(plan),
    )  # fmt: skip
    words = {
        rules.SKIP_ONCE: "skip-once consumed",
        rules.INSUFFICIENT: (
            f"winners cover {plain_decimal(plan.covered_usd)} of "
            f"{plain_decimal(plan.required_usd)} USD; waiting"
        ),
        rules.NO_WINNERS: "no winning position to offset it; waiting",
    }.get(reason, f"held back by the rule {reason}")
    system_log(LogLevel.INFO, LogCategory.RISK, f"risk: {_label(loser)} not closed: {words}",
               user_id=user.id, group_id=loser, outcome=outcome, rule=reason)  # fmt: skip
    _publish_action(action)
    return action


def _start(user: User, plan: rules.Plan, trigger: str, actor_id) -> RiskAction:
    """Step 1: the action, stored before any order exists."""
    with db.atomic():
        action = RiskAction.create(
            user=user.id, loser=plan.loser, trigger=trigger, triggered_by=actor_id,
            outcome=EXECUTING, required_usd=plan.required_usd, covered_usd=plan.covered_usd,
            plan=plan_out(plan),
        )  # fmt: skip
        system_log(
            LogLevel.WARNING, LogCategory.RISK,
            f"risk: closing {_label(plan.loser)} ({plain_decimal(plan.loser_loss_percent)} %, "
            f"{plain_decimal(plan.required_usd)} USD) against {len(plan.winners)} winner(s)",
            user_id=user.id, group_id=plan.loser, trigger=trigger,
        )  # fmt: skip
    return action


def _offset_order(action: RiskAction, doc: dict, pick: dict) -> DcaOrder:
    """The winner's pending offset order, created with its deterministic client id and
    written into the action's plan in ONE transaction (so a retry finds it and never makes
    a second one). Created only when its turn comes: an order is never left pending for a
    winner whose turn a failure cancelled (the fill monitor re-sends pending orders)."""
    if pick.get("order_id"):
        return DcaOrder.get_by_id(pick["order_id"])
    with db.atomic():
        group = group_state.lock_group(pick["group_id"])
        account = ExchangeAccount.get_by_id(group.account_id)
        step = rules_for(account, group.symbol).quantity_rules("market")[0]
        book = load(group)
        quantity = min(Decimal(pick["close_quantity"]), round_qty_down(book.held(), step))
        if quantity <= 0:
            raise ValueError(f"{trail.label(group)} holds nothing to sell any more")
        order = orders.new_order(
            group, None, None, OrderPurpose.RISK_OFFSET, exit_side(group.side), "market",
            quantity, price=Decimal(pick["price"]), reduce_only=is_futures(account),
            attempt=book.next_attempt(book.risk_orders),
        )  # fmt: skip
        pick.update(order_id=str(order.id), client_order_id=order.client_order_id,
                    quantity=plain_decimal(quantity), status=order.status,
                    realised_before=plain_decimal(book.realised().total))  # fmt: skip
        action.plan = doc
        action.save()
    return order


def _send_offset(order: DcaOrder) -> DcaOrder:
    """Send (or, after an earlier try, look up and re-send) until it is no longer pending,
    then read it until final."""
    order = orders.send(order.id) if not order.send_count else orders.resend(order.id)
    for pause in (0.2, 0.5, 1.0):
        if order.status != OrderStatus.PENDING.value:
            break
        time.sleep(pause)
        order = orders.resend(order.id)
    deadline = time.monotonic() + FILL_WAIT_SECONDS
    pause = 0.05
    while order.status in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value):
        if time.monotonic() >= deadline:
            return orders.cancel(order.id, "risk offset did not fill in time")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
        order = orders.sync(order.id)
    return order


def _nothing_left(group: PositionGroup, book) -> bool:
    """The offset sold every sellable unit of the winner (what is left is below the step)."""
    account = ExchangeAccount.get_by_id(group.account_id)
    step = rules_for(account, group.symbol).quantity_rules("market")[0]
    return round_qty_down(book.held(), step) == 0


def _close_winner(action: RiskAction, doc: dict, pick: dict) -> DcaOrder:
    """Step 2 for one winner, under its group lock."""
    with group_lock(pick["group_id"]):
        group = PositionGroup.get_by_id(pick["group_id"])
        order = _offset_order(action, doc, pick)
        if order.status == OrderStatus.PENDING.value:
            # resting leg TPs lock the coins on spot (and would oversell on futures); with
            # the offset stored, the TP hook no longer re-places them (take_profit._needs_tp)
            for tp in load(group).working():
                if tp.purpose == OrderPurpose.TAKE_PROFIT.value:
                    orders.cancel(tp.id, "risk offset: the group is partly closed")
        if order.status in WORKING:
            order = _send_offset(order)
        book = load(PositionGroup.get_by_id(group.id))
        total = book.realised().total
        with db.atomic():
            fresh = group_state.lock_group(group.id)
            fresh.realized_pnl_usd = total
            fresh.save()
            _, actions = group_state.recompute_in_tx(group.id)
        group_state.run(actions)
        reindex(PositionGroup.get_by_id(group.id), book)
        if order.status == OrderStatus.FILLED.value and _nothing_left(group, book):
            closing.close_group(group.id, "fully used to offset a loser", "risk")
    pick.update(
        status=order.status,
        filled_quantity=plain_decimal(order.filled_quantity or ZERO),
        avg_fill_price=_money(order.avg_fill_price),
        fee=plain_decimal(order.fee or ZERO),
        failure_reason=order.failure_reason or order.last_error,
    )
    pick["realised_usd"] = plain_decimal(add(total, -Decimal(pick["realised_before"])))
    return order


def _execute(action: RiskAction) -> RiskAction:
    """Steps 2–4 (module docstring); resumable."""
    doc = dict(action.plan)
    for pick in doc["winners"]:
        if pick.get("status") in (OrderStatus.FILLED.value,):
            continue
        try:
            order = _close_winner(action, doc, pick)
        except (ValueError, ExchangeError) as exc:
            pick["status"] = "failed"
            pick["failure_reason"] = str(exc)
            return _end(action, doc, WINNER_FAILED,
                        f"winner {_label(pick['group_id'])} not closed: {exc}")  # fmt: skip
        action.plan = doc
        action.save()
        if order.status != OrderStatus.FILLED.value:
            why = order.failure_reason or order.last_error or f"the offset is {order.status}"
            if order.status in WORKING:  # never let it go out later without the loser's close
                order = orders.cancel(order.id, "risk action stopped")
                pick["status"] = order.status
            return _end(action, doc, WINNER_FAILED,
                        f"winner {_label(pick['group_id'])} not closed: {why}")  # fmt: skip
    try:
        loser = closing.close_group(action.loser_id, "loser offset by winners", "risk")
    except Exception as exc:  # recorded; the close routine resumes `closing`
        log.exception("risk: loser close failed")
        return _end(action, doc, LOSER_FAILED, f"loser close did not finish: {exc}")
    doc["loser_realised_usd"] = plain_decimal(loser.realized_pnl_usd or ZERO)
    doc["loser_status"] = loser.status
    if loser.status != "closed":
        return _end(action, doc, LOSER_FAILED, f"loser is {loser.status}")
    return _end(action, doc, EXECUTED, None)


def _end(action: RiskAction, doc: dict, outcome: str, reason: str | None) -> RiskAction:
    winners = add(*(Decimal(p.get("realised_usd") or "0") for p in doc["winners"]))
    doc["winners_realised_usd"] = plain_decimal(winners)
    if "loser_realised_usd" in doc:
        doc["net_realised_usd"] = plain_decimal(add(winners, Decimal(doc["loser_realised_usd"])))
    with db.atomic():
        action.plan = doc
        action.outcome = outcome
        action.reason = reason
        action.save()
        level = LogLevel.WARNING if outcome == EXECUTED else LogLevel.ERROR
        message = (
            f"risk: {_label(action.loser_id)} closed by the risk engine; winners realised "
            f"{plain_decimal(winners)} USD, loser {doc.get('loser_realised_usd')} USD"
            if outcome == EXECUTED
            else f"risk: action stopped ({outcome}): {reason}"
        )
        system_log(level, LogCategory.RISK, message, user_id=action.user_id,
                   group_id=str(action.loser_id), outcome=outcome,
                   alert=outcome != EXECUTED)  # fmt: skip
        _publish_action(action)
    return action


# --------------------------------------------------------------------------- schedule


def _last_run(user_id) -> datetime | None:
    """When the user's last evaluation ended (kept in Redis by `run`), or None."""
    raw = runtime.redis_client().get(_last_run_key(user_id))
    if raw is None:
        return None
    return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)


def _next_run(user_id, interval: int) -> datetime | None:
    last = _last_run(user_id)
    return None if last is None else last + timedelta(seconds=interval)


def _schedule(user: User) -> dict:
    """`{enabled, last_run_at, next_run_at}`: the user's evaluations, past and next (none
    next while the engine is disabled)."""
    settings = settings_of(user)
    last = _last_run(user.id)
    upcoming = _next_run(user.id, settings.evaluation_interval_sec) if settings.enabled else None
    return {
        "enabled": settings.enabled,
        "last_run_at": isoformat(last),
        "next_run_at": isoformat(upcoming),
    }


def run_due() -> dict[str, int]:
    """The scheduler's job: evaluate every user with open groups whose
    `evaluation_interval_sec` has passed since their last evaluation."""
    now = utcnow()
    stats = {"evaluated": 0, "acted": 0, "busy": 0, "failed": 0}
    users = (
        User.select()
        .join(PositionGroup, on=(PositionGroup.user == User.id))
        .where(PositionGroup.status.in_(list(TRADING)))
        .distinct()
    )
    for user in users:
        settings = settings_of(user)
        if not settings.enabled:
            continue
        due = _next_run(user.id, settings.evaluation_interval_sec)
        if due is not None and due > now:
            continue
        try:
            result = run(user.id, "scheduled")
        except RiskBusy:
            stats["busy"] += 1
            continue
        except Exception:  # one user's failure must not stop the others
            log.exception("risk evaluation failed for %s", user.id)
            stats["failed"] += 1
            continue
        stats["evaluated"] += 1
        stats["acted"] += result["outcome"] in (EXECUTED, WINNER_FAILED, LOSER_FAILED)
    return stats


def status(user_id) -> dict:
    """The dashboard's risk block: `{enabled, last_run_at, next_run_at, last_action}`."""
    action = (
        RiskAction.select()
        .where(RiskAction.user == user_id)
        .order_by(RiskAction.created_at.desc())
        .first()
    )
    return {
        **_schedule(User.get_by_id(user_id)),
        "last_action": action_out(action) if action else None,
    }


# --------------------------------------------------------------------------- controls


def set_control(group: PositionGroup, control: str, actor: User) -> PositionGroup:
    """Block / unblock / skip-once one group (audited by the caller); `risk.updated` after."""
    values = {
        "block": {"risk_blocked": True},
        "unblock": {"risk_blocked": False},
        "skip": {"risk_skip_once": True},
    }[control]
    with db.atomic():
        PositionGroup.update(**values, updated_at=utcnow()).where(
            PositionGroup.id == group.id
        ).execute()
        group = PositionGroup.get_by_id(group.id)
        words = {"block": "blocked", "unblock": "unblocked", "skip": "marked skip once"}[control]
        system_log(LogLevel.INFO, LogCategory.RISK,
                   f"risk: {trail.label(group)} {words} by {actor.username}",
                   user_id=group.user_id, group_id=str(group.id))  # fmt: skip
    _publish_updated(group.user_id, control)
    return group
