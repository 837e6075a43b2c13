"""Regulators suspend, reinstate and close merchants; closing refunds every live card.

Suspension stops sales and keeps redemption and refunds open. Closure is
final: in one database transaction every live card is refunded through the
ledger (custody first, the rest clawed back from the merchant's settlement),
pending refund requests are settled by it, and its products and stores are retired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock, public_cache, text
from core.errors import InvalidState, NotFound
from core.principal import Principal
from models import Card, CardProduct, Merchant, RefundRequest, Store
from models.enums import (
    LIVE_CARD_STATUSES,
    CardProductStatus,
    MerchantStatus,
    RefundStatus,
    StoreStatus,
)
from models.ledger import Transfer
from services import audit, channel_refunds, credit_scores, events
from services.money import format_money
from services.refunds import refund_card


@dataclass(frozen=True)
class ClosureReport:
    merchant: Merchant
    cards_refunded: int
    cash_refunded_fen: int
    # Refunded cash that custody did not hold: clawed back from what was released.
    shortfall_fen: int


async def _supervised(principal: Principal, merchant_id: int) -> Merchant:
    """The merchant if the caller may change its status; NOT_FOUND otherwise."""
    merchant = await scoping.supervised_merchants(principal).get_or_none(id=merchant_id)
    if merchant is None:
        raise NotFound("No such merchant")
    return merchant


async def _change_status(
    principal: Principal,
    merchant_id: int,
    reason: str,
    *,
    allowed_from: tuple[MerchantStatus, ...],
    to: MerchantStatus,
    action: str,
) -> Merchant:
    regulator_id = principal.require_user()
    reason = text.required_reason(reason)
    merchant = await _supervised(principal, merchant_id)
    if merchant.status not in allowed_from:
        raise InvalidState(f"A {merchant.status.value} merchant cannot become {to.value}")
    async with in_transaction():
        changed = await Merchant.filter(id=merchant.id, status=merchant.status).update(
            status=to, status_reason=reason
        )
        if changed != 1:
            raise InvalidState("The merchant changed meanwhile; try again")
        await audit.record(
            actor_id=regulator_id,
            action=action,
            subject_type="Merchant",
            subject_id=merchant.id,
            merchant_id=merchant.id,
            reason=reason,
            details={"from": merchant.status.value, "to": to.value},
        )
    await public_cache.changed(public_cache.CATEGORIES, public_cache.MERCHANTS)
    return await Merchant.get(id=merchant.id)


async def suspend_merchant(*, principal: Principal, merchant_id: int, reason: str) -> Merchant:
    return await _change_status(
        principal,
        merchant_id,
        reason,
        allowed_from=(MerchantStatus.ACTIVE,),
        to=MerchantStatus.SUSPENDED,
        action="MERCHANT_SUSPENDED",
    )


async def reinstate_merchant(*, principal: Principal, merchant_id: int, reason: str) -> Merchant:
    return await _change_status(
        principal,
        merchant_id,
        reason,
        allowed_from=(MerchantStatus.SUSPENDED,),
        to=MerchantStatus.ACTIVE,
        action="MERCHANT_REINSTATED",
    )


async def close_merchant(*, principal: Principal, merchant_id: int, reason: str) -> ClosureReport:
    """Close for good and refund every live card in one transaction."""
    regulator_id = principal.require_user()
    reason = text.required_reason(reason)
    merchant = await _supervised(principal, merchant_id)
    if merchant.status not in (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED):
        raise InvalidState(f"A {merchant.status.value} merchant cannot be closed")
    now = clock.now()
    refunded: list[tuple[Card, Transfer]] = []
    async with in_transaction():
        changed = await Merchant.filter(id=merchant.id, status=merchant.status).update(
            status=MerchantStatus.CLOSED, status_reason=reason, closed_at=now
        )
        if changed != 1:
            raise InvalidState("The merchant changed meanwhile; try again")
        # Locked until commit (PostgreSQL): no redemption slips in between.
        live = (
            await Card.filter(
                merchant_id=merchant.id, status__in=LIVE_CARD_STATUSES, cash_value_fen__gt=0
            )
            .order_by("id")
            .select_for_update()
        )
        shortfall = sum(card.cash_value_fen - card.escrow_held_fen for card in live)
        for card in live:
            refunded.append(
                await refund_card(
                    card.id, initiated_by_id=regulator_id, reason="Merchant closed", now=now
                )
            )
        await _settle_pending_requests(merchant.id, regulator_id, refunded, now)
        await CardProduct.filter(merchant_id=merchant.id).update(status=CardProductStatus.RETIRED)
        await Store.filter(merchant_id=merchant.id, status=StoreStatus.OPEN).update(
            status=StoreStatus.CLOSED, closed_at=now
        )
        cash = sum(transfer.cash_amount_fen for _card, transfer in refunded)
        await audit.record(
            actor_id=regulator_id,
            action="MERCHANT_CLOSED",
            subject_type="Merchant",
            subject_id=merchant.id,
            merchant_id=merchant.id,
            reason=reason,
            details={
                "from": merchant.status.value,
                "cardsRefunded": len(refunded),
                "cashRefunded": format_money(cash),
                "shortfall": format_money(shortfall),
            },
        )
    await channel_refunds.send_for_transfers([transfer.id for _card, transfer in refunded])
    await public_cache.changed(
        public_cache.CATEGORIES, public_cache.MERCHANTS, public_cache.merchant_family(merchant.id)
    )
    for card, transfer in refunded:
        await events.card_transaction(transfer, owner_id=card.owner_id)
    credit_scores.schedule_recompute(merchant.id)
    return ClosureReport(
        merchant=await Merchant.get(id=merchant.id),
        cards_refunded=len(refunded),
        cash_refunded_fen=sum(transfer.cash_amount_fen for _card, transfer in refunded),
        shortfall_fen=shortfall,
    )


async def _settle_pending_requests(
    merchant_id: int, regulator_id: int, refunded: list[tuple[Card, Transfer]], now: datetime
) -> None:
    """Pending refund requests are answered by the closure's refunds."""
    by_card = {card.id: transfer for card, transfer in refunded}
    pending = await RefundRequest.filter(merchant_id=merchant_id, status=RefundStatus.PENDING)
    for request in pending:
        transfer = by_card.get(request.card_id)
        # A request freezes its card, so its card is among the refunded; a request made before
        # cards froze may have seen its card used up since, and must not show the amount asked
        # for as if it had been paid.
        await RefundRequest.filter(id=request.id).update(
            status=RefundStatus.APPROVED,
            decided_at=now,
            decided_by_id=regulator_id,
            decision_note="Refunded when the merchant was closed"
            if transfer
            else "Nothing was left on the card to refund when the merchant was closed",
            transfer_id=transfer.id if transfer else None,
            amount_fen=transfer.cash_amount_fen if transfer else 0,
        )
