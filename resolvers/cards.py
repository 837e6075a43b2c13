"""Root fields and mutations for cards, transactions and refunds."""

from __future__ import annotations

from auth import scoping
from models import Card as CardRow
from models import User as UserRow
from models.enums import RefundStatus, Role
from schema.cards import Card, RefundRequest, Transaction, TransactionFilter, Wallet
from schema.context import Info
from schema.ids import decode_id
from schema.pagination import Connection, to_connection
from services.pagination import page_request, paginate


async def wallet(info: Info) -> Wallet:
    user_id = info.context.principal.require_role(Role.CONSUMER)
    owner = await UserRow.get(id=user_id)
    rows = await CardRow.filter(owner_id=user_id).order_by("-issued_at", "-id")
    for row in rows:
        info.context.loaders.card.prime(row.id, row)
    return Wallet(owner_row=owner, card_rows=rows)


async def card(info: Info, id: str) -> Card | None:
    row = await scoping.readable_cards(info.context.principal).get_or_none(id=decode_id(id, "Card"))
    return Card.of(row) if row else None


async def transactions(
    info: Info, filter: TransactionFilter | None, first: int | None, after: str | None
) -> Connection[Transaction]:
    principal = info.context.principal
    principal.require_user()
    request = page_request(first, after)
    query = scoping.readable_transactions(principal)
    if filter is not None:
        if filter.kind is not None:
            query = query.filter(kind=filter.kind.value)
        if filter.merchant_id is not None:
            query = query.filter(merchant_id=decode_id(filter.merchant_id, "Merchant"))
        if filter.card_id is not None:
            query = query.filter(card_id=decode_id(filter.card_id, "Card"))
        if filter.store_id is not None:
            query = query.filter(store_id=decode_id(filter.store_id, "Store"))
        if filter.from_ is not None:
            query = query.filter(created_at__gte=filter.from_)
        if filter.to is not None:
            query = query.filter(created_at__lt=filter.to)
    page = await paginate(query.order_by("-created_at", "-id"), request)
    return to_connection(page, Transaction.of)


async def refund_requests(
    info: Info, status: RefundStatus | None, first: int | None, after: str | None
) -> Connection[RefundRequest]:
    principal = info.context.principal
    principal.require_user()
    request = page_request(first, after)
    query = scoping.readable_refund_requests(principal)
    if status is not None:
        query = query.filter(status=status)
    page = await paginate(query.order_by("-requested_at", "-id"), request)
    return to_connection(page, RefundRequest.of)
