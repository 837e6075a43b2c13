"""Tortoise models and database constraints; no business rules live here."""

from models.cards import Card, RedemptionCode, RefundRequest
from models.complaints import Complaint, ComplaintEvent
from models.credit import CreditFactor, CreditScore, RiskAlert, RiskAlertTransfer
from models.ledger import IdempotencyRecord, LedgerAccount, Posting, Transfer
from models.merchants import CardProduct, CardProductStore, Category, Merchant, Store
from models.platform import Announcement, AuditEntry, FinancingApplication
from models.registry import RegistryRecord
from models.users import RefreshToken, User

__all__ = [
    "Announcement",
    "AuditEntry",
    "Card",
    "CardProduct",
    "CardProductStore",
    "Category",
    "Complaint",
    "ComplaintEvent",
    "CreditFactor",
    "CreditScore",
    "FinancingApplication",
    "IdempotencyRecord",
    "LedgerAccount",
    "Merchant",
    "Posting",
    "RedemptionCode",
    "RefreshToken",
    "RefundRequest",
    "RegistryRecord",
    "RiskAlert",
    "RiskAlertTransfer",
    "Store",
    "Transfer",
    "User",
]
