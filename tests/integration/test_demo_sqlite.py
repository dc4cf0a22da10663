"""`make run` as a newcomer meets it: `python -m server.devstack` on the embedded defaults
(SQLite, the local Redis, the exchange simulator, a demo user), the printed webhook pasted, and
a position with its DCA legs appears — and its orders reach the simulator.

Every other stack test runs on PostgreSQL; this one proves the engine's default database works
end to end (a PostgreSQL-only clause on the signal path once broke the demo and only this kind of
test would have caught it).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import RUN_ID, TEST_REDIS
from tests.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_LOGIN, DEMO_PASSWORD = "demo", "Demo-Passw0rd"


@pytest.fixture
def demo(tmp_path):
    """The demo stack in its own process group, with its own SQLite file, key prefix and ports."""
    port, sim_port = free_port(), free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'engine.db'}",
        "REDIS_URL": TEST_REDIS,
        "RQ_QUEUE_PREFIX": f"demo{RUN_ID}:",
        "EVENTS_CHANNEL": f"demo{RUN_ID}-events",
        "ENGINE_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "MAIL_OUTBOX": str(tmp_path / "outbox.jsonl"),
        "PORT": str(port),
        "SIMULATOR_PORT": str(sim_port),
        "SIMULATOR_URL": f"http://127.0.0.1:{sim_port}",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ENGINE_ENV": "development",
        "SOCKETIO_ASYNC_MODE": "gevent",
        "ENGINE_TEST_CRASH_POINT": "",
    }
    out = (tmp_path / "demo.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.devstack"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sim_port}", tmp_path / "demo.log"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


def _printed(log: Path, base_url: str, timeout: float = 120) -> tuple[str, str]:
    """The webhook URL and secret from the banner, once the web process answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text()
        url = re.search(r"webhook URL (\S+)", text)
        secret = re.search(r'"secret":"([^"]+)"', text)
        if url and secret:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/api/health", timeout=2).status_code in (200, 503):
                    return url.group(1), secret.group(1)
        time.sleep(0.5)
    raise AssertionError(f"the demo did not start:\n{log.read_text()[-4000:]}")


def test_make_run_demo_opens_a_position_from_the_printed_webhook(demo):
    base_url, sim_url, log = demo
    url, secret = _printed(log, base_url)
    body = {
        "secret": secret,
        "tv": {
            "exchange": "BINANCE",
            "symbol": "BTCUSDT",
            "timeframe": "60",
            "action": "buy",
            "market_position": "long",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "execution_intent": {"type": "entry", "side": "long", "strategy": "grid"},
    }
    r = httpx.post(url, json=body, timeout=10)
    assert r.status_code == 202, r.text

    login = httpx.post(
        f"{base_url}/api/auth/login", json={"login": DEMO_LOGIN, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    deadline, groups = time.monotonic() + 60, []
    while time.monotonic() < deadline and not groups:
        groups = httpx.get(f"{base_url}/api/positions", headers=headers).json()["items"]
        time.sleep(0.5)
    assert groups, f"no position appeared:\n{log.read_text()[-4000:]}"
    group = groups[0]
    assert (group["symbol"], group["side"]) == ("BTCUSDT", "long")
    assert group["status"] != "failed", group

    detail = httpx.get(f"{base_url}/api/positions/{group['id']}", headers=headers).json()
    legs = [leg for p in detail["pyramids"] for leg in p["legs"]]
    entries = [leg for leg in legs if leg["purpose"] == "entry"]
    assert len(entries) == group["total_dca_legs"] == 5  # the default grid: five legs
    # Every order (the entries, and a take-profit once a leg filled) is at the simulator.
    deadline, seen = time.monotonic() + 30, set()
    wanted = {leg["client_order_id"] for leg in legs}
    while time.monotonic() < deadline and not wanted <= seen:
        orders = httpx.get(f"{sim_url}/__sim/orders").json()["orders"]
        seen = {o["client_order_id"] for o in orders}
        time.sleep(0.5)
    assert wanted <= seen, f"legs not at the simulator: {sorted(wanted - seen)}"
