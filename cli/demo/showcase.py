"""The cards that the README walks through: those of the demo consumers 张小安 and 李淮, and
one consumer's large prepayment to a school that the risk alerts flag.
"""

from __future__ import annotations

from datetime import datetime

from cli.demo.accounts import LI, ZHANG
from cli.demo.card_steps import new_card, plan_redemption, plan_refund_request, plan_top_up
from cli.demo.catalogue import CATEGORIES
from cli.demo.plan import CardPlan, MerchantPlan, ProductPlan
from cli.demo.texts import REFUND_REASONS_COOLING_OFF, REFUND_REASONS_LATER
from cli.demo.world import World
from models.enums import MerchantStatus


def _pick(world: World, category: str) -> MerchantPlan:
    """The first steady merchant of a category (for the demo consumers' own cards)."""
    return next(
        m
        for m in world.merchants[1:]
        if m.category == category
        and m.status is MerchantStatus.ACTIVE
        and not m.weak
        and all(product.only_at is None for product in m.products)
    )


def _hand_card(
    world: World,
    owner: str,
    merchant: MerchantPlan,
    bought: datetime,
    uses: list[tuple[datetime, float]],
) -> CardPlan:
    """A card of the merchant's biggest product, redeemed by the given shares of its face value."""
    product = max(merchant.products, key=lambda p: p.face_fen)
    card = new_card(world, owner, merchant, product, bought)
    for at, share in uses:
        plan_redemption(world, card, at, int(round(product.face_fen * share, -2)))
    return card


def plan_demo_cards(world: World) -> None:
    """The cards of 张小安 and 李淮, whom the README names."""
    chain, b, at = world.chain, world.business, world.at
    laundry = chain.products[0]
    zhang = new_card(world, ZHANG.phone, chain, laundry, at(-3, 612))
    zhang.home = chain.stores[0]
    plan_redemption(world, zhang, at(-2, 1120), 3_800)
    dining = _pick(world, "HOTEL_DINING")
    meal = _hand_card(
        world, ZHANG.phone, dining, b(-95), [(b(-80), 0.2), (b(-62), 0.25), (b(-41), 0.3)]
    )
    plan_top_up(world, meal, at(-20, 1110), meal.product.price_fen)
    plan_redemption(world, meal, at(-20, 1140), int(round(meal.product.face_fen * 0.15, -2)))
    gym = _pick(world, "FITNESS")
    days = (-104, -97, -85, -70, -56, -35)
    _hand_card(world, ZHANG.phone, gym, b(-110), [(b(day), 0.12) for day in days])
    beauty = _pick(world, "BEAUTY")
    salon = new_card(world, ZHANG.phone, beauty, beauty.products[0], b(-9))
    plan_refund_request(world, salon, b(-8), REFUND_REASONS_COOLING_OFF[1], "AUTO")

    li = new_card(world, LI.phone, chain, laundry, at(-41, 655))
    li.home = chain.stores[6]
    for day, amount in ((-35, 4_500), (-22, 7_600), (-13, 3_600), (-6, 9_800)):
        plan_redemption(world, li, b(day), amount)
    shop = _pick(world, "RETAIL")
    _hand_card(world, LI.phone, shop, b(-70), [(b(-66), 0.15), (b(-47), 0.2), (b(-15), 0.1)])
    garage = _pick(world, "AUTO_SERVICE")
    wash = _hand_card(world, LI.phone, garage, b(-50), [(b(-44), 0.1)])
    plan_refund_request(world, wash, b(-4), REFUND_REASONS_LATER[1], "PENDING")


def plan_large_purchase(world: World) -> None:
    """One consumer prepays over 10,000.00 with one school in a day: a LARGE_PURCHASE alert."""
    school = _pick(world, "EDUCATION")
    template = CATEGORIES["EDUCATION"][1][0]
    product = next((p for p in school.products if p.name == template.name), None)
    if product is None:
        product = ProductPlan(
            template.name,
            template.description,
            template.price_yuan * 100,
            template.face_yuan * 100,
            template.validity_days,
        )
        school.products.append(product)
    buyer = next(iter(world.consumers))
    for minute in (605, 622, 661):
        new_card(world, buyer, school, product, world.at(-18, minute))
