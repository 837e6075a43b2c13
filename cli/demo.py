"""Deterministic demo data for Huai'an (淮安): the laundry chain 淮安洁净洗衣连锁 with 20 stores,
about 300 other merchants in every status, a thousand consumers and four months of history.

`load_demo` first plans everything from one seeded random generator (plain data, no
database), then writes it in one database transaction: reference rows in bulk, then every
step of the history (reviews, purchases, top-ups, redemptions, refunds, complaints,
suspensions, closures, announcements) through the real services with the clock set back to
when it happened, so the ledger and the audit trail are what the API would have written.
Credit scores and risk alerts, which no service writes yet, are computed from the plan.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from auth.passwords import hash_password
from cli import demo_data as words
from cli.demo_data import (
    CHEN,
    DEMO_ACCOUNTS,
    DEMO_CHAIN_CREDIT_CODE,
    DEMO_CHAIN_NAME,
    HISTORY_DAYS,
    LI,
    SHANGHAI,
    WANG,
    ZHANG,
    ZHOU,
    CardPlan,
    ComplaintPlan,
    MerchantPlan,
    ProductPlan,
    RefundPlan,
    StorePlan,
    World,
)
from models import (
    Announcement,
    Card,
    CardProduct,
    CardProductStore,
    Complaint,
    CreditFactor,
    CreditScore,
    FinancingApplication,
    Merchant,
    RefundRequest,
    RegistryRecord,
    RiskAlert,
    RiskAlertTransfer,
    Store,
    Transfer,
    User,
)
from models.enums import (
    AlertStatus,
    AnnouncementKind,
    CardProductStatus,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStatus,
    CreditGrade,
    FinancingStatus,
    MerchantStatus,
    RefundStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    StoreStatus,
    TransferKind,
)
from services import announcements, cards, clock, complaints, onboarding, refunds, supervision
from services.custody import cash_value_after_redemption, custody_share, face_value_for_payment
from settings import get_settings

SEED = 20250701
DEMO_PASSWORD = "anfu-demo-1"
ALREADY_LOADED = "demo data already loaded"
CARDS = 1500
MODEL_VERSION = "demo-1"


def plan_world(today: datetime | None = None) -> World:
    """Everything the demo will contain, decided by the seed alone (and today's date)."""
    now = (today or datetime.now(UTC)).astimezone(SHANGHAI)
    world = World(random.Random(SEED), now.replace(hour=0, minute=0, second=0, microsecond=0))
    words.plan_people(world)
    words.plan_chain(world)
    words.plan_merchants(world)
    _plan_demo_cards(world)
    _plan_large_purchase(world)
    _plan_cards(world)
    _plan_merchant_events(world)
    _plan_complaints(world)
    _plan_announcements(world)
    return world


# ---------------------------------------------------------------- cards and their history


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    """A random span between `low` and `high` hours, in whole minutes."""
    return timedelta(minutes=rng.randrange(round(low * 60), round(high * 60)))


def _sells_until(world: World, merchant: MerchantPlan) -> datetime:
    """Until its suspension or closure, and never after its last store shut."""
    shut = [s.closed_at for s in merchant.stores if s.closed_at is not None]
    if len(shut) == len(merchant.stores):
        return min(merchant.stop_at or world.end, *shut)
    return merchant.stop_at or world.end


def _ops_until(world: World, merchant: MerchantPlan) -> datetime:
    """Redemptions and refunds go on after a suspension, not after a closure."""
    return (
        merchant.stop_at
        if merchant.status is MerchantStatus.CLOSED and merchant.stop_at
        else world.end
    )


def _stores_for(product: ProductPlan, merchant: MerchantPlan, at: datetime) -> list[StorePlan]:
    return [store for store in (product.only_at or merchant.stores) if store.open_at(at)]


def _new_card(
    world: World, owner: str, merchant: MerchantPlan, product: ProductPlan, bought_at: datetime
) -> CardPlan:
    stores = _stores_for(product, merchant, bought_at)
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
            user_id=world.user(owner), product_id=product.id, idempotency_key=f"{card.key}:buy"
        )
        card.id, card.purchase_transfer_id = done.card.id, done.transfer.id

    world.step(bought_at, buy)
    return card


def _redeem(world: World, card: CardPlan, at: datetime, amount: int) -> None:
    merchant, rng = card.merchant, world.rng
    stores = _stores_for(card.product, merchant, at)
    store = card.home if card.home in stores and rng.random() < 0.75 else rng.choice(stores)
    staff = merchant is world.chain and store is merchant.stores[0] and rng.random() < 0.7
    key = f"{card.key}:redeem:{len(card.redemptions)}"
    card.cash = cash_value_after_redemption(card.balance, card.cash, amount)
    card.balance -= amount
    card.redemptions.append((at, amount))

    async def redeem() -> None:
        code = await cards.issue_redemption_code(user_id=world.user(card.owner), card_id=card.id)
        clock.set_clock(_fixed(at + timedelta(seconds=45)))  # the consumer shows it at the till
        await cards.redeem(
            user_id=world.user(ZHOU.phone if staff else merchant.owner_phone),
            merchant_id=merchant.id,
            staff_store_id=store.id if staff else None,
            code=code.code,
            store_id=store.id,
            amount_fen=amount,
            idempotency_key=key,
        )

    world.step(at, redeem)


def _top_up(world: World, card: CardPlan, at: datetime, pay: int) -> None:
    card.cash += pay
    card.paid += pay
    added = face_value_for_payment(pay, card.product.price_fen, card.product.face_fen)
    card.balance += added
    card.sales.append((at, added))
    card.payments.append((at, pay))
    key = f"{card.key}:top-up:{len(card.sales)}"

    async def top_up() -> None:
        await cards.top_up(
            user_id=world.user(card.owner), card_id=card.id, pay_fen=pay, idempotency_key=key
        )

    world.step(at, top_up)


def _request_refund(world: World, card: CardPlan, at: datetime, reason: str, decision: str) -> None:
    card.refund = RefundPlan(at, decision)

    async def request() -> None:
        await refunds.request_refund(user_id=world.user(card.owner), card_id=card.id, reason=reason)

    world.step(at, request)
    if decision == "AUTO":
        card.refunded_at = at


def _decide_refund(world: World, card: CardPlan, at: datetime, approve: bool) -> None:
    assert card.refund is not None
    card.refund.decided_at = at
    if approve:
        card.refunded_at = at
    notes = words.REFUND_APPROVAL_NOTES if approve else words.REFUND_REJECTION_NOTES
    note = world.rng.choice(notes)
    by_regulator = card.refund.decision == "REGULATOR"

    async def decide() -> None:
        pending = await RefundRequest.get(card_id=card.id, status=RefundStatus.PENDING)
        principal = world.regulator() if by_regulator else world.owner(card.merchant)
        await refunds.decide_refund(
            principal=principal, refund_id=pending.id, approve=approve, note=note
        )

    world.step(at, decide)


def _pair_room(world: World, owner: str, merchant: MerchantPlan, extra: int) -> bool:
    """Whether the owner may prepay `extra` more with the merchant (checked on what was paid)."""
    paid = sum(card.paid for card in merchant.cards if card.owner == owner)
    return paid + extra <= get_settings().consumer_merchant_cap_fen


def _plan_history(world: World, card: CardPlan) -> None:
    """Redemptions (and now and then a top-up), then perhaps a refund request."""
    rng, merchant = world.rng, card.merchant
    ops_until = min(_ops_until(world, merchant), card.expires_at)
    if rng.random() < 0.06:
        at = card.bought_at + _hours(rng, 3, 150)
        if at < _ops_until(world, merchant):
            _request_refund(world, card, at, rng.choice(words.REFUND_REASONS_COOLING_OFF), "AUTO")
            return
    amounts = words.CATEGORIES[merchant.category][2]
    uses = rng.choices(range(8), (5, 13, 18, 20, 18, 12, 8, 6))[0]
    if merchant.weak:
        uses = rng.choice((0, 0, 1))
    day = world.day_of(card.bought_at)
    for _ in range(uses):
        day += rng.randrange(2, 22)
        at = world.business(day)
        if at >= ops_until or not _stores_for(card.product, merchant, at):
            break
        pay = card.product.price_fen
        if (
            card.balance < card.product.face_fen * 0.4
            and rng.random() < 0.5
            and card.product.retired_at is None
            and at < _sells_until(world, merchant)
            and card.cash + pay <= get_settings().card_cash_cap_fen
            and _pair_room(world, card.owner, merchant, pay)
        ):
            _top_up(world, card, at - timedelta(minutes=10), pay)
        amount = rng.choice(amounts) * 100
        if amount >= card.balance or (card.balance - amount < 1_000 and rng.random() < 0.6):
            amount = card.balance
        _redeem(world, card, at, amount)
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
    ops_until = _ops_until(world, merchant)
    if card.expires_at < ops_until and rng.random() < 0.4:
        at = card.expires_at + timedelta(days=rng.randrange(1, 30), hours=rng.randrange(0, 10))
        if at < ops_until:
            _request_refund(world, card, at, words.REFUND_REASON_EXPIRED, "AUTO")
        return
    if rng.random() >= (0.35 if merchant.weak else 0.07):
        return
    at = card.last_at + timedelta(days=rng.randrange(2, 25), hours=rng.randrange(0, 5))
    if at >= ops_until:
        return
    reason = rng.choice(words.REFUND_REASONS_LATER)
    if _refund_is_automatic(card, at):
        _request_refund(world, card, at, reason, "AUTO")
        return
    weights = (10, 5, 40, 45, 0) if merchant.weak else (35, 20, 20, 15, 10)
    decision = rng.choices(("APPROVE", "REJECT", "PENDING", "DISPUTE", "REGULATOR"), weights)[0]
    decided_at = at + timedelta(days=rng.randrange(1, 5), hours=rng.randrange(0, 6))
    if decision == "DISPUTE" and (merchant.stop_at or at + timedelta(days=5) >= world.end):
        decision = "PENDING"
    if decision in ("APPROVE", "REJECT", "REGULATOR") and decided_at >= ops_until:
        decision = "PENDING"
    _request_refund(world, card, at, reason, decision)
    if decision in ("APPROVE", "REJECT", "REGULATOR"):
        _decide_refund(world, card, decided_at, approve=decision != "REJECT")


def _sellable(merchant: MerchantPlan) -> bool:
    return merchant.status in (
        MerchantStatus.ACTIVE,
        MerchantStatus.SUSPENDED,
        MerchantStatus.CLOSED,
    )


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
    card = _new_card(world, owner, merchant, product, bought)
    for at, share in uses:
        _redeem(world, card, at, int(round(product.face_fen * share, -2)))
    return card


def _plan_demo_cards(world: World) -> None:
    """The cards of 张小安 and 李淮, whom the README names."""
    chain, b, at = world.chain, world.business, world.at
    laundry = chain.products[0]
    zhang = _new_card(world, ZHANG.phone, chain, laundry, at(-3, 612))
    zhang.home = chain.stores[0]
    _redeem(world, zhang, at(-2, 1120), 3_800)
    dining = _pick(world, "HOTEL_DINING")
    meal = _hand_card(
        world, ZHANG.phone, dining, b(-95), [(b(-80), 0.2), (b(-62), 0.25), (b(-41), 0.3)]
    )
    _top_up(world, meal, at(-20, 1110), meal.product.price_fen)
    _redeem(world, meal, at(-20, 1140), int(round(meal.product.face_fen * 0.15, -2)))
    gym = _pick(world, "FITNESS")
    days = (-104, -97, -85, -70, -56, -35)
    _hand_card(world, ZHANG.phone, gym, b(-110), [(b(day), 0.12) for day in days])
    beauty = _pick(world, "BEAUTY")
    salon = _new_card(world, ZHANG.phone, beauty, beauty.products[0], b(-9))
    _request_refund(world, salon, b(-8), words.REFUND_REASONS_COOLING_OFF[1], "AUTO")

    li = _new_card(world, LI.phone, chain, laundry, at(-41, 655))
    li.home = chain.stores[6]
    for day, amount in ((-35, 4_500), (-22, 7_600), (-13, 3_600), (-6, 9_800)):
        _redeem(world, li, b(day), amount)
    shop = _pick(world, "RETAIL")
    _hand_card(world, LI.phone, shop, b(-70), [(b(-66), 0.15), (b(-47), 0.2), (b(-15), 0.1)])
    garage = _pick(world, "AUTO_SERVICE")
    wash = _hand_card(world, LI.phone, garage, b(-50), [(b(-44), 0.1)])
    _request_refund(world, wash, b(-4), words.REFUND_REASONS_LATER[1], "PENDING")


def _plan_large_purchase(world: World) -> None:
    """One consumer prepays over 10,000.00 with one school in a day: a LARGE_PURCHASE alert."""
    school = _pick(world, "EDUCATION")
    template = words.CATEGORIES["EDUCATION"][1][0]
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
        _new_card(world, buyer, school, product, world.at(-18, minute))


def _plan_cards(world: World) -> None:
    rng = world.rng
    sellers = [m for m in world.merchants if _sellable(m)]
    weights = [m.popularity for m in sellers]
    phones = list(world.consumers)
    activity = [rng.lognormvariate(0, 0.7) for _ in phones]
    while len(world.cards) < CARDS:
        merchant = rng.choices(sellers, weights)[0]
        assert merchant.reviewed_at is not None
        product = rng.choice(merchant.products)
        last_day = world.day_of(_sells_until(world, merchant)) - 1
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
            if len(mine) < 2 and _pair_room(world, owner, merchant, product.price_fen):
                break
        else:
            continue
        _plan_history(world, _new_card(world, owner, merchant, product, bought))


def _plan_merchant_events(world: World) -> None:
    """Reviews, store closures, the retired product, suspensions and closures."""
    for merchant in world.merchants:
        for store in merchant.stores:
            if store.closed_at is not None:
                world.step(store.closed_at, _close_store(store))
        for product in merchant.products:
            if product.retired_at is not None:
                world.step(product.retired_at, _retire(product))
        if merchant.reviewed_at is not None:
            world.step(merchant.reviewed_at, _review(world, merchant))
        if merchant.stop_at is None:
            continue
        reason = merchant.status_reason or ""
        if merchant.status is MerchantStatus.SUSPENDED:

            async def suspend(m: MerchantPlan = merchant, why: str = reason) -> None:
                await supervision.suspend_merchant(
                    regulator_id=world.user(WANG.phone), merchant_id=m.id, reason=why
                )

            world.step(merchant.stop_at, suspend)
        else:
            for card in merchant.cards:
                if card.refunded_at is None and card.balance > 0:
                    card.refunded_at = merchant.stop_at

            async def close(m: MerchantPlan = merchant, why: str = reason) -> None:
                await supervision.close_merchant(
                    regulator_id=world.user(WANG.phone), merchant_id=m.id, reason=why
                )

            world.step(merchant.stop_at, close)


def _close_store(store: StorePlan) -> Callable[[], Awaitable[Any]]:
    async def close() -> None:
        await Store.filter(id=store.id).update(status=StoreStatus.CLOSED, closed_at=store.closed_at)

    return close


def _retire(product: ProductPlan) -> Callable[[], Awaitable[Any]]:
    async def retire() -> None:
        await CardProduct.filter(id=product.id).update(status=CardProductStatus.RETIRED)

    return retire


def _review(world: World, merchant: MerchantPlan) -> Callable[[], Awaitable[Any]]:
    approve = merchant.status is not MerchantStatus.REJECTED

    async def review() -> None:
        await onboarding.review_merchant(
            regulator_id=world.user(WANG.phone),
            merchant_id=merchant.id,
            approve=approve,
            reason=None if approve else merchant.status_reason,
        )

    return review


# ---------------------------------------------------------------- complaints and announcements


def _plan_complaint(
    world: World,
    card: CardPlan,
    status: ComplaintStatus,
    *,
    earliest: datetime | None = None,
    latest: datetime | None = None,
    created: datetime | None = None,
    responded: bool = True,
    escalated: bool = False,
    swept: bool = False,
    category: ComplaintCategory | None = None,
    outcome: ComplaintOutcome | None = None,
    refund: bool = False,
    resolve_at: datetime | None = None,
) -> ComplaintPlan | None:
    """Schedule one complaint's steps through the complaint service; None when it does not fit."""
    rng = world.rng
    category = category or rng.choice(list(ComplaintCategory))
    descriptions, responses = words.COMPLAINT_TEXTS[category.value]
    actions: list[tuple[timedelta, str]] = []
    offset = timedelta(0)
    if status is not ComplaintStatus.SUBMITTED and responded and not swept:
        offset += _hours(rng, 2, 60)
        actions.append((offset, "respond"))
    if swept:
        offset = timedelta(hours=get_settings().complaint_response_hours, minutes=20)
        actions.append((offset, "sweep"))
    elif escalated:
        offset += _hours(rng, 24, 72)
        actions.append((offset, "escalate"))
    if status in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED):
        offset += _hours(rng, 72, 216)
        actions.append((offset, "resolve"))
    elif status is ComplaintStatus.WITHDRAWN:
        offset += _hours(rng, 24, 72)
        actions.append((offset, "withdraw"))
    if created is None:
        lo = max(earliest or card.bought_at, card.bought_at + timedelta(days=1))
        hi = min(latest or world.end, world.end - offset - timedelta(hours=1))
        if hi - lo < timedelta(minutes=2):
            return None
        created = lo + timedelta(minutes=rng.randrange(1, int((hi - lo).total_seconds() // 60)))
    if resolve_at is not None:
        actions[-1] = (resolve_at - created, actions[-1][1])
    last = actions[-1][0] if actions else timedelta(0)
    if created <= card.bought_at or created + last >= world.end:
        return None
    plan = ComplaintPlan(card, created, status)
    if status in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED, ComplaintStatus.WITHDRAWN):
        plan.closed_at = created + actions[-1][0]
    card.merchant.complaints.append(plan)
    world.complaints.append(plan)
    description = rng.choice(descriptions)

    async def file() -> None:
        done = await complaints.file_complaint(
            consumer_id=world.user(card.owner),
            merchant_id=card.merchant.id,
            card_id=card.id,
            category=category,
            description=description,
        )
        plan.id = done.id

    world.step(created, file)
    for after, action in actions:
        world.step(
            created + after, _complaint_action(world, plan, action, responses, outcome, refund)
        )
    if refund:
        card.refunded_at = plan.closed_at
    return plan


def _complaint_action(
    world: World,
    plan: ComplaintPlan,
    action: str,
    responses: tuple[str, ...],
    outcome: ComplaintOutcome | None,
    refund: bool,
) -> Callable[[], Awaitable[Any]]:
    card, rng = plan.card, world.rng
    response = rng.choice(responses)
    escalation = rng.choice(words.ESCALATION_MESSAGES)
    chosen = outcome or ComplaintOutcome.DISMISSED
    if card.merchant.status is MerchantStatus.CLOSED:
        resolution = words.RESOLUTIONS["CLOSED_MERCHANT"]
    else:
        resolution = words.RESOLUTIONS[chosen.value]

    async def run() -> None:
        if action == "respond":
            await complaints.respond(
                principal=world.owner(card.merchant), complaint_id=plan.id, message=response
            )
        elif action == "escalate":
            await complaints.escalate(
                principal=world.consumer(card.owner), complaint_id=plan.id, message=escalation
            )
        elif action == "sweep":
            await complaints.sweep_unanswered()
        elif action == "withdraw":
            await complaints.withdraw(principal=world.consumer(card.owner), complaint_id=plan.id)
        else:
            await complaints.resolve(
                principal=world.regulator(),
                complaint_id=plan.id,
                outcome=chosen,
                resolution=resolution,
                refund_card_too=refund,
            )

    return run


def _plan_complaints(world: World) -> None:
    rng, end = world.rng, world.end
    days = timedelta(days=1)
    li_card = next(card for card in world.chain.cards if card.owner == LI.phone)
    _plan_complaint(
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
    _plan_complaint(
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
            if _plan_complaint(
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
                _plan_complaint(
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
                _plan_complaint(
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
                _plan_complaint(
                    world,
                    card,
                    ComplaintStatus.RESOLVED,
                    created=merchant.stop_at - _hours(rng, 96, 240),
                    responded=False,
                    escalated=True,
                    category=ComplaintCategory.STORE_CLOSED,
                    outcome=ComplaintOutcome.UPHELD,
                    resolve_at=merchant.stop_at + _hours(rng, 24, 72),
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
            planned = _plan_complaint(
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


def _plan_announcements(world: World) -> None:
    for kind, title, body, pinned, days_ago in words.ANNOUNCEMENTS:

        async def publish(
            kind: str = kind, title: str = title, body: str = body, pinned: bool = pinned
        ) -> None:
            await announcements.publish(
                regulator_id=world.user(WANG.phone),
                kind=AnnouncementKind(kind),
                title=title,
                body=body,
                pinned=pinned,
            )

        world.step(world.at(-days_ago, 570), publish)


# ---------------------------------------------------------------- writing the plan


async def _write_merchants(world: World) -> None:
    """Merchants (as applications: the review steps approve or reject them), stores, products."""
    await Merchant.bulk_create(
        [
            Merchant(
                name=m.name,
                credit_code=m.credit_code,
                legal_representative=m.legal_representative,
                category_id=m.category,
                contact_phone=m.owner_phone,
                status=MerchantStatus.PENDING_REVIEW,
                registry_verified=not m.findings,
                registry_findings=m.findings,
                custody_ratio_bp=m.custody_ratio_bp,
                created_at=m.created_at,
            )
            for m in world.merchants
        ],
        batch_size=500,
    )
    ids = dict(
        await Merchant.filter(credit_code__in=[m.credit_code for m in world.merchants]).values_list(
            "credit_code", "id"
        )
    )
    for merchant in world.merchants:
        merchant.id = ids[merchant.credit_code]
    await Store.bulk_create(
        [
            Store(
                merchant_id=m.id,
                name=s.name,
                address=s.address,
                district=s.district,
                phone=s.phone,
                status=StoreStatus.OPEN,
                created_at=m.created_at,
            )
            for m in world.merchants
            for s in m.stores
        ],
        batch_size=500,
    )
    merchant_ids = [m.id for m in world.merchants]
    store_ids = {
        (merchant_id, name): store_id
        for store_id, merchant_id, name in await Store.filter(
            merchant_id__in=merchant_ids
        ).values_list("id", "merchant_id", "name")
    }
    await CardProduct.bulk_create(
        [
            CardProduct(
                merchant_id=m.id,
                name=p.name,
                description=p.description,
                price_fen=p.price_fen,
                face_value_fen=p.face_fen,
                validity_days=p.validity_days,
                all_stores=p.only_at is None,
                status=CardProductStatus.ACTIVE,
                created_at=m.created_at,
            )
            for m in world.merchants
            for p in m.products
        ],
        batch_size=500,
    )
    product_ids = {
        (merchant_id, name): product_id
        for product_id, merchant_id, name in await CardProduct.filter(
            merchant_id__in=merchant_ids
        ).values_list("id", "merchant_id", "name")
    }
    links = []
    for merchant in world.merchants:
        for store in merchant.stores:
            store.id = store_ids[merchant.id, store.name]
        for product in merchant.products:
            product.id = product_ids[merchant.id, product.name]
            for store in product.only_at or ():
                links.append(CardProductStore(product_id=product.id, store_id=store.id))
    await CardProductStore.bulk_create(links, batch_size=500)
    records = [m.registry for m in world.merchants if m.registry] + world.extra_registry
    await RegistryRecord.bulk_create(
        [RegistryRecord(**record) for record in records], batch_size=500
    )


async def _write_users(world: World, password_hash: str) -> None:
    """Every account shares one Argon2 hash of the demo password (hashing is slow on purpose)."""
    rng = world.rng
    first_card: dict[str, datetime] = {}
    for card in world.cards:
        first_card[card.owner] = min(first_card.get(card.owner, card.bought_at), card.bought_at)

    def joined(phone: str) -> datetime:
        if phone in first_card:
            return first_card[phone] - _hours(rng, 1, 72)
        return world.business(rng.randrange(-HISTORY_DAYS, 0))

    chain = world.chain
    rows = [
        User(
            role=Role.REGULATOR,
            phone=WANG.phone,
            display_name=WANG.name,
            created_at=world.at(-440, 600),
        ),
        User(
            role=Role.CONSUMER,
            phone=ZHANG.phone,
            display_name=ZHANG.name,
            created_at=joined(ZHANG.phone),
        ),
        User(role=Role.CONSUMER, phone=LI.phone, display_name=LI.name, created_at=joined(LI.phone)),
        User(
            role=Role.MERCHANT,
            phone=ZHOU.phone,
            display_name=ZHOU.name,
            merchant_id=chain.id,
            store_id=chain.stores[0].id,
            created_at=chain.created_at + timedelta(days=12),
        ),
    ]
    rows += [
        User(
            role=Role.MERCHANT,
            phone=m.owner_phone,
            display_name=CHEN.name if m is chain else m.legal_representative,
            merchant_id=m.id,
            is_merchant_owner=True,
            created_at=m.created_at,
        )
        for m in world.merchants
    ]
    rows += [
        User(role=Role.CONSUMER, phone=phone, display_name=name, created_at=joined(phone))
        for phone, name in world.consumers.items()
    ]
    for row in rows:
        row.password_hash = password_hash
    await User.bulk_create(rows, batch_size=500)
    phones = [row.phone for row in rows]
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        world.user_ids.update(await User.filter(phone__in=chunk).values_list("phone", "id"))


async def _run_steps(world: World) -> None:
    """Replay the history in time order, each step with the clock set to its moment."""
    for step in sorted(world.steps):
        clock.set_clock(_fixed(step.at))
        await step.run()


def _fixed(at: datetime) -> Callable[[], datetime]:
    return lambda: at


# ---------------------------------------------------------------- credit, risk, financing


def _grade(score: int) -> CreditGrade:
    if score >= 850:
        return CreditGrade.A
    if score >= 700:
        return CreditGrade.B
    if score >= 600:
        return CreditGrade.C
    return CreditGrade.D


def _factors(merchant: MerchantPlan, at: datetime) -> list[tuple[str, float, float, str]]:
    """(code, value, sub-score 0..1, explanation) for each factor that applies at `at`."""
    found: list[tuple[str, float, float, str]] = []

    def add(code: str, value: float, subscore: float, explanation: str) -> None:
        found.append((code, round(value, 3), max(0.0, min(subscore, 1.0)), explanation))

    registry = merchant.registry
    assert registry is not None
    years = (at.date() - registry["established_on"]).days / 365.25
    add(
        "YEARS_IN_OPERATION",
        years,
        0.1 + 0.06 * years,
        f"Registered {years:.1f} years ago; fifteen years or more earns the full weight.",
    )
    capital = registry["registered_capital_fen"] // 100
    add(
        "REGISTERED_CAPITAL",
        capital / 10_000,
        0.1 + 0.9 * math.sqrt(capital / 10_000_000),
        f"Registered capital of {capital:,} yuan; 10,000,000 yuan or more earns the full weight.",
    )
    penalties = registry["administrative_penalties"]
    add(
        "PENALTIES",
        penalties,
        1 - 0.4 * penalties,
        f"{penalties} administrative penalties on record; each takes 40% of this factor."
        if penalties
        else "No administrative penalties on record.",
    )
    listed = registry["on_abnormal_list"]
    add(
        "ABNORMAL_LIST",
        float(listed),
        0.0 if listed else 1.0,
        f"{'Listed' if listed else 'Not listed'} on the abnormal-operations list.",
    )
    sold = [card for card in merchant.cards if card.bought_at <= at]
    live = [card for card in sold if card.refunded_at is None or card.refunded_at > at]
    window = at - timedelta(days=90)
    settled = [c for c in sold if c.bought_at <= at - timedelta(days=14)]
    settled = [c for c in settled if c.refunded_at is None or c.refunded_at > window]
    if settled:
        used = [c for c in settled if any(window < when <= at for when, _ in c.redemptions)]
        rate = len(used) / len(settled)
        add(
            "REDEMPTION_RATE",
            rate,
            rate,
            f"{len(used)} of {len(settled)} cards were used in the last 90 days ({rate:.0%}).",
        )
    if sold:
        refunded = [
            c
            for c in sold
            if c.refunded_at and c.refunded_at <= at and c.refunded_at != merchant.stop_at
        ]
        rate = len(refunded) / len(sold)
        add(
            "REFUND_RATE",
            rate,
            1 - 4 * rate,
            f"{len(refunded)} of {len(sold)} cards sold were refunded ({rate:.0%}).",
        )
    recent = [c for c in merchant.complaints if window < c.created_at <= at]
    per_100 = 100 * len(recent) / max(len(live), 10)  # a first complaint is no surge
    add(
        "COMPLAINT_RATE",
        per_100,
        1 - per_100 / 40,
        f"{len(recent)} complaints in 90 days against {len(live)} live cards "
        f"({per_100:.1f} per 100 cards).",
    )
    filed = [c for c in merchant.complaints if c.created_at <= at]
    if filed:
        stale = [
            c
            for c in filed
            if c.created_at <= at - timedelta(days=15) and (c.closed_at is None or c.closed_at > at)
        ]
        share = len(stale) / len(filed)
        add(
            "UNRESOLVED_COMPLAINTS",
            share,
            1 - share,
            f"{len(stale)} of {len(filed)} complaints were still open after 15 days.",
        )
    ratio = merchant.custody_ratio_bp / 10_000
    add(
        "CUSTODY_COVERAGE",
        ratio,
        (ratio - 0.4) / 0.6,
        f"{ratio:.0%} of every payment is held in custody.",
    )
    closed = [s for s in merchant.stores if s.closed_at is not None and s.closed_at <= at]
    if closed:
        share = len(closed) / len(merchant.stores)
        add(
            "STORE_CLOSURES",
            share,
            1 - share,
            f"{len(closed)} of {len(merchant.stores)} stores have closed.",
        )
    return found


def _score(merchant: MerchantPlan, at: datetime) -> tuple[int, list[CreditFactor]]:
    """The score at `at` and its factors: each weight normalised over the factors that apply."""
    factors = _factors(merchant, at)
    total_weight = sum(words.FACTORS[code][1] for code, *_ in factors)
    rows = []
    for position, (code, value, subscore, explanation) in enumerate(factors):
        weight = words.FACTORS[code][1] / total_weight
        rows.append(
            CreditFactor(
                position=position,
                code=code,
                name=words.FACTORS[code][0],
                value=value,
                weight=round(weight, 4),
                contribution=round(1000 * weight * subscore, 1),
                explanation=explanation,
            )
        )
    return max(0, min(1000, round(sum(row.contribution for row in rows)))), rows


async def _write_score(merchant: MerchantPlan, at: datetime) -> int:
    score, factors = _score(merchant, at)
    merchant.grade = _grade(score)
    saved = await CreditScore.create(
        merchant_id=merchant.id,
        score=score,
        grade=merchant.grade,
        model_version=MODEL_VERSION,
        computed_at=at,
    )
    for factor in factors:
        factor.score_id = saved.id
    await CreditFactor.bulk_create(factors)
    return score


async def _write_credit(world: World) -> None:
    """Nightly scores: the latest last night, an earlier one a month before for some merchants."""
    latest, earlier = world.at(-1, 23 * 60 + 30), world.at(-31, 23 * 60 + 30)
    for merchant in world.merchants:
        if merchant.status not in (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED):
            continue
        if merchant.weak or merchant is world.chain or world.rng.random() < 0.4:
            await _write_score(merchant, earlier)
        score = await _write_score(merchant, latest)
        await Merchant.filter(id=merchant.id).update(
            credit_score=score, credit_grade=merchant.grade
        )


async def _write_alerts(world: World) -> None:
    """Risk alerts that fit the story (a merchant's riskLevel follows from its open ones)."""
    alerts = [*_trouble_alerts(world), _large_purchase_alert(world), *_detected_alerts(world)]
    for alert, transfer_ids in alerts:
        await alert.save()
        links = [RiskAlertTransfer(alert_id=alert.id, transfer_id=t) for t in transfer_ids]
        await RiskAlertTransfer.bulk_create(links)


def _alert(
    merchant: MerchantPlan,
    kind: RiskAlertKind,
    severity: RiskLevel,
    status: AlertStatus,
    summary: str,
    raised_at: datetime,
    metrics: Sequence[tuple[str, float, float]],
    resolved_at: datetime | None = None,
    note: str | None = None,
) -> RiskAlert:
    return RiskAlert(
        merchant_id=merchant.id,
        kind=kind,
        severity=severity,
        status=status,
        summary=summary,
        metrics=[{"name": n, "value": round(v, 2), "threshold": t} for n, v, t in metrics],
        raised_at=raised_at,
        resolved_at=resolved_at,
        note=note,
    )


def _trouble_alerts(world: World) -> Iterator[tuple[RiskAlert, list[int]]]:
    """Complaint surges and stalls at the weak merchants, store closures, closure shortfalls."""
    K, L, S = RiskAlertKind, RiskLevel, AlertStatus
    for m in world.merchants:
        surge = _complaint_surge(m) if m.weak else None
        if surge is not None:
            yield surge, []
            stall = _alert(
                m,
                K.REDEMPTION_ANOMALY,
                L.MEDIUM,
                S.ACKNOWLEDGED,
                "Redemptions stalled while cards are still outstanding",
                surge.raised_at - timedelta(days=3),
                [("redemptions_14d_vs_90d_norm", world.rng.uniform(0.05, 0.2), 0.3)],
                note="已约谈经营者，要求说明情况",
            )
            yield stall, []
        closed = [s.closed_at for s in m.stores if s.closed_at is not None]
        if closed:
            status, severity, resolved_at, note = {
                MerchantStatus.SUSPENDED: (S.ACKNOWLEDGED, L.HIGH, None, "已暂停售卡，责令整改"),
                MerchantStatus.CLOSED: (
                    S.RESOLVED,
                    L.HIGH,
                    m.stop_at,
                    "商户已关闭，预付卡已全额退款",
                ),
                MerchantStatus.ACTIVE: (
                    S.DISMISSED,
                    L.LOW,
                    min(closed) + timedelta(days=2),
                    "门店到期搬迁，其余门店正常营业",
                ),
            }[m.status]
            yield (
                _alert(
                    m,
                    K.STORE_CLOSURES,
                    severity,
                    status,
                    f"{len(closed)} of {len(m.stores)} stores closed within 30 days",
                    min(closed) + timedelta(minutes=10),
                    [("closed_store_share_30d", len(closed) / len(m.stores), 0.3)],
                    resolved_at,
                    note,
                ),
                [],
            )
        if m.status is MerchantStatus.CLOSED and m.stop_at and m.custody_ratio_bp < 10_000:
            refunded = [c for c in m.cards if c.refunded_at == m.stop_at]
            short = sum(c.cash - custody_share(m.custody_ratio_bp, c.cash) for c in refunded) / 100
            yield (
                _alert(
                    m,
                    K.ESCROW_SHORTFALL,
                    L.HIGH,
                    S.RESOLVED,
                    f"Closing refunds need {short:,.2f} yuan more than custody holds",
                    m.stop_at - timedelta(hours=1),
                    [
                        ("shortfall_yuan", short, 0.0),
                        ("custody_ratio", m.custody_ratio_bp / 10_000, 1.0),
                    ],
                    m.stop_at,
                    "差额已从商户已结算款项中追回",
                ),
                [],
            )


def _complaint_surge(merchant: MerchantPlan) -> RiskAlert | None:
    """Raised with the complaint that first makes over 5 per 100 live cards in 30 days (3 or more)."""
    for complaint in sorted(merchant.complaints, key=lambda c: c.created_at):
        at = complaint.created_at
        count = sum(1 for c in merchant.complaints if at - timedelta(days=30) < c.created_at <= at)
        live = sum(
            1
            for card in merchant.cards
            if card.bought_at <= at and (card.refunded_at is None or card.refunded_at > at)
        )
        per_100 = 100 * count / max(live, 1)
        if count >= 3 and per_100 > 5:
            return _alert(
                merchant,
                RiskAlertKind.COMPLAINT_SURGE,
                RiskLevel.HIGH,
                AlertStatus.OPEN,
                f"{count} complaints in 30 days against {live} live cards",
                at + timedelta(minutes=1),
                [("complaints_30d", count, 3), ("per_100_live_cards", per_100, 5)],
            )
    return None


def _large_purchase_alert(world: World) -> tuple[RiskAlert, list[int]]:
    buyer = next(iter(world.consumers))
    bought = [c for c in world.cards if c.owner == buyer and c.merchant.category == "EDUCATION"]
    bought = [c for c in bought if c.bought_at.date() == bought[0].bought_at.date()]
    total = sum(card.product.price_fen for card in bought) / 100
    alert = _alert(
        bought[0].merchant,
        RiskAlertKind.LARGE_PURCHASE,
        RiskLevel.MEDIUM,
        AlertStatus.OPEN,
        f"One consumer prepaid {total:,.2f} yuan within 24 hours",
        bought[-1].bought_at + timedelta(seconds=30),
        [("prepaid_by_one_consumer_24h", total, 10_000.0)],
    )
    return alert, [card.purchase_transfer_id for card in bought]


def _detected_alerts(world: World) -> Iterator[tuple[RiskAlert, list[int]]]:
    """Sales spikes and redemption stalls where the history really shows them (DESIGN.md's
    triggers, checked nightly), most of them already handled."""
    S = AlertStatus
    statuses = (S.RESOLVED, S.DISMISSED, S.OPEN, S.RESOLVED, S.ACKNOWLEDGED)
    notes = {
        RiskAlertKind.SALES_SPIKE: "节日促销，已核实",
        RiskAlertKind.REDEMPTION_ANOMALY: "已电话回访持卡人",
    }
    found = 0
    for merchant in world.merchants[1:]:
        if merchant.status is not MerchantStatus.ACTIVE or merchant.weak or not merchant.cards:
            continue
        for signal in (_first_spike(world, merchant), _first_stall(world, merchant)):
            if signal is None or found >= 16:
                continue
            kind, severity, summary, raised, metrics = signal
            status = statuses[found % len(statuses)]
            resolved_at: datetime | None = raised + timedelta(days=2)
            found += 1
            if status in (S.RESOLVED, S.DISMISSED) and raised + timedelta(days=2) >= world.end:
                status = S.OPEN
            if status not in (S.RESOLVED, S.DISMISSED):
                resolved_at = None
            note = None if status is S.OPEN else notes[kind]
            alert = _alert(
                merchant, kind, severity, status, summary, raised, metrics, resolved_at, note
            )
            yield alert, []


Signal = tuple[RiskAlertKind, RiskLevel, str, datetime, list[tuple[str, float, float]]]


def _first_spike(world: World, merchant: MerchantPlan) -> Signal | None:
    """7-day sales over 3x the average week of the 90 days before, and over 5,000.00."""
    first = min(card.bought_at for card in merchant.cards)

    def paid(after: datetime, until: datetime) -> int:
        return sum(
            cash for c in merchant.cards for when, cash in c.payments if after < when <= until
        )

    week = timedelta(days=7)
    for day in range(-90, 0):
        end = world.at(day, 22 * 60)
        if end - first < timedelta(days=30):
            continue  # a new merchant's first sales are no spike
        recent, usual = paid(end - week, end), paid(end - week * 13, end - week) / 12
        if usual and recent > 3 * usual and recent > 500_000:
            metrics = [
                ("sales_7d", recent / 100, 5_000.0),
                ("times_usual_week", recent / usual, 3.0),
            ]
            summary = f"Seven-day sales of {recent / 100:,.2f} yuan, {recent / usual:.1f} times a usual week"
            return RiskAlertKind.SALES_SPIKE, RiskLevel.MEDIUM, summary, end, metrics
    return None


def _first_stall(world: World, merchant: MerchantPlan) -> Signal | None:
    """14-day redemptions under 30% of the 90-day norm while cards still sell."""

    def used(after: datetime, until: datetime) -> int:
        return sum(1 for c in merchant.cards for when, _ in c.redemptions if after < when <= until)

    for day in range(-90, 0):
        end = world.at(day, 22 * 60)
        start = end - timedelta(days=14)
        recent, norm = used(start, end), used(end - timedelta(days=90), end) * 14 / 90
        selling = any(start < card.bought_at <= end for card in merchant.cards)
        if norm >= 1.5 and recent < 0.3 * norm and selling:
            metrics = [("redemptions_14d", recent, 0.3 * norm), ("norm_14d", norm, norm)]
            summary = f"{recent} redemptions in 14 days against a norm of {norm:.1f}"
            return RiskAlertKind.REDEMPTION_ANOMALY, RiskLevel.LOW, summary, end, metrics
    return None


async def _write_financing(world: World) -> None:
    rng = world.rng
    high = set(
        await RiskAlert.filter(
            severity=RiskLevel.HIGH, status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
        ).values_list("merchant_id", flat=True)
    )
    rows = [
        FinancingApplication(
            merchant_id=world.chain.id,
            amount_fen=50_000_000,
            term_months=12,
            purpose=words.FINANCING_PURPOSES[1],
            status=FinancingStatus.SUBMITTED,
            grade_at_application=world.chain.grade or CreditGrade.A,
            created_at=world.at(-2, 640),
        )
    ]
    good = [
        m
        for m in world.merchants[1:]
        if m.grade in (CreditGrade.A, CreditGrade.B)
        and m.status is MerchantStatus.ACTIVE
        and m.id not in high
    ]
    statuses = (
        (FinancingStatus.APPROVED,) * 3
        + (FinancingStatus.REJECTED,)
        + (FinancingStatus.SUBMITTED,) * 2
    )
    for merchant, status in zip(rng.sample(good, len(statuses)), statuses, strict=True):
        created = world.business(rng.randrange(-40, -12))
        decided = status is not FinancingStatus.SUBMITTED
        assert merchant.grade is not None
        rows.append(
            FinancingApplication(
                merchant_id=merchant.id,
                amount_fen=rng.choice((5, 10, 20, 30)) * 1_000_000,
                term_months=rng.choice((6, 12, 24)),
                purpose=rng.choice(words.FINANCING_PURPOSES),
                status=status,
                grade_at_application=merchant.grade,
                created_at=created,
                decided_at=created + timedelta(days=rng.randrange(3, 10)) if decided else None,
                decision_note=words.FINANCING_NOTES.get(status.value),
            )
        )
    await FinancingApplication.bulk_create(rows)


# ---------------------------------------------------------------- loading


async def _taken(world: World) -> list[str]:
    """Demo phones and credit codes that this database already has (they must be new)."""
    phones = [a.phone for a in DEMO_ACCOUNTS] + list(world.consumers)
    phones += [m.owner_phone for m in world.merchants]
    codes = [m.credit_code for m in world.merchants] + [
        r["credit_code"] for r in world.extra_registry
    ]
    taken: list[str] = []
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        taken += map(str, await User.filter(phone__in=chunk).values_list("phone", flat=True))
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for model in (Merchant, RegistryRecord):
            found = await model.filter(credit_code__in=chunk).values_list("credit_code", flat=True)
            taken += map(str, found)
    return sorted(set(taken))


async def load_demo(force: bool = False) -> str:
    """Load the demo data once into this database; returns a paragraph saying what it loaded.

    Without `force` nothing happens when the demo laundry chain is already here. Either
    way nothing is written when any of the demo's phone numbers or credit codes (which
    are unique) already exist, and the answer says so; a load that fails rolls back whole.
    """
    if not force and await Merchant.exists(credit_code=DEMO_CHAIN_CREDIT_CODE):
        return ALREADY_LOADED
    world = plan_world()
    taken = await _taken(world)
    if taken:
        shown = ", ".join(taken[:5]) + (" …" if len(taken) > 5 else "")
        return (
            "demo data not loaded: nothing changed, because "
            f"{len(taken)} of its phone numbers or credit codes already exist here ({shown}); "
            "load it into a freshly migrated database"
        )
    password_hash = hash_password(DEMO_PASSWORD)
    try:
        async with in_transaction():
            await _write_merchants(world)
            await _write_users(world, password_hash)
            await _run_steps(world)
            await _write_credit(world)
            await _write_alerts(world)
            await _write_financing(world)
    finally:
        clock.set_clock(None)
    return await _summary()


async def _summary() -> str:
    """What the database holds after the load (all of it the demo's, on a fresh database)."""
    merchants = {s: await Merchant.filter(status=s).count() for s in MerchantStatus}
    kinds = {k: await Transfer.filter(kind=k, card_id__isnull=False).count() for k in TransferKind}
    refunds_pending = await RefundRequest.filter(status=RefundStatus.PENDING).count()
    statuses = {s: await Complaint.filter(status=s).count() for s in ComplaintStatus}
    grades = {g: await Merchant.filter(credit_grade=g).count() for g in CreditGrade}
    consumers = await User.filter(role=Role.CONSUMER).count()
    return (
        f"Loaded the Huai'an demo: {sum(merchants.values())} merchants ("
        + ", ".join(f"{n} {s.value.lower().replace('_', ' ')}" for s, n in merchants.items())
        + f") with {await Store.all().count()} stores and {await CardProduct.all().count()} card "
        f"products, led by {DEMO_CHAIN_NAME} (20 stores, credit code {DEMO_CHAIN_CREDIT_CODE}); "
        f"{await RegistryRecord.all().count()} registry records; {consumers} consumers; "
        f"{await Card.all().count()} cards with {kinds[TransferKind.PURCHASE]} purchases, "
        f"{kinds[TransferKind.TOP_UP]} top-ups, {kinds[TransferKind.REDEMPTION]} redemptions and "
        f"{kinds[TransferKind.REFUND]} refunds ({refunds_pending} refund requests pending); "
        f"{sum(statuses.values())} complaints ("
        + ", ".join(f"{n} {s.value.lower().replace('_', ' ')}" for s, n in statuses.items())
        + f"); {await CreditScore.all().count()} credit scores with "
        f"{await CreditFactor.all().count()} factors (grades "
        + ", ".join(f"{g.value} {n}" for g, n in grades.items())
        + f"); {await RiskAlert.all().count()} risk alerts; "
        f"{await Announcement.all().count()} announcements; "
        f"{await FinancingApplication.all().count()} financing applications. Demo accounts "
        f"(password {DEMO_PASSWORD}): consumers {ZHANG.name} {ZHANG.phone} and {LI.name} "
        f"{LI.phone}, merchant owner {CHEN.name} {CHEN.phone}, store staff {ZHOU.name} "
        f"{ZHOU.phone}, regulator {WANG.name} {WANG.phone}."
    )
