"""Exchange accounts: store keys encrypted, never return them, check connectivity (SPEC §8)."""

from __future__ import annotations

from dataclasses import dataclass

from server import runtime
from server.api.errors import ApiError
from server.clock import utcnow
from server.domain.enums import OPEN_GROUP_STATUSES, AccountMode
from server.persistence.db import db
from server.persistence.models import ExchangeAccount, PositionGroup, User
from server.security.vault import mask_key
from server.services.journal import audit


@dataclass(frozen=True)
class Validation:
    valid: bool
    error: str | None


def _purpose(account_id, part: str) -> str:
    return f"account:{account_id}:{part}"


def check_connectivity(account: ExchangeAccount) -> Validation:
    """`fetch_balance` plus the trading-permission probe, through the account's own client
    (paper accounts: the public market data their fills are simulated on)."""
    from server.services.exchanges import client_for

    result = client_for(account).check_connectivity()
    return Validation(valid=result.valid, error=result.error)


def _record_validation(account: ExchangeAccount, result: Validation) -> None:
    account.last_validated_at = utcnow()
    account.last_validation_error = result.error
    account.save(only=[ExchangeAccount.last_validated_at, ExchangeAccount.last_validation_error])


def add_account(
    user: User, data: dict, remote_addr: str | None
) -> tuple[ExchangeAccount, Validation]:
    vault = runtime.vault()
    with db.atomic():
        account = ExchangeAccount(
            user=user,
            exchange=data["exchange"],
            market_type=data["market_type"],
            mode=data["mode"],
            label=data["label"],
            api_key_masked=mask_key(data["api_key"]),
        )
        account.api_key_enc = vault.encrypt(data["api_key"], _purpose(account.id, "api_key"))
        account.api_secret_enc = vault.encrypt(
            data["api_secret"], _purpose(account.id, "api_secret")
        )
        account.save(force_insert=True)
    result = check_connectivity(account)
    _record_validation(account, result)
    audit(
        user.id,
        "account.create",
        target_type="exchange_account",
        target_id=account.id,
        remote_addr=remote_addr,
        exchange=account.exchange,
        mode=account.mode,
    )
    return account, result


def credentials(account: ExchangeAccount) -> tuple[str, str]:
    """The plaintext key and secret, for the exchange layer only. Never log or return them."""
    vault = runtime.vault()
    return (
        vault.decrypt(account.api_key_enc, _purpose(account.id, "api_key")),
        vault.decrypt(account.api_secret_enc, _purpose(account.id, "api_secret")),
    )


def validate_account(account: ExchangeAccount, actor: User, remote_addr: str | None) -> Validation:
    result = check_connectivity(account)
    _record_validation(account, result)
    if result.valid:  # SPEC §4.6: trading paused on bad keys resumes once they validate
        from server.services import engine_state

        pause = engine_state.pause_of(account.user_id)
        if pause and pause.get("account_id") in (None, str(account.id)):
            engine_state.resume_user(account.user_id, f"account {account.label} validated")
    audit(
        actor.id,
        "account.validate",
        target_type="exchange_account",
        target_id=account.id,
        remote_addr=remote_addr,
        valid=result.valid,
    )
    return result


def delete_account(account: ExchangeAccount, actor: User, remote_addr: str | None) -> None:
    open_groups = (
        PositionGroup.select()
        .where(
            (PositionGroup.account == account.id)
            & (PositionGroup.status.in_([s.value for s in OPEN_GROUP_STATUSES]))
        )
        .count()
    )
    if open_groups:
        raise ApiError(
            409,
            f"account has {open_groups} open position group(s); close them first",
            "account_in_use",
        )
    with db.atomic():
        PositionGroup.update(account=None).where(PositionGroup.account == account.id).execute()
        account.delete_instance()
    if account.mode == AccountMode.PAPER.value:
        from server.services.exchanges import paper_store

        paper_store(account).clear()  # its simulated orders and balances go with it
    audit(
        actor.id,
        "account.delete",
        target_type="exchange_account",
        target_id=account.id,
        remote_addr=remote_addr,
    )
