"""The root types: the fields every domain declares, merged.

A domain that has moved to the shape in docs/architecture.md declares its root
fields in its own schema module (RiskQuery in schema/risk.py, FinancingQuery in
schema/financing.py, the cross-domain node(id:) in schema/node_field.py); the rest are
still wired here, in the Query, Mutation and Subscription classes below, until
they move too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

import strawberry
from strawberry.tools import merge_types

from resolvers import (
    accounts,
    cards,
    complaints,
    merchants,
    onboarding,
    platform,
    supervision,
)
from schema.accounts import AuthPayload, RegisterConsumerInput, User
from schema.cards import (
    Card,
    CardOperationPayload,
    RedemptionCode,
    RefundRequest,
    Transaction,
    TransactionFilter,
    Wallet,
)
from schema.complaints import Complaint, ComplaintFilter, ComplaintInput
from schema.context import Info
from schema.credit import CreditMutation
from schema.enums import (
    AnnouncementKind,
    CardProductStatus,
    ComplaintOutcome,
    RefundStatus,
)
from schema.financing import FinancingMutation, FinancingQuery
from schema.merchants import (
    CardProduct,
    Category,
    EscrowAccount,
    Merchant,
    MerchantFilter,
    RegistryRecord,
    Store,
)
from schema.node_field import NodeQuery
from schema.onboarding import (
    AddStaffInput,
    CardProductInput,
    MerchantRegistrationPayload,
    RegisterMerchantInput,
    StoreInput,
)
from schema.pagination import Connection
from schema.platform import Announcement, AnnouncementInput, SupervisionStats
from schema.risk import RiskMutation, RiskQuery, RiskSubscription
from schema.scalars import Money
from schema.supervision import AuditEntry, AuditFilter, MerchantClosureReport


@strawberry.type
class CoreQuery:
    @strawberry.field(description="The caller; null when anonymous.")
    async def me(self, info: Info) -> User | None:
        return await accounts.me(info)

    @strawberry.field
    async def categories(self) -> list[Category]:
        return await merchants.categories()

    @strawberry.field(description="Pinned first, then newest.")
    async def announcements(
        self,
        kind: AnnouncementKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Announcement]:
        return await platform.announcements(kind, first, after)

    @strawberry.field(
        description="Anonymous users and consumers see ACTIVE merchants only. In order of id; "
        "with status PENDING_REVIEW (the review queue), oldest application first."
    )
    async def merchants(
        self,
        info: Info,
        filter: MerchantFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Merchant]:
        return await merchants.merchants(info, filter, first, after)

    @strawberry.field
    async def merchant(self, info: Info, id: strawberry.ID) -> Merchant | None:
        return await merchants.merchant(info, id)

    @strawberry.field(description="The consumer's own card bag.")
    async def wallet(self, info: Info) -> Wallet:
        return await cards.wallet(info)

    @strawberry.field
    async def card(self, info: Info, id: strawberry.ID) -> Card | None:
        return await cards.card(info, id)

    @strawberry.field(
        description="Scoped by role: a consumer's own cards, a merchant's own sales, "
        "everything for regulators."
    )
    async def transactions(
        self,
        info: Info,
        filter: TransactionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Transaction]:
        return await cards.transactions(info, filter, first, after)

    @strawberry.field
    async def complaints(
        self,
        info: Info,
        filter: ComplaintFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Complaint]:
        return await complaints.complaints(info, filter, first, after)

    @strawberry.field
    async def refund_requests(
        self,
        info: Info,
        status: RefundStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RefundRequest]:
        return await cards.refund_requests(info, status, first, after)

    @strawberry.field(description="Regulators only.")
    async def supervision_stats(
        self,
        info: Info,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
    ) -> SupervisionStats:
        return await platform.supervision_stats(info, from_, to)

    @strawberry.field(
        description="Regulators only: their actions (reviews, suspensions, closures, custody "
        "changes, complaint rulings, refund decisions, announcements), newest first."
    )
    async def audit_trail(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        return await supervision.audit_trail(info, filter, first, after)

    @strawberry.field(description="Regulators only.")
    async def registry_record(self, info: Info, credit_code: str) -> RegistryRecord | None:
        return await merchants.registry_record(info, credit_code)


@strawberry.type
class CoreMutation:
    @strawberry.mutation
    async def register_consumer(self, info: Info, input: RegisterConsumerInput) -> AuthPayload:
        return await accounts.register_consumer(info, input)

    @strawberry.mutation
    async def login(self, info: Info, phone: str, password: str) -> AuthPayload:
        return await accounts.login(info, phone, password)

    @strawberry.mutation
    async def refresh_session(self, refresh_token: str) -> AuthPayload:
        return await accounts.refresh_session(refresh_token)

    @strawberry.mutation
    async def logout(self, refresh_token: str) -> bool:
        return await accounts.logout(refresh_token)

    @strawberry.mutation(
        description="Pays the product's price into custody and issues a card. "
        "Safe to retry with the same key."
    )
    async def purchase_card(
        self, info: Info, product_id: strawberry.ID, idempotency_key: str
    ) -> CardOperationPayload:
        return await cards.purchase_card(info, product_id, idempotency_key)

    @strawberry.mutation(description="Adds value at the card product's price-to-face ratio.")
    async def top_up_card(
        self, info: Info, card_id: strawberry.ID, pay_amount: Money, idempotency_key: str
    ) -> CardOperationPayload:
        return await cards.top_up_card(info, card_id, pay_amount, idempotency_key)

    @strawberry.mutation(
        description="A single-use code for one card, valid for a few minutes; show it to the merchant."
    )
    async def issue_redemption_code(self, info: Info, card_id: strawberry.ID) -> RedemptionCode:
        return await cards.issue_redemption_code(info, card_id)

    @strawberry.mutation(
        description="Merchant staff redeem a consumer's one-time code at one of their stores."
    )
    async def redeem(
        self,
        info: Info,
        code: str,
        store_id: strawberry.ID,
        amount: Money,
        idempotency_key: str,
    ) -> CardOperationPayload:
        return await cards.redeem(info, code, store_id, amount, idempotency_key)

    @strawberry.mutation(
        description="Approved at once within the cooling-off period before any redemption, or "
        "when the card expired or the merchant is suspended or closed; otherwise PENDING."
    )
    async def request_refund(
        self, info: Info, card_id: strawberry.ID, reason: str
    ) -> RefundRequest:
        return await cards.request_refund(info, card_id, reason)

    @strawberry.mutation(description="The merchant (its own cards) or a regulator decides.")
    async def decide_refund(
        self, info: Info, refund_id: strawberry.ID, approve: bool, note: str | None = None
    ) -> RefundRequest:
        return await cards.decide_refund(info, refund_id, approve, note)

    @strawberry.mutation(
        description="Regulators: the share of prepaid cash kept in custody (0.4 to 1.0); "
        "every live card of the merchant is re-balanced to it."
    )
    async def set_custody_ratio(
        self, info: Info, merchant_id: strawberry.ID, ratio: float, reason: str
    ) -> EscrowAccount:
        return await cards.set_custody_ratio(info, merchant_id, ratio, reason)

    @strawberry.mutation(
        description="Creates a merchant account and its application, checked against the registry. "
        "The owner of a rejected application may apply again, with the same credit code or "
        "another: its account (same phone, same password) moves to the new application."
    )
    async def register_merchant(
        self, info: Info, input: RegisterMerchantInput
    ) -> MerchantRegistrationPayload:
        return await onboarding.register_merchant(info, input)

    @strawberry.mutation(
        description="Regulators: approve (the merchant goes public) or reject an application; "
        "a reason is required to reject, or to approve despite registry findings."
    )
    async def review_merchant(
        self, info: Info, merchant_id: strawberry.ID, approve: bool, reason: str | None = None
    ) -> Merchant:
        return await onboarding.review_merchant(info, merchant_id, approve, reason)

    @strawberry.mutation(description="The merchant's owner adds a store.")
    async def add_store(self, info: Info, input: StoreInput) -> Store:
        return await onboarding.add_store(info, input)

    @strawberry.mutation(description="The merchant's owner closes one of its stores.")
    async def close_store(self, info: Info, store_id: strawberry.ID) -> Store:
        return await onboarding.close_store(info, store_id)

    @strawberry.mutation(description="The merchant's owner adds a staff account.")
    async def add_staff(self, info: Info, input: AddStaffInput) -> User:
        return await onboarding.add_staff(info, input)

    @strawberry.mutation(
        description="The merchant's owner creates a card product (on sale at once)."
    )
    async def create_card_product(self, info: Info, input: CardProductInput) -> CardProduct:
        return await onboarding.create_card_product(info, input)

    @strawberry.mutation(description="ACTIVE and SUSPENDED switch freely; RETIRED is final.")
    async def set_card_product_status(
        self, info: Info, product_id: strawberry.ID, status: CardProductStatus
    ) -> CardProduct:
        return await onboarding.set_card_product_status(info, product_id, status)

    @strawberry.mutation(
        description="Consumers who hold or held a card with the merchant complain about it."
    )
    async def file_complaint(self, info: Info, input: ComplaintInput) -> Complaint:
        return await complaints.file_complaint(info, input)

    @strawberry.mutation(description="The merchant answers a SUBMITTED complaint.")
    async def respond_to_complaint(
        self, info: Info, complaint_id: strawberry.ID, message: str
    ) -> Complaint:
        return await complaints.respond_to_complaint(info, complaint_id, message)

    @strawberry.mutation(description="The consumer asks a regulator to mediate.")
    async def escalate_complaint(
        self, info: Info, complaint_id: strawberry.ID, message: str | None = None
    ) -> Complaint:
        return await complaints.escalate_complaint(info, complaint_id, message)

    @strawberry.mutation(
        description="Regulators rule on an answered or mediated complaint; DISMISSED rejects it, "
        "UPHELD with refundCard refunds the card."
    )
    async def resolve_complaint(
        self,
        info: Info,
        complaint_id: strawberry.ID,
        outcome: ComplaintOutcome,
        resolution: str,
        refund_card: bool | None = None,
    ) -> Complaint:
        return await complaints.resolve_complaint(
            info, complaint_id, outcome, resolution, refund_card
        )

    @strawberry.mutation(description="The consumer withdraws an open complaint.")
    async def withdraw_complaint(self, info: Info, complaint_id: strawberry.ID) -> Complaint:
        return await complaints.withdraw_complaint(info, complaint_id)

    @strawberry.mutation(description="Regulators: stops sales; redemption and refunds go on.")
    async def suspend_merchant(
        self, info: Info, merchant_id: strawberry.ID, reason: str
    ) -> Merchant:
        return await supervision.suspend_merchant(info, merchant_id, reason)

    @strawberry.mutation(description="Regulators: a suspended merchant sells again.")
    async def reinstate_merchant(
        self, info: Info, merchant_id: strawberry.ID, reason: str
    ) -> Merchant:
        return await supervision.reinstate_merchant(info, merchant_id, reason)

    @strawberry.mutation(description="Closes a merchant and refunds every live card from custody.")
    async def close_merchant(
        self, info: Info, merchant_id: strawberry.ID, reason: str
    ) -> MerchantClosureReport:
        return await supervision.close_merchant(info, merchant_id, reason)

    @strawberry.mutation(description="Regulators publish an announcement for everyone.")
    async def publish_announcement(self, info: Info, input: AnnouncementInput) -> Announcement:
        return await supervision.publish_announcement(info, input)


@strawberry.type
class CoreSubscription:
    @strawberry.subscription(
        description="Consumers: every transaction on their own cards as it happens."
    )
    async def card_activity(self, info: Info) -> AsyncIterator[Transaction]:
        async for transaction in cards.card_activity(info):
            yield transaction


Query = merge_types("Query", (NodeQuery, CoreQuery, RiskQuery, FinancingQuery))
Mutation = merge_types("Mutation", (CoreMutation, CreditMutation, RiskMutation, FinancingMutation))
Subscription = merge_types("Subscription", (CoreSubscription, RiskSubscription))
