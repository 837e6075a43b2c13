"""The demo's last week paid the two-step way, through WeChat Pay's simulator in process.

A handful of consumers buy and top up cards: createPaymentOrder (the service, with the
consumer's principal), the payer's confirmation at the simulator (`Simulator.pay`), and the
channel's signed notifications delivered to the server's real notify endpoint (an ASGI app in
process). One card is refunded in its cooling-off period, so a bill has a REFUND row. The
simulator uses the keys and state file of `make run`'s simulator, which thus serves the
week's trade bills afterwards. The services' clock, the simulator's and the adapter's all
follow the demo's moment (`DemoTime`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import httpx

from channel.keys import DEFAULT_DIRECTORY, TestKeys, generate_test_keys
from channel.simulator import Simulator, SimulatorConfig
from channel.wechat import WeChatPayChannel
from cli.demo.accounts import DEMO_ACCOUNTS
from cli.demo.plan import MerchantPlan, ProductPlan
from cli.demo.planner import SEED
from cli.demo.runaway import RUNAWAY_CREDIT_CODE
from cli.demo.world import SHANGHAI, World, fixed_clock
from cli.payments import DEFAULT_NOTIFY_URL, DEFAULT_PORT
from core import clock
from core.errors import DomainError
from models import ChannelRefund, Merchant, PaymentOrder
from models.enums import (
    ChannelRefundStatus,
    CreditGrade,
    MerchantStatus,
    PaymentOrderKind,
    PaymentOrderStatus,
)
from services import payment_orders, payments, refunds
from settings import Settings, get_settings

STATE_FILE = DEFAULT_DIRECTORY / "state.json"
WEEK = range(-7, 0)  # the last seven days before today, in the demo's days
SELLERS = 3
BUYERS = 7
TOP_UP_FEN = 10_000
REFUND_DAY = 3  # the week's fourth day: a card of the second day, topped up since, is returned
_Seller = tuple[MerchantPlan, ProductPlan]


@dataclass
class DemoTime:
    """The one moment the services' clock, the simulator and the channel adapter share."""

    at: datetime

    def set(self, at: datetime) -> None:
        self.at = at
        clock.set_clock(fixed_clock(at))

    def seconds(self) -> float:
        return self.at.timestamp()


@dataclass
class Sale:
    """A paid order of the week: the week's day (0 to 6) and its place in that day."""

    day: int
    order: PaymentOrder


@dataclass
class ChannelWeek:
    """The in-process channel, and what the week paid through it."""

    simulator: Simulator
    channel: WeChatPayChannel
    time: DemoTime
    days: list[date]
    sales: list[Sale] = field(default_factory=list)
    refunds: list[ChannelRefund] = field(default_factory=list)

    def on_day(self, day: int, kind: PaymentOrderKind | None = None) -> list[PaymentOrder]:
        """The paid orders of the week's `day` (0 to 6), in time order; of one kind if given."""
        return [
            sale.order for sale in self.sales if sale.day == day and kind in (None, sale.order.kind)
        ]

    def purchases(self, day: int) -> list[PaymentOrder]:
        return self.on_day(day, PaymentOrderKind.PURCHASE)


def channel_settings(base: Settings, keys: TestKeys) -> Settings:
    """`base` with WeChat Pay pointed at the simulator's keys, as `anfu payments keys` says."""
    return base.model_copy(
        update=keys.settings(
            gateway=f"http://127.0.0.1:{DEFAULT_PORT}", notify_url=DEFAULT_NOTIFY_URL
        )
    )


@asynccontextmanager
async def open_channel(
    world: World, keys_directory: Path = DEFAULT_DIRECTORY
) -> AsyncIterator[ChannelWeek]:
    """The simulator on `make run`'s keys and state file, the adapter installed for the
    services, and notifications routed to the server's app; all undone on the way out."""
    from server import create_app

    keys = generate_test_keys(keys_directory)
    time = DemoTime(world.at(WEEK[0], 0))
    simulator = Simulator(
        SimulatorConfig.from_keys(keys, state_file=keys_directory / STATE_FILE.name),
        now=time.seconds,
    )
    await _forget_other_databases(simulator)
    settings = channel_settings(get_settings(), keys)
    channel = WeChatPayChannel.from_settings(
        settings, transport=httpx.ASGITransport(app=simulator.app), now=time.seconds
    )
    notifier = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, manage_database=False))
    )
    simulator.use_notifier(notifier)
    previous = payments.use_channel(channel)
    days = [world.at(day, 12 * 60).astimezone(SHANGHAI).date() for day in WEEK]
    try:
        yield ChannelWeek(simulator, channel, time, days)
    finally:
        payments.use_channel(previous)
        await simulator.aclose()
        await channel.aclose()
        await notifier.aclose()


async def _forget_other_databases(simulator: Simulator) -> None:
    """A state file left by an earlier demo database holds payments this one never made: its
    bills would list them. Only what this database knows is kept."""
    store = simulator.store
    ours = set(
        await PaymentOrder.filter(out_trade_no__in=list(store.orders)).values_list(
            "out_trade_no", flat=True
        )
    )
    store.orders = {no: order for no, order in store.orders.items() if no in ours}
    store.refunds = {no: r for no, r in store.refunds.items() if r["out_trade_no"] in ours}
    store.prepay = {p: no for p, no in store.prepay.items() if no in ours}
    store.save()


async def pay_the_week(world: World, week: ChannelWeek) -> None:
    """Each day two purchases and (from the second day) a top-up of the day before's first
    card; on REFUND_DAY the card bought first two days before, and topped up since, is
    returned in its cooling-off period: two REFUND rows, one against each payment."""
    rng = random.Random(f"{SEED}:week")
    sellers = await _sellers(world, rng)
    buyers = _buyers(world, rng)
    for index, day in enumerate(WEEK):
        morning = world.at(day, rng.randrange(9 * 60, 12 * 60))
        noon = world.at(day, rng.randrange(12 * 60, 14 * 60))
        evening = world.at(day, rng.randrange(15 * 60, 20 * 60))
        await _buy(world, week, index, morning, buyers[index], _from(sellers, index))
        if index > 0:
            await _top_up(world, week, index, noon, week.purchases(index - 1)[0])
        if index == REFUND_DAY:
            await _refund(world, week, noon, week.purchases(index - 2)[0])
        await _buy(
            world, week, index, evening, buyers[(index + 3) % BUYERS], _from(sellers, index + 1)
        )


async def _sellers(world: World, rng: random.Random) -> list[_Seller]:
    """Ordinary active merchants in good standing (not the chain of the README's walk-through
    nor the runaway gym), each with a product on sale everywhere."""
    planned = [
        m
        for m in world.merchants[1:]
        if m.status is MerchantStatus.ACTIVE
        and m.stop_at is None
        and not m.weak
        and m.credit_code != RUNAWAY_CREDIT_CODE
        and all(store.closed_at is None for store in m.stores)
    ]
    good = set(
        await Merchant.filter(
            id__in=[m.id for m in planned],
            status=MerchantStatus.ACTIVE,
            credit_grade__in=(CreditGrade.A, CreditGrade.B),
        ).values_list("id", flat=True)
    )
    chosen: list[_Seller] = []
    for merchant in rng.sample(planned, len(planned)):
        products = [p for p in merchant.products if p.retired_at is None and p.only_at is None]
        if merchant.id in good and products:
            chosen.append((merchant, min(products, key=lambda p: p.price_fen)))
        if len(chosen) == SELLERS * 2:
            break
    assert len(chosen) >= SELLERS, "the demo has too few merchants in good standing"
    return chosen


def _from(sellers: list[_Seller], first: int) -> list[_Seller]:
    """The sellers in turn from the `first`-th of the main ones; the spares last."""
    first %= SELLERS
    return sellers[first:SELLERS] + sellers[:first] + sellers[SELLERS:]


def _buyers(world: World, rng: random.Random) -> list[str]:
    named = {account.phone for account in DEMO_ACCOUNTS}
    return rng.sample(sorted(set(world.consumers) - named), BUYERS)


async def _buy(
    world: World,
    week: ChannelWeek,
    index: int,
    at: datetime,
    buyer: str,
    sellers: Sequence[_Seller],
) -> None:
    """A purchase at the first seller whose rules let the buyer buy (limits may refuse)."""
    week.time.set(at)
    for number, (_merchant, product) in enumerate(sellers):
        try:
            start = await payment_orders.create_order(
                principal=world.consumer(buyer),
                idempotency_key=f"demo-week:{index}:{at:%H%M}:{number}",
                product_id=product.id,
            )
        except DomainError:
            continue
        await _paid(week, index, start)
        return
    raise RuntimeError(f"no demo merchant would sell to {buyer}")


async def _top_up(
    world: World, week: ChannelWeek, index: int, at: datetime, bought: PaymentOrder
) -> None:
    week.time.set(at)
    assert bought.card_id is not None
    start = await payment_orders.create_order(
        principal=world.consumer(await _phone_of(bought)),
        idempotency_key=f"demo-week:{index}:top-up",
        card_id=bought.card_id,
        pay_fen=TOP_UP_FEN,
    )
    await _paid(week, index, start)


async def _refund(world: World, week: ChannelWeek, at: datetime, bought: PaymentOrder) -> None:
    """The consumer changes their mind within the cooling-off period: approved at once, and
    the money goes back through the channel against the payment."""
    week.time.set(at)
    assert bought.card_id is not None
    await refunds.request_refund(
        principal=world.consumer(await _phone_of(bought)),
        card_id=bought.card_id,
        reason="冷静期内不想要了",
    )
    await week.simulator.settle()
    for refund in await ChannelRefund.filter(order__card_id=bought.card_id):
        if refund.status is not ChannelRefundStatus.SUCCESS:
            raise RuntimeError(f"the demo's refund {refund.out_refund_no} is {refund.status}")
        week.refunds.append(refund)


async def _phone_of(order: PaymentOrder) -> str:
    await order.fetch_related("user")
    return str(order.user.phone)


async def _paid(week: ChannelWeek, index: int, start: payment_orders.OrderStart) -> None:
    """The payer confirms; the notification (delivered to the notify endpoint) issues the card."""
    assert start.order.prepay_id is not None
    await week.simulator.pay(start.order.prepay_id)
    await week.simulator.settle()
    order = await PaymentOrder.get(id=start.order.id)
    if order.status is not PaymentOrderStatus.PAID:
        raise RuntimeError(f"the demo's order {order.out_trade_no} is {order.status.value}")
    week.sales.append(Sale(index, order))
