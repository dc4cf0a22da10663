"""Where a signal goes (SPEC §2.1, §2.3): freshness, which account, which lane, what it means.

Pure: the caller passes `now`, the user's accounts and the open group; nothing here reads a
clock, a database or Redis.

- **Freshness**: `tv.time` older than `max_signal_age_seconds` is stale; more than
  `MAX_FUTURE_SKEW_SECONDS` in the future is refused too (a sender's clock that far off cannot
  be trusted for the age check either).
- **Account**: the user's active accounts of the signal's exchange; a perpetual ticker or a
  `market_type` hint picks futures, otherwise spot is preferred when the user has both. Two
  accounts that still fit are ambiguous (money must never go to a guessed account): the sender
  names one with `execution_intent.account`. Spot cannot short.
- **Lane**: signals of one position group (account, symbol, timeframe, side) share a lane and
  are processed strictly in arrival order, one at a time.
- **Classification** of SPEC §2.3 against the group that is open for the lane.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from server.domain.enums import MarketType, PositionSide
from server.domain.signals import SignalRequest

MAX_FUTURE_SKEW_SECONDS = 60


class Classification(StrEnum):
    """What a signal became, in the words of the webhook log (API.md)."""

    NEW_GROUP = "new_group"
    PYRAMID = "pyramid"
    QUEUED = "queued"
    REPLACED = "replaced"
    EXIT = "exit"
    CANCEL = "cancel"
    IGNORED = "ignored"
    REJECTED = "rejected"


# --------------------------------------------------------------------------- freshness


def freshness_problem(
    signal_time: datetime | None, now: datetime, max_age_seconds: int
) -> tuple[str, str] | None:
    """`("stale" | "future", reason)` when `tv.time` is unacceptable, else `None`.
    A signal without `tv.time` cannot be checked and passes (documented)."""
    if signal_time is None:
        return None
    age = (now - signal_time).total_seconds()
    if age > max_age_seconds:
        return (
            "stale",
            f"signal time {signal_time.isoformat()}Z is {int(age)} s old; signals older than "
            f"max_signal_age_seconds ({max_age_seconds} s) are not traded",
        )
    if -age > MAX_FUTURE_SKEW_SECONDS:
        return (
            "future",
            f"signal time {signal_time.isoformat()}Z is {int(-age)} s in the future (more than "
            f"{MAX_FUTURE_SKEW_SECONDS} s of clock skew); check the sender's clock",
        )
    return None


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountView:
    """What account choice needs to know about one of the user's active accounts."""

    id: str
    exchange: str
    market_type: str
    label: str


@dataclass(frozen=True)
class AccountChoice:
    account: AccountView | None
    reason: str | None = None  # why no account fits (the signal is rejected)


def _describe(accounts: list[AccountView]) -> str:
    return ", ".join(f"{a.label!r} ({a.exchange} {a.market_type})" for a in accounts)


def _pick_market(
    candidates: list[AccountView], wanted: str | None, exchange: str
) -> AccountChoice | list[AccountView]:
    if wanted is not None:
        fitting = [a for a in candidates if a.market_type == wanted]
        if not fitting:
            return AccountChoice(
                None, f"no active {exchange} {wanted} account; add one under Accounts"
            )
        return fitting
    spot = [a for a in candidates if a.market_type == MarketType.SPOT.value]
    return spot or candidates


def choose_account(request: SignalRequest, accounts: list[AccountView]) -> AccountChoice:
    """The account that trades `request`, or the reason none does."""
    if request.account_hint:
        hint = request.account_hint.lower()
        named = [a for a in accounts if a.id.lower() == hint or a.label.lower() == hint]
        if len(named) != 1:
            found = "no" if not named else f"{len(named)}"
            return AccountChoice(
                None, f"{found} active account named {request.account_hint!r} (label or id)"
            )
        candidates = named
    else:
        candidates = list(accounts)
    if not candidates:
        return AccountChoice(None, "no active exchange account; add one under Accounts")
    if request.exchange is not None:
        candidates = [a for a in candidates if a.exchange == request.exchange]
        if not candidates:
            return AccountChoice(
                None, f"no active {request.exchange} account; add one under Accounts"
            )
    elif len({a.exchange for a in candidates}) > 1:
        return AccountChoice(
            None,
            f"tv.exchange is missing and accounts on several exchanges could take the signal "
            f"({_describe(candidates)}); send {{{{exchange}}}} as tv.exchange",
        )
    picked = _pick_market(candidates, request.market_type, candidates[0].exchange)
    if isinstance(picked, AccountChoice):
        return picked
    if len(picked) > 1:
        return AccountChoice(
            None,
            f"{len(picked)} accounts fit ({_describe(picked)}); name one with "
            "execution_intent.account (its label or id)",
        )
    account = picked[0]
    if account.market_type == MarketType.SPOT.value and request.side == PositionSide.SHORT.value:
        return AccountChoice(
            None,
            f"a spot account cannot short ({account.label!r} is {account.exchange} spot); "
            "alert from the perpetual chart (.P) or set execution_intent.market_type futures",
        )
    return AccountChoice(account)


# --------------------------------------------------------------------------- lanes


def lane_of(account_id: str, symbol: str, timeframe: int, side: str) -> str:
    """The lane (position group key) a signal joins: account, symbol, timeframe and side."""
    return f"{account_id}:{symbol}:{timeframe}:{side}"


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class OpenGroup:
    """The open position group of a lane, as classification sees it."""

    id: str
    status: str
    pyramid_count: int
    max_pyramids: int


@dataclass(frozen=True)
class Decision:
    classification: Classification
    reason: str


def classify(intent: str, group: OpenGroup | None) -> Decision:
    """SPEC §2.3 for one signal of a lane whose open group (if any) is `group`."""
    if intent == "entry":
        if group is None:
            return Decision(Classification.NEW_GROUP, "no open group for this lane: a new group")
        if group.pyramid_count < group.max_pyramids:
            return Decision(
                Classification.PYRAMID,
                f"open group has {group.pyramid_count} of {group.max_pyramids} pyramids: "
                "adds a pyramid",
            )
        return Decision(
            Classification.IGNORED,
            f"open group already has {group.pyramid_count} of {group.max_pyramids} pyramids "
            "(max_pyramids): entry ignored",
        )
    if intent == "exit":
        if group is None:
            return Decision(Classification.IGNORED, "exit: no open group to close")
        return Decision(Classification.EXIT, "exit: closes the open group")
    if intent == "cancel":
        if group is None:
            return Decision(Classification.IGNORED, "cancel: no open group")
        return Decision(Classification.CANCEL, "cancel: cancels the group's unfilled DCA orders")
    raise ValueError(f"unknown intent {intent!r}")
