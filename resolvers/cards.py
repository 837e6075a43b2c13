"""The cards domain's reads and writes for the API: the caller has passed the field's rule.

Each function takes the principal and plain arguments and returns rows (or a Page);
schema/cards.py wraps them. A card transaction is read off the ledger transfer behind it
(services/card_transactions.py). Refund requests are resolvers/refunds.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from auth import scoping
from core.principal import Principal
from models import Card, Transfer, User
from models.enums import TransactionKind
from services import cards as card_service
from services import events, redemption
from services.card_transactions import CardOperation
from services.pagination import Page, newest_first, page_of
from services.redemption import IssuedCode


async def wallet(principal: Principal) -> tuple[User, list[Card]]:
    """The consumer and its cards, newest first."""
    owner = await User.get(id=principal.require_user())
    cards = await scoping.readable_cards(principal).order_by("-issued_at", "-id")
    return owner, cards


async def card(principal: Principal, card_id: int) -> Card | None:
    return await scoping.readable_cards(principal).get_or_none(id=card_id)


async def transactions(
    principal: Principal,
    *,
    kind: TransactionKind | None,
    merchant_id: int | None,
    card_id: int | None,
    store_id: int | None,
    from_: datetime | None,
    to: datetime | None,
    first: int | None,
    after: str | None,
) -> Page[Transfer]:
    """The transfers behind the caller's card transactions, newest first."""
    return await page_of(
        scoping.readable_transactions(principal),
        newest_first("created_at"),
        first,
        after,
        {
            "kind": kind.value if kind is not None else None,
            "merchant_id": merchant_id,
            "card_id": card_id,
            "store_id": store_id,
            "created_at__gte": from_,
            "created_at__lt": to,
        },
    )


async def purchase_card(
    principal: Principal, product_id: int, idempotency_key: str
) -> CardOperation:
    return await card_service.purchase(
        principal=principal, product_id=product_id, idempotency_key=idempotency_key
    )


async def top_up_card(
    principal: Principal, card_id: int, pay_amount: int, idempotency_key: str
) -> CardOperation:
    return await card_service.top_up(
        principal=principal, card_id=card_id, pay_fen=pay_amount, idempotency_key=idempotency_key
    )


async def issue_redemption_code(principal: Principal, card_id: int) -> IssuedCode:
    return await redemption.issue_redemption_code(principal=principal, card_id=card_id)


async def redeem(
    principal: Principal, code: str, store_id: int, amount: int, idempotency_key: str
) -> CardOperation:
    return await redemption.redeem(
        principal=principal,
        code=code,
        store_id=store_id,
        amount_fen=amount,
        idempotency_key=idempotency_key,
    )


async def card_activity(principal: Principal) -> AsyncIterator[Transfer]:
    """The transfer behind every transaction on the caller's own cards, as it commits."""
    async for event in events.bus().subscribe(events.CARD_ACTIVITY):
        if event.get("owner_id") != principal.user_id:
            continue
        transfer = await Transfer.get_or_none(id=event["transfer_id"])
        if transfer is not None:
            yield transfer
