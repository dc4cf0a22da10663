"""AES-256-GCM encryption of secrets at rest under a master key kept outside the database.

The master key comes from ENGINE_MASTER_KEY (32 bytes, urlsafe base64) or from a key file that
is created on first use with 0600 permissions. Each ciphertext is bound to its purpose (the
associated data, e.g. "account:<id>:api_secret"), so a value copied into another row or column
fails to decrypt instead of silently leaking there.

Stored form: "v1:" + urlsafe_b64(nonce[12] + ciphertext + tag[16]).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"


class VaultError(Exception):
    """The master key is missing or malformed, or a ciphertext does not decrypt."""


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode() + b"==")
    except (ValueError, TypeError) as exc:
        raise VaultError("master key is not valid urlsafe base64") from exc
    if len(key) != 32:
        raise VaultError("master key must be 32 bytes (AES-256)")
    return key


def generate_key_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def load_master_key(env_value: str | None, key_file: str) -> bytes:
    """The key from the environment, else from `key_file`, creating it (0600) if absent."""
    if env_value:
        return _decode_key(env_value)
    path = Path(key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (generate_key_text() + "\n").encode())
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    return _decode_key(path.read_text())


class Vault:
    """Encrypts and decrypts short secrets (API keys, webhook secrets)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), purpose.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str, purpose: str) -> str:
        if not stored.startswith(PREFIX):
            raise VaultError("unknown ciphertext format")
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :].encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except InvalidTag as exc:
            raise VaultError("ciphertext does not decrypt under this master key") from exc


def mask_key(key: str) -> str:
    """`AbC1…9xYz`: enough to recognise a key, never enough to use it."""
    if len(key) <= 8:
        return "…" + key[-2:] if len(key) > 2 else "…"
    return f"{key[:4]}…{key[-4:]}"
