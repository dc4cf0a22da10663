"""Every table of the engine. `ALL_MODELS` is in dependency order (create forward, drop back)."""

from server.persistence.models.accounts import ExchangeAccount, SettingsVersion
from server.persistence.models.base import BaseModel, UUIDModel
from server.persistence.models.logs import AuditLog, SystemLog, WebhookLog
from server.persistence.models.positions import (
    DcaOrder,
    Fill,
    PositionEvent,
    PositionGroup,
    Pyramid,
)
from server.persistence.models.signals import (
    EquitySnapshot,
    QueuedSignal,
    RiskAction,
    Signal,
    SignalFingerprint,
)
from server.persistence.models.users import PasswordResetToken, SystemSetting, User

ALL_MODELS = [
    User,
    PasswordResetToken,
    SystemSetting,
    ExchangeAccount,
    SettingsVersion,
    PositionGroup,
    Pyramid,
    DcaOrder,
    Fill,
    PositionEvent,
    Signal,
    SignalFingerprint,
    QueuedSignal,
    RiskAction,
    EquitySnapshot,
    WebhookLog,
    SystemLog,
    AuditLog,
]

__all__ = [
    "ALL_MODELS",
    "AuditLog",
    "BaseModel",
    "DcaOrder",
    "EquitySnapshot",
    "ExchangeAccount",
    "Fill",
    "PasswordResetToken",
    "PositionEvent",
    "PositionGroup",
    "Pyramid",
    "QueuedSignal",
    "RiskAction",
    "SettingsVersion",
    "Signal",
    "SignalFingerprint",
    "SystemLog",
    "SystemSetting",
    "UUIDModel",
    "User",
    "WebhookLog",
]
