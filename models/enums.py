"""String enums shared by the models, the services and the GraphQL schema."""

from enum import StrEnum


class Role(StrEnum):
    """Who did something: a user's role, or SYSTEM for what the platform does by itself."""

    CONSUMER = "CONSUMER"
    """A citizen who buys and uses prepaid cards."""
    MERCHANT = "MERCHANT"
    """The owner or a staff member of one merchant."""
    REGULATOR = "REGULATOR"
    """Market-regulation staff; accounts are made by the command line only."""
    SYSTEM = "SYSTEM"
    """The platform itself (deadlines, sweeps); shown on events, never a user's or a token's."""


USER_ROLES = (Role.CONSUMER, Role.MERCHANT, Role.REGULATOR)
"""The roles an account and its tokens may have."""


class MerchantStatus(StrEnum):
    PENDING_REVIEW = "PENDING_REVIEW"
    """Applied; waiting for a regulator."""
    ACTIVE = "ACTIVE"
    """Approved and selling."""
    REJECTED = "REJECTED"
    """Application refused by a regulator."""
    SUSPENDED = "SUSPENDED"
    """Frozen by a regulator: no sales; redemption and refunds go on."""
    CLOSED = "CLOSED"
    """Closed for good; every live card refunded."""


class StoreStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class CardProductStatus(StrEnum):
    ACTIVE = "ACTIVE"
    """On sale."""
    SUSPENDED = "SUSPENDED"
    """Temporarily off sale."""
    RETIRED = "RETIRED"
    """Off sale for good; cards already sold stay valid."""


class CardStatus(StrEnum):
    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    """A refund request waits for a decision: no redemption, top-up or new code meanwhile."""
    EXPIRED = "EXPIRED"
    """Past its validity: cannot be redeemed, refunded on request without approval."""
    REFUNDED = "REFUNDED"
    """Cash value paid back; nothing left."""


class TransactionKind(StrEnum):
    PURCHASE = "PURCHASE"
    TOP_UP = "TOP_UP"
    REDEMPTION = "REDEMPTION"
    REFUND = "REFUND"


class TransferKind(StrEnum):
    """Why money moved in the ledger; the card kinds are what the API calls transactions."""

    PURCHASE = "PURCHASE"
    TOP_UP = "TOP_UP"
    REDEMPTION = "REDEMPTION"
    REFUND = "REFUND"
    CUSTODY_ADJUSTMENT = "CUSTODY_ADJUSTMENT"
    """Moves cash between custody and settlement when a custody ratio changes."""
    PAYOUT_DUE = "PAYOUT_DUE"
    """A refund the payment channel refused: the cash waits in `manual_payouts` instead."""
    PAYOUT_PAID = "PAYOUT_PAID"
    """A regulator marked a manual payout paid: the cash left to the consumer."""


class LedgerSide(StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class CreditGrade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class RiskAlertKind(StrEnum):
    SALES_SPIKE = "SALES_SPIKE"
    REDEMPTION_ANOMALY = "REDEMPTION_ANOMALY"
    LARGE_PURCHASE = "LARGE_PURCHASE"
    ESCROW_SHORTFALL = "ESCROW_SHORTFALL"
    COMPLAINT_SURGE = "COMPLAINT_SURGE"
    STORE_CLOSURES = "STORE_CLOSURES"
    RECONCILIATION_MISMATCH = "RECONCILIATION_MISMATCH"


class PaymentOrderKind(StrEnum):
    PURCHASE = "PURCHASE"
    TOP_UP = "TOP_UP"


class PaymentOrderStatus(StrEnum):
    CREATED = "CREATED"
    """Waiting for the consumer to pay in the mini-program."""
    PAID = "PAID"
    """The channel's notification said it succeeded, and the card was issued or topped up."""
    CLOSED = "CLOSED"
    """Closed unpaid (timed out, or the channel closed it)."""
    REFUNDED = "REFUNDED"
    """Paid, but it could no longer be fulfilled: the payment went back through the channel."""


class ChannelRefundStatus(StrEnum):
    PENDING = "PENDING"
    """Recorded with the card's refund; not yet accepted by the channel (sent after commit)."""
    PROCESSING = "PROCESSING"
    """Accepted by the channel; its refund notification has not come yet."""
    SUCCESS = "SUCCESS"
    MANUAL = "MANUAL"
    """The channel refused or failed it: a manual payout pays the consumer instead."""


class PayoutStatus(StrEnum):
    DUE = "DUE"
    PAID = "PAID"


class ReconciliationSource(StrEnum):
    CHANNEL = "CHANNEL"
    """The payment channel's trade bill against payment orders and channel refunds."""
    BANK = "BANK"
    """The custody bank's statement against the custody ledger's movements."""


class DifferenceKind(StrEnum):
    MISSING_IN_LEDGER = "MISSING_IN_LEDGER"
    MISSING_AT_SOURCE = "MISSING_AT_SOURCE"
    AMOUNT_DIFFERS = "AMOUNT_DIFFERS"
    STATUS_DIFFERS = "STATUS_DIFFERS"


class AlertStatus(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    DISMISSED = "DISMISSED"


class ComplaintCategory(StrEnum):
    SERVICE_REFUSED = "SERVICE_REFUSED"
    STORE_CLOSED = "STORE_CLOSED"
    REFUND_DISPUTE = "REFUND_DISPUTE"
    QUALITY = "QUALITY"
    MISLEADING_PROMOTION = "MISLEADING_PROMOTION"
    OTHER = "OTHER"


class ComplaintStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    MERCHANT_RESPONDED = "MERCHANT_RESPONDED"
    UNDER_MEDIATION = "UNDER_MEDIATION"
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class ComplaintOutcome(StrEnum):
    UPHELD = "UPHELD"
    PARTIALLY_UPHELD = "PARTIALLY_UPHELD"
    DISMISSED = "DISMISSED"


class AnnouncementKind(StrEnum):
    POLICY = "POLICY"
    NOTICE = "NOTICE"
    RISK_WARNING = "RISK_WARNING"


class FinancingStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


# The transfers that are card transactions, the API's `Transaction`: each names one card and
# the face value it gained or lost. The other kinds move cash between accounts only.
CARD_TRANSACTION_KINDS = (
    TransferKind.PURCHASE,
    TransferKind.TOP_UP,
    TransferKind.REDEMPTION,
    TransferKind.REFUND,
)
# Cards whose cash is still the consumer's: custody holds it, and a merchant's exposure counts it.
LIVE_CARD_STATUSES = (CardStatus.ACTIVE, CardStatus.FROZEN, CardStatus.EXPIRED)
# An alert is open while OPEN or ACKNOWLEDGED; a merchant's risk level counts both.
OPEN_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
