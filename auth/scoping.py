"""What each caller may read, decided once per domain.

Every list, node(id:) lookup and root field narrows its query through these
functions; field-level rules (who sees a merchant's custody, a full phone
number) live here too so that they are written once.
"""

from __future__ import annotations

from typing import TypeVar

from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from core.principal import Principal
from models import (
    Announcement,
    AuditEntry,
    Card,
    CardProduct,
    Complaint,
    FinancingApplication,
    ManualPayout,
    Merchant,
    PaymentOrder,
    ReconciliationDifference,
    ReconciliationReport,
    RefundRequest,
    RegistryRecord,
    RiskAlert,
    Store,
    Transfer,
    User,
)
from models.enums import CARD_TRANSACTION_KINDS, CardProductStatus, MerchantStatus

M = TypeVar("M", bound=Model)


def _nothing(model: type[M]) -> QuerySet[M]:
    """A query that matches no row (Tortoise has no `.none()`)."""
    return model.filter(id__isnull=True)


def readable_merchants(principal: Principal) -> QuerySet[Merchant]:
    """Anonymous users and consumers see ACTIVE merchants; a merchant also sees itself."""
    if principal.is_regulator:
        return Merchant.all()
    if principal.is_merchant:
        return Merchant.filter(Q(status=MerchantStatus.ACTIVE) | Q(id=principal.merchant_id))
    return Merchant.filter(status=MerchantStatus.ACTIVE)


def readable_stores(principal: Principal) -> QuerySet[Store]:
    if principal.is_regulator:
        return Store.all()
    if principal.is_merchant:
        return Store.filter(
            Q(merchant__status=MerchantStatus.ACTIVE) | Q(merchant_id=principal.merchant_id)
        )
    return Store.filter(merchant__status=MerchantStatus.ACTIVE)


def readable_card_products(principal: Principal) -> QuerySet[CardProduct]:
    """Products on sale (ACTIVE) of ACTIVE merchants; a merchant's own all; all for regulators.

    The same rule as Merchant.cardProducts, so node(id:) reveals nothing the list hides.
    """
    if principal.is_regulator:
        return CardProduct.all()
    on_sale = Q(status=CardProductStatus.ACTIVE, merchant__status=MerchantStatus.ACTIVE)
    if principal.is_merchant:
        return CardProduct.filter(on_sale | Q(merchant_id=principal.merchant_id))
    return CardProduct.filter(on_sale)


def writable_merchant(principal: Principal) -> QuerySet[Merchant]:
    """The merchant whose stores, staff and card products the caller manages: its own, when
    the caller is its owner. Its staff, bound to a store or not, manage nothing."""
    if not principal.is_merchant:
        return _nothing(Merchant)
    owner = User.filter(
        id=principal.user_id, merchant_id=principal.merchant_id, is_merchant_owner=True
    )
    return Merchant.filter(id__in=Subquery(owner.values("merchant_id")))


def writable_stores(principal: Principal) -> QuerySet[Store]:
    """The stores the caller may close, bind staff to or sell products at: its managed merchant's."""
    return Store.filter(merchant_id__in=Subquery(writable_merchant(principal).values("id")))


def writable_card_products(principal: Principal) -> QuerySet[CardProduct]:
    """The card products the caller may change: its managed merchant's."""
    return CardProduct.filter(merchant_id__in=Subquery(writable_merchant(principal).values("id")))


def reviewable_merchants(principal: Principal) -> QuerySet[Merchant]:
    """Whose application the caller may approve or reject: any merchant's, for regulators."""
    return Merchant.all() if principal.is_regulator else _nothing(Merchant)


def readable_registry_records(principal: Principal) -> QuerySet[RegistryRecord]:
    """The market-regulation registry is for regulators."""
    return RegistryRecord.all() if principal.is_regulator else _nothing(RegistryRecord)


def readable_cards(principal: Principal) -> QuerySet[Card]:
    """A consumer's own cards, a merchant's sold cards, every card for regulators."""
    if principal.is_regulator:
        return Card.all()
    if principal.is_consumer:
        return Card.filter(owner_id=principal.user_id)
    if principal.is_merchant:
        return Card.filter(merchant_id=principal.merchant_id)
    return _nothing(Card)


def writable_cards(principal: Principal) -> QuerySet[Card]:
    """A consumer tops up, shows codes for and asks refunds on its own cards; through the API
    nobody else changes a card (merchants redeem a consumer's code, which names the card)."""
    if principal.is_consumer:
        return Card.filter(owner_id=principal.user_id)
    return _nothing(Card)


def redemption_stores(principal: Principal) -> QuerySet[Store]:
    """The stores where the caller redeems consumers' codes: its merchant's."""
    if principal.is_merchant:
        return Store.filter(merchant_id=principal.merchant_id)
    return _nothing(Store)


def redeems_at(principal: Principal, store_id: int) -> bool:
    """Staff bound to a store redeem only there; the owner and chain-wide staff at any store."""
    return principal.store_id is None or principal.store_id == store_id


def readable_transactions(principal: Principal) -> QuerySet[Transfer]:
    """Card transactions (the transfers of a card kind): own cards, own sales, or everything
    for regulators."""
    card_transfers = Transfer.filter(card_id__isnull=False, kind__in=CARD_TRANSACTION_KINDS)
    if principal.is_regulator:
        return card_transfers
    if principal.is_consumer:
        return card_transfers.filter(card__owner_id=principal.user_id)
    if principal.is_merchant:
        return card_transfers.filter(merchant_id=principal.merchant_id)
    return _nothing(Transfer)


def readable_complaints(principal: Principal) -> QuerySet[Complaint]:
    if principal.is_regulator:
        return Complaint.all()
    if principal.is_consumer:
        return Complaint.filter(complainant_id=principal.user_id)
    if principal.is_merchant:
        return Complaint.filter(merchant_id=principal.merchant_id)
    return _nothing(Complaint)


def writable_complaints(principal: Principal) -> QuerySet[Complaint]:
    """The complaints a caller acts on are those it reads: the complainant escalates or
    withdraws, the merchant answers, a regulator rules (each mutation's rule names the role)."""
    return readable_complaints(principal)


def readable_refund_requests(principal: Principal) -> QuerySet[RefundRequest]:
    if principal.is_regulator:
        return RefundRequest.all()
    if principal.is_consumer:
        return RefundRequest.filter(card__owner_id=principal.user_id)
    if principal.is_merchant:
        return RefundRequest.filter(merchant_id=principal.merchant_id)
    return _nothing(RefundRequest)


def readable_payouts(principal: Principal) -> QuerySet[ManualPayout]:
    """Manual payouts: every one for regulators (who pay them), a consumer's own to it."""
    if principal.is_regulator:
        return ManualPayout.all()
    if principal.is_consumer:
        return ManualPayout.filter(payee_id=principal.user_id)
    return _nothing(ManualPayout)


def readable_payment_orders(principal: Principal) -> QuerySet[PaymentOrder]:
    """A consumer's own orders, a merchant's sales waiting for or paid through the channel,
    every order for regulators."""
    if principal.is_regulator:
        return PaymentOrder.all()
    if principal.is_consumer:
        return PaymentOrder.filter(user_id=principal.user_id)
    if principal.is_merchant:
        return PaymentOrder.filter(merchant_id=principal.merchant_id)
    return _nothing(PaymentOrder)


def decides_refunds(principal: Principal) -> bool:
    """Regulators, and on the merchant's side the owner or staff not bound to a store: a store's
    staff answer for one store, a refund is the whole card's cash, chain-wide."""
    return principal.is_regulator or (principal.is_merchant and principal.store_id is None)


def writable_refund_requests(principal: Principal) -> QuerySet[RefundRequest]:
    """The refund requests the caller may decide: any for regulators, its own merchant's for
    those who decide refunds there."""
    if not decides_refunds(principal):
        return _nothing(RefundRequest)
    if principal.is_regulator:
        return RefundRequest.all()
    return RefundRequest.filter(merchant_id=principal.merchant_id)


def custody_merchants(principal: Principal) -> QuerySet[Merchant]:
    """Whose custody ratio the caller may set: any merchant's, for regulators."""
    return Merchant.all() if principal.is_regulator else _nothing(Merchant)


def readable_risk_alerts(principal: Principal) -> QuerySet[RiskAlert]:
    """Regulators see every alert; a merchant sees its own."""
    if principal.is_regulator:
        return RiskAlert.all()
    if principal.is_merchant:
        return RiskAlert.filter(merchant_id=principal.merchant_id)
    return _nothing(RiskAlert)


def rescorable_merchants(principal: Principal) -> QuerySet[Merchant]:
    """Whose credit score the caller may have recomputed: any merchant's, for regulators."""
    return Merchant.all() if principal.is_regulator else _nothing(Merchant)


def writable_risk_alerts(principal: Principal) -> QuerySet[RiskAlert]:
    """Regulators handle alerts (acknowledge, resolve, dismiss); nobody else changes one."""
    return RiskAlert.all() if principal.is_regulator else _nothing(RiskAlert)


def readable_reconciliation_reports(principal: Principal) -> QuerySet[ReconciliationReport]:
    """Reconciliation reports are regulators' reading; nobody else sees one."""
    return ReconciliationReport.all() if principal.is_regulator else _nothing(ReconciliationReport)


def readable_reconciliation_differences(
    principal: Principal,
) -> QuerySet[ReconciliationDifference]:
    """A report's differences, read and explained by regulators only."""
    if principal.is_regulator:
        return ReconciliationDifference.all()
    return _nothing(ReconciliationDifference)


def readable_financing(principal: Principal) -> QuerySet[FinancingApplication]:
    """Regulators see every application; a merchant sees its own."""
    if principal.is_regulator:
        return FinancingApplication.all()
    if principal.is_merchant:
        return FinancingApplication.filter(merchant_id=principal.merchant_id)
    return _nothing(FinancingApplication)


def writable_financing(principal: Principal) -> QuerySet[FinancingApplication]:
    """Regulators decide applications (for the partner bank); nobody else changes one."""
    return FinancingApplication.all() if principal.is_regulator else _nothing(FinancingApplication)


def financing_applicants(principal: Principal) -> QuerySet[Merchant]:
    """Whom the caller may apply for financing for: its own merchant, when it is the owner."""
    if not principal.is_merchant:
        return _nothing(Merchant)
    return Merchant.filter(
        id=principal.merchant_id, users__id=principal.user_id, users__is_merchant_owner=True
    )


def readable_users(principal: Principal) -> QuerySet[User]:
    """Oneself; a merchant's own people; everyone for regulators."""
    if principal.is_regulator:
        return User.all()
    if principal.is_merchant:
        return User.filter(Q(id=principal.user_id) | Q(merchant_id=principal.merchant_id))
    if principal.user_id is not None:
        return User.filter(id=principal.user_id)
    return _nothing(User)


def readable_audit_entries(principal: Principal) -> QuerySet[AuditEntry]:
    """The audit trail is for regulators."""
    return AuditEntry.all() if principal.is_regulator else _nothing(AuditEntry)


def supervised_merchants(principal: Principal) -> QuerySet[Merchant]:
    """Whose status the caller may change (suspend, reinstate, close): any merchant's, for
    regulators."""
    return Merchant.all() if principal.is_regulator else _nothing(Merchant)


def readable_announcements(principal: Principal) -> QuerySet[Announcement]:
    """Announcements are public: everyone reads every one."""
    return Announcement.all()


def sees_merchant_internals(principal: Principal, merchant_id: int) -> bool:
    """Custody, full credit score, credit history and risk level: the merchant and regulators."""
    return principal.is_regulator or (
        principal.is_merchant and principal.merchant_id == merchant_id
    )


def sees_full_phone(principal: Principal, user_id: int) -> bool:
    """A phone shows whole to its owner and to regulators; masked to everyone else."""
    return principal.is_regulator or principal.user_id == user_id


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"
