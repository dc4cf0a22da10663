"""The queue's priority (SPEC §5) as one Redis sorted-set score plus a member name. Pure.

The four tiers, highest priority first:

1. **pyramid continuation** — the queued signal's lane (account, symbol, timeframe, side) has an
   open group now;
2. **deepest current loss** — how far the live price moved against the queued price, in %:
   long ``(price − queued) / queued × 100``, short ``(queued − price) / queued × 100``; a long
   queued at 100 with the price at 97 has −3 %. More negative first;
3. most **replacements**;
4. **FIFO** — earliest ``queued_at`` first.

Encoding (the queue is read highest score first, ``ZREVRANGE`` / ``ZPOPMAX``)::

    score  = (continuation × DEPTH_SPAN + depth) × REPLACEMENT_SPAN + replacements
    depth  = clamp(−loss_hundredths, −GAIN_CAP, LOSS_CAP) + GAIN_CAP        (0 … DEPTH_SPAN−1)
    member = "<(FIFO_BASE − queued_at epoch ms), 13 digits>:<queued signal id>"

- ``loss_hundredths`` is the loss % rounded **down** to 0.01 % (``ROUND_FLOOR``), the value the
  Queue page shows: two signals whose losses fall in the same hundredth are tied on tier 2 and
  go on to tier 3. Losses are clamped at −100 % (a price cannot go lower for a long; a short
  that lost more than 100 % ranks with −100 %) and gains at +999.99 %; within those bounds the
  order is exact. An unknown price counts as 0 % (no loss, no gain).
- ``replacements`` is clamped at ``REPLACEMENT_CAP`` (1023).
- The score is an integer below 2**28, so a double holds it exactly.
- Tier 4 is not in the score: Redis orders equal scores by member, byte by byte, and
  ``ZREVRANGE`` reads them in reverse — so the member starts with the *inverted* queued time
  (fixed width): the earliest signal has the largest member and comes first. The member never
  changes while the signal waits (a replacement keeps ``queued_at``, SPEC §5: "same queue
  position in time"), so a re-score is a ``ZADD XX`` of the same member. Two signals queued in
  the same millisecond are ordered by id (arbitrary but stable).

`sort_key` states the tier rules directly; the tests prove the encoding orders exactly like it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

HUNDREDTH = Decimal("0.01")
LOSS_CAP = 10_000  # −100.00 % in hundredths: the deepest loss that still ranks deeper
GAIN_CAP = 99_999  # +999.99 % in hundredths: the largest gain still told apart
DEPTH_SPAN = LOSS_CAP + GAIN_CAP + 1
REPLACEMENT_CAP = 1023
REPLACEMENT_SPAN = REPLACEMENT_CAP + 1
CONTINUATION_SCORE = DEPTH_SPAN * REPLACEMENT_SPAN  # every continuation scores at least this
FIFO_BASE = 9_999_999_999_999  # ms; inverted queued time = FIFO_BASE − epoch ms (year 2286)
FIFO_WIDTH = 13


@dataclass(frozen=True)
class QueuedView:
    """What ranking needs to know about one queued signal."""

    id: str
    side: str  # long | short
    queued_price: Decimal | None
    current_price: Decimal | None
    replacement_count: int
    queued_at: datetime
    is_continuation: bool = False


def loss_percent(side: str, queued_price: Decimal | None, current: Decimal | None) -> Decimal:
    """The current loss % of a queued signal, rounded down to 0.01 % (negative = the price
    moved against it). 0.00 when either price is unknown."""
    if queued_price is None or current is None or queued_price <= 0 or current <= 0:
        return Decimal("0.00")
    moved = (current - queued_price) if side == "long" else (queued_price - current)
    return (moved * 100 / queued_price).quantize(HUNDREDTH, rounding=ROUND_FLOOR)


def _depth(loss: Decimal) -> int:
    hundredths = int(-(loss / HUNDREDTH).to_integral_value(rounding=ROUND_FLOOR))
    return max(-GAIN_CAP, min(LOSS_CAP, hundredths)) + GAIN_CAP


def score(is_continuation: bool, loss: Decimal, replacement_count: int) -> int:
    """The sorted-set score of tiers 1–3 (module doc); higher is promoted first."""
    replacements = max(0, min(REPLACEMENT_CAP, int(replacement_count)))
    return (int(bool(is_continuation)) * DEPTH_SPAN + _depth(loss)) * REPLACEMENT_SPAN + (
        replacements
    )


def is_continuation_score(value: float) -> bool:
    return value >= CONTINUATION_SCORE


def _epoch_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def member(queued_id: str, queued_at: datetime) -> str:
    """The sorted-set member of a queued signal: inverted queued time, then its id."""
    inverted = FIFO_BASE - _epoch_ms(queued_at)
    return f"{inverted:0{FIFO_WIDTH}d}:{queued_id}"


def id_of(member_name: str) -> str:
    """The queued signal id inside a member name."""
    return member_name.split(":", 1)[1]


def entry(view: QueuedView) -> tuple[str, int]:
    """(member, score) of a queued signal with its current price."""
    loss = loss_percent(view.side, view.queued_price, view.current_price)
    return member(view.id, view.queued_at), score(
        view.is_continuation, loss, view.replacement_count
    )


def sort_key(view: QueuedView) -> tuple:
    """The tier rules of SPEC §5 stated directly (ascending = promoted first), at the loss
    resolution the score uses: the reference the encoding is tested against."""
    loss = loss_percent(view.side, view.queued_price, view.current_price)
    loss = max(Decimal(-LOSS_CAP) / 100, min(Decimal(GAIN_CAP) / 100, loss))
    return (
        not view.is_continuation,
        loss,
        -min(REPLACEMENT_CAP, view.replacement_count),
        _epoch_ms(view.queued_at),
        _neg_text(view.id),
    )


def _neg_text(text: str) -> tuple[int, ...]:
    """Sorts descending by text (the tie-break Redis applies to equal members' ids)."""
    return (*tuple(-ord(c) for c in text), 1)


def redis_order(entries: list[tuple[str, int]]) -> list[str]:
    """Members in the order ``ZREVRANGE`` returns them: score, then member, both descending."""
    return [m for m, _ in sorted(entries, key=lambda e: (e[1], e[0]), reverse=True)]


def loss_of_score(value: float) -> Decimal:
    """The loss % a score was ranked on (tier 2 decoded; clamped values come back clamped)."""
    depth = (int(value) // REPLACEMENT_SPAN) % DEPTH_SPAN - GAIN_CAP
    return (Decimal(-depth) / 100).quantize(HUNDREDTH)


def replacements_of_score(value: float) -> int:
    return int(value) % REPLACEMENT_SPAN


def expected_profit(capital: Decimal, legs: list[dict]) -> Decimal:
    """The grid's weighted take-profit on `capital` (SPEC §5 queue view):
    ``capital × Σ(weight_i × tp_i) / (100 × 100)``, to the cent (half up)."""
    weighted = sum((leg["weight_percent"] * leg["tp_percent"] for leg in legs), Decimal(0))
    return (capital * weighted / Decimal(10_000)).quantize(HUNDREDTH, rounding="ROUND_HALF_UP")
