"""Complaints and their events: the complaints domain's types and its root fields.

The root types in schema/root.py merge ComplaintsQuery and ComplaintsMutation with
the other domains'; each field declares who may call it (schema/permissions.py)
and hands the decoded arguments to resolvers/complaints.py.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from models import Complaint as ComplaintRow
from models import ComplaintEvent as ComplaintEventRow
from resolvers import complaints
from schema.accounts import User, load_user
from schema.cards import Card
from schema.context import Info
from schema.enums import ComplaintCategory, ComplaintOutcome, ComplaintStatus, Role
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow
from schema.refunds import RefundRequest


@strawberry.type
class ComplaintEvent:
    at: dt.datetime
    actor_role: Role = strawberry.field(
        description="Who took the step; SYSTEM when the platform did it by itself."
    )
    action: str = strawberry.field(
        description="e.g. SUBMITTED, RESPONDED, ESCALATED, AUTO_ESCALATED, RESOLVED."
    )
    message: str | None

    @classmethod
    def of(cls, row: ComplaintEventRow) -> ComplaintEvent:
        return cls(at=row.at, actor_role=row.actor_role, action=row.action, message=row.message)


@strawberry.type
class Complaint(Node):
    row: strawberry.Private[ComplaintRow]

    @classmethod
    def of(cls, row: ComplaintRow) -> Complaint:
        return cls(id=strawberry.ID(encode_id("Complaint", row.id)), row=row)

    @strawberry.field
    async def complainant(self, info: Info) -> User:
        return await load_user(info, self.row.complainant_id)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field
    async def card(self, info: Info) -> Card | None:
        if self.row.card_id is None:
            return None
        row = await info.context.loaders.card.load(self.row.card_id)
        return Card.of(row) if row else None

    @strawberry.field
    def category(self) -> ComplaintCategory:
        return self.row.category

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field
    def status(self) -> ComplaintStatus:
        return self.row.status

    @strawberry.field
    def outcome(self) -> ComplaintOutcome | None:
        return self.row.outcome

    @strawberry.field
    def resolution(self) -> str | None:
        return self.row.resolution

    @strawberry.field(description="The merchant must respond before this time.")
    def respond_by(self) -> dt.datetime:
        return self.row.respond_by

    @strawberry.field(description="Oldest first.")
    async def events(self, info: Info) -> list[ComplaintEvent]:
        rows = await info.context.loaders.complaint_events_by_complaint.load(self.row.id)
        return [ComplaintEvent.of(row) for row in rows]

    @strawberry.field
    async def refund(self, info: Info) -> RefundRequest | None:
        if self.row.refund_id is None:
            return None
        row = await info.context.loaders.refund_request.load(self.row.refund_id)
        return RefundRequest.of(row) if row else None

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at


@strawberry.input
class ComplaintFilter:
    merchant_id: strawberry.ID | None = None
    status: ComplaintStatus | None = None
    category: ComplaintCategory | None = None


@strawberry.input
class ComplaintInput:
    merchant_id: strawberry.ID
    card_id: strawberry.ID | None = None
    category: ComplaintCategory
    description: str


@strawberry.type
class ComplaintsQuery:
    @strawberry.field(extensions=[allow(Role.CONSUMER, Role.MERCHANT, Role.REGULATOR)])
    async def complaints(
        self,
        info: Info,
        filter: ComplaintFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Complaint]:
        filter = filter or ComplaintFilter()
        page = await complaints.complaints(
            info.context.principal,
            merchant_id=decode_id(filter.merchant_id, "Merchant") if filter.merchant_id else None,
            status=filter.status,
            category=filter.category,
            first=first,
            after=after,
        )
        return to_connection(page, Complaint.of)


@strawberry.type
class ComplaintsMutation:
    @strawberry.mutation(
        description="Consumers who hold or held a card with the merchant complain about it.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def file_complaint(self, info: Info, input: ComplaintInput) -> Complaint:
        row = await complaints.file_complaint(
            info.context.principal,
            merchant_id=decode_id(input.merchant_id, "Merchant"),
            card_id=decode_id(input.card_id, "Card") if input.card_id is not None else None,
            category=input.category,
            description=input.description,
        )
        return Complaint.of(row)

    @strawberry.mutation(
        description="The merchant answers a SUBMITTED complaint.",
        extensions=[allow(Role.MERCHANT)],
    )
    async def respond_to_complaint(
        self, info: Info, complaint_id: strawberry.ID, message: str
    ) -> Complaint:
        row = await complaints.respond_to_complaint(
            info.context.principal, decode_id(complaint_id, "Complaint"), message
        )
        return Complaint.of(row)

    @strawberry.mutation(
        description="The consumer asks a regulator to mediate.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def escalate_complaint(
        self, info: Info, complaint_id: strawberry.ID, message: str | None = None
    ) -> Complaint:
        row = await complaints.escalate_complaint(
            info.context.principal, decode_id(complaint_id, "Complaint"), message
        )
        return Complaint.of(row)

    @strawberry.mutation(
        description="Regulators rule on an answered or mediated complaint; DISMISSED rejects it, "
        "UPHELD with refundCard refunds the card.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def resolve_complaint(
        self,
        info: Info,
        complaint_id: strawberry.ID,
        outcome: ComplaintOutcome,
        resolution: str,
        refund_card: bool | None = None,
    ) -> Complaint:
        row = await complaints.resolve_complaint(
            info.context.principal,
            decode_id(complaint_id, "Complaint"),
            outcome=outcome,
            resolution=resolution,
            refund_card=bool(refund_card),
        )
        return Complaint.of(row)

    @strawberry.mutation(
        description="The consumer withdraws an open complaint.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def withdraw_complaint(self, info: Info, complaint_id: strawberry.ID) -> Complaint:
        row = await complaints.withdraw_complaint(
            info.context.principal, decode_id(complaint_id, "Complaint")
        )
        return Complaint.of(row)
