"""The settings document (SPEC §9): defaults, validation rules, decimals, partial merges."""

from __future__ import annotations

import ast
import copy
from decimal import Decimal
from pathlib import Path

import pytest
from marshmallow import ValidationError

from server.domain import settings as settings_module
from server.domain.settings import (
    DEFAULT_SETTINGS,
    dump_settings,
    equal_pyramid_weights,
    legs_for_symbol,
    merge_partial,
    validate_settings,
)


def flat(messages, prefix=""):
    """marshmallow's nested messages as {"a.b.0.c": [...]}, the way the API reports them."""
    out = {}
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flat(value, path))
        else:
            out[path] = value
    return out


def errors_for(patch) -> dict:
    """Field errors of the defaults with `patch` laid over them ({} when valid)."""
    try:
        validate_settings(merge_partial(DEFAULT_SETTINGS, patch))
    except ValidationError as exc:
        return flat(exc.messages)
    return {}


def legs(*rows):
    return [{"gap_percent": g, "weight_percent": w, "tp_percent": t} for g, w, t in rows]


FIVE_EQUAL = legs(
    ("0", "20", "1"),
    ("-0.5", "20", "0.5"),
    ("-1", "20", "0.5"),
    ("-2", "20", "0.5"),
    ("-4", "20", "0.5"),
)


# --- defaults -----------------------------------------------------------------------------------


def test_defaults_validate_and_dump_back_unchanged():
    """The default document passes every rule and survives a load/dump round trip as is."""
    assert dump_settings(validate_settings(DEFAULT_SETTINGS)) == DEFAULT_SETTINGS


def test_default_grid_is_the_spec_table():
    """Default legs are SPEC §3.2's table: gaps 0/-0.5/-1/-2/-4, weights 20, tp 1 then 0.5."""
    loaded = validate_settings(DEFAULT_SETTINGS)
    got = [
        (leg["gap_percent"], leg["weight_percent"], leg["tp_percent"])
        for leg in loaded["grid"]["legs"]
    ]
    assert got == [
        (Decimal("0"), Decimal("20"), Decimal("1")),
        (Decimal("-0.5"), Decimal("20"), Decimal("0.5")),
        (Decimal("-1"), Decimal("20"), Decimal("0.5")),
        (Decimal("-2"), Decimal("20"), Decimal("0.5")),
        (Decimal("-4"), Decimal("20"), Decimal("0.5")),
    ]


def test_default_scalars_match_the_spec():
    """Defaults named in SPEC §3-§8 and seed 002 have their documented values."""
    d = DEFAULT_SETTINGS
    assert d["precision"]["precision_refresh_sec"] == 60
    assert d["precision"]["min_notional_policy"] == "reject"
    assert d["precision"]["precision_hold_seconds"] == 120
    assert d["pool"]["max_open_groups"] == 10
    assert d["pool"]["queue_max_age_minutes"] == 240
    assert d["pool"]["promotion_anchor"] == "market"
    assert d["pool"]["queue_sweep_sec"] == 5
    assert d["capital"]["total_capital_usd"] == "10000"
    assert d["capital"]["pyramid_weights"] == ["20", "20", "20", "20", "20"]
    assert d["grid"]["entry_order_type"] == "market"
    assert d["risk"]["loss_threshold_percent"] == "-5"
    assert d["risk"]["timer_start_condition"] == "after_all_dca_filled"
    assert d["risk"]["post_full_wait_minutes"] == 60
    assert d["risk"]["min_age_minutes"] == 0
    assert d["risk"]["max_winners_to_combine"] == 3
    assert d["risk"]["evaluation_interval_sec"] == 60
    assert d["signals"]["max_signal_age_seconds"] == 300
    assert d["logs"] == {"system_retention_days": 30, "audit_retention_days": 90}


def test_defaults_loaded_values_are_python_types():
    """After loading, money is Decimal, counts are int and flags are bool."""
    loaded = validate_settings(DEFAULT_SETTINGS)
    assert loaded["capital"]["total_capital_usd"] == Decimal("10000")
    assert type(loaded["pool"]["max_open_groups"]) is int
    assert loaded["risk"]["enabled"] is True


# --- grid ---------------------------------------------------------------------------------------


def test_leg_weights_summing_to_99_fail_on_grid_legs():
    """Weights 20,20,20,20,19 are refused on grid.legs with their sum (99) and the target 100."""
    bad = copy.deepcopy(FIVE_EQUAL)
    bad[4]["weight_percent"] = "19"
    errors = errors_for({"grid": {"legs": bad}})
    assert list(errors) == ["grid.legs"]
    assert "99" in errors["grid.legs"][0]
    assert "100" in errors["grid.legs"][0]


def test_leg_weights_sum_is_exact_decimal():
    """Three legs of 33.33 + 33.33 + 33.34 sum to exactly 100 and pass (no float drift)."""
    ok = legs(("0", "33.33", "1"), ("-1", "33.33", "1"), ("-2", "33.34", "1"))
    assert errors_for({"grid": {"legs": ok}}) == {}


def test_positive_gap_fails_on_that_leg():
    """A gap of +0.5 on leg 1 is reported at grid.legs.1.gap_percent, saying gaps are <= 0."""
    bad = copy.deepcopy(FIVE_EQUAL)
    bad[1]["gap_percent"] = "0.5"
    errors = errors_for({"grid": {"legs": bad}})
    assert list(errors) == ["grid.legs.1.gap_percent"]
    assert "at most 0" in errors["grid.legs.1.gap_percent"][0]


@pytest.mark.parametrize("tp", ["0", "-0.5"])
def test_tp_percent_must_be_positive(tp):
    """A leg take-profit of 0 or below is refused on that leg's tp_percent."""
    bad = copy.deepcopy(FIVE_EQUAL)
    bad[2]["tp_percent"] = tp
    assert list(errors_for({"grid": {"legs": bad}})) == ["grid.legs.2.tp_percent"]


def test_grid_needs_at_least_one_leg():
    """An empty grid is refused with the allowed range of legs."""
    errors = errors_for({"grid": {"legs": []}})
    assert errors == {"grid.legs": ["a grid needs between 1 and 20 legs; got 0"]}


def test_grid_allows_twenty_legs_not_twenty_one():
    """20 legs of 5 % pass; 21 legs (even summing to 100) are refused."""
    twenty = legs(*[(f"-{i}", "5", "1") for i in range(20)])
    assert errors_for({"grid": {"legs": twenty}}) == {}
    twenty_one = legs(*[(f"-{i}", "5", "1") for i in range(20)], ("-30", "0.1", "1"))
    twenty_one[0]["weight_percent"] = "4.9"
    assert "grid.legs" in errors_for({"grid": {"legs": twenty_one}})


def test_symbol_override_keys_must_be_upper_case_symbols():
    """An override keyed "btc/usdt" is refused on that key; "BTCUSDT" is accepted."""
    one_leg = legs(("0", "100", "1"))
    errors = errors_for({"grid": {"symbol_overrides": {"btc/usdt": {"legs": one_leg}}}})
    assert list(errors) == ["grid.symbol_overrides.btc/usdt"]
    assert "upper-case" in errors["grid.symbol_overrides.btc/usdt"][0]
    assert errors_for({"grid": {"symbol_overrides": {"BTCUSDT": {"legs": one_leg}}}}) == {}


def test_symbol_override_legs_follow_the_grid_rules():
    """An override whose weights sum to 90 fails at grid.symbol_overrides.ETHUSDT.legs."""
    bad = legs(("0", "50", "1"), ("-1", "40", "1"))
    errors = errors_for({"grid": {"symbol_overrides": {"ETHUSDT": {"legs": bad}}}})
    assert list(errors) == ["grid.symbol_overrides.ETHUSDT.legs"]
    assert "90" in errors["grid.symbol_overrides.ETHUSDT.legs"][0]


def test_legs_for_symbol_prefers_the_override():
    """A symbol with an override gets its legs (matched in any case); others get the default."""
    one_leg = legs(("0", "100", "2"))
    doc = merge_partial(
        DEFAULT_SETTINGS, {"grid": {"symbol_overrides": {"BTCUSDT": {"legs": one_leg}}}}
    )
    loaded = validate_settings(doc)
    assert legs_for_symbol(loaded, "btcusdt") == [
        {"gap_percent": Decimal("0"), "weight_percent": Decimal("100"), "tp_percent": Decimal("2")}
    ]
    assert len(legs_for_symbol(loaded, "ETHUSDT")) == 5


# --- capital ------------------------------------------------------------------------------------


def test_pyramid_weights_count_must_match_max_pyramids():
    """Five weights with max_pyramids 3 fail on capital.pyramid_weights naming both counts."""
    errors = errors_for(
        {"capital": {"max_pyramids": 3, "pyramid_weights": ["20", "20", "20", "20", "20"]}}
    )
    assert list(errors) == ["capital.pyramid_weights"]
    message = errors["capital.pyramid_weights"][0]
    assert "has 5 weights" in message
    assert "max_pyramids is 3" in message


def test_pyramid_weights_must_sum_to_100():
    """Weights 50 and 49 (sum 99) are refused; 50 and 50 pass."""
    errors = errors_for({"capital": {"max_pyramids": 2, "pyramid_weights": ["50", "49"]}})
    assert "99" in errors["capital.pyramid_weights"][0]
    assert errors_for({"capital": {"max_pyramids": 2, "pyramid_weights": ["50", "50"]}}) == {}


def test_pyramid_weight_zero_is_refused():
    """A pyramid weight of 0 is refused on that entry even if the sum is 100."""
    errors = errors_for({"capital": {"max_pyramids": 2, "pyramid_weights": ["100", "0"]}})
    assert list(errors) == ["capital.pyramid_weights.1"]


@pytest.mark.parametrize("count", [0, 21])
def test_max_pyramids_between_1_and_20(count):
    """max_pyramids outside 1-20 is refused on capital.max_pyramids."""
    errors = errors_for({"capital": {"max_pyramids": count}})
    assert "capital.max_pyramids" in errors


def test_changing_max_pyramids_alone_gives_equal_weights():
    """max_pyramids 3 without weights gives 33.34, 33.33, 33.33 (remainder first), sum 100."""
    merged = merge_partial(DEFAULT_SETTINGS, {"capital": {"max_pyramids": 3}})
    assert merged["capital"]["pyramid_weights"] == ["33.34", "33.33", "33.33"]
    loaded = validate_settings(merged)
    assert sum(loaded["capital"]["pyramid_weights"]) == Decimal("100")


def test_equal_weights_for_seven():
    """7 pyramids: six shares of 14.28 and 100 - 85.68 = 14.32 first."""
    assert equal_pyramid_weights(7) == ["14.32"] + ["14.28"] * 6


@pytest.mark.parametrize("count", range(1, 21))
def test_equal_weights_always_sum_to_exactly_100(count):
    """For every allowed pyramid count the equal weights are positive and sum to exactly 100."""
    weights = [Decimal(w) for w in equal_pyramid_weights(count)]
    assert len(weights) == count
    assert sum(weights) == Decimal("100")
    assert min(weights) > 0


def test_same_max_pyramids_keeps_custom_weights():
    """Re-sending the unchanged max_pyramids keeps the weights the user had set."""
    current = merge_partial(
        DEFAULT_SETTINGS, {"capital": {"max_pyramids": 2, "pyramid_weights": ["70", "30"]}}
    )
    merged = merge_partial(current, {"capital": {"max_pyramids": 2}})
    assert merged["capital"]["pyramid_weights"] == ["70", "30"]


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1001, False), (1, True), (1000, True)])
def test_max_open_groups_between_1_and_1000(value, ok):
    """max_open_groups accepts 1 and 1000 and refuses 0 and 1001."""
    assert (errors_for({"pool": {"max_open_groups": value}}) == {}) is ok


@pytest.mark.parametrize("value", ["0", "-1", -5])
def test_total_capital_must_be_positive(value):
    """A total capital of 0 or below is refused on capital.total_capital_usd."""
    assert list(errors_for({"capital": {"total_capital_usd": value}})) == [
        "capital.total_capital_usd"
    ]


# --- take-profit and risk -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"), [("0", False), ("0.01", True), ("100", True), ("100.5", False)]
)
def test_tp_aggregate_percent_in_0_to_100(value, ok):
    """tp_aggregate_percent must be above 0 and at most 100."""
    errors = errors_for({"take_profit": {"tp_aggregate_percent": value}})
    assert (errors == {}) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0", False), ("-0.01", True), ("-100", True), ("-100.01", False), ("3", False)],
)
def test_loss_threshold_in_minus_100_to_0_exclusive(value, ok):
    """loss_threshold_percent accepts [-100, 0): 0 and positive values are refused."""
    errors = errors_for({"risk": {"loss_threshold_percent": value}})
    assert (errors == {}) is ok


@pytest.mark.parametrize("value", [0, 21])
def test_max_winners_between_1_and_20(value):
    """max_winners_to_combine outside 1-20 is refused."""
    assert list(errors_for({"risk": {"max_winners_to_combine": value}})) == [
        "risk.max_winners_to_combine"
    ]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("risk", "evaluation_interval_sec"),
        ("precision", "precision_refresh_sec"),
        ("pool", "queue_sweep_sec"),
        ("signals", "max_signal_age_seconds"),
        ("logs", "audit_retention_days"),
    ],
)
def test_intervals_must_be_positive_and_bounded(section, key):
    """Zero and a year-long value are both refused for periodic intervals and retention."""
    assert f"{section}.{key}" in errors_for({section: {key: 0}})
    assert f"{section}.{key}" in errors_for({section: {key: 10**8}})


def test_enum_values_are_checked():
    """An unknown tp_mode or timer condition is refused, listing the allowed values."""
    errors = errors_for(
        {
            "take_profit": {"tp_mode": "trailing"},
            "risk": {"timer_start_condition": "after_5_pyramids"},
        }
    )
    assert "per_leg, aggregate, hybrid" in errors["take_profit.tp_mode"][0]
    assert "risk.timer_start_condition" in errors


# --- signals ------------------------------------------------------------------------------------


def test_ip_allowlist_accepts_addresses_and_networks_in_canonical_form():
    """IPv4, IPv6 and CIDR entries pass; IPv6 is stored compressed in lower case."""
    doc = merge_partial(
        DEFAULT_SETTINGS,
        {
            "signals": {
                "ip_allowlist": ["52.89.214.238", "10.0.0.0/8", "2001:DB8:0::1", "2001:db8::/32"]
            }
        },
    )
    dumped = dump_settings(validate_settings(doc))
    assert dumped["signals"]["ip_allowlist"] == [
        "52.89.214.238",
        "10.0.0.0/8",
        "2001:db8::1",
        "2001:db8::/32",
    ]


def test_ip_allowlist_rejects_bad_entries_one_by_one():
    """A /33 network, garbage and a network with host bits set each fail at their index."""
    errors = errors_for(
        {"signals": {"ip_allowlist": ["1.2.3.4", "10.0.0.0/33", "not-an-ip", "10.0.0.1/8"]}}
    )
    assert sorted(errors) == [
        "signals.ip_allowlist.1",
        "signals.ip_allowlist.2",
        "signals.ip_allowlist.3",
    ]
    assert "10.0.0.0/8" in errors["signals.ip_allowlist.3"][0]  # suggests the network


# --- value types --------------------------------------------------------------------------------


def test_decimals_dump_as_plain_strings_without_exponent():
    """1E-8 given as a string dumps as "0.00000001"; trailing zeros are dropped ("20.50")."""
    doc = merge_partial(
        DEFAULT_SETTINGS,
        {
            "take_profit": {"tp_aggregate_percent": "1E-8"},
            "capital": {"total_capital_usd": "2500.50"},
        },
    )
    dumped = dump_settings(validate_settings(doc))
    assert dumped["take_profit"]["tp_aggregate_percent"] == "0.00000001"
    assert dumped["capital"]["total_capital_usd"] == "2500.5"


def test_decimal_from_json_number_has_no_float_noise():
    """A JSON number 0.1 loads as Decimal("0.1"), not 0.1000000000000000055511151231257827."""
    doc = merge_partial(DEFAULT_SETTINGS, {"take_profit": {"tp_aggregate_percent": 0.1}})
    assert validate_settings(doc)["take_profit"]["tp_aggregate_percent"] == Decimal("0.1")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "abc", True, None, [1]])
def test_decimals_refuse_non_numbers(value):
    """NaN, infinities, text, booleans, null and lists are refused as decimals."""
    assert list(errors_for({"capital": {"total_capital_usd": value}})) == [
        "capital.total_capital_usd"
    ]


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", None])
def test_booleans_must_be_real_booleans(value):
    """Flags accept only JSON true/false, not "true", 1 or null."""
    assert list(errors_for({"risk": {"allow_partial_offset": value}})) == [
        "risk.allow_partial_offset"
    ]


@pytest.mark.parametrize("value", [True, 1.5, "ten"])
def test_whole_numbers_refuse_booleans_and_fractions(value):
    """Counts refuse true, 1.5 and words."""
    assert list(errors_for({"pool": {"max_open_groups": value}})) == ["pool.max_open_groups"]


def test_a_section_that_is_not_an_object_fails_on_the_section():
    """ "grid": 5 is reported on grid itself."""
    assert errors_for({"grid": 5}) == {"grid": ["must be a JSON object"]}


def test_missing_key_in_a_full_document_is_reported():
    """Validating a document without risk.enabled reports that key as missing."""
    doc = copy.deepcopy(DEFAULT_SETTINGS)
    del doc["risk"]["enabled"]
    with pytest.raises(ValidationError) as info:
        validate_settings(doc)
    assert list(flat(info.value.messages)) == ["risk.enabled"]


# --- merging ------------------------------------------------------------------------------------


def test_merge_partial_keeps_untouched_sections_and_keys():
    """Patching pool.max_open_groups changes only that key; inputs are not mutated."""
    before = copy.deepcopy(DEFAULT_SETTINGS)
    merged = merge_partial(DEFAULT_SETTINGS, {"pool": {"max_open_groups": 4}})
    assert merged["pool"]["max_open_groups"] == 4
    assert merged["pool"]["queue_max_age_minutes"] == 240
    assert merged["grid"] == DEFAULT_SETTINGS["grid"]
    assert merged["risk"] == DEFAULT_SETTINGS["risk"]
    assert before == DEFAULT_SETTINGS


def test_merge_partial_replaces_lists_whole():
    """A patch with two legs replaces the five default legs instead of merging by index."""
    two = legs(("0", "50", "1"), ("-1", "50", "1"))
    merged = merge_partial(DEFAULT_SETTINGS, {"grid": {"legs": two}})
    assert merged["grid"]["legs"] == two


def test_merge_partial_replaces_symbol_overrides_whole():
    """Sending overrides without BTCUSDT removes BTCUSDT's override."""
    one = legs(("0", "100", "1"))
    current = merge_partial(
        DEFAULT_SETTINGS,
        {"grid": {"symbol_overrides": {"BTCUSDT": {"legs": one}, "ETHUSDT": {"legs": one}}}},
    )
    merged = merge_partial(current, {"grid": {"symbol_overrides": {"ETHUSDT": {"legs": one}}}})
    assert list(merged["grid"]["symbol_overrides"]) == ["ETHUSDT"]


def test_merge_of_the_full_document_is_the_document():
    """Merging a whole document over anything gives that document."""
    other = merge_partial(
        DEFAULT_SETTINGS, {"ui": {"theme": "light"}, "pool": {"max_open_groups": 2}}
    )
    assert merge_partial(other, DEFAULT_SETTINGS) == DEFAULT_SETTINGS


def test_unknown_keys_are_dropped_from_the_stored_document():
    """A key the schema does not know is ignored (contract) and not kept."""
    doc = merge_partial(DEFAULT_SETTINGS, {"ui": {"font": "huge"}})
    assert dump_settings(validate_settings(doc))["ui"] == {"theme": "dark"}


# --- purity -------------------------------------------------------------------------------------


def test_settings_domain_imports_nothing_impure():
    """server/domain/settings.py imports no Flask, database, Redis or clock module."""
    tree = ast.parse(Path(settings_module.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    forbidden = (
        "flask",
        "peewee",
        "redis",
        "server.persistence",
        "server.clock",
        "server.state",
        "datetime",
        "time",
    )
    assert not [n for n in names if n.split(".")[0] in forbidden or n.startswith(forbidden)]
