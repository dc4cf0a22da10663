"""A 429 storm through the real stack (web, RQ workers, scheduler with the fill monitor and
reconciliation, PostgreSQL, Redis, the simulator over ccxt).

For 4 s the simulator answers HTTP 429 with `Retry-After: 1` to 80 % of the order requests
(creates and lookups of `/api/v3/order`); two signals open two BTCUSDT groups (60m and 4h) of
five legs each meanwhile. Expected: after each 429 the engine — every worker, through the shared
penalty in Redis — sends no order for the Retry-After second (only requests already in flight
when the 429 came may follow within a few milliseconds); legs refused stay `pending` and are
re-sent under their client ids; once the faults stop, all ten legs are at the exchange exactly
once and both groups are `partially_filled` with leg 0 filled.
"""

from __future__ import annotations

import time

from tests.lifecycle_support import entries, legs, make_trader, settled, sim_orders, wait_for

P = "64250.5"
IN_FLIGHT_NS = 50_000_000  # requests already on the wire when the 429 was answered
RETRY_AFTER_NS = 950_000_000  # Retry-After 1 s, less clock granularity


def test_a_429_storm_backs_off_and_ends_with_every_leg_placed_once(app, stack, sim, make_user):
    trader = make_trader(app, stack, make_user)
    sim.price("BTCUSDT", P)
    sim.fault("http_429", path="/api/v3/order", rate=0.8, ms=1000)
    trader.signal(entry_price=P, timeframe="60")
    trader.signal(entry_price=P, timeframe="240")
    groups = wait_for(lambda: len(trader.groups()) == 2 and trader.groups(), what="two groups")
    time.sleep(4)
    sim.http.delete("/__sim/faults")
    storm = sim_orders(sim)
    refused = sorted(r["received_at"] for r in storm if r["status"] == "REJECTED")
    assert refused, "the storm refused nothing"

    for group in groups:
        settled(trader, group["id"], "partially_filled", filled_dca_legs=1, timeout=60)
        wait_for(
            lambda g=group: all(x["status"] != "pending" for x in legs(trader.position(g["id"]))),
            timeout=60,
            what="every leg acknowledged",
        )
    time.sleep(3)  # further monitor passes: nothing may be sent again
    placed = entries(sim)
    details = [trader.position(g["id"]) for g in groups]
    wanted = sorted(leg["client_order_id"] for detail in details for leg in legs(detail))
    assert sorted(r["client_order_id"] for r in placed) == wanted
    assert len(wanted) == 10

    sent = sorted(r["received_at"] for r in sim_orders(sim))
    for at in refused:
        too_soon = [t for t in sent if at + IN_FLIGHT_NS < t < at + RETRY_AFTER_NS]
        assert too_soon == [], f"orders sent {[(t - at) / 1e9 for t in too_soon]} s after a 429"
