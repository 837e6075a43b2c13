"""Refund requests: the cards domain's way back to cash, and their root fields.

A consumer asks (`requestRefund`); it is approved at once or waits, its card FROZEN, for
the merchant or a regulator (`decideRefund`). The rules are services/refunds.py's.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import RefundRequest as RefundRequestRow
from models.enums import Role
from resolvers import refunds
from schema.cards import Card, Transaction, load_card
from schema.context import Info
from schema.enums import RefundStatus
from schema.ids import decode_id, encode_id
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.payouts import ChannelRefund
from schema.permissions import allow
from schema.scalars import Money


@strawberry.type
class RefundRequest(Node):
    row: strawberry.Private[RefundRequestRow]

    @classmethod
    def of(cls, row: RefundRequestRow) -> RefundRequest:
        return cls(id=strawberry.ID(encode_id("RefundRequest", row.id)), row=row)

    @strawberry.field
    async def card(self, info: Info) -> Card:
        return await load_card(info, self.row.card_id)

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def status(self) -> RefundStatus:
        return self.row.status

    @strawberry.field(description="Cash the refund pays (or would pay) back to the consumer.")
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field
    def requested_at(self) -> dt.datetime:
        return self.row.requested_at

    @strawberry.field
    def decided_at(self) -> dt.datetime | None:
        return self.row.decided_at

    @strawberry.field
    def decision_note(self) -> str | None:
        return self.row.decision_note

    @strawberry.field(
        description="The refund's cash on its way back through the payment channel, one per "
        "payment it goes back against; empty when it was paid the one-step way."
    )
    async def channel_refunds(self, info: Info) -> list[ChannelRefund]:
        if self.row.transfer_id is None:
            return []
        rows = await info.context.loaders.channel_refunds_by_transfer.load(self.row.transfer_id)
        return [ChannelRefund.of(row) for row in rows]

    @strawberry.field
    async def transaction(self, info: Info) -> Transaction | None:
        if self.row.transfer_id is None:
            return None
        transfer = await info.context.loaders.transfer.load(self.row.transfer_id)
        return Transaction.of(transfer) if transfer else None


@strawberry.type
class RefundsQuery:
    @strawberry.field(extensions=[allow(Role.CONSUMER, Role.MERCHANT, Role.REGULATOR)])
    async def refund_requests(
        self,
        info: Info,
        status: RefundStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RefundRequest]:
        page = await refunds.refund_requests(info.context.principal, status, first, after)
        return to_connection(page, RefundRequest.of)


@strawberry.type
class RefundsMutation:
    @strawberry.mutation(
        description="Approved at once within the cooling-off period before any redemption, or "
        "when the card expired or the merchant is suspended or closed; otherwise PENDING.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def request_refund(
        self, info: Info, card_id: strawberry.ID, reason: str
    ) -> RefundRequest:
        row = await refunds.request_refund(
            info.context.principal, decode_id(card_id, "Card"), reason
        )
        return RefundRequest.of(row)

    @strawberry.mutation(
        description="The merchant (its own cards) or a regulator decides.",
        extensions=[allow(Role.MERCHANT, Role.REGULATOR)],
    )
    async def decide_refund(
        self, info: Info, refund_id: strawberry.ID, approve: bool, note: str | None = None
    ) -> RefundRequest:
        row = await refunds.decide_refund(
            info.context.principal, decode_id(refund_id, "RefundRequest"), approve, note
        )
        return RefundRequest.of(row)
