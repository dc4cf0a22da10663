"""`price_monitor.FailureLog`: a loop step that keeps failing (the database down for a few
seconds, the monitor cycling every 100–500 ms) is logged as its first traceback, a line every
30 s at most, and one line when it works again — not a traceback per cycle (the chaos
drill's 5 s PostgreSQL restart used to write 26 of them)."""

from __future__ import annotations

import logging

from server.services.price_monitor import FailureLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_a_few_lines(caplog):
    clock = Clock()
    failures = FailureLog("price monitor cycle", every=30, clock=clock)
    caplog.set_level(logging.WARNING, logger="server.services.price_monitor")
    for _ in range(50):  # 5 s at 100 ms
        failures.failed(ConnectionError("connection refused"))
        clock.now += 0.1
    clock.now += 30
    failures.failed(ConnectionError("connection refused"))
    failures.worked()
    failures.worked()  # nothing more to say

    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines == [
        ("ERROR", "price monitor cycle failed", True),
        (
            "ERROR",
            "price monitor cycle still failing (51 attempts so far): connection refused",
            False,
        ),
        ("WARNING", "price monitor cycle works again after 51 failed attempt(s)", False),
    ]


def test_a_new_outage_starts_with_its_traceback_again(caplog):
    clock = Clock()
    failures = FailureLog("pnl pass", every=30, clock=clock)
    caplog.set_level(logging.WARNING, logger="server.services.price_monitor")
    failures.failed(TimeoutError("a"))
    failures.worked()
    failures.failed(TimeoutError("b"))
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == ["pnl pass failed", "pnl pass failed"]
