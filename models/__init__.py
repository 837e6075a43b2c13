"""Tortoise models and database constraints; no business rules live here."""

from models.accounts import RefreshToken, User
from models.announcements import Announcement
from models.cards import Card, RedemptionCode, RefundRequest
from models.complaints import Complaint, ComplaintEvent
from models.credit import CreditFactor, CreditScore
from models.financing import FinancingApplication
from models.ledger import IdempotencyRecord, LedgerAccount, Posting, Transfer
from models.merchants import CardProduct, CardProductStore, Category, Merchant, Store
from models.payments import ChannelRefund, ManualPayout, PaymentOrder
from models.reconciliation import ReconciliationDifference, ReconciliationReport
from models.registry import RegistryRecord
from models.risk import RiskAlert, RiskAlertTransfer
from models.supervision import AuditEntry

__all__ = [
    "Announcement",
    "AuditEntry",
    "Card",
    "CardProduct",
    "CardProductStore",
    "Category",
    "ChannelRefund",
    "Complaint",
    "ComplaintEvent",
    "CreditFactor",
    "CreditScore",
    "FinancingApplication",
    "IdempotencyRecord",
    "LedgerAccount",
    "ManualPayout",
    "Merchant",
    "PaymentOrder",
    "Posting",
    "ReconciliationDifference",
    "ReconciliationReport",
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
