"""Password hashing (bcrypt) and the password policy of SPEC §8."""

from __future__ import annotations

import bcrypt

POLICY_TEXT = "at least 8 characters, with an upper-case letter and a digit"
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything beyond 72 bytes; refuse rather than truncate


def policy_problems(password: str) -> list[str]:
    """Why `password` breaks the policy; empty when it is acceptable."""
    problems = []
    if len(password) < 8:
        problems.append("must be at least 8 characters")
    if not any(c.isupper() for c in password):
        problems.append("must contain an upper-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("must contain a digit")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        problems.append(f"must be at most {MAX_PASSWORD_BYTES} bytes")
    return problems


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


# A real hash to compare against when the login names no user, so an unknown login costs the
# same time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=4)).decode()


def burn_time(password: str) -> None:
    check_password(password, _DUMMY_HASH)
