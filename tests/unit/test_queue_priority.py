"""The queue's priority encoding (SPEC §5) against the tier rules, with hand-worked numbers.

Score (domain.queue_priority): ``(continuation × 110000 + depth) × 1024 + replacements`` with
``depth = −loss_hundredths + 99999`` (loss rounded down to 0.01 %); equal scores are ordered by
the member, which starts with the inverted queued time (earliest first).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from server.domain import queue_priority as qp

T0 = datetime(2026, 12, 5, 9, 0, 0)


def view(id_, side="long", queued="100", price="100", repl=0, at=T0, cont=False):
    return qp.QueuedView(
        id=id_,
        side=side,
        queued_price=None if queued is None else Decimal(queued),
        current_price=None if price is None else Decimal(price),
        replacement_count=repl,
        queued_at=at,
        is_continuation=cont,
    )


def order(*views):
    return [qp.id_of(m) for m in qp.redis_order([qp.entry(v) for v in views])]


@pytest.mark.parametrize(
    ("side", "queued", "price", "expected"),
    [
        # SPEC's own example: a long queued at 100 with the price now 97 has −3 %.
        ("long", "100", "97", "-3.00"),
        ("long", "100", "105", "5.00"),
        # short queued at 200: the price rising to 210 is against it: (200−210)/200 = −5 %.
        ("short", "200", "210", "-5.00"),
        ("short", "200", "190", "5.00"),
        # (2.9999 − 3)/3 × 100 = −0.00333… rounded DOWN to the hundredth: −0.01.
        ("long", "3", "2.9999", "-0.01"),
        # (3.0001 − 3)/3 × 100 = +0.00333… rounded down: 0.00.
        ("long", "3", "3.0001", "0.00"),
        ("long", None, "3", "0.00"),  # no queued price: no loss known
        ("long", "3", None, "0.00"),  # no live price yet
    ],
)
def test_loss_percent_worked_by_hand(side, queued, price, expected):
    q = None if queued is None else Decimal(queued)
    p = None if price is None else Decimal(price)
    assert qp.loss_percent(side, q, p) == Decimal(expected)


def test_scores_worked_by_hand():
    """A: −3.00 % → depth 300 + 99999 = 100299 → 100299 × 1024 = 102,706,176.
    B: −2.00 %, 5 replacements → 100199 × 1024 + 5 = 102,603,781.
    C: +5.00 % → −500 + 99999 = 99499 → 101,886,976. A continuation adds 110000 × 1024."""
    assert qp.score(False, Decimal("-3.00"), 0) == 102_706_176
    assert qp.score(False, Decimal("-2.00"), 5) == 102_603_781
    assert qp.score(False, Decimal("5.00"), 0) == 101_886_976
    assert qp.score(True, Decimal("5.00"), 0) == 101_886_976 + 110_000 * 1024
    assert qp.CONTINUATION_SCORE == 110_000 * 1024
    # decoding gives back what the Queue page shows
    assert qp.loss_of_score(102_603_781) == Decimal("-2.00")
    assert qp.replacements_of_score(102_603_781) == 5


def test_deeper_loss_beats_more_replacements():
    """A long at 100 now 97 (−3 %, never replaced) before B at 50 now 49 (−2 %, 5 times)."""
    a = view("a", queued="100", price="97", repl=0, at=T0 + timedelta(minutes=10))
    b = view("b", queued="50", price="49", repl=5, at=T0)
    assert order(a, b) == ["a", "b"]


def test_replacements_beat_age():
    """Same loss (0 %): C (queued later, replaced once) before D (earlier, never replaced)."""
    c = view("c", repl=1, at=T0 + timedelta(hours=1))
    d = view("d", repl=0, at=T0)
    assert order(d, c) == ["c", "d"]


def test_fifo_breaks_the_last_tie():
    """Same loss, same replacements: the earliest queued first (to the millisecond)."""
    e = view("e", at=T0 + timedelta(milliseconds=1))
    f = view("f", at=T0)
    assert order(e, f) == ["f", "e"]


def test_pyramid_continuation_jumps_everything():
    """G is a continuation in profit (+5 %), never replaced and the newest; it still goes
    before H (−50 %, 1000 replacements, the oldest)."""
    g = view("g", queued="100", price="105", at=T0 + timedelta(days=1), cont=True)
    h = view("h", queued="100", price="50", repl=1000, at=T0 - timedelta(days=1))
    assert order(h, g) == ["g", "h"]


def test_a_replaced_signal_keeps_its_place_in_time():
    """Replacing changes the price and the count, never the member (the queued time): J,
    queued first and replaced once, still goes before K queued later and also replaced once."""
    j_before = view("j", queued="100", price="100", repl=0, at=T0)
    j_after = view("j", queued="101", price="101", repl=1, at=T0)
    assert qp.entry(j_before)[0] == qp.entry(j_after)[0]
    k = view("k", queued="100", price="100", repl=1, at=T0 + timedelta(seconds=30))
    assert order(k, j_after) == ["j", "k"]


def test_short_losses_rank_the_same_way():
    """Short queued at 200 now 210 (−5 %) before a long queued at 100 now 96 (−4 %), before a
    short at 200 now 190 (+5 %)."""
    s1 = view("s1", side="short", queued="200", price="210")
    l1 = view("l1", side="long", queued="100", price="96")
    s2 = view("s2", side="short", queued="200", price="190")
    assert order(s2, l1, s1) == ["s1", "l1", "s2"]


def test_losses_beyond_the_caps_tie_at_the_cap():
    """A short that lost 250 % ranks with one that lost 100 %: then replacements decide."""
    deep = view("deep", side="short", queued="100", price="350", repl=0)
    capped = view("capped", side="short", queued="100", price="200", repl=1)
    assert order(deep, capped) == ["capped", "deep"]


def test_the_encoding_orders_exactly_like_the_tier_rules():
    """2,000 random signals (seeded), many ties on every tier: ZREVRANGE order == sort_key."""
    rng = random.Random(6)
    views = []
    for i in range(2000):
        side = rng.choice(["long", "short"])
        queued = Decimal(rng.choice(["100", "50", "3", "0.25", "64250.5"]))
        move = Decimal(rng.choice([-300, -100, -5, -1, 0, 0, 0, 1, 5, 900, 2000])) / 100
        price = max(Decimal("0.0001"), queued * (1 + move / 100 * rng.choice([1, 10, 100])))
        views.append(
            view(
                f"{i:05d}",
                side=side,
                queued=str(queued),
                price=str(price) if rng.random() > 0.1 else None,
                repl=rng.choice([0, 0, 1, 2, 5, 2000]),
                at=T0 + timedelta(milliseconds=rng.choice([0, 1, 2, 1000, 60_000])),
                cont=rng.random() < 0.1,
            )
        )
    expected = [v.id for v in sorted(views, key=qp.sort_key)]
    assert order(*views) == expected


def test_expected_profit_is_the_weighted_tp_on_the_group_capital():
    """Default grid: weights 20 each, TPs 1, 0.5, 0.5, 0.5, 0.5 → Σ w×tp = 20 + 4×10 = 60;
    group capital 10000 / 10 = 1000 → 1000 × 60 / 10000 = 6.00 USD."""
    legs = [
        {"weight_percent": Decimal("20"), "tp_percent": Decimal(tp)}
        for tp in ("1", "0.5", "0.5", "0.5", "0.5")
    ]
    assert qp.expected_profit(Decimal("1000"), legs) == Decimal("6.00")
