"""The model enums exposed as GraphQL enums (same names, same values).

`strawberry.enum` marks the classes themselves, so the schema, the services and
type checkers all use the one class from models/enums.py.
"""

import strawberry

from models.enums import (
    AlertStatus,
    AnnouncementKind,
    CardProductStatus,
    CardStatus,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStatus,
    CreditGrade,
    FinancingStatus,
    LedgerSide,
    MerchantStatus,
    RefundStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    StoreStatus,
    TransactionKind,
)
from services.errors import ErrorCode

strawberry.enum(ErrorCode, description="Every `extensions.code` the server puts on an error.")
for _enum in (
    AlertStatus,
    AnnouncementKind,
    CardProductStatus,
    CardStatus,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStatus,
    CreditGrade,
    FinancingStatus,
    LedgerSide,
    MerchantStatus,
    RefundStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    StoreStatus,
    TransactionKind,
):
    strawberry.enum(_enum)

__all__ = [
    "AlertStatus",
    "AnnouncementKind",
    "CardProductStatus",
    "CardStatus",
    "ComplaintCategory",
    "ComplaintOutcome",
    "ComplaintStatus",
    "CreditGrade",
    "ErrorCode",
    "FinancingStatus",
    "LedgerSide",
    "MerchantStatus",
    "RefundStatus",
    "RiskAlertKind",
    "RiskLevel",
    "Role",
    "StoreStatus",
    "TransactionKind",
]
