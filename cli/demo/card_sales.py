"""The 1,500 cards: which consumer buys which card where and when, then how each is used
(redemptions, now and then a top-up) and whether it ends in a refund request, kept within
the caps and the merchants' stories that the services enforce.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cli.demo.card_steps import (
    new_card,
    operations_end,
    plan_redemption,
    plan_refund_decision,
    plan_refund_request,
    plan_top_up,
    sales_end,
    stores_for,
    within_pair_cap,
)
from cli.demo.catalogue import CATEGORIES
from cli.demo.plan import CardPlan, MerchantPlan
from cli.demo.texts import REFUND_REASON_EXPIRED, REFUND_REASONS_COOLING_OFF, REFUND_REASONS_LATER
from cli.demo.world import HISTORY_DAYS, World, hours
from models.enums import MerchantStatus
from settings import get_settings

CARDS = 1500  # the demo consumers' and the large purchase's cards included


def plan_cards(world: World) -> None:
    rng = world.rng
    sellers = [m for m in world.merchants if _sellable(m)]
    weights = [m.popularity for m in sellers]
    phones = list(world.consumers)
    activity = [rng.lognormvariate(0, 0.7) for _ in phones]
    while len(world.cards) < CARDS:
        merchant = rng.choices(sellers, weights)[0]
        assert merchant.reviewed_at is not None
        product = rng.choice(merchant.products)
        last_day = world.day_of(sales_end(world, merchant)) - 1
        if product.retired_at:
            last_day = min(last_day, world.day_of(product.retired_at) - 1)
        first_day = max(-HISTORY_DAYS, world.day_of(merchant.reviewed_at) + 1)
        if last_day < first_day:
            continue
        day = last_day - int((last_day - first_day + 1) * rng.random() ** 1.3)
        bought = world.business(max(day, first_day), last_hour=22)
        for _ in range(5):
            owner = rng.choices(phones, activity)[0]
            mine = [card for card in merchant.cards if card.owner == owner]
            if len(mine) < 2 and within_pair_cap(world, owner, merchant, product.price_fen):
                break
        else:
            continue
        _plan_history(world, new_card(world, owner, merchant, product, bought))


def _plan_history(world: World, card: CardPlan) -> None:
    """Redemptions (and now and then a top-up), then perhaps a refund request."""
    rng, merchant = world.rng, card.merchant
    ops_until = min(operations_end(world, merchant), card.expires_at)
    if rng.random() < 0.06:
        at = card.bought_at + hours(rng, 3, 150)
        if at < operations_end(world, merchant):
            plan_refund_request(world, card, at, rng.choice(REFUND_REASONS_COOLING_OFF), "AUTO")
            return
    amounts = CATEGORIES[merchant.category][2]
    uses = rng.choices(range(8), (5, 13, 18, 20, 18, 12, 8, 6))[0]
    if merchant.weak:
        uses = rng.choice((0, 0, 1))
    day = world.day_of(card.bought_at)
    for _ in range(uses):
        day += rng.randrange(2, 22)
        at = world.business(day)
        if at >= ops_until or not stores_for(card.product, merchant, at):
            break
        pay = card.product.price_fen
        if (
            card.balance < card.product.face_fen * 0.4
            and rng.random() < 0.5
            and card.product.retired_at is None
            and at < sales_end(world, merchant)
            and card.cash + pay <= get_settings().card_cash_cap_fen
            and within_pair_cap(world, card.owner, merchant, pay)
        ):
            plan_top_up(world, card, at - timedelta(minutes=10), pay)
        amount = rng.choice(amounts) * 100
        if amount >= card.balance or (card.balance - amount < 1_000 and rng.random() < 0.6):
            amount = card.balance
        plan_redemption(world, card, at, amount)
        if card.balance == 0:
            return
    _plan_late_refund(world, card)


def _refund_is_automatic(card: CardPlan, at: datetime) -> bool:
    """What services.refunds.approved_without_review will say at `at`."""
    merchant = card.merchant
    if merchant.status is MerchantStatus.SUSPENDED and merchant.stop_at and at >= merchant.stop_at:
        return True
    if at >= card.expires_at:
        return True
    return not card.redemptions and at < card.bought_at + timedelta(
        days=get_settings().cooling_off_days
    )


def _plan_late_refund(world: World, card: CardPlan) -> None:
    rng, merchant = world.rng, card.merchant
    ops_until = operations_end(world, merchant)
    if card.expires_at < ops_until and rng.random() < 0.4:
        at = card.expires_at + timedelta(days=rng.randrange(1, 30), hours=rng.randrange(0, 10))
        if at < ops_until:
            plan_refund_request(world, card, at, REFUND_REASON_EXPIRED, "AUTO")
        return
    if rng.random() >= (0.35 if merchant.weak else 0.07):
        return
    at = card.last_at + timedelta(days=rng.randrange(2, 25), hours=rng.randrange(0, 5))
    if at >= ops_until:
        return
    reason = rng.choice(REFUND_REASONS_LATER)
    if _refund_is_automatic(card, at):
        plan_refund_request(world, card, at, reason, "AUTO")
        return
    weights = (10, 5, 40, 45, 0) if merchant.weak else (35, 20, 20, 15, 10)
    decision = rng.choices(("APPROVE", "REJECT", "PENDING", "DISPUTE", "REGULATOR"), weights)[0]
    decided_at = at + timedelta(days=rng.randrange(1, 5), hours=rng.randrange(0, 6))
    if decision == "DISPUTE" and (merchant.stop_at or at + timedelta(days=5) >= world.end):
        decision = "PENDING"
    if decision in ("APPROVE", "REJECT", "REGULATOR") and decided_at >= ops_until:
        decision = "PENDING"
    plan_refund_request(world, card, at, reason, decision)
    if decision in ("APPROVE", "REJECT", "REGULATOR"):
        plan_refund_decision(world, card, decided_at, approve=decision != "REJECT")


def _sellable(merchant: MerchantPlan) -> bool:
    return merchant.status in (
        MerchantStatus.ACTIVE,
        MerchantStatus.SUSPENDED,
        MerchantStatus.CLOSED,
    )
