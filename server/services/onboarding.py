"""The first-login tour (issue #9 "Onboarding"): where a new trader stands, the simulator
account offered to them, and a test signal that travels the real webhook path.

Progress is read from what the user has really done, so the tour resumes wherever they left
it, on any device:

1. `exchange_key` — an active account whose connectivity check passed;
2. `capital`      — settings saved at least once (capital and max positions chosen);
3. `webhook`      — a webhook of theirs reached the engine (any outcome);
4. `test_signal`  — a position group exists on one of their simulated accounts.

The test signal is built as TradingView renders the entry template (docs/tradingview.md), with
the user's own secret, naming their simulated account in `execution_intent.account` (so it can
never reach a live account), and handed to `intake.receive` — the function behind
`POST /api/webhook/<user_id>` — so it meets every check a real alert meets (IP allowlist, rate
limits, freshness, validation, account choice) and is logged in the webhook log.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from server.api.errors import ApiError
from server.devstack import SIM_DEMO_KEY, SIM_DEMO_SECRET
from server.domain.enums import AccountMode
from server.persistence.models import ExchangeAccount, PositionGroup, User, WebhookLog
from server.services import accounts, intake
from server.services.settings import current_record
from server.services.users import webhook_secret, webhook_url

SIMULATOR_LABEL = "Simulator (practice)"
# The simulator funds this key with 10,000 USDT on every venue (server/simulator/control.py);
# the same key `make run` gives the demo user.
SIMULATOR_KEY, SIMULATOR_SECRET = SIM_DEMO_KEY, SIM_DEMO_SECRET
TEST_SYMBOL = "BTCUSDT"
TEST_TIMEFRAME = "15"
STEPS = ("exchange_key", "capital", "webhook", "test_signal")


def _active_accounts(user: User):
    return ExchangeAccount.select().where(
        (ExchangeAccount.user == user.id) & (ExchangeAccount.is_active == True)  # noqa: E712
    )


def simulator_account(user: User) -> ExchangeAccount | None:
    """The user's newest active simulated account, if any."""
    return (
        _active_accounts(user)
        .where(ExchangeAccount.mode == AccountMode.SIMULATED.value)
        .order_by(ExchangeAccount.created_at.desc())
        .first()
    )


def _test_group(user: User) -> PositionGroup | None:
    return (
        PositionGroup.select()
        .join(ExchangeAccount, on=(PositionGroup.account == ExchangeAccount.id))
        .where(
            (PositionGroup.user == user.id) & (ExchangeAccount.mode == AccountMode.SIMULATED.value)
        )
        .order_by(PositionGroup.created_at.desc())
        .first()
    )


def progress(user: User) -> dict:
    """`GET /api/onboarding`: each step done or not, and what the tour shows."""
    validated = [
        a for a in _active_accounts(user) if a.last_validated_at and not a.last_validation_error
    ]
    record = current_record(user)
    webhook = WebhookLog.select().where(WebhookLog.user == user.id).exists()
    group = _test_group(user)
    sim = simulator_account(user)
    done = {
        "exchange_key": bool(validated),
        "capital": record.version > 0,
        "webhook": webhook,
        "test_signal": group is not None,
    }
    current = next((step for step in STEPS if not done[step]), None)
    return {
        "steps": [{"key": step, "done": done[step]} for step in STEPS],
        "current": current,
        "complete": current is None,
        "has_account": _active_accounts(user).exists(),
        "simulator_account": (
            {
                "id": str(sim.id),
                "label": sim.label,
                "exchange": sim.exchange,
                "market_type": sim.market_type,
                "valid": not sim.last_validation_error,
                "error": sim.last_validation_error,
            }
            if sim
            else None
        ),
        "settings": {
            "version": record.version,
            "total_capital_usd": record.document["capital"]["total_capital_usd"],
            "max_open_groups": record.document["pool"]["max_open_groups"],
        },
        "webhook_url": webhook_url(user),
        "test_group": (
            {
                "id": str(group.id),
                "symbol": group.symbol,
                "status": group.status,
                "account_id": str(group.account_id),
            }
            if group
            else None
        ),
    }


def add_simulator_account(user: User, remote_addr: str | None):
    """The practice account on the local exchange simulator (Binance spot dialect), added like
    any account — stored encrypted, then the real connectivity check. An active simulated
    account the user has already is reused. Returns (account, validation, created)."""
    existing = simulator_account(user)
    if existing is not None:
        return existing, accounts.validate_account(existing, user, remote_addr), False
    account, result = accounts.add_account(
        user,
        {
            "exchange": "binance",
            "market_type": "spot",
            "mode": AccountMode.SIMULATED.value,
            "api_key": SIMULATOR_KEY,
            "api_secret": SIMULATOR_SECRET,
            "label": SIMULATOR_LABEL,
        },
        remote_addr,
    )
    return account, result, True


def _tv_exchange(account: ExchangeAccount) -> str:
    return account.exchange.upper()


def test_signal_body(user: User, account: ExchangeAccount, symbol: str) -> bytes:
    """A long entry as TradingView renders the docs' entry template, for `account` only."""
    ticker = symbol if account.market_type == "spot" else f"{symbol}.P"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "secret": webhook_secret(user),
        "signal_id": f"onboarding-test-{uuid.uuid4()}",
        "tv": {
            "exchange": _tv_exchange(account),
            "symbol": ticker,
            "timeframe": TEST_TIMEFRAME,
            "action": "buy",
            "time": now,
        },
        "execution_intent": {"type": "entry", "side": "long", "account": str(account.id)},
    }
    return json.dumps(doc).encode()


def send_test_signal(user: User, remote_addr: str | None, symbol: str = TEST_SYMBOL):
    """Send the test entry to the user's own simulated account through the webhook intake.
    409 when they have none (the tour offers to add it)."""
    account = simulator_account(user)
    if account is None:
        raise ApiError(
            409,
            "add the simulator account first (step 1): test signals only go to a simulated "
            "account, never to a live one",
            "no_simulator_account",
        )
    raw = test_signal_body(user, account, symbol)
    result = intake.receive(
        str(user.id), raw, too_large=False, signature=None, remote_addr=remote_addr
    )
    return account, result
