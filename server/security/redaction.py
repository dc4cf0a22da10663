"""Redaction of secrets before anything is logged or stored (SPEC §2.1, §8).

Two layers: payloads are redacted structurally before storage (`redact_document`), and a
logging filter scrubs anything secret-shaped from every log line as a last line of defence.
"""

from __future__ import annotations

import logging
import re

REDACTED = "***"
SECRET_KEYS = frozenset(
    {
        "secret",
        "password",
        "api_key",
        "api_secret",
        "apikey",
        "secret_key",
        "token",
        "access_token",
        "refresh_token",
        "webhook_secret",
        "new_password",
        "authorization",
        "x-signature",
        "signature",
    }
)

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)()([A-Za-z0-9._~+/=-]+)()"),
    # "key": "value" / 'key': 'value' / key=value for secret-named keys
    re.compile(
        r"""(?i)(["']?(?:"""
        + "|".join(re.escape(k) for k in sorted(SECRET_KEYS, key=len, reverse=True))
        + r""")["']?\s*[:=]\s*)(["']?)([^"'\s,&}]+)(["']?)"""
    ),
]


def redact_text(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(4)}", text)
    return text


def redact_document(value):
    """A copy of a JSON-like document with every secret-named key's value replaced."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if str(k).lower() in SECRET_KEYS else redact_document(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_document(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Scrubs secret-shaped substrings from the fully formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
