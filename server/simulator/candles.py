"""Real candles from `data/ohlcv/*.csv` and the simulator's own price tape (for klines).

* Default last price of a symbol: the close of the first candle of the matching CSV
  (`binance_<BASE>_<QUOTE>_5m_*` preferred, then any other interval; futures look for
  `binance_futures_<BASE>_<QUOTE>_<QUOTE>_*` first); without a file, `markets.fallback_price`
  (100 when the symbol's PRICE_FILTER allows it).
* `replay_points(candle)`: the four prices a candle is replayed through — open, low, high, close
  for a rising (close >= open) candle, open, high, low, close for a falling one.
* `Tape`: every price update and fill of a symbol since reset; `klines` aggregates it into
  exchange-style candles (empty buckets repeat the previous close).
"""

from __future__ import annotations

import bisect
import csv
import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from server.simulator.markets import SymbolRules, fallback_price

OHLCV_DIR = Path(__file__).resolve().parent / "data" / "ohlcv"
MAX_TAPE = 200_000

INTERVALS_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    "1M": 2_592_000_000,  # 30 days; calendar months are not modelled
}


@dataclass(frozen=True)
class Candle:
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def replay_points(c: Candle) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The price path through one candle (see module docstring)."""
    if c.close >= c.open:
        return (c.open, c.low, c.high, c.close)
    return (c.open, c.high, c.low, c.close)


def list_files() -> list[str]:
    return sorted(p.name for p in OHLCV_DIR.glob("*.csv"))


def resolve(name: str) -> Path:
    """A CSV in data/ohlcv by bare file name; anything else (paths, unknown names) is refused."""
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError("file must be a bare file name from data/ohlcv")
    path = OHLCV_DIR / name
    if not path.is_file():
        raise ValueError(f"unknown candle file {name!r}; available: {', '.join(list_files())}")
    return path


@functools.lru_cache(maxsize=16)
def load(name: str) -> tuple[Candle, ...]:
    """All candles of a file, parsed once and cached."""
    with open(resolve(name), newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh)
        return tuple(
            Candle(
                int(r["timestamp_ms"]),
                Decimal(r["open"]),
                Decimal(r["high"]),
                Decimal(r["low"]),
                Decimal(r["close"]),
                Decimal(r["volume"]),
            )
            for r in rows
        )


def _candidates(exchange: str, market: str, base: str, quote: str) -> list[str]:
    files = list_files()
    spot = [f for f in files if f.startswith(f"{exchange}_{base}_{quote}_")]
    spot.sort(key=lambda f: (0 if "_5m_" in f else 1, f))
    if market == "spot":
        return spot
    fut = sorted(f for f in files if f.startswith(f"{exchange}_futures_{base}_{quote}_{quote}_"))
    return fut + spot


@functools.lru_cache(maxsize=256)
def first_close(exchange: str, market: str, base: str, quote: str) -> Decimal | None:
    """Close of the first candle of the matching CSV, None without one (module docstring)."""
    for name in _candidates(exchange, market, base, quote):
        with open(OHLCV_DIR / name, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            first = next(reader, None)
            if first is not None:
                return Decimal(first["close"])
    return None


def default_price(exchange: str, market: str, rules: SymbolRules) -> Decimal:
    """The starting last price of a symbol (see the module docstring)."""
    close = first_close(exchange, market, rules.base, rules.quote)
    return close if close is not None else fallback_price(rules)


class Tape:
    """Price events of one symbol: (ms, price, traded qty); qty 0 for a bare price update."""

    def __init__(self, initial: Decimal, start_ms: int) -> None:
        self.initial = initial
        self.start_ms = start_ms
        self.times: list[int] = []
        self.events: list[tuple[Decimal, Decimal]] = []

    def add(self, ms: int, price: Decimal, qty: Decimal) -> None:
        if self.times and ms < self.times[-1]:
            ms = self.times[-1]  # keep the tape sorted if the wall clock steps back
        self.times.append(ms)
        self.events.append((price, qty))
        if len(self.times) > MAX_TAPE:
            cut = len(self.times) - MAX_TAPE // 2
            self.initial = self.events[cut - 1][0]
            self.start_ms = self.times[cut - 1]
            del self.times[:cut], self.events[:cut]

    def window(self, since_ms: int):
        """24h-ticker figures since `since_ms`: open, high, low, close, volume, quote, trades."""
        i = bisect.bisect_left(self.times, since_ms)
        prev = self.events[i - 1][0] if i > 0 else self.initial
        chunk = self.events[i:]
        prices = [prev] + [p for p, _ in chunk]
        traded = [(p, q) for p, q in chunk if q]
        volume = sum((q for _, q in traded), Decimal(0))
        quote = sum((p * q for p, q in traded), Decimal(0))
        return prev, max(prices), min(prices), prices[-1], volume, quote, len(traded)

    def klines(self, interval_ms: int, start: int | None, end: int | None, limit: int, now: int):
        """Rows (open_ms, o, h, l, c, volume, close_ms, quote_volume, trades), oldest first."""
        first_bucket = self.start_ms // interval_ms * interval_ms
        last_bucket = (end if end is not None else now) // interval_ms * interval_ms
        if start is not None:
            begin = max(first_bucket, start // interval_ms * interval_ms)
            buckets = range(begin, last_bucket + 1, interval_ms)[:limit]
        else:
            begin = max(first_bucket, last_bucket - (limit - 1) * interval_ms)
            buckets = range(begin, last_bucket + 1, interval_ms)
        if not buckets:
            return []
        i = bisect.bisect_left(self.times, buckets[0])
        prev = self.events[i - 1][0] if i > 0 else self.initial
        rows = []
        for b in buckets:
            j = bisect.bisect_left(self.times, b + interval_ms, lo=i)
            chunk = self.events[i:j]
            o = h = low = c = prev
            vol = qvol = Decimal(0)
            trades = 0
            if chunk:
                o = chunk[0][0]
                h = max(p for p, _ in chunk)
                low = min(p for p, _ in chunk)
                c = chunk[-1][0]
                for p, q in chunk:
                    if q:
                        vol += q
                        qvol += p * q
                        trades += 1
            rows.append((b, o, h, low, c, vol, b + interval_ms - 1, qvol, trades))
            prev, i = c, j
        return rows
