"""The root types: each field wires its arguments to a resolver."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from resolvers import accounts, cards, complaints, credit, merchants, node, platform
from schema.accounts import AuthPayload, RegisterConsumerInput, User
from schema.cards import Card, RefundRequest, Transaction, TransactionFilter, Wallet
from schema.complaints import Complaint, ComplaintFilter
from schema.context import Info
from schema.credit import RiskAlert, RiskAlertFilter
from schema.enums import AnnouncementKind, FinancingStatus, RefundStatus
from schema.merchants import Category, Merchant, MerchantFilter, RegistryRecord
from schema.node import Node
from schema.pagination import Connection
from schema.platform import Announcement, FinancingApplication, SupervisionStats


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
