"""The engine's vocabulary as string enums, shared by models, API, events and the SPA."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """User roles, weakest first (SPEC §8)."""

    VIEWER = "viewer"
    TRADER = "trader"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


ROLE_ORDER = (Role.VIEWER, Role.TRADER, Role.MANAGER, Role.ADMIN)


class GroupStatus(StrEnum):
    """Position group life cycle (SPEC §4.1)."""

    WAITING = "waiting"
    LIVE = "live"
    PARTIALLY_FILLED = "partially_filled"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


OPEN_GROUP_STATUSES = (
    GroupStatus.WAITING,
    GroupStatus.LIVE,
    GroupStatus.PARTIALLY_FILLED,
    GroupStatus.ACTIVE,
    GroupStatus.CLOSING,
)
FINISHED_GROUP_STATUSES = (GroupStatus.CLOSED, GroupStatus.FAILED)
# SPEC §4.1: a group holds a pool slot from `live` until `closed`/`failed` (not while `waiting`).
SLOT_HOLDING_STATUSES = tuple(s for s in OPEN_GROUP_STATUSES if s is not GroupStatus.WAITING)


class OrderStatus(StrEnum):
    """Exchange order life cycle (SPEC §4.2)."""

    PENDING = "pending"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # The exchange has no record of it after RECONCILE_LOST_AFTER lookups (reconciliation,
    # docs/decisions.md): no longer working, still watched, recovered if it turns up again.
    LOST = "lost"


class OrderPurpose(StrEnum):
    """Why an order exists; part of its deterministic client order id."""

    ENTRY = "entry"
    TAKE_PROFIT = "tp"
    CLOSE = "close"
    RISK_OFFSET = "risk"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class Exchange(StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"


class MarketType(StrEnum):
    SPOT = "spot"
    FUTURES = "futures"


class AccountMode(StrEnum):
    SIMULATED = "simulated"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class WebhookOutcome(StrEnum):
    """What became of one webhook request, as shown in the webhook log."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNAUTHORIZED = "unauthorized"
    STALE = "stale"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"


class LogCategory(StrEnum):
    """System log categories (SPEC §8)."""

    SECURITY = "SECURITY"
    TRADING = "TRADING"
    RISK = "RISK"
    WEBHOOK = "WEBHOOK"
    ORDER = "ORDER"
    PRECISION = "PRECISION"
    SYSTEM = "SYSTEM"
    API = "API"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"
