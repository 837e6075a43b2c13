"""The model enums exposed as GraphQL enums (same names, same values).

`strawberry.enum` marks the classes themselves, so the schema, the services and
type checkers all use the one class from models/enums.py.
"""

from enum import Enum

import strawberry

from core.errors import ErrorCode
from models import enums as model_enums
from models.enums import (
    AlertStatus,
    AnnouncementKind,
    CardProductStatus,
    CardStatus,
    ChannelRefundStatus,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStatus,
    CreditGrade,
    FinancingStatus,
    LedgerSide,
    MerchantStatus,
    PayoutStatus,
    RefundStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    StoreStatus,
    TransactionKind,
)

strawberry.enum(ErrorCode, description="Every `extensions.code` the server puts on an error.")
for _value in vars(model_enums).values():
    if (
        isinstance(_value, type)
        and issubclass(_value, Enum)
        and _value.__module__ == model_enums.__name__
    ):
        strawberry.enum(_value)

__all__ = [
    "AlertStatus",
    "AnnouncementKind",
    "CardProductStatus",
    "CardStatus",
    "ChannelRefundStatus",
    "ComplaintCategory",
    "ComplaintOutcome",
    "ComplaintStatus",
    "CreditGrade",
    "ErrorCode",
    "FinancingStatus",
    "LedgerSide",
    "MerchantStatus",
    "PayoutStatus",
    "RefundStatus",
    "RiskAlertKind",
    "RiskLevel",
    "Role",
    "StoreStatus",
    "TransactionKind",
]
