"""The root types: the fields every domain declares, merged.

A domain that has moved to the shape in docs/architecture.md declares its root
fields in its own schema module (RiskQuery in schema/risk.py, FinancingQuery in
schema/financing.py); the rest are
still wired here, in the Query, Mutation and Subscription classes below, until
they move too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from strawberry.tools import merge_types

from resolvers import cards, node
from schema.accounts import AccountsMutation, AccountsQuery
from schema.announcements import AnnouncementsMutation, AnnouncementsQuery
from schema.cards import (
    Card,
    CardOperationPayload,
    RedemptionCode,
    RefundRequest,
    Transaction,
    TransactionFilter,
    Wallet,
)
from schema.complaints import ComplaintsMutation, ComplaintsQuery
from schema.context import Info
from schema.credit import CreditMutation
from schema.enums import RefundStatus
from schema.financing import FinancingMutation, FinancingQuery
from schema.merchant_mutations import MerchantsMutation
from schema.merchants import EscrowAccount, MerchantsQuery
from schema.node import Node
from schema.onboarding import OnboardingMutation, OnboardingQuery
from schema.pagination import Connection
from schema.risk import RiskMutation, RiskQuery, RiskSubscription
from schema.scalars import Money
from schema.supervision import SupervisionMutation, SupervisionQuery


@strawberry.type
class CoreQuery:
    @strawberry.field(description="Any object by its global ID, if the caller may read it.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await node.node(info, id)

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
    async def refund_requests(
        self,
        info: Info,
        status: RefundStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RefundRequest]:
        return await cards.refund_requests(info, status, first, after)


@strawberry.type
class CoreMutation:
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


@strawberry.type
class CoreSubscription:
    @strawberry.subscription(
        description="Consumers: every transaction on their own cards as it happens."
    )
    async def card_activity(self, info: Info) -> AsyncIterator[Transaction]:
        async for transaction in cards.card_activity(info):
            yield transaction


Query = merge_types(
    "Query",
    (
        CoreQuery,
        AccountsQuery,
        MerchantsQuery,
        OnboardingQuery,
        ComplaintsQuery,
        RiskQuery,
        FinancingQuery,
        SupervisionQuery,
        AnnouncementsQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CoreMutation,
        AccountsMutation,
        MerchantsMutation,
        OnboardingMutation,
        ComplaintsMutation,
        CreditMutation,
        RiskMutation,
        FinancingMutation,
        SupervisionMutation,
        AnnouncementsMutation,
    ),
)
Subscription = merge_types("Subscription", (CoreSubscription, RiskSubscription))
