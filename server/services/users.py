"""Users: registration, login, webhook secrets, password reset, administration (SPEC §8)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from peewee import IntegrityError

from server import runtime
from server.api.errors import ApiError
from server.clock import utcnow
from server.domain.enums import LogCategory, LogLevel, Role
from server.persistence.db import db
from server.persistence.models import PasswordResetToken, SystemSetting, User
from server.security.passwords import (
    POLICY_TEXT,
    burn_time,
    check_password,
    hash_password,
    policy_problems,
)
from server.services.journal import audit, system_log
from server.services.mail import OutboxMailer

REGISTRATION_KEY = "registration"


def _secret_purpose(user_id) -> str:
    return f"user:{user_id}:webhook_secret"


def webhook_url(user: User) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/api/webhook/{user.id}"


def webhook_secret(user: User) -> str:
    return runtime.vault().decrypt(user.webhook_secret_enc, _secret_purpose(user.id))


def registration_mode() -> str:
    row = SystemSetting.get_or_none(SystemSetting.key == REGISTRATION_KEY)
    return row.value if row is not None else current_app.config["REGISTRATION"]


def set_registration_mode(mode: str, actor: User) -> None:
    if mode not in ("open", "invite"):
        raise ApiError(
            422,
            "registration must be open or invite",
            fields={"registration": ["must be one of: open, invite"]},
        )
    SystemSetting.insert(key=REGISTRATION_KEY, value=mode).on_conflict(
        conflict_target=[SystemSetting.key], update={SystemSetting.value: mode}
    ).execute()
    audit(actor.id, "system.registration", mode=mode)


def _check_policy(password: str, field: str = "password") -> None:
    problems = policy_problems(password)
    if problems:
        raise ApiError(422, f"password must have {POLICY_TEXT}", fields={field: problems})


def create_user(email: str, username: str, password: str | None, role: Role) -> User:
    """Insert a user with a fresh webhook secret; 409 on a taken email or username."""
    user_id = uuid.uuid4()
    secret = secrets.token_urlsafe(24)
    pw_hash = hash_password(
        password or secrets.token_urlsafe(32), current_app.config["BCRYPT_ROUNDS"]
    )
    _ensure_free(email, username)
    try:
        return User.create(
            id=user_id,
            email=email.lower(),
            username=username,
            password_hash=pw_hash,
            role=role.value,
            webhook_secret_enc=runtime.vault().encrypt(secret, _secret_purpose(user_id)),
        )
    except IntegrityError as exc:
        raise ApiError(409, "email or username already registered", "conflict") from exc


def _ensure_free(email: str, username: str) -> None:
    taken = {}
    if User.select().where(User.email == email.lower()).exists():
        taken["email"] = ["already registered"]
    if User.select().where(User.username == username).exists():
        taken["username"] = ["already taken"]
    if taken:
        raise ApiError(409, "email or username already registered", "conflict", taken)


def register(email: str, username: str, password: str, remote_addr: str | None) -> User:
    """Self-registration. The first user becomes admin; later ones are traders (open mode)."""
    _check_policy(password)
    with db.atomic():
        first = not User.select().exists()
        if not first and registration_mode() == "invite":
            raise ApiError(
                403,
                "registration is invite-only; ask an administrator for an invite",
                "registration_closed",
            )
        user = create_user(email, username, password, Role.ADMIN if first else Role.TRADER)
    system_log(
        LogLevel.INFO,
        LogCategory.SECURITY,
        f"user {username} registered",
        user_id=user.id,
        role=user.role,
    )
    audit(
        user.id,
        "user.register",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
        role=user.role,
    )
    return user


def authenticate(login: str, password: str, remote_addr: str | None) -> User:
    """The user for (email or username, password); the same 401 whatever was wrong."""
    login = login.strip()
    user = User.get_or_none((User.email == login.lower()) | (User.username == login))
    if user is None:
        burn_time(password)
    if user is None or not check_password(password, user.password_hash) or not user.is_active:
        system_log(LogLevel.WARNING, LogCategory.SECURITY, "failed login", remote_addr=remote_addr)
        raise ApiError(401, "wrong login or password", "invalid_credentials")
    User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    audit(user.id, "user.login", target_type="user", target_id=user.id, remote_addr=remote_addr)
    return user


def rotate_webhook_secret(user: User, remote_addr: str | None) -> str:
    secret = secrets.token_urlsafe(24)
    user.webhook_secret_enc = runtime.vault().encrypt(secret, _secret_purpose(user.id))
    user.save(only=[User.webhook_secret_enc])
    audit(
        user.id,
        "user.webhook_secret.rotate",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
    )
    return secret


def matches_webhook_secret(user: User, presented: str) -> bool:
    return hmac.compare_digest(webhook_secret(user).encode(), presented.encode())


# --- password reset / invitations -------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_reset_token(user: User, ttl: timedelta | None = None) -> str:
    token = secrets.token_urlsafe(32)
    PasswordResetToken.create(
        user=user,
        token_hash=_token_hash(token),
        expires_at=utcnow() + (ttl or current_app.config["PASSWORD_RESET_TTL"]),
    )
    return token


def reset_link(token: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reset-password?token={token}"


def forgot_password(login: str, remote_addr: str | None) -> None:
    """Deliver a reset link if the login names a user; the caller learns nothing either way."""
    user = User.get_or_none(
        (User.email == login.strip().lower()) | (User.username == login.strip())
    )
    if user is None or not user.is_active:
        return
    token = issue_reset_token(user)
    OutboxMailer(current_app.config["MAIL_OUTBOX"]).send(
        user.email,
        "Reset your password",
        f"Open {reset_link(token)} within the hour to choose a new password.",
    )
    system_log(
        LogLevel.INFO,
        LogCategory.SECURITY,
        "password reset requested; link written to the mail outbox",
        user_id=user.id,
    )
    audit(
        user.id,
        "user.password.forgot",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
    )


def reset_password(token: str, new_password: str, remote_addr: str | None) -> User:
    _check_policy(new_password)
    with db.atomic():
        row = PasswordResetToken.get_or_none(PasswordResetToken.token_hash == _token_hash(token))
        if row is None or row.used_at is not None or row.expires_at < utcnow():
            raise ApiError(
                400, "reset link is invalid or expired; request a new one", "invalid_token"
            )
        row.used_at = utcnow()
        row.save()
        user = row.user
        user.password_hash = hash_password(new_password, current_app.config["BCRYPT_ROUNDS"])
        user.save(only=[User.password_hash])
    audit(
        user.id,
        "user.password.reset",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
    )
    return user


# --- administration ---------------------------------------------------------------------------


def invite_user(
    actor: User, email: str, username: str, role: Role, remote_addr: str | None
) -> tuple[User, str]:
    """Create a user with an unusable password and return a one-time link to set one."""
    user = create_user(email, username, None, role)
    token = issue_reset_token(user, ttl=timedelta(days=7))
    audit(
        actor.id,
        "admin.user.invite",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
        role=role.value,
    )
    return user, reset_link(token)


def update_user(actor: User, user: User, changes: dict, remote_addr: str | None) -> User:
    if str(user.id) == str(actor.id) and (
        changes.get("is_active") is False or changes.get("role") not in (None, Role.ADMIN.value)
    ):
        raise ApiError(
            409, "you cannot demote or deactivate yourself; ask another admin", "conflict"
        )
    for key in ("role", "is_active"):
        if key in changes:
            setattr(user, key, changes[key])
    user.save()
    audit(
        actor.id,
        "admin.user.update",
        target_type="user",
        target_id=user.id,
        remote_addr=remote_addr,
        **changes,
    )
    return user
