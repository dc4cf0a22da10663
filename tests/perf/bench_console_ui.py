"""Benchmark: is the console responsive with 5,000 open groups and 50 live events a second?
(Run as a script; not collected by pytest. About 50 s.)

    .venv/bin/python tests/perf/bench_console_ui.py [--groups 5000] [--rate 50]
                                [--seconds 8] [--json out.json]

Sets up a fresh PostgreSQL database and its own Redis prefix, one trader with `--groups` open
position groups (written straight to the database), and the real web process (gunicorn +
gevent, serving the built SPA). Headless Chromium (Playwright) logs in and, for the Dashboard
and then the Positions page (the newest 1,000 groups: GET /api/positions' cap), records for
`--seconds` while a write-only Socket.IO emitter — the one the workers use, through the Redis
message queue — sends `--rate` events a second to the trader's room: `group.updated` with a
changed unrealised PnL for a random group (9 in 10) and a WARNING `log.created` line (1 in 10).

Measured in the page:
- frame times from `requestAnimationFrame` (p50 / p95 / p99 / max ms; 16.7 ms = 60 fps);
- long tasks (> 50 ms on the main thread, `PerformanceObserver('longtask')`): count, total and
  longest, and the share of the window the main thread was blocked by them;
- events received by the page, and how many `GET /api/dashboard` re-reads they caused (the
  dashboard coalesces events into at most one re-read per 1.5 s);
- input latency: a click on a nav link → the next page's mark visible, under the same load.

Everything (Chromium, the web process, PostgreSQL, Redis, the emitter) shares the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.perf.bench_webhooks import machine  # noqa: E402
from tests.perf.common import pct  # noqa: E402
from tests.perf.engine_bench.launcher import ADMIN_PG, pg  # noqa: E402
from tests.sim_support import free_port  # noqa: E402
from tests.stack import web_command  # noqa: E402

PASSWORD = "Bench-Passw0rd"
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT"]

PROBE = """
window.__bench = { frames: [], longtasks: [], events: 0, recording: false };
(() => {
  let last = performance.now();
  const loop = (now) => {
    if (window.__bench.recording) window.__bench.frames.push(now - last);
    last = now;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  new PerformanceObserver((list) => {
    if (!window.__bench.recording) return;
    for (const entry of list.getEntries()) window.__bench.longtasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: false });
})();
"""


def seed(env: dict, groups: int) -> tuple[str, str, list[dict]]:
    """The trader and `groups` open groups; returns (username, user id, group payloads)."""
    os.environ.update(env)
    from server import create_app
    from server.api.serializers import group_out
    from server.domain.enums import Role
    from server.persistence.db import db
    from server.persistence.models import PositionGroup
    from server.services.users import create_user

    app = create_app(web=False)
    with app.app_context():
        name = f"uibench_{secrets.token_hex(2)}"
        user = create_user(f"{name}@example.com", name, PASSWORD, Role.TRADER)
        rows = []
        for i in range(groups):
            invested = Decimal(100 + i % 900)
            rows.append(
                {
                    "user": user.id,
                    "exchange": "binance",
                    "symbol": SYMBOLS[i % len(SYMBOLS)],
                    "timeframe": (15, 60, 240)[i % 3],
                    "side": "long",
                    "status": ("live", "partially_filled", "active")[i % 3],
                    "pyramid_count": 1 + i % 5,
                    "total_dca_legs": 5,
                    "filled_dca_legs": i % 6,
                    "weighted_avg_entry": Decimal("100") + i,
                    "total_filled_quantity": Decimal("1.5"),
                    "total_invested_usd": invested,
                    "unrealized_pnl_usd": Decimal(i % 41 - 20),
                    "unrealized_pnl_percent": Decimal("0"),
                }
            )
        with db.atomic():
            for start in range(0, len(rows), 1000):
                PositionGroup.insert_many(rows[start : start + 1000]).execute()
        payloads = [
            group_out(g) for g in PositionGroup.select().where(PositionGroup.user == user.id)
        ]
    return name, str(user.id), payloads


def emit_events(env, user_id, payloads, rate, stop: threading.Event, sent: list) -> None:
    """`rate` events a second through the Redis message queue, as the workers send them."""
    from flask_socketio import SocketIO

    io = SocketIO(message_queue=env["REDIS_URL"], channel=env["EVENTS_CHANNEL"])
    room = f"user:{user_id}"
    period = 1.0 / rate
    next_at = time.monotonic()
    n = 0
    while not stop.is_set():
        n += 1
        if n % 10 == 0:
            line = {
                "id": secrets.token_hex(16),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "level": "WARNING",
                "category": "ORDER",
                "message": f"bench warning {n}",
                "symbol": None,
                "context": {},
                "acknowledged": False,
                "user_id": user_id,
            }
            io.emit("log.created", line, to=room, namespace="/")
        else:
            group = dict(random.choice(payloads))
            group["unrealized_pnl_usd"] = str(Decimal(random.randint(-5000, 5000)) / 100)
            io.emit("group.updated", group, to=room, namespace="/")
        sent[0] += 1
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))


def record(page, seconds: float) -> dict:
    """Frames and long tasks over `seconds`; rates use the window the page actually recorded
    (a busy page answers the start and stop calls late, stretching it)."""
    page.evaluate(
        "() => { Object.assign(window.__bench, {frames: [], longtasks: [],"
        " started: performance.now(), recording: true}) }"
    )
    time.sleep(seconds)
    data = page.evaluate(
        "() => { window.__bench.recording = false; return {frames: window.__bench.frames,"
        " longtasks: window.__bench.longtasks,"
        " window_ms: performance.now() - window.__bench.started} }"
    )
    frames, longs = data["frames"], data["longtasks"]
    window_s = data["window_ms"] / 1000
    return {
        "window_s": round(window_s, 1),
        "frames": len(frames),
        "fps": round(len(frames) / window_s, 1),
        "frame_ms": {
            "p50": round(pct(frames, 0.50), 1),
            "p95": round(pct(frames, 0.95), 1),
            "p99": round(pct(frames, 0.99), 1),
            "max": round(max(frames), 1),
        }
        if frames
        else None,
        "frames_over_50ms": sum(1 for f in frames if f > 50),
        "longtasks": {
            "count": len(longs),
            "total_ms": round(sum(longs)),
            "max_ms": round(max(longs)) if longs else 0,
            "blocked_percent": round(100 * sum(longs) / data["window_ms"], 1),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--dist", help="serve this build of the web app (A/B runs)")
    args = parser.parse_args(argv)
    dist = Path(args.dist or ROOT / "webapp" / "dist") / "index.html"
    if not dist.exists():
        sys.exit("build the web app first: npm --prefix webapp run build")

    run_id = secrets.token_hex(3)
    db_name = f"engine_uibench_{run_id}"
    db_url = f"{ADMIN_PG.rsplit('/', 1)[0]}/{db_name}"
    prefix = f"uibench{run_id}:"
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    port = free_port()
    env = {
        "ENGINE_ENV": "development",
        "DATABASE_URL": db_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"),
        "RQ_QUEUE_PREFIX": prefix,
        "EVENTS_CHANNEL": f"{prefix}events",
        "ENGINE_MASTER_KEY_FILE": str(tmp / "master.key"),
        "MAIL_OUTBOX": str(tmp / "outbox.jsonl"),
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SOCKETIO_ASYNC_MODE": "gevent",
        "WEBAPP_DIST": str(dist.parent),
    }
    pg(f'CREATE DATABASE "{db_name}"')
    full_env = os.environ | env | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [sys.executable, "-m", "server.persistence.migrate"],
        env=full_env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    started = time.monotonic()
    username, user_id, payloads = seed(env, args.groups)
    report = {"machine": machine(), "settings": vars(args)}
    report["seed_seconds"] = round(time.monotonic() - started, 1)
    log = open(tmp / "web.log", "w")  # noqa: SIM115 - lives as long as the process
    web = subprocess.Popen(
        web_command(port),
        env=full_env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        report.update(run_browser(base, username, env, user_id, payloads, args, stop))
    finally:
        stop.set()
        os.killpg(web.pid, 15)
        web.wait(timeout=10)
        pg(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    print(json.dumps(report, indent=2), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def run_browser(base, username, env, user_id, payloads, args, stop) -> dict:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.conftest import CHROMIUM_FLAGS, chromium_path

    out: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.add_init_script(PROBE)
        reloads = []
        page.on(
            "requestfinished",
            lambda r: (
                reloads.append(r.timing["responseEnd"])
                if r.url.endswith("/api/dashboard")
                else None
            ),
        )
        page.goto("/login")
        page.get_by_test_id("login-login").fill(username)
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("dash-pool-text")).to_contain_text("/ 10", timeout=30000)
        live = page.get_by_test_id("realtime-status")
        expect(live).to_have_attribute("data-status", "live", timeout=15000)
        page.wait_for_timeout(1000)

        sent = [0]
        emitter = threading.Thread(
            target=emit_events, args=(env, user_id, payloads, args.rate, stop, sent), daemon=True
        )
        emitter.start()
        before = len(reloads)
        out["dashboard"] = record(page, args.seconds)
        out["dashboard"]["dashboard_rereads"] = len(reloads) - before
        out["dashboard"]["dashboard_reread_ms"] = [round(t) for t in reloads[before:]][:12]

        clicked = time.monotonic()
        page.get_by_test_id("nav-positions").click()
        expect(page.get_by_test_id("position-row").first).to_be_visible(timeout=60000)
        out["positions_open_under_load_ms"] = round((time.monotonic() - clicked) * 1000)
        page.wait_for_timeout(1000)
        out["positions"] = record(page, args.seconds)
        out["positions"]["rows_in_dom"] = page.get_by_test_id("position-row").count()
        listed = page.get_by_test_id("positions-table").get_attribute("data-count")
        # The groups in the page's list (GET /api/positions sends the newest 1,000; older builds
        # do not say): fewer than --groups, the rest get events but are not on the page.
        out["positions"]["rows_listed"] = int(listed) if listed else None

        clicked = time.monotonic()
        page.get_by_test_id("nav-dashboard").click()
        expect(page.get_by_test_id("dash-pool-text")).to_be_visible(timeout=30000)
        out["back_to_dashboard_under_load_ms"] = round((time.monotonic() - clicked) * 1000)
        stop.set()
        emitter.join(timeout=5)
        out["events_sent"] = sent[0]
        page.screenshot(path=str(ROOT / "test-results" / "bench-console-ui.png"))
        browser.close()
    return out


if __name__ == "__main__":
    main()
