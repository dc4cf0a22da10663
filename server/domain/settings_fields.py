"""Marshmallow field types for the settings document: strict decimals, integers, booleans,
choices, nested sections and IP allowlists, each failing with a message that says what to do.

Pure: no Flask, no database, no clock.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, fields, validate

from server.domain.decimals import plain_decimal

MAX_ALLOWLIST_ENTRIES = 200
MESSAGES = {
    "required": "is missing; give a value (GET /api/settings shows the current ones)",
    "null": "may not be null; give a value",
}
OBJECT_MESSAGE = "must be a JSON object"


class DecimalText(fields.Field):
    """A decimal given as a JSON number or string; loaded as `Decimal`, dumped as plain text.

    Numbers go through `str()` first so a float's binary noise never gets in (0.1 -> "0.1").
    `minimum`/`maximum` bound the value; `*_exclusive` make a bound strict.
    """

    def __init__(
        self,
        *,
        minimum=None,
        maximum=None,
        min_exclusive=False,
        max_exclusive=False,
        hint: str = "",
        **kwargs,
    ):
        super().__init__(required=True, error_messages=MESSAGES, **kwargs)
        self.hint = hint
        self.minimum = None if minimum is None else Decimal(minimum)
        self.maximum = None if maximum is None else Decimal(maximum)
        self.min_exclusive = min_exclusive
        self.max_exclusive = max_exclusive

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValidationError('must be a decimal number, e.g. "12.5"')
        if isinstance(value, str) and len(value) > 40:
            raise ValidationError("is too long for a number (at most 40 characters)")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValidationError(f'must be a decimal number, e.g. "12.5", not {value!r}') from exc
        if not number.is_finite():
            raise ValidationError("must be a finite number (NaN and Infinity are not allowed)")
        if number.as_tuple().exponent < -18:  # type: ignore[operator]
            raise ValidationError("has more than 18 decimal places; round it")
        self._check_range(number)
        return number

    def _check_range(self, number: Decimal) -> None:
        low, high = self.minimum, self.maximum
        too_low = low is not None and (number <= low if self.min_exclusive else number < low)
        too_high = high is not None and (number >= high if self.max_exclusive else number > high)
        if too_low or too_high:
            raise ValidationError(
                f"must be {self._range_text()}{self.hint}; got {plain_decimal(number)}"
            )

    def _range_text(self) -> str:
        parts = []
        if self.minimum is not None:
            op = "greater than" if self.min_exclusive else "at least"
            parts.append(f"{op} {plain_decimal(self.minimum)}")
        if self.maximum is not None:
            op = "less than" if self.max_exclusive else "at most"
            parts.append(f"{op} {plain_decimal(self.maximum)}")
        return " and ".join(parts)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else plain_decimal(Decimal(str(value)))


class StrictInt(fields.Field):
    """A whole number within [minimum, maximum]; booleans and fractions are refused."""

    def __init__(self, minimum: int, maximum: int, *, hint: str = "", **kwargs):
        super().__init__(required=True, error_messages=MESSAGES, **kwargs)
        self.minimum, self.maximum, self.hint = minimum, maximum, hint

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, bool):
            raise ValidationError("must be a whole number, not true/false")
        whole_float = isinstance(value, float) and value.is_integer()
        if whole_float or (isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value)):
            value = int(value)
        if not isinstance(value, int):
            raise ValidationError(f"must be a whole number, not {value!r}")
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(
                f"must be between {self.minimum} and {self.maximum}{self.hint}; got {value}"
            )
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class StrictBool(fields.Field):
    """true or false as JSON booleans; "true", 1 and friends are refused."""

    def __init__(self, **kwargs):
        super().__init__(required=True, error_messages=MESSAGES, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise ValidationError(f"must be true or false (a JSON boolean), not {value!r}")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def choice(*options: str) -> fields.String:
    listed = ", ".join(options)
    return fields.String(
        required=True,
        error_messages=MESSAGES | {"invalid": f"must be one of: {listed}"},
        validate=validate.OneOf(options, error=f"must be one of: {listed}; got {{input!r}}"),
    )


class Section(fields.Nested):
    """A nested object; anything else fails on this field itself ("grid": ["must be ..."])."""

    def __init__(self, schema, **kwargs):
        super().__init__(schema, required=True, error_messages=MESSAGES, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError(OBJECT_MESSAGE)
        return super()._deserialize(value, attr, data, **kwargs)


class IpAllowlist(fields.Field):
    """IPv4/IPv6 addresses or CIDR networks; stored in canonical form."""

    def __init__(self, **kwargs):
        super().__init__(required=True, error_messages=MESSAGES, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        if not isinstance(value, list):
            raise ValidationError(
                'must be a list of addresses or networks, e.g. ["52.89.214.238", "10.0.0.0/8"]'
            )
        if len(value) > MAX_ALLOWLIST_ENTRIES:
            raise ValidationError(f"at most {MAX_ALLOWLIST_ENTRIES} entries")
        result, errors = [], {}
        for index, entry in enumerate(value):
            try:
                result.append(_canonical_network(entry))
            except ValueError as exc:
                errors[index] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        return result

    def _serialize(self, value, attr, obj, **kwargs):
        return list(value or [])


def _canonical_network(entry) -> str:
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError('must be an IP address or CIDR network as text, e.g. "10.0.0.0/8"')
    text = entry.strip()
    if "/" not in text:
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a valid IPv4 or IPv6 address") from None
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid CIDR network, e.g. 10.0.0.0/8") from None
    raise ValueError(f"{text!r} has host bits set; did you mean {loose}?")
