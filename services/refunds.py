"""Refunds: a card's whole cash value goes back to the consumer.

Within the cooling-off period and before any redemption, and whenever the card
has expired or its merchant is suspended or closed, a request is approved at
once; otherwise it waits for the merchant or a regulator, and the card is
FROZEN meanwhile (no redemption, top-up or new code), so the amount decided on
is the amount paid. A rejection makes the card ACTIVE again. The custody share
comes out of escrow and the rest is clawed back from the merchant's
settlement account (which may go negative: a debt).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock, text
from core.errors import Forbidden, InvalidState, NotFound
from core.principal import Principal
from models import Card, Merchant, RefundRequest
from models.enums import CardStatus, MerchantStatus, RefundStatus, TransferKind
from models.ledger import Transfer
from services import audit, channel_refunds, events, ledger
from services.cards import is_expired
from services.ledger import CardSnapshot, credit, debit

# What an approved refund request says at the payment channel.
CHANNEL_REASON = "Refund request approved"


async def refund_card(
    card_id: int, *, initiated_by_id: int | None, reason: str, now: datetime | None = None
) -> tuple[Card, Transfer]:
    """Pay the card's cash value back and end it. Call inside a database transaction; after it
    commits, send what went through a payment channel with
    `channel_refunds.send_for_transfers`. `reason` is what the channel's refund says."""
    card = await Card.filter(id=card_id).select_for_update(no_key=True).first()
    if card is None:
        raise NotFound("No such card")
    if card.status is CardStatus.REFUNDED:
        raise InvalidState("The card is already refunded")
    if card.cash_value_fen <= 0:
        raise InvalidState("Nothing is left on the card to refund")
    now = now or clock.now()
    cash, escrow, balance = card.cash_value_fen, card.escrow_held_fen, card.balance_fen
    updated = await Card.filter(
        id=card.id, status=card.status, cash_value_fen=cash, escrow_held_fen=escrow
    ).update(
        balance_fen=0,
        cash_value_fen=0,
        escrow_held_fen=0,
        status=CardStatus.REFUNDED,
        closed_at=now,
    )
    if updated != 1:
        raise InvalidState("The card changed while it was being refunded; try again")
    # Cash paid through a channel goes back through it, against the payments that brought it
    # (their channel's clearing account); the rest (the sandbox) to consumer_funds as ever.
    plan = await channel_refunds.allocate(card.id, cash)
    transfer = await ledger.record_transfer(
        kind=TransferKind.REFUND,
        merchant_id=card.merchant_id,
        card_id=card.id,
        initiated_by_id=initiated_by_id,
        amount_fen=balance,
        cash_amount_fen=cash,
        after=CardSnapshot(0, 0, 0),
        legs=[
            debit(ledger.escrow_account(card.merchant_id), escrow),
            debit(ledger.settlement_account(card.merchant_id), cash - escrow),
            *(
                credit(ledger.channel_clearing_account(name), amount)
                for name, amount in plan.by_channel().items()
            ),
            credit(ledger.CONSUMER_FUNDS, plan.elsewhere_fen),
        ],
        created_at=now,
    )
    await channel_refunds.record(
        plan, card_id=card.id, transfer_id=transfer.id, reason=reason, now=now
    )
    card.balance_fen = card.cash_value_fen = card.escrow_held_fen = 0
    card.status = CardStatus.REFUNDED
    return card, transfer


def approved_without_review(card: Card, merchant: Merchant, now: datetime) -> str | None:
    """Why a refund needs no approval, or None when the merchant or a regulator must decide."""
    if merchant.status in (MerchantStatus.SUSPENDED, MerchantStatus.CLOSED):
        return f"Approved at once: the merchant is {merchant.status.value.lower()}"
    if is_expired(card, now):
        return "Approved at once: the card has expired, and expiry never forfeits money"
    if now < card.cooling_off_ends_at and card.first_redeemed_at is None:
        return "Approved at once: unused and within the cooling-off period"
    return None


async def request_refund(*, principal: Principal, card_id: int, reason: str) -> RefundRequest:
    """The consumer asks for its card's cash back: approved at once, or the card waits FROZEN."""
    user_id = principal.require_user()
    reason = text.required_reason(reason)
    if not await scoping.writable_cards(principal).filter(id=card_id).exists():
        raise NotFound("No such card")
    now = clock.now()
    async with in_transaction():
        # Checked on the locked card: a redemption or another request that committed since
        # the caller last looked decides whether this one is approved at once, and for how much.
        card = await Card.filter(id=card_id).select_for_update(no_key=True).first()
        assert card is not None
        if card.status is CardStatus.REFUNDED:
            raise InvalidState("The card is already refunded")
        if card.cash_value_fen <= 0:
            raise InvalidState("Nothing is left on the card to refund")
        automatic = approved_without_review(card, await Merchant.get(id=card.merchant_id), now)
        pending = await RefundRequest.filter(card_id=card.id, status=RefundStatus.PENDING).first()
        if pending is not None and not automatic:
            raise InvalidState("A refund request for this card is already waiting for a decision")
        # A request still waiting when the merchant was suspended (or the card expired) needs
        # no decision any more: asking again settles it at once. The conditional UPDATE holds
        # it against a merchant deciding at the same moment.
        if pending is not None and (
            await RefundRequest.filter(id=pending.id, status=RefundStatus.PENDING).update(
                decided_at=now
            )
            != 1
        ):
            raise InvalidState("The refund request was decided meanwhile; look again")
        request = pending or await RefundRequest.create(
            card_id=card.id,
            merchant_id=card.merchant_id,
            requested_by_id=user_id,
            reason=reason,
            amount_fen=card.cash_value_fen,
            requested_at=now,
        )
        if not automatic:
            await _freeze(card)
        transfer = None
        if automatic:
            _, transfer = await refund_card(
                card.id, initiated_by_id=user_id, reason=automatic, now=now
            )
            request.status = RefundStatus.APPROVED
            request.decided_at = now
            request.decision_note = automatic
            request.transfer_id = transfer.id
            request.amount_fen = transfer.cash_amount_fen
            await request.save()
    if transfer is not None:
        await channel_refunds.send_for_transfers([transfer.id])
        await events.card_transaction(transfer, owner_id=user_id)
    return request


async def _freeze(card: Card) -> None:
    """Hold the card still while its refund waits: the amount asked for is the amount paid."""
    frozen = await Card.filter(id=card.id, status=CardStatus.ACTIVE).update(
        status=CardStatus.FROZEN
    )
    if frozen != 1:
        raise InvalidState(f"The card is {card.status.value.lower()}")


async def _unfreeze(card_id: int) -> None:
    await Card.filter(id=card_id, status=CardStatus.FROZEN).update(status=CardStatus.ACTIVE)


async def decide_refund(
    *, principal: Principal, refund_id: int, approve: bool, note: str | None
) -> RefundRequest:
    """The merchant (its own requests) or a regulator approves or rejects a pending refund."""
    if not scoping.decides_refunds(principal):
        raise Forbidden("Refunds are decided by the owner or by staff not bound to a store")
    request = await scoping.writable_refund_requests(principal).get_or_none(id=refund_id)
    if request is None:
        raise NotFound("No such refund request")
    if request.status is not RefundStatus.PENDING:
        raise InvalidState(f"The refund request is already {request.status.value.lower()}")
    now = clock.now()
    transfer = None
    async with in_transaction():
        claimed = await RefundRequest.filter(id=request.id, status=RefundStatus.PENDING).update(
            status=RefundStatus.APPROVED if approve else RefundStatus.REJECTED,
            decided_at=now,
            decision_note=note,
            decided_by_id=principal.user_id,
        )
        if claimed != 1:
            raise InvalidState("The refund request was decided meanwhile")
        if approve:
            _card, transfer = await refund_card(
                request.card_id, initiated_by_id=principal.user_id, reason=CHANNEL_REASON, now=now
            )
            await RefundRequest.filter(id=request.id).update(
                transfer_id=transfer.id, amount_fen=transfer.cash_amount_fen
            )
        else:
            await _unfreeze(request.card_id)
        if principal.is_regulator:
            assert principal.user_id is not None
            await audit.record(
                actor_id=principal.user_id,
                action="REFUND_APPROVED" if approve else "REFUND_REJECTED",
                subject_type="RefundRequest",
                subject_id=request.id,
                merchant_id=request.merchant_id,
                reason=note,
            )
    if transfer is not None:
        await channel_refunds.send_for_transfers([transfer.id])
        card = await Card.get(id=request.card_id)
        await events.card_transaction(transfer, owner_id=card.owner_id)
    return await RefundRequest.get(id=request.id)
