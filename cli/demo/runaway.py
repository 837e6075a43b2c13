"""The story the regulators' walkthrough follows (README, "A merchant going bad"): a gym that
sells deeply discounted year cards for four months, then in its last week sells a spike of
them while it has stopped serving anyone, closes two of its three stores, and its buyers
complain (卷款跑路, running off with the prepaid cash). Nothing here scores or detects: the
risk rules and the credit model find it from these operations, as they would on a server.

Planned last, with its own generator, so that the rest of the demo draws what it always drew.
"""

from __future__ import annotations

import random
from datetime import timedelta

from cli.demo.card_steps import new_card, plan_redemption
from cli.demo.complaint_steps import plan_complaint
from cli.demo.events import _close_store, _review
from cli.demo.plan import MerchantPlan, ProductPlan, StorePlan
from cli.demo.world import World
from models.enums import ComplaintCategory, ComplaintStatus, MerchantStatus
from services import onboarding
from services.credit_code import with_check_character

RUNAWAY_NAME = "淮安力健健身工作室"
RUNAWAY_CREDIT_CODE = with_check_character("91320812MA1XK7P3Q")
RUNAWAY_OWNER_PHONE = "13955500001"
SEED = 7_000_001


def plan_runaway(world: World) -> MerchantPlan:
    rng = random.Random(SEED)
    stores = [
        StorePlan("力健健身淮海店", "清江浦区淮海南路66号", "清江浦区", "0517-83550101"),
        StorePlan("力健健身万达店", "清江浦区翔宇大道168号", "清江浦区", "0517-83550102"),
        StorePlan("力健健身新城店", "淮安区翔宇北道9号", "淮安区", "0517-83550103"),
    ]
    year_card = ProductPlan(
        "年卡 充1680得3800",
        "三店通用：器械、团课、泳池（开业特惠）",
        168_000,
        380_000,
        365,
    )
    approved = world.at(-150, 900)
    gym = MerchantPlan(
        name=RUNAWAY_NAME,
        credit_code=RUNAWAY_CREDIT_CODE,
        legal_representative="赵立强",
        category="FITNESS",
        owner_phone=RUNAWAY_OWNER_PHONE,
        status=MerchantStatus.ACTIVE,
        created_at=world.at(-152, 600),
        reviewed_at=approved,
        stores=stores,
        products=[year_card],
        registry=None,
        custody_ratio_bp=4_000,
    )
    gym.registry = {
        "credit_code": gym.credit_code,
        "name": gym.name,
        "legal_representative": gym.legal_representative,
        "registered_capital_fen": 30 * 10_000 * 100,
        "established_on": (gym.created_at - timedelta(days=430)).date(),
        "registration_status": onboarding.OPERATING_STATUS,
        "administrative_penalties": 1,
        "on_abnormal_list": False,
        "updated_at": world.at(-160, 120),
    }
    world.merchants.append(gym)
    world.step(approved, _review(world, gym))

    buyers = iter(rng.sample(sorted(world.consumers), 60))
    # Four months of ordinary trade: a card every few days, used week after week ...
    day = -120
    while day < -16:
        card = new_card(world, next(buyers), gym, year_card, world.business(day))
        use = day + rng.randrange(2, 6)
        while use < -15 and card.balance >= 10_000:
            plan_redemption(world, card, world.business(use), 10_000)
            use += rng.randrange(5, 9)
        day += rng.randrange(3, 6)
    # ... then nobody is served for two weeks, while a spike of cards is sold in the last week,
    for day in range(-6, 0):
        for _ in range(4):
            new_card(world, next(buyers), gym, year_card, world.business(day))
    # two of the three stores close,
    for store, day in zip(stores[1:], (-5, -3), strict=True):
        store.closed_at = world.business(day)
        world.step(store.closed_at, _close_store(store))
    # and card holders turned away at the door complain.
    regulars = rng.sample(gym.cards[:-24], 6)
    for card, day in zip(regulars, (-10, -8, -6, -4, -3, -2), strict=True):
        plan_complaint(
            world,
            card,
            ComplaintStatus.SUBMITTED,
            created=world.business(day),
            responded=False,
            category=ComplaintCategory.SERVICE_REFUSED,
        )
    return gym
