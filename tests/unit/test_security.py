"""Secrets: AES-GCM vault, key file permissions, masking, passwords, log redaction."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from server.security.passwords import check_password, hash_password, policy_problems
from server.security.redaction import RedactingFilter, redact_document, redact_text
from server.security.vault import Vault, VaultError, generate_key_text, load_master_key, mask_key


def test_key_file_is_created_private(tmp_path):
    """A missing key file is created once with 0600 permissions and then reused."""
    path = tmp_path / "keys" / "master.key"
    first = load_master_key(None, str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_master_key(None, str(path)) == first
    assert len(first) == 32


def test_env_key_wins_over_file(tmp_path):
    """ENGINE_MASTER_KEY is used when set; the key file is not even created."""
    text = generate_key_text()
    key = load_master_key(text, str(tmp_path / "unused.key"))
    assert len(key) == 32
    assert not (tmp_path / "unused.key").exists()


def test_bad_master_key_is_refused(tmp_path):
    """A key that is not 32 bytes of base64 is refused with a clear error."""
    with pytest.raises(VaultError, match="32 bytes"):
        load_master_key("c2hvcnQ", str(tmp_path / "x"))


def test_vault_round_trip_and_binding():
    """Ciphertext decrypts under its purpose only, and never contains the plaintext."""
    vault = Vault(load_master_key(generate_key_text(), "/nonexistent"))
    sealed = vault.encrypt("my-api-secret", "account:1:api_secret")
    assert "my-api-secret" not in sealed
    assert vault.decrypt(sealed, "account:1:api_secret") == "my-api-secret"
    assert vault.encrypt("my-api-secret", "p") != vault.encrypt("my-api-secret", "p")  # nonce
    with pytest.raises(VaultError):
        vault.decrypt(sealed, "account:2:api_secret")


def test_other_master_key_cannot_decrypt():
    """A ciphertext made under one master key does not open under another."""
    sealed = Vault(load_master_key(generate_key_text(), "/x")).encrypt("s", "p")
    with pytest.raises(VaultError):
        Vault(load_master_key(generate_key_text(), "/x")).decrypt(sealed, "p")


def test_mask_key_shows_only_the_ends():
    """Masked keys keep four characters at each end."""
    assert mask_key("AbC1defghijklmnop9xYz") == "AbC1…9xYz"
    assert "defgh" not in mask_key("AbC1defghijklmnop9xYz")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt", "at least 8"),
        ("alllowercase1", "upper-case"),
        ("NoDigitsHere", "digit"),
    ],
)
def test_password_policy(password, problem):
    """Passwords under 8 characters, without an upper-case letter or without a digit fail."""
    assert any(problem in p for p in policy_problems(password))


def test_password_policy_accepts_good_password():
    """A password meeting every rule has no problems."""
    assert policy_problems("Passw0rdOK") == []


def test_password_hash_checks():
    """bcrypt hashes verify the right password and reject a wrong one."""
    hashed = hash_password("Passw0rdOK", rounds=4)
    assert hashed.startswith("$2")
    assert check_password("Passw0rdOK", hashed)
    assert not check_password("Passw0rdOk", hashed)


def test_redaction_of_text_and_documents():
    """Secret-named values and bearer tokens are replaced, other values are kept."""
    text = redact_text('got {"secret": "s3cr3t", "symbol": "BTCUSDT"} Bearer eyJhbGc.x.y')
    assert "s3cr3t" not in text and "eyJhbGc" not in text and "BTCUSDT" in text
    doc = redact_document(
        {"secret": "a", "tv": {"symbol": "X", "api_key": "k"}, "list": [{"password": "p"}]}
    )
    assert doc == {
        "secret": "***",
        "tv": {"symbol": "X", "api_key": "***"},
        "list": [{"password": "***"}],
    }


def test_logging_filter_scrubs_records(caplog):
    """A log line that carries a secret is scrubbed before any handler writes it."""
    logger = logging.getLogger("redaction-test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("payload %s", {"secret": "topsecret123", "x": 1})
    assert "topsecret123" not in caplog.text
    assert "***" in caplog.text
