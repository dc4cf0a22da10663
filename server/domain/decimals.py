"""Decimal helpers shared by the domain and the edges (storage, API, settings)."""

from __future__ import annotations

from decimal import Decimal


def plain_decimal(value: Decimal) -> str:
    """Positional notation without an exponent or trailing zeros: 1E-8 -> "0.00000001"."""
    if value == 0:
        return "0"  # also turns "-0" into "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
