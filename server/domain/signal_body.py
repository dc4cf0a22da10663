"""The raw webhook body (SPEC §2.1): decoding, structural bounds and the duplicate fingerprint.

Pure: bytes in, decisions out. TradingView posts `application/json` when the alert message is
valid JSON and `text/plain` otherwise, so the content type is never consulted: the body is read
as JSON either way.

- `decode_body` never raises. It records *why* a body is unusable (empty, not UTF-8, not JSON)
  but still extracts what it can, so a body that is signed, or whose `secret` can be read, gets
  a precise `400` instead of a generic `401`.
- Non-integral numbers are parsed as `Decimal` (never `float`). `NaN`/`Infinity` (which
  TradingView renders for `na` values) are kept as `NonFinite` markers so the field that holds
  one is refused by name; unknown fields are ignored whatever they hold.
- `check_bounds` caps nesting depth, string and key lengths after authentication.
- `fingerprint` is the duplicate key of a body: SHA-256 of its canonical JSON (keys sorted,
  no whitespace) without the top-level `secret`, so re-sending the same alert with different
  whitespace, key order or a rotated secret is still a duplicate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_BODY_BYTES = 16 * 1024
MAX_DEPTH = 8  # {"tv": {...}} is depth 2
MAX_STRING_CHARS = 256
MAX_KEY_CHARS = 64
MAX_REPORTED_PROBLEMS = 10


class NonFinite(str):
    """`NaN`, `Infinity` or `-Infinity` as written in the body (not JSON, but TradingView's
    rendering of `na`). A `str` so it can be stored and shown; numeric fields refuse it."""

    __slots__ = ()


@dataclass(frozen=True)
class DecodedBody:
    """What could be read from a body. `doc` is `None` when it is not JSON at all."""

    doc: Any
    utf8_error: str | None = None
    json_error: str | None = None

    @property
    def problem(self) -> str | None:
        """Why the body cannot be used, or `None` when it decoded cleanly."""
        return self.utf8_error or self.json_error

    @property
    def secret(self) -> str | None:
        """The body's top-level `secret`, when there is one to compare."""
        if isinstance(self.doc, dict):
            value = self.doc.get("secret")
            if isinstance(value, str) and value and not isinstance(value, NonFinite):
                return value
        return None


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"number {text[:20]} is out of range") from None


def decode_body(raw: bytes) -> DecodedBody:
    """Read `raw` as UTF-8 JSON, whatever the content type said."""
    utf8_error = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = f"the body is not valid UTF-8 (bad byte at offset {exc.start})"
        text = raw.decode("utf-8", errors="replace")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return DecodedBody(None, utf8_error, "the body is empty; send the alert's JSON message")
    try:
        doc = json.loads(text, parse_float=_decimal, parse_constant=NonFinite)
    except RecursionError:
        return DecodedBody(None, utf8_error, f"the JSON is nested deeper than {MAX_DEPTH} levels")
    except ValueError as exc:
        return DecodedBody(None, utf8_error, f"the body is not valid JSON ({_short(exc)})")
    if not isinstance(doc, dict):
        kind = "an array" if isinstance(doc, list) else "a single value"
        return DecodedBody(doc, utf8_error, f"the body must be a JSON object, not {kind}")
    return DecodedBody(doc, utf8_error, None)


def _short(exc: ValueError) -> str:
    return str(exc).split("\n", 1)[0][:120]


def _path(parts: tuple) -> str:
    return ".".join(str(p) for p in parts) or "_schema"


def check_bounds(doc: Any) -> dict[str, list[str]]:
    """Problems with nesting depth, key and string lengths, as {"dotted.path": [why]}.

    Walks iteratively (no recursion) and stops after a few problems: a hostile body must not
    make the error report itself large."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, tuple, int]] = [(doc, (), 1)]
    while stack and len(problems) < MAX_REPORTED_PROBLEMS:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                problems[_path(path)] = [f"nested deeper than {MAX_DEPTH} levels"]
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, inner in items:
                if isinstance(key, str) and len(key) > MAX_KEY_CHARS:
                    problems[_path((*path, key[:20] + "…"))] = [
                        f"field names are at most {MAX_KEY_CHARS} characters"
                    ]
                    continue
                stack.append((inner, (*path, key), depth + 1))
        elif isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            problems[_path(path)] = [
                f"at most {MAX_STRING_CHARS} characters; got {len(value)}",
            ]
    return problems


def _canonical_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def fingerprint(doc: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of `doc` without its top-level `secret`."""
    body = {k: v for k, v in doc.items() if k != "secret"}
    canonical = json.dumps(
        body,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_canonical_default,
    )
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def clean_text(text: str) -> str:
    """`text` with NUL and unpaired surrogates replaced (see `storable`)."""
    if text.isascii() and "\x00" not in text:
        return text
    cleaned = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return cleaned.replace("\x00", "\ufffd")


def storable(value: Any) -> Any:
    """A copy of a decoded document that PostgreSQL accepts as JSONB and text: NUL characters
    and unpaired surrogates (legal in JSON escapes, refused by PostgreSQL) become U+FFFD."""
    if isinstance(value, dict):
        return {clean_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, str):
        return clean_text(str(value))
    return value
