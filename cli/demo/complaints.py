"""Which complaints the demo has: the demo consumers' own, refund disputes, the pile-up at
the weak merchants, those before suspensions and closures, and everyday ones in every state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cli.demo.accounts import LI, ZHANG
from cli.demo.complaint_steps import plan_complaint
from cli.demo.plan import CardPlan, MerchantPlan
from cli.demo.world import World, hours
from models.enums import ComplaintCategory, ComplaintOutcome, ComplaintStatus, MerchantStatus


def plan_complaints(world: World) -> None:
    rng, end = world.rng, world.end
    days = timedelta(days=1)
    li_card = next(card for card in world.chain.cards if card.owner == LI.phone)
    plan_complaint(
        world,
        li_card,
        ComplaintStatus.SUBMITTED,
        created=world.at(-1, 1170),
        category=ComplaintCategory.QUALITY,
    )
    gym_card = next(
        card
        for card in world.cards
        if card.owner == ZHANG.phone and card.merchant.category == "FITNESS"
    )
    plan_complaint(
        world,
        gym_card,
        ComplaintStatus.RESOLVED,
        created=world.at(-60, 1250),
        escalated=True,
        category=ComplaintCategory.SERVICE_REFUSED,
        outcome=ComplaintOutcome.PARTIALLY_UPHELD,
    )
    for card in list(world.cards):
        if card.refund is None or card.refund.decision != "DISPUTE":
            continue
        created = card.refund.requested_at + timedelta(days=2)
        for status in (ComplaintStatus.RESOLVED, ComplaintStatus.UNDER_MEDIATION):
            if plan_complaint(
                world,
                card,
                status,
                created=created,
                escalated=True,
                category=ComplaintCategory.REFUND_DISPUTE,
                outcome=ComplaintOutcome.UPHELD,
                refund=status is ComplaintStatus.RESOLVED,
            ):
                break
    complained = {plan.card.key for plan in world.complaints}

    def cards_of(merchant: MerchantPlan, before: datetime) -> list[CardPlan]:
        found = [
            card
            for card in merchant.cards
            if card.key not in complained
            and card.bought_at < before - days
            and card.owner not in (ZHANG.phone, LI.phone)
        ]
        rng.shuffle(found)
        return found

    for merchant in world.merchants:
        if merchant.weak:  # open complaints piling up for weeks
            for card in cards_of(merchant, end - 16 * days)[: rng.randrange(3, 6)]:
                swept = rng.random() < 0.4
                status = rng.choice(
                    (ComplaintStatus.UNDER_MEDIATION, ComplaintStatus.MERCHANT_RESPONDED)
                )
                if swept:
                    status = ComplaintStatus.UNDER_MEDIATION
                plan_complaint(
                    world,
                    card,
                    status,
                    earliest=end - 70 * days,
                    latest=end - 16 * days - timedelta(days=4),
                    responded=not swept,
                    swept=swept,
                    escalated=status is ComplaintStatus.UNDER_MEDIATION and not swept,
                    category=rng.choice(
                        (ComplaintCategory.SERVICE_REFUSED, ComplaintCategory.REFUND_DISPUTE)
                    ),
                )
                complained.add(card.key)
        elif merchant.stop_at and merchant.status is MerchantStatus.SUSPENDED:
            for card in cards_of(merchant, merchant.stop_at)[:2]:
                plan_complaint(
                    world,
                    card,
                    rng.choice((ComplaintStatus.RESOLVED, ComplaintStatus.UNDER_MEDIATION)),
                    earliest=merchant.stop_at - 20 * days,
                    latest=merchant.stop_at - 2 * days,
                    escalated=True,
                    category=ComplaintCategory.STORE_CLOSED,
                    outcome=ComplaintOutcome.PARTIALLY_UPHELD,
                )
                complained.add(card.key)
        elif merchant.stop_at:  # closed: the regulator rules after the closure refunds
            for card in cards_of(merchant, merchant.stop_at - 4 * days)[:1]:
                plan_complaint(
                    world,
                    card,
                    ComplaintStatus.RESOLVED,
                    created=merchant.stop_at - hours(rng, 96, 240),
                    responded=False,
                    escalated=True,
                    category=ComplaintCategory.STORE_CLOSED,
                    outcome=ComplaintOutcome.UPHELD,
                    resolve_at=merchant.stop_at + hours(rng, 24, 72),
                )
                complained.add(card.key)
    _plan_everyday_complaints(world, complained)


def _plan_everyday_complaints(world: World, complained: set[str]) -> None:
    """Complaints in every state about steady merchants."""
    rng, end, days = world.rng, world.end, timedelta(days=1)
    S = ComplaintStatus
    wanted = [S.SUBMITTED] * 7 + [S.MERCHANT_RESPONDED] * 8 + [S.UNDER_MEDIATION] * 6
    wanted += [S.RESOLVED] * 12 + [S.REJECTED] * 6 + [S.WITHDRAWN] * 6
    steady = [
        card
        for card in world.cards
        if card.merchant.status is MerchantStatus.ACTIVE
        and not card.merchant.weak
        and card.merchant is not world.chain
        and card.owner not in (ZHANG.phone, LI.phone)
    ]
    for index, status in enumerate(wanted):
        for _ in range(20):
            card = rng.choice(steady)
            if card.key in complained:
                continue
            earliest = {S.SUBMITTED: end - timedelta(hours=60)}.get(status, end - 40 * days)
            outcome = None
            if status is S.RESOLVED:
                outcome = rng.choice((ComplaintOutcome.UPHELD, ComplaintOutcome.PARTIALLY_UPHELD))
            planned = plan_complaint(
                world,
                card,
                status,
                earliest=earliest,
                latest=end - days if status is S.MERCHANT_RESPONDED else None,
                responded=status is not S.WITHDRAWN or rng.random() < 0.5,
                swept=status is S.UNDER_MEDIATION and index % 3 == 0,
                escalated=status is S.UNDER_MEDIATION or (status is S.RESOLVED and index % 2 == 0),
                outcome=outcome,
            )
            if planned:
                complained.add(card.key)
                break
