"""The steps of a card's life, each planned in the World and replayed through the card and
refund services: the purchase, redemptions at a till, top-ups, refund requests and the
merchant's or regulator's decisions. Each also updates the card's plan at once, so later
planning sees the balance, cash and refunds the services will have recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cli.demo.accounts import ZHOU
from cli.demo.plan import CardPlan, MerchantPlan, ProductPlan, RefundPlan, StorePlan
from cli.demo.texts import REFUND_APPROVAL_NOTES, REFUND_REJECTION_NOTES
from cli.demo.world import World, fixed_clock
from core import clock
from models import RefundRequest
from models.enums import MerchantStatus, RefundStatus
from services import cards, redemption, refunds
from services.custody import cash_value_after_redemption, face_value_for_payment
from settings import get_settings


def sales_end(world: World, merchant: MerchantPlan) -> datetime:
    """Until its suspension or closure, and never after its last store shut."""
    shut = [s.closed_at for s in merchant.stores if s.closed_at is not None]
    if len(shut) == len(merchant.stores):
        return min(merchant.stop_at or world.end, *shut)
    return merchant.stop_at or world.end


def operations_end(world: World, merchant: MerchantPlan) -> datetime:
    """Redemptions and refunds go on after a suspension, not after a closure."""
    return (
        merchant.stop_at
        if merchant.status is MerchantStatus.CLOSED and merchant.stop_at
        else world.end
    )


def stores_for(product: ProductPlan, merchant: MerchantPlan, at: datetime) -> list[StorePlan]:
    return [store for store in (product.only_at or merchant.stores) if store.open_at(at)]


def new_card(
    world: World, owner: str, merchant: MerchantPlan, product: ProductPlan, bought_at: datetime
) -> CardPlan:
    stores = stores_for(product, merchant, bought_at)
    card = CardPlan(
        key=f"demo:{len(world.cards)}",
        owner=owner,
        merchant=merchant,
        product=product,
        bought_at=bought_at,
        home=world.rng.choice(stores),
        balance=product.face_fen,
        cash=product.price_fen,
        paid=product.price_fen,
        sales=[(bought_at, product.face_fen)],
        payments=[(bought_at, product.price_fen)],
    )
    world.cards.append(card)
    merchant.cards.append(card)

    async def buy() -> None:
        done = await cards.purchase(
            principal=world.consumer(owner),
            product_id=product.id,
            idempotency_key=f"{card.key}:buy",
        )
        card.id, card.purchase_transfer_id = done.card.id, done.transfer.id

    world.step(bought_at, buy)
    return card


def plan_redemption(world: World, card: CardPlan, at: datetime, amount: int) -> None:
    merchant, rng = card.merchant, world.rng
    stores = stores_for(card.product, merchant, at)
    store = card.home if card.home in stores and rng.random() < 0.75 else rng.choice(stores)
    staff = merchant is world.chain and store is merchant.stores[0] and rng.random() < 0.7
    key = f"{card.key}:redeem:{len(card.redemptions)}"
    card.cash = cash_value_after_redemption(card.balance, card.cash, amount)
    card.balance -= amount
    card.redemptions.append((at, amount))

    async def redeem() -> None:
        code = await redemption.issue_redemption_code(
            principal=world.consumer(card.owner), card_id=card.id
        )
        # The consumer shows the code at the till a little after asking for it.
        clock.set_clock(fixed_clock(at + timedelta(seconds=45)))
        await redemption.redeem(
            principal=world.staff(ZHOU.phone, merchant, store) if staff else world.owner(merchant),
            code=code.code,
            store_id=store.id,
            amount_fen=amount,
            idempotency_key=key,
        )

    world.step(at, redeem)


def plan_top_up(world: World, card: CardPlan, at: datetime, pay: int) -> None:
    card.cash += pay
    card.paid += pay
    added = face_value_for_payment(pay, card.product.price_fen, card.product.face_fen)
    card.balance += added
    card.sales.append((at, added))
    card.payments.append((at, pay))
    key = f"{card.key}:top-up:{len(card.sales)}"

    async def top_up() -> None:
        await cards.top_up(
            principal=world.consumer(card.owner), card_id=card.id, pay_fen=pay, idempotency_key=key
        )

    world.step(at, top_up)


def plan_refund_request(
    world: World, card: CardPlan, at: datetime, reason: str, decision: str
) -> None:
    card.refund = RefundPlan(at, decision)

    async def request() -> None:
        await refunds.request_refund(
            principal=world.consumer(card.owner), card_id=card.id, reason=reason
        )

    world.step(at, request)
    if decision == "AUTO":
        card.refunded_at = at


def plan_refund_decision(world: World, card: CardPlan, at: datetime, approve: bool) -> None:
    assert card.refund is not None
    card.refund.decided_at = at
    if approve:
        card.refunded_at = at
    notes = REFUND_APPROVAL_NOTES if approve else REFUND_REJECTION_NOTES
    note = world.rng.choice(notes)
    by_regulator = card.refund.decision == "REGULATOR"

    async def decide() -> None:
        pending = await RefundRequest.get(card_id=card.id, status=RefundStatus.PENDING)
        principal = world.regulator() if by_regulator else world.owner(card.merchant)
        await refunds.decide_refund(
            principal=principal, refund_id=pending.id, approve=approve, note=note
        )

    world.step(at, decide)


def within_pair_cap(world: World, owner: str, merchant: MerchantPlan, extra: int) -> bool:
    """Whether the owner may prepay `extra` more with the merchant (checked on what was paid)."""
    paid = sum(card.paid for card in merchant.cards if card.owner == owner)
    return paid + extra <= get_settings().consumer_merchant_cap_fen
