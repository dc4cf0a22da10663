"""The per-user settings document (SPEC §9): its defaults, its schema and how patches merge.

Pure: no Flask, no database, no clock. The document travels as JSON (decimals as plain
strings); `validate_settings` turns it into Python values (`Decimal`, `int`, `bool`, `str`) and
`dump_settings` turns those back into JSON. Every rule fails with a message that says what to do,
on the field it is about, so the API can show it next to the input.
"""

from __future__ import annotations

import copy
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

from server.domain.decimals import plain_decimal
from server.domain.settings_fields import (
    MESSAGES,
    DecimalText,
    IpAllowlist,
    Section,
    StrictBool,
    StrictInt,
    choice,
)

HUNDRED = Decimal(100)
MAX_LEGS = 20
MAX_PYRAMIDS = 20
MAX_SYMBOL_OVERRIDES = 500
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
# Top-level sections; fields inside a section merge key by key, everything below is replaced.
SECTIONS = ("precision", "pool", "capital", "grid", "take_profit", "risk", "signals", "logs", "ui")
# Values that a partial update replaces whole instead of merging into.
_REPLACED_WHOLE = {("grid", "symbol_overrides")}
_LEGS_LIST = "must be a list of legs, each with gap_percent, weight_percent and tp_percent"


def equal_pyramid_weights(count: int) -> list[str]:
    """`count` weights of 100/count, two decimals, summing to exactly 100 (remainder first)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    share = (HUNDRED / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    first = HUNDRED - share * (count - 1)
    return [plain_decimal(first)] + [plain_decimal(share)] * (count - 1)


def _leg(gap: str, weight: str, tp: str) -> dict:
    return {"gap_percent": gap, "weight_percent": weight, "tp_percent": tp}


DEFAULT_SETTINGS: dict[str, Any] = {
    "precision": {
        "precision_refresh_sec": 60,
        "min_notional_policy": "reject",
        "precision_hold_seconds": 120,
    },
    "pool": {
        "max_open_groups": 10,
        "count_pyramids_toward_pool": False,
        "queue_max_age_minutes": 240,
        "promotion_anchor": "market",
        "queue_sweep_sec": 5,
    },
    "capital": {
        "total_capital_usd": "10000",
        "max_pyramids": 5,
        "pyramid_weights": equal_pyramid_weights(5),
    },
    "grid": {
        "entry_order_type": "market",
        "legs": [
            _leg("0", "20", "1"),
            _leg("-0.5", "20", "0.5"),
            _leg("-1", "20", "0.5"),
            _leg("-2", "20", "0.5"),
            _leg("-4", "20", "0.5"),
        ],
        "symbol_overrides": {},
    },
    "take_profit": {"tp_mode": "per_leg", "tp_aggregate_percent": "1"},
    "risk": {
        "enabled": True,
        "loss_threshold_percent": "-5",
        "require_full_pyramids": True,
        "timer_start_condition": "after_all_dca_filled",
        "post_full_wait_minutes": 60,
        "min_age_minutes": 0,
        "max_winners_to_combine": 3,
        "allow_partial_offset": False,
        "evaluation_interval_sec": 60,
    },
    "signals": {"max_signal_age_seconds": 300, "ip_allowlist": [], "use_tradingview_preset": False},
    "logs": {"system_retention_days": 30, "audit_retention_days": 90},
    "ui": {"theme": "dark"},
}


def _check_legs(legs: list[dict]) -> None:
    if not 1 <= len(legs) <= MAX_LEGS:
        raise ValidationError(f"a grid needs between 1 and {MAX_LEGS} legs; got {len(legs)}")
    total = sum((leg["weight_percent"] for leg in legs), Decimal(0))
    if total != HUNDRED:
        raise ValidationError(
            f"leg weights sum to {plain_decimal(total)}; they must sum to exactly 100 "
            "(adjust weight_percent so the legs add up to 100)"
        )


def legs_field() -> fields.List:
    return fields.List(
        Section(LegSchema),
        required=True,
        error_messages=MESSAGES | {"invalid": _LEGS_LIST},
        validate=_check_legs,
    )


class SymbolOverrides(fields.Field):
    """{"BTCUSDT": {"legs": [...]}}: per-symbol grids, each held to the same rules."""

    def __init__(self, **kwargs):
        super().__init__(required=True, error_messages=MESSAGES, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> dict:
        if not isinstance(value, dict):
            raise ValidationError(
                'must be an object keyed by symbol, e.g. {"BTCUSDT": {"legs": [...]}}'
            )
        if len(value) > MAX_SYMBOL_OVERRIDES:
            raise ValidationError(f"at most {MAX_SYMBOL_OVERRIDES} symbol overrides")
        result, errors = {}, {}
        for symbol, override in value.items():
            if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol):
                errors[symbol] = [
                    "symbol must be 2-20 upper-case letters or digits with no "
                    "separator, as the exchange writes it, e.g. BTCUSDT"
                ]
                continue
            try:
                result[symbol] = SymbolOverrideSchema().load(override)
            except ValidationError as exc:
                errors[symbol] = exc.messages
        if errors:
            raise ValidationError(errors)
        return result

    def _serialize(self, value, attr, obj, **kwargs):
        return {
            symbol: SymbolOverrideSchema().dump(override)
            for symbol, override in (value or {}).items()
        }


# --- schemas ------------------------------------------------------------------------------------


class _Part(Schema):
    class Meta:
        unknown = EXCLUDE  # the contract ignores unknown fields; the stored document drops them


class LegSchema(_Part):
    gap_percent = DecimalText(
        minimum=-100,
        maximum=0,
        min_exclusive=True,
        hint=" (a gap is 0 or negative: longs buy below the entry, shorts mirror it above)",
    )
    weight_percent = DecimalText(minimum=0, maximum=100, min_exclusive=True)
    tp_percent = DecimalText(minimum=0, maximum=100, min_exclusive=True)


class SymbolOverrideSchema(_Part):
    legs = legs_field()


class PrecisionSchema(_Part):
    precision_refresh_sec = StrictInt(5, 86400)
    min_notional_policy = choice("reject", "bump")
    precision_hold_seconds = StrictInt(1, 3600)


class PoolSchema(_Part):
    max_open_groups = StrictInt(1, 1000)
    count_pyramids_toward_pool = StrictBool()
    queue_max_age_minutes = StrictInt(1, 10080, hint=" (one week)")
    promotion_anchor = choice("market", "signal")
    queue_sweep_sec = StrictInt(1, 3600)


class CapitalSchema(_Part):
    total_capital_usd = DecimalText(minimum=0, maximum=10**12, min_exclusive=True)
    max_pyramids = StrictInt(1, MAX_PYRAMIDS)
    pyramid_weights = fields.List(
        DecimalText(minimum=0, maximum=100, min_exclusive=True),
        required=True,
        error_messages=MESSAGES | {"invalid": 'must be a list of weights, e.g. ["50", "50"]'},
    )

    @validates_schema
    def _weights_match_pyramids(self, data, **kwargs):
        weights, count = data["pyramid_weights"], data["max_pyramids"]
        if len(weights) != count:
            raise ValidationError(
                f"has {len(weights)} weights but max_pyramids is {count}; give exactly {count} "
                "weights summing to 100, or leave pyramid_weights out to split 100 equally",
                field_name="pyramid_weights",
            )
        total = sum(weights, Decimal(0))
        if total != HUNDRED:
            raise ValidationError(
                f"pyramid weights sum to {plain_decimal(total)}; they must sum to exactly 100",
                field_name="pyramid_weights",
            )


class GridSchema(_Part):
    entry_order_type = choice("market", "limit")
    legs = legs_field()
    symbol_overrides = SymbolOverrides()


class TakeProfitSchema(_Part):
    tp_mode = choice("per_leg", "aggregate", "hybrid")
    tp_aggregate_percent = DecimalText(minimum=0, maximum=100, min_exclusive=True)


class RiskSchema(_Part):
    enabled = StrictBool()
    loss_threshold_percent = DecimalText(minimum=-100, maximum=0, max_exclusive=True)
    require_full_pyramids = StrictBool()
    timer_start_condition = choice(
        "after_max_pyramids", "after_all_dca_submitted", "after_all_dca_filled"
    )
    post_full_wait_minutes = StrictInt(0, 10080, hint=" (one week)")
    min_age_minutes = StrictInt(0, 43200, hint=" (30 days; 0 turns the age filter off)")
    max_winners_to_combine = StrictInt(1, 20)
    allow_partial_offset = StrictBool()
    evaluation_interval_sec = StrictInt(5, 86400)


class SignalsSchema(_Part):
    max_signal_age_seconds = StrictInt(1, 86400)
    ip_allowlist = IpAllowlist()
    use_tradingview_preset = StrictBool()


class LogsSchema(_Part):
    system_retention_days = StrictInt(1, 3650)
    audit_retention_days = StrictInt(1, 3650)


class UiSchema(_Part):
    theme = choice("dark", "light")


class SettingsSchema(_Part):
    precision = Section(PrecisionSchema)
    pool = Section(PoolSchema)
    capital = Section(CapitalSchema)
    grid = Section(GridSchema)
    take_profit = Section(TakeProfitSchema)
    risk = Section(RiskSchema)
    signals = Section(SignalsSchema)
    logs = Section(LogsSchema)
    ui = Section(UiSchema)


# --- use ----------------------------------------------------------------------------------------


def validate_settings(doc: dict) -> dict:
    """Check a complete JSON settings document and return it with Python values.

    Raises marshmallow's `ValidationError` whose `messages` nest like the document
    (`{"grid": {"legs": {1: {"gap_percent": [...]}}}}`).
    """
    if not isinstance(doc, dict):
        raise ValidationError("the settings document must be a JSON object")
    return SettingsSchema().load(doc)


def dump_settings(loaded: dict) -> dict:
    """The JSON form of a validated document: decimals as plain strings."""
    return SettingsSchema().dump(loaded)


def merge_partial(current: dict, patch: dict) -> dict:
    """`current` with `patch` laid over it, section by section; neither input is changed.

    Objects merge key by key; lists and `grid.symbol_overrides` are replaced whole (so an
    override can be removed by sending the map without it). When the patch changes
    `capital.max_pyramids` without giving `pyramid_weights` (or gives null), the weights become
    equal shares summing to exactly 100.
    """
    if not isinstance(patch, dict):
        raise ValidationError("the settings update must be a JSON object")
    merged = _deep_merge(current, patch, ())
    capital_patch = patch.get("capital")
    if isinstance(capital_patch, dict) and isinstance(merged.get("capital"), dict):
        capital = merged["capital"]
        weights_given = capital_patch.get("pyramid_weights") is not None
        count = _as_count(capital.get("max_pyramids"))
        old_count = _as_count((current.get("capital") or {}).get("max_pyramids"))
        changed = "max_pyramids" in capital_patch and count != old_count
        if count and not weights_given and (changed or capital.get("pyramid_weights") is None):
            capital["pyramid_weights"] = equal_pyramid_weights(count)
    return merged


def _as_count(value) -> int | None:
    """A pyramid count as the schema would read it, or None when it would be refused."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_PYRAMIDS else None


def _deep_merge(base, patch, path: tuple) -> Any:
    if not isinstance(base, dict) or not isinstance(patch, dict) or path in _REPLACED_WHOLE:
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        merged[key] = _deep_merge(base.get(key), value, (*path, key))
    return merged


def legs_for_symbol(settings: dict, symbol: str) -> list[dict]:
    """The grid for `symbol`: its override when one exists, otherwise the default legs.

    Works on either form of the document (loaded or JSON); the symbol is matched in upper case.
    """
    grid = settings["grid"]
    override = (grid.get("symbol_overrides") or {}).get(symbol.upper())
    return override["legs"] if override else grid["legs"]
