"""Configuration read entirely from environment variables.

Every variable and its default is listed in `.env.example`. One checkout can run several
isolated stacks side by side (tests, benchmarks) because nothing is hard-wired: database,
Redis, ports and keys all come from the environment.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


class BaseConfig:
    """Settings shared by every environment; read at instantiation so tests can vary env."""

    ENV_NAME = "base"
    TESTING = False
    DEBUG = False
    BCRYPT_ROUNDS = 12
    DEFAULT_ASYNC_MODE = "gevent"  # the web process runs under gunicorn's gevent worker

    def __init__(self) -> None:
        self.DATABASE_URL = _env("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'engine.db'}")
        self.REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.PORT = _env_int("PORT", 5000)
        self.SIMULATOR_PORT = _env_int("SIMULATOR_PORT", 8900)
        self.SIMULATOR_HOST = _env("SIMULATOR_HOST", "127.0.0.1")  # loopback only by default
        self.SIMULATOR_URL = _env("SIMULATOR_URL", f"http://127.0.0.1:{self.SIMULATOR_PORT}")
        self.EXCHANGE_TIMEOUT_MS = _env_int("EXCHANGE_TIMEOUT_MS", 10_000)
        self.PRECISION_REFRESH_SEC = _env_int("PRECISION_REFRESH_SEC", 60)
        self.PAPER_START_BALANCE_USDT = Decimal(_env("PAPER_START_BALANCE_USDT", "10000"))
        self.PAPER_MARKET_DATA = _env("PAPER_MARKET_DATA", "live")  # live | simulated
        if self.PAPER_MARKET_DATA not in ("live", "simulated"):
            raise RuntimeError(
                f"PAPER_MARKET_DATA must be live or simulated, not {self.PAPER_MARKET_DATA!r}"
            )
        self.SECRET_KEY = _env("SECRET_KEY", "dev-only-change-me")
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY", self.SECRET_KEY)
        self.ENGINE_MASTER_KEY = os.environ.get("ENGINE_MASTER_KEY") or None
        self.ENGINE_MASTER_KEY_FILE = _env(
            "ENGINE_MASTER_KEY_FILE", str(ROOT / "var" / "master.key")
        )
        self.PUBLIC_URL = _env("PUBLIC_URL", f"http://127.0.0.1:{self.PORT}")
        self.REGISTRATION = _env("REGISTRATION", "open")  # open | invite
        self.TRUSTED_PROXIES = _env_list("TRUSTED_PROXIES")
        self.RATELIMIT_ENABLED = _env("RATELIMIT_ENABLED", "1") == "1"
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
        self.REGISTER_RATE_LIMIT = _env("REGISTER_RATE_LIMIT", "5 per minute")
        # Webhooks (docs/decisions.md "Signals"): every request per client address, accepted
        # requests per user, and failed authentications per (address, webhook URL).
        self.WEBHOOK_RATE_LIMIT_ADDRESS = _env("WEBHOOK_RATE_LIMIT_ADDRESS", "3000 per minute")
        self.WEBHOOK_RATE_LIMIT_USER = _env("WEBHOOK_RATE_LIMIT_USER", "600 per minute")
        self.WEBHOOK_AUTH_FAILURE_LIMIT = _env("WEBHOOK_AUTH_FAILURE_LIMIT", "20 per minute")
        self.SIGNAL_LANE_SWEEP_SEC = _env_int("SIGNAL_LANE_SWEEP_SEC", 10)
        # Orders (docs/decisions.md "Position lifecycle"): the fill monitor's period, when a
        # pending order is looked up and re-sent under its client id, and how long one send
        # may hold its order's lock (a dead sender's lock expires after this).
        self.FILL_MONITOR_SEC = _env_int("FILL_MONITOR_SEC", 2)
        self.ORDER_RESEND_AFTER_SEC = _env_int("ORDER_RESEND_AFTER_SEC", 10)
        self.ORDER_SEND_LOCK_MS = _env_int(
            "ORDER_SEND_LOCK_MS", self.EXCHANGE_TIMEOUT_MS * 3 + 5_000
        )
        # Reconciliation (docs/decisions.md "Reconciliation"): its period (it also runs when a
        # worker starts or one died) and after how many passes an order the exchange cannot
        # find is marked `lost`.
        self.RECONCILE_SEC = _env_int("RECONCILE_SEC", 60)
        self.RECONCILE_LOST_AFTER = _env_int("RECONCILE_LOST_AFTER", 3)
        # The exchange request budget shared by every worker (server/exchange/throttle.py): how
        # long a request may wait for room before it fails as rate limited, and whether the
        # budgets also apply to simulated accounts (off: the simulator has no limits).
        self.EXCHANGE_BUDGET_MAX_WAIT_MS = _env_int("EXCHANGE_BUDGET_MAX_WAIT_MS", 2_000)
        self.EXCHANGE_BUDGET_SIMULATED = _env("EXCHANGE_BUDGET_SIMULATED", "0") == "1"
        # Test-only (honoured only when ENGINE_ENV=test): comma-separated points of
        # `services.orders` where a worker dies (os._exit) once the test has armed the point.
        self.ENGINE_TEST_CRASH_POINT = _env("ENGINE_TEST_CRASH_POINT", "")
        # Closing side (docs/decisions.md "Closing and take-profit"): how often the price
        # monitor reads one batched ticker per venue (the close must reach the exchange within
        # 1 s of a crossing), the take-profit sweep, and equity snapshots.
        self.PRICE_MONITOR_MS = _env_int("PRICE_MONITOR_MS", 500)
        self.TP_SWEEP_SEC = _env_int("TP_SWEEP_SEC", 5)
        self.EQUITY_SNAPSHOT_SEC = _env_int("EQUITY_SNAPSHOT_SEC", 300)
        # Risk engine: how often the scheduler looks for users whose own
        # `evaluation_interval_sec` has passed (docs/decisions.md "Risk engine").
        self.RISK_SWEEP_SEC = _env_int("RISK_SWEEP_SEC", 5)
        # Pool and queue (docs/decisions.md "Pool and queue"): the queue sweep re-scores,
        # expires and promotes (SPEC §5: "a periodic sweep, default every 5 s").
        self.QUEUE_SWEEP_SEC = _env_int("QUEUE_SWEEP_SEC", 5)
        # Test and chaos knob: a random 0..N ms pause while a worker holds a lane (default 0).
        self.SIGNAL_PROCESSING_JITTER_MS = _env_int("SIGNAL_PROCESSING_JITTER_MS", 0)
        self.RQ_QUEUE_PREFIX = _env("RQ_QUEUE_PREFIX", "")
        self.WEBAPP_DIST = _env("WEBAPP_DIST", str(ROOT / "webapp" / "dist"))
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        self.MAIL_OUTBOX = _env("MAIL_OUTBOX", str(ROOT / "var" / "outbox.jsonl"))
        self.EVENTS_CHANNEL = _env("EVENTS_CHANNEL", "engine-events")
        self.SOCKETIO_ASYNC_MODE = _env("SOCKETIO_ASYNC_MODE", self.DEFAULT_ASYNC_MODE)
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL
        self.RATELIMIT_KEY_PREFIX = f"{self.RQ_QUEUE_PREFIX}limiter"
        self.RATELIMIT_STRATEGY = "moving-window"  # no burst of 2x the limit at a boundary

    # Token lifetimes (SPEC §8): short access tokens, refresh tokens for a day.
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=1)
    JWT_TOKEN_LOCATION = ("headers",)
    MAX_CONTENT_LENGTH = 1024 * 1024
    PASSWORD_RESET_TTL = timedelta(hours=1)
    SCHEDULER_STALE_SECONDS = 60


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    DEBUG = False


class TestConfig(BaseConfig):
    ENV_NAME = "test"
    TESTING = True
    BCRYPT_ROUNDS = 4  # bcrypt's minimum; keeps the suite fast, production stays at 12
    DEFAULT_ASYNC_MODE = "threading"  # in-process test clients are not monkey-patched


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        if self.SECRET_KEY == "dev-only-change-me":
            raise RuntimeError("SECRET_KEY must be set in production")


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> BaseConfig:
    """Return the config object for `name` or for $ENGINE_ENV (default development)."""
    name = name or _env("ENGINE_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"unknown ENGINE_ENV {name!r}; use one of {sorted(CONFIGS)}") from None
