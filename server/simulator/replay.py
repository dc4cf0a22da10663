"""Candle replay (`POST /__sim/replay`): move a symbol's last price along a real CSV.

Each candle is played as four price updates (candles.replay_points: open, low, high, close for
a rising candle; open, high, low, close for a falling one), evenly spaced so that `speed`
candles pass per second. Every update goes through `Venue.set_price`, so resting orders fill
exactly as with `POST /__sim/price`. One background thread per symbol; starting a new replay
of the same symbol stops the old one; `stop()` (or reset) stops them all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from server.simulator import candles
from server.simulator.core import Simulator


@dataclass
class Replay:
    symbol: str
    file: str
    speed: float
    exchange: str | None
    market: str | None
    total: int
    done: int = 0
    last_price: Decimal | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def as_dict(self) -> dict:
        return {
            "symbol": self.symbol,
            "file": self.file,
            "speed": self.speed,
            "exchange": self.exchange,
            "market": self.market,
            "candles": self.total,
            "candles_done": self.done,
            "last_price": None if self.last_price is None else str(self.last_price),
            "running": self.thread is not None and self.thread.is_alive(),
        }


class Replays:
    """The running replays of one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._lock = threading.Lock()
        self._replays: dict[str, Replay] = {}

    def start(
        self,
        symbol: str,
        file: str,
        speed: float,
        exchange: str | None = None,
        market: str | None = None,
        start: int = 0,
        count: int | None = None,
    ) -> Replay:
        """Validate and start a replay in a daemon thread; returns at once."""
        if not speed or speed <= 0:
            raise ValueError("speed must be > 0 (candles per second)")
        rows = candles.load(file)[max(0, start) :]
        if count is not None:
            rows = rows[: max(0, count)]
        if not rows:
            raise ValueError("no candles in the selected range")
        with self.sim.lock:
            venues = [v for v in self.sim.select(exchange, market) if symbol in v.rules]
        if not venues:
            raise ValueError(f"unknown symbol {symbol!r} for exchange={exchange} market={market}")
        self.stop(symbol)
        replay = Replay(symbol, file, float(speed), exchange, market, len(rows))
        replay.thread = threading.Thread(
            target=self._run, args=(replay, rows), name=f"replay-{symbol}", daemon=True
        )
        with self._lock:
            self._replays[symbol] = replay
        replay.thread.start()
        return replay

    def _run(self, replay: Replay, rows: tuple[candles.Candle, ...]) -> None:
        step = 1.0 / (4 * replay.speed)
        t0 = time.monotonic()
        k = 0
        for candle in rows:
            for price in candles.replay_points(candle):
                delay = t0 + k * step - time.monotonic()
                if delay > 0 and replay.stop_event.wait(delay):
                    return
                if replay.stop_event.is_set():
                    return
                now = time.time_ns() // 1_000_000
                with self.sim.lock:
                    for venue in self.sim.select(replay.exchange, replay.market):
                        if replay.symbol in venue.rules:
                            venue.set_price(replay.symbol, price, now)
                replay.last_price = price
                k += 1
            replay.done += 1

    def stop(self, symbol: str | None = None) -> list[str]:
        """Stop one symbol's replay, or all; returns the symbols stopped."""
        with self._lock:
            names = [symbol] if symbol else list(self._replays)
            stopped = [self._replays.pop(n) for n in names if n in self._replays]
        for replay in stopped:
            replay.stop_event.set()
        for replay in stopped:
            if replay.thread is not None and replay.thread is not threading.current_thread():
                replay.thread.join(timeout=2)
        return [r.symbol for r in stopped]

    def status(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._replays.values()]
