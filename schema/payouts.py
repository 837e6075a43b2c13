"""Refunds through the payment channel as the API shows them, and the manual payouts that stand
in for those the channel refused: regulators list payouts and mark them paid.

The rules are services/channel_refunds.py's and services/payouts.py's.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import ChannelRefund as ChannelRefundRow
from models import ManualPayout as ManualPayoutRow
from models.enums import Role
from resolvers import payouts
from schema.accounts import User, load_user
from schema.cards import Card, load_card
from schema.context import Info
from schema.enums import ChannelRefundStatus, PayoutStatus
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow
from schema.scalars import Money


@strawberry.type(
    description="Cash on its way back to the payer through the payment channel, against one "
    "payment: PENDING (not yet accepted by the channel), PROCESSING, SUCCESS, or MANUAL (the "
    "channel refused it; a manual payout pays it instead)."
)
class ChannelRefund:
    row: strawberry.Private[ChannelRefundRow]

    @classmethod
    def of(cls, row: ChannelRefundRow) -> ChannelRefund:
        return cls(row=row)

    @strawberry.field
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field
    def status(self) -> ChannelRefundStatus:
        return self.row.status

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field(description="When the channel accepted it.")
    def submitted_at(self) -> dt.datetime | None:
        return self.row.submitted_at

    @strawberry.field(description="When the channel paid it back.")
    def succeeded_at(self) -> dt.datetime | None:
        return self.row.succeeded_at


@strawberry.type(description="A refund the payment channel refused, owed to the payer by hand.")
class ManualPayout(Node):
    row: strawberry.Private[ManualPayoutRow]

    @classmethod
    def of(cls, row: ManualPayoutRow) -> ManualPayout:
        return cls(id=strawberry.ID(encode_id("ManualPayout", row.id)), row=row)

    @strawberry.field
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def status(self) -> PayoutStatus:
        return self.row.status

    @strawberry.field(description="The consumer who paid and is owed the money.")
    async def payee(self, info: Info) -> User:
        return await load_user(info, self.row.payee_id)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field(description="The card refunded; null for a payment returned unfulfilled.")
    async def card(self, info: Info) -> Card | None:
        refund = await info.context.loaders.channel_refund.load(self.row.channel_refund_id)
        if refund is None or refund.card_id is None:
            return None
        return await load_card(info, refund.card_id)

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field
    def paid_at(self) -> dt.datetime | None:
        return self.row.paid_at

    @strawberry.field(description="The reference of the bank transfer that paid it.")
    def payment_reference(self) -> str | None:
        return self.row.payment_reference


@strawberry.type
class PayoutsQuery:
    @strawberry.field(
        description="Refunds the channel refused, newest first.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def manual_payouts(
        self,
        info: Info,
        status: PayoutStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ManualPayout]:
        page = await payouts.manual_payouts(info.context.principal, status, first, after)
        return to_connection(page, ManualPayout.of)


@strawberry.type
class PayoutsMutation:
    @strawberry.mutation(
        description="Record that a DUE payout was paid outside the platform; once (the same "
        "idempotency key answers the first result again).",
        extensions=[allow(Role.REGULATOR)],
    )
    async def mark_payout_paid(
        self,
        info: Info,
        payout_id: strawberry.ID,
        payment_reference: str,
        idempotency_key: str | None = None,
    ) -> ManualPayout:
        row = await payouts.mark_payout_paid(
            info.context.principal,
            decode_id(payout_id, "ManualPayout"),
            payment_reference,
            idempotency_key,
        )
        return ManualPayout.of(row)
