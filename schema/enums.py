"""The model enums exposed as GraphQL enums (same names, same values)."""

import strawberry

from models import enums
from services.errors import ErrorCode as _ErrorCode

ErrorCode = strawberry.enum(
    _ErrorCode, description="Every `extensions.code` the server puts on an error."
)
Role = strawberry.enum(enums.Role)
MerchantStatus = strawberry.enum(enums.MerchantStatus)
StoreStatus = strawberry.enum(enums.StoreStatus)
CardProductStatus = strawberry.enum(enums.CardProductStatus)
CardStatus = strawberry.enum(enums.CardStatus)
TransactionKind = strawberry.enum(enums.TransactionKind)
LedgerSide = strawberry.enum(enums.LedgerSide)
RefundStatus = strawberry.enum(enums.RefundStatus)
CreditGrade = strawberry.enum(enums.CreditGrade)
RiskLevel = strawberry.enum(enums.RiskLevel)
RiskAlertKind = strawberry.enum(enums.RiskAlertKind)
AlertStatus = strawberry.enum(enums.AlertStatus)
ComplaintCategory = strawberry.enum(enums.ComplaintCategory)
ComplaintStatus = strawberry.enum(enums.ComplaintStatus)
ComplaintOutcome = strawberry.enum(enums.ComplaintOutcome)
AnnouncementKind = strawberry.enum(enums.AnnouncementKind)
FinancingStatus = strawberry.enum(enums.FinancingStatus)
