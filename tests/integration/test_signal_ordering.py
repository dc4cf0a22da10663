"""Signal lanes on real processes: interleaved signals for three position groups fired at four
RQ workers are processed one at a time per group, in arrival order, and groups run in
parallel (SPEC §2.3). Also: two identical requests racing on two web processes make one signal.

Each worker pauses a random 0–40 ms while it holds a lane (SIGNAL_PROCESSING_JITTER_MS), so a
broken lane — two workers on one group, or a late signal overtaking — would show up as a wrong
order or overlapping processing windows in the recorded sequence.
"""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest

from server.persistence.models import PositionGroup, Signal, WebhookLog
from tests.conftest import ROOT, RUN_ID
from tests.helpers import GOOD_PASSWORD
from tests.signal_support import make_account, tv_alert
from tests.stack import start_stack

GROUPS = (("BTCUSDT", "60"), ("ETHUSDT", "60"), ("SOLUSDT", "15"))
PER_GROUP = 12
# Every signal is a real grid now: market prices the grids can be placed at, and room for a
# pyramid per signal (12 pyramids of 1,000 / 12 USD each).
PRICES = {"BTCUSDT": "64250.5", "ETHUSDT": "3000", "SOLUSDT": "150"}


@pytest.fixture(scope="module")
def four_workers(app, test_env, tmp_path_factory):
    """Web, scheduler and a pool of four workers on their own queues (same database)."""
    env = test_env | {
        "RQ_QUEUE_PREFIX": f"ord{RUN_ID}:",
        "EVENTS_CHANNEL": f"ord{RUN_ID}-events",
        "SIGNAL_PROCESSING_JITTER_MS": "40",
        "WEBHOOK_RATE_LIMIT_USER": "100000 per minute",
    }
    running = start_stack(ROOT, env, tmp_path_factory.mktemp("ordering-logs"), workers=4)
    yield running
    running.stop()


def _trader(app, base_url: str, name: str, settings: dict | None = None):
    r = httpx.post(
        f"{base_url}/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": GOOD_PASSWORD},
    )
    assert r.status_code == 201, r.text
    tokens = r.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    secret = httpx.post(f"{base_url}/api/auth/webhook-secret", headers=headers).json()
    if settings:
        r = httpx.put(f"{base_url}/api/settings", headers=headers, json=settings)
        assert r.status_code == 200, r.text
    make_account(app, tokens["user"]["id"])
    return secret["webhook_url"], secret["webhook_secret"]


def _wait_processed(ids: list[str], timeout: float = 90) -> list[Signal]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(Signal.select().where(Signal.id.in_(ids)))
        if len(rows) == len(ids) and all(r.status != "received" for r in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError("signals were not all processed in time")


def test_each_group_in_arrival_order_groups_in_parallel(app, four_workers, sim):
    """36 interleaved signals, 3 groups, 4 workers: per group, processing order is arrival
    order and processing windows never overlap; across groups they do overlap."""
    for symbol, price in PRICES.items():
        sim.price(symbol, price)
    url, secret = _trader(
        app, four_workers.base_url, "lanes", {"capital": {"max_pyramids": PER_GROUP}}
    )
    sent: dict[str, list[str]] = {symbol: [] for symbol, _ in GROUPS}
    errors: list[str] = []

    def fire(symbol: str, timeframe: str) -> None:
        with httpx.Client(timeout=10) as http:
            for n in range(PER_GROUP):
                base = PRICES[symbol] if "." in PRICES[symbol] else f"{PRICES[symbol]}."
                price = f"{base}{n:02d}"  # a distinct body per signal, the same grid
                alert = tv_alert(secret, symbol=symbol, timeframe=timeframe, entry_price=price)
                r = http.post(url, json=alert)
                if r.status_code != 202:
                    errors.append(f"{symbol} #{n}: {r.status_code} {r.text}")
                    return
                sent[symbol].append(r.json()["signal_id"])

    threads = [threading.Thread(target=fire, args=group) for group in GROUPS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = {str(r.id): r for r in _wait_processed([i for ids in sent.values() for i in ids])}

    windows = []
    for symbol, ids in sent.items():
        group = [rows[i] for i in ids]  # in the order this group's signals arrived
        by_processing = sorted(group, key=lambda r: r.processing_seq)
        assert [str(r.id) for r in by_processing] == ids, f"{symbol} processed out of order"
        assert [r.arrival_seq for r in group] == sorted(r.arrival_seq for r in group)
        for before, after in itertools.pairwise(group):
            assert after.processing_started_at >= before.processed_at, f"{symbol} overlapped"
        assert [r.classification for r in group] == ["new_group"] + ["pyramid"] * (PER_GROUP - 1)
        windows += [(r.processing_started_at, r.processed_at, symbol) for r in group]
    assert PositionGroup.select().count() == len(GROUPS)
    overlapping = any(
        a[2] != b[2] and a[0] < b[1] and b[0] < a[1] for a in windows for b in windows
    )
    assert overlapping, "different groups never ran at the same time"


def test_identical_requests_racing_on_two_web_processes(app, four_workers):
    """The same body sent at the same instant to two web processes: one 202, one duplicate,
    one signal; likewise two bodies sharing a signal_id."""
    url, secret = _trader(app, four_workers.base_url, "racer")
    second_web = four_workers.add_web("web-race")
    try:
        path = url.removeprefix(four_workers.base_url)
        targets = [url, second_web + path]
        for round_ in range(8):
            alert = tv_alert(secret, entry_price=str(100 + round_))
            same_id = tv_alert(secret, entry_price=str(200 + round_)) | {"signal_id": f"r{round_}"}
            other = tv_alert(secret, entry_price=str(300 + round_)) | {"signal_id": f"r{round_}"}
            for bodies in ((alert, alert), (same_id, other)):
                barrier = threading.Barrier(2)
                codes: list[int] = []

                def shoot(target: str, doc: dict, barrier=barrier, codes=codes) -> None:
                    with httpx.Client(timeout=10) as http:
                        barrier.wait()
                        codes.append(http.post(target, json=doc).status_code)

                threads = [
                    threading.Thread(target=shoot, args=(t, b))
                    for t, b in zip(targets, bodies, strict=True)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert sorted(codes) == [200, 202], (round_, codes)
        assert Signal.select().count() == 16
        statuses = [r.status for r in WebhookLog.select()]
        assert statuses.count("accepted") == 16 and statuses.count("duplicate") == 16
    finally:
        proc = four_workers.processes.pop("web-race")
        proc.terminate()
        proc.wait(timeout=10)
