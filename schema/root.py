"""The root types: each field wires its arguments to a resolver."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

import strawberry

from resolvers import accounts, cards, complaints, credit, merchants, node, platform
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
from schema.complaints import Complaint, ComplaintFilter
from schema.context import Info
from schema.credit import RiskAlert, RiskAlertFilter
from schema.enums import AnnouncementKind, FinancingStatus, RefundStatus
from schema.merchants import Category, EscrowAccount, Merchant, MerchantFilter, RegistryRecord
from schema.node import Node
from schema.pagination import Connection
from schema.platform import Announcement, FinancingApplication, SupervisionStats
from schema.scalars import Money


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global ID, if the caller may read it.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await node.node(info, id)

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

    @strawberry.field(description="Anonymous users and consumers see ACTIVE merchants only.")
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

    @strawberry.field
    async def risk_alerts(
        self,
        info: Info,
        filter: RiskAlertFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RiskAlert]:
        return await credit.risk_alerts(info, filter, first, after)

    @strawberry.field
    async def financing_applications(
        self,
        info: Info,
        status: FinancingStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[FinancingApplication]:
        return await platform.financing_applications(info, status, first, after)

    @strawberry.field(description="Regulators only.")
    async def supervision_stats(
        self,
        info: Info,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
    ) -> SupervisionStats:
        return await platform.supervision_stats(info, from_, to)

    @strawberry.field(description="Regulators only.")
    async def registry_record(self, info: Info, credit_code: str) -> RegistryRecord | None:
        return await merchants.registry_record(info, credit_code)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register_consumer(self, input: RegisterConsumerInput) -> AuthPayload:
        return await accounts.register_consumer(input)

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


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Consumers: every transaction on their own cards as it happens."
    )
    async def card_activity(self, info: Info) -> AsyncIterator[Transaction]:
        async for transaction in cards.card_activity(info):
            yield transaction
