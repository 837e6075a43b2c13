"""Root fields and mutations for cards, transactions and refunds."""

from __future__ import annotations

from collections.abc import AsyncIterator

from auth import scoping
from models import Card as CardRow
from models import Transfer as TransferRow
from models import User as UserRow
from models.enums import RefundStatus, Role
from schema.cards import (
    Card,
    CardOperationPayload,
    RedemptionCode,
    RefundRequest,
    Transaction,
    TransactionFilter,
    Wallet,
)
from schema.context import Info
from schema.ids import decode_id
from schema.merchants import EscrowAccount
from schema.pagination import Connection, to_connection
from services import cards as card_service
from services import escrow, events, refunds
from services.pagination import newest_first, page_of


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
    given = filter or TransactionFilter()
    page = await page_of(
        scoping.readable_transactions(principal),
        newest_first("created_at"),
        first,
        after,
        {
            "kind": given.kind.value if given.kind is not None else None,
            "merchant_id": decode_id(given.merchant_id, "Merchant") if given.merchant_id else None,
            "card_id": decode_id(given.card_id, "Card") if given.card_id else None,
            "store_id": decode_id(given.store_id, "Store") if given.store_id else None,
            "created_at__gte": given.from_,
            "created_at__lt": given.to,
        },
    )
    return to_connection(page, Transaction.of)


async def refund_requests(
    info: Info, status: RefundStatus | None, first: int | None, after: str | None
) -> Connection[RefundRequest]:
    principal = info.context.principal
    principal.require_user()
    page = await page_of(
        scoping.readable_refund_requests(principal),
        newest_first("requested_at"),
        first,
        after,
        {"status": status},
    )
    return to_connection(page, RefundRequest.of)


def _payload(operation: card_service.CardOperation) -> CardOperationPayload:
    return CardOperationPayload(
        card=Card.of(operation.card), transaction=Transaction.of(operation.transfer)
    )


async def purchase_card(info: Info, product_id: str, idempotency_key: str) -> CardOperationPayload:
    user_id = info.context.principal.require_role(Role.CONSUMER)
    operation = await card_service.purchase(
        user_id=user_id,
        product_id=decode_id(product_id, "CardProduct"),
        idempotency_key=idempotency_key,
    )
    return _payload(operation)


async def top_up_card(
    info: Info, card_id: str, pay_amount: int, idempotency_key: str
) -> CardOperationPayload:
    user_id = info.context.principal.require_role(Role.CONSUMER)
    operation = await card_service.top_up(
        user_id=user_id,
        card_id=decode_id(card_id, "Card"),
        pay_fen=pay_amount,
        idempotency_key=idempotency_key,
    )
    return _payload(operation)


async def issue_redemption_code(info: Info, card_id: str) -> RedemptionCode:
    user_id = info.context.principal.require_role(Role.CONSUMER)
    issued = await card_service.issue_redemption_code(
        user_id=user_id, card_id=decode_id(card_id, "Card")
    )
    return RedemptionCode(code=issued.code, card=Card.of(issued.card), expires_at=issued.expires_at)


async def redeem(
    info: Info, code: str, store_id: str, amount: int, idempotency_key: str
) -> CardOperationPayload:
    principal = info.context.principal
    merchant_id = principal.require_merchant()
    assert principal.user_id is not None
    operation = await card_service.redeem(
        user_id=principal.user_id,
        merchant_id=merchant_id,
        staff_store_id=principal.store_id,
        code=code,
        store_id=decode_id(store_id, "Store"),
        amount_fen=amount,
        idempotency_key=idempotency_key,
    )
    return _payload(operation)


async def request_refund(info: Info, card_id: str, reason: str) -> RefundRequest:
    user_id = info.context.principal.require_role(Role.CONSUMER)
    row = await refunds.request_refund(
        user_id=user_id, card_id=decode_id(card_id, "Card"), reason=reason
    )
    return RefundRequest.of(row)


async def decide_refund(
    info: Info, refund_id: str, approve: bool, note: str | None
) -> RefundRequest:
    principal = info.context.principal
    principal.require_role(Role.MERCHANT, Role.REGULATOR)
    row = await refunds.decide_refund(
        principal=principal,
        refund_id=decode_id(refund_id, "RefundRequest"),
        approve=approve,
        note=note,
    )
    return RefundRequest.of(row)


async def set_custody_ratio(
    info: Info, merchant_id: str, ratio: float, reason: str
) -> EscrowAccount:
    regulator_id = info.context.principal.require_role(Role.REGULATOR)
    merchant = await escrow.set_custody_ratio(
        regulator_id=regulator_id,
        merchant_id=decode_id(merchant_id, "Merchant"),
        ratio=ratio,
        reason=reason,
    )
    return EscrowAccount(merchant_row=merchant)


async def card_activity(info: Info) -> AsyncIterator[Transaction]:
    """Every transaction on the caller's own cards, as it commits."""
    user_id = info.context.principal.require_role(Role.CONSUMER)
    async for event in events.bus().subscribe(events.CARD_ACTIVITY):
        if event.get("owner_id") != user_id:
            continue
        row = await TransferRow.get_or_none(id=event["transfer_id"])
        if row is not None:
            # Fresh loaders per event: a cached card would show the balance of the last one.
            info.context.reset_loaders()
            yield Transaction.of(row)
