"""Exact `Decimal` arithmetic for the position domain (grid, aggregates, take-profit, PnL).

Products and sums of finite decimals are exact when the context is wide enough: `mul`/`add`
use a 200-digit context that *traps* `Inexact`, so a silent rounding can never slip in. The
only inexact operation is division; `div` says how it rounds (to how many places, which way),
so every quotient in the engine is a deliberate decision:

- capital shares are truncated to `CAPITAL_PLACES` (never allocate more than the settings say);
- leg quantities `capital / price` are truncated six places below the step and then floored
  to the step by `check_order` (truncating on a finer grid never changes that floor);
- averages (`weighted_avg_entry`) keep `AVERAGE_PLACES` decimals, half-even;
- percentages keep `PERCENT_PLACES` decimals, truncated toward zero (never overstate a gain or a
  loss).

`strip` drops trailing zeros without ever producing an exponent above zero (`100.00` → `100`,
`63929.2400` → `63929.24`), so values compare and print (`plain_decimal`) cleanly.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, Inexact, localcontext

__all__ = [
    "AVERAGE_PLACES",
    "CAPITAL_PLACES",
    "HUNDRED",
    "PERCENT_PLACES",
    "ZERO",
    "add",
    "as_decimal",
    "div",
    "mul",
    "round_half_even",
    "strip",
    "truncate",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CAPITAL_PLACES = 8  # USD capital shares: 1e-8, truncated
AVERAGE_PLACES = 18  # weighted average prices: 1e-18, half-even
PERCENT_PLACES = 8  # percentages: 1e-8, toward zero
_WIDE = 200


def as_decimal(value, name: str = "value") -> Decimal:
    """`Decimal`, `int` or decimal text in, finite `Decimal` out; floats are refused."""
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        kind = type(value).__name__
        raise TypeError(f"{name} must be a Decimal, int or decimal text, not {kind}")
    result = value if isinstance(value, Decimal) else Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, not {result}")
    return result


def strip(value: Decimal) -> Decimal:
    """The same number without trailing zeros and never with a positive exponent."""
    if value == 0:
        return ZERO
    with localcontext() as ctx:
        ctx.prec = _WIDE
        if value == value.to_integral_value():
            return value.quantize(Decimal(1))
        return value.normalize()


def mul(*values: Decimal) -> Decimal:
    """Exact product (raises if it could not be exact, which only absurd inputs reach)."""
    with localcontext() as ctx:
        ctx.prec = _WIDE
        ctx.traps[Inexact] = True
        result = Decimal(1)
        for value in values:
            result *= value
        return strip(result)


def add(*values: Decimal) -> Decimal:
    """Exact sum."""
    with localcontext() as ctx:
        ctx.prec = _WIDE
        ctx.traps[Inexact] = True
        result = ZERO
        for value in values:
            result += value
        return strip(result)


def div(
    numerator: Decimal, denominator: Decimal, places: int | None, rounding: str = ROUND_DOWN
) -> Decimal:
    """numerator / denominator rounded to `places` decimals with `rounding`; `places=None`
    keeps 50 significant digits, truncated (for a quotient that is floored to a step next)."""
    if denominator == 0:
        raise ZeroDivisionError("division by zero")
    with localcontext() as ctx:
        ctx.prec = _WIDE if places is not None else 50
        ctx.rounding = ROUND_DOWN
        quotient = numerator / denominator
        if places is not None:
            quotient = quotient.quantize(Decimal(1).scaleb(-places), rounding=rounding)
    return strip(quotient)


def truncate(value: Decimal, places: int) -> Decimal:
    """`value` cut (toward zero) to `places` decimals."""
    with localcontext() as ctx:
        ctx.prec = _WIDE
        return strip(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN))


def round_half_even(value: Decimal, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _WIDE
        return strip(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))
