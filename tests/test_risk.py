"""Risk alerts raised by real operations: each kind raised through the API or the services and
quiet just under its threshold, one open alert per merchant and kind, updateRiskAlert, riskLevel,
the sweep and its command, and riskAlertRaised over WebSocket.

Histories are made on a moving clock (`frozen_clock`), at 10:00 in Shanghai unless a test is
about the night; the rules run after each operation in the background, so tests
`await background.drain()` before they look.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession
from httpx_ws.transport import ASGIWebSocketTransport

from core.principal import Principal
from models import (
    AuditEntry,
    Card,
    CardProduct,
    Merchant,
    RiskAlert,
    RiskAlertTransfer,
    Transfer,
    User,
)
from models.enums import (
    OPEN_ALERT_STATUSES,
    AlertStatus,
    CardProductStatus,
    ComplaintCategory,
    MerchantStatus,
    RiskAlertKind,
    RiskLevel,
    Role,
    TransferKind,
)
from schema.ids import decode_id, encode_id
from server import create_app
from services import background, cards, complaints, events, redemption, risk
from tests.support import (
    MerchantWorld,
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    make_merchant,
    make_user,
    principal_of,
    redeem_fen,
    token_for,
)
from tests.ws_support import connected

PURCHASE_CARD = """
mutation PurchaseCard($productId: ID!, $key: String!) {
  purchaseCard(productId: $productId, idempotencyKey: $key) { card { id } transaction { id } }
}
"""
TOP_UP_CARD = """
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) { transaction { id } }
}
"""
FILE_COMPLAINT = """
mutation File($input: ComplaintInput!) { fileComplaint(input: $input) { id } }
"""
CLOSE_STORE = "mutation CloseStore($id: ID!) { closeStore(storeId: $id) { id status } }"
SET_CUSTODY_RATIO = """
mutation SetRatio($merchantId: ID!, $ratio: Float!, $reason: String!) {
  setCustodyRatio(merchantId: $merchantId, ratio: $ratio, reason: $reason) { custodyRatio }
}
"""
RISK_ALERTS = """
query Alerts($filter: RiskAlertFilter) {
  riskAlerts(filter: $filter, first: 20) {
    totalCount
    edges { node {
      id kind severity status summary raisedAt resolvedAt note
      metrics { name value threshold }
      transactions { id kind cashAmount }
      merchant { id riskLevel }
    } }
  }
}
"""
UPDATE_RISK_ALERT = """
mutation Update($id: ID!, $status: AlertStatus!, $note: String) {
  updateRiskAlert(alertId: $id, status: $status, note: $note) {
    id status note resolvedAt merchant { riskLevel }
  }
}
"""
RISK_LEVEL = "query Level($id: ID!) { merchant(id: $id) { riskLevel } }"
RISK_ALERT_RAISED = """
subscription Raised {
  riskAlertRaised { id kind severity summary merchant { id name } transactions { id } }
}
"""

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUIET_SECONDS = 1.0
_operation_ids = itertools.count(1)


# ---------------------------------------------------------------- helpers


def move_to(frozen_clock: Any, hour: int, minute: int = 0, *, days: int = 1) -> dt.datetime:
    """Move the clock to `hour`:`minute` in Shanghai, `days` days after its date there now."""
    day = frozen_clock.current.astimezone(SHANGHAI).date() + dt.timedelta(days=days)
    frozen_clock.current = dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI).astimezone(
        dt.UTC
    )
    return frozen_clock.current


async def alerts_of(world: MerchantWorld, kind: RiskAlertKind | None = None) -> list[RiskAlert]:
    await background.drain()
    query = RiskAlert.filter(merchant_id=world.merchant.id)
    if kind is not None:
        query = query.filter(kind=kind)
    return await query.order_by("id")


async def linked_transfers(alert: RiskAlert) -> list[Transfer]:
    ids = await RiskAlertTransfer.filter(alert_id=alert.id).values_list("transfer_id", flat=True)
    return await Transfer.filter(id__in=list(ids)).order_by("id")


def metric(alert: RiskAlert, name: str) -> tuple[float, float]:
    for item in alert.metrics:
        if item["name"] == name:
            return float(item["value"]), float(item["threshold"])
    raise AssertionError(f"no metric {name} in {alert.metrics}")


async def purchase(client: httpx.AsyncClient, consumer: User, product_id: int) -> dict[str, Any]:
    variables = {"productId": encode_id("CardProduct", product_id), "key": uuid.uuid4().hex}
    return data_of(await call(client, PURCHASE_CARD, variables, consumer))["purchaseCard"]


async def top_up(client: httpx.AsyncClient, consumer: User, card_id: str, pay: str) -> None:
    variables = {"cardId": card_id, "pay": pay, "key": uuid.uuid4().hex}
    data_of(await call(client, TOP_UP_CARD, variables, consumer))


async def product(world: MerchantWorld, fen: int) -> CardProduct:
    """A card sold at its face value of `fen`."""
    return await CardProduct.create(
        merchant_id=world.merchant.id,
        name=f"储值{fen // 100}",
        description="储值卡",
        price_fen=fen,
        face_value_fen=fen,
        validity_days=365,
        status=CardProductStatus.ACTIVE,
    )


async def sell(world: MerchantWorld, item: CardProduct, consumer: User) -> Card:
    operation = await cards.purchase(
        principal=principal_of(consumer), product_id=item.id, idempotency_key=uuid.uuid4().hex
    )
    return operation.card


async def redeem_at(world: MerchantWorld, card: Card, consumer: User, fen: int, store=0) -> None:
    issued = await redemption.issue_redemption_code(
        principal=principal_of(consumer), card_id=card.id
    )
    await redemption.redeem(
        principal=principal_of(world.owner),
        code=issued.code,
        store_id=world.stores[store].id,
        amount_fen=fen,
        idempotency_key=uuid.uuid4().hex,
    )


def regulator_of(user: User) -> Principal:
    return Principal(user_id=user.id, role=Role.REGULATOR)


# ---------------------------------------------------------------- SALES_SPIKE


async def twelve_weeks_of_sales(frozen_clock: Any) -> tuple[MerchantWorld, CardProduct, list]:
    """A merchant that sold two 1,000.00 cards a week for twelve weeks (24,000.00 over the 84
    days before the last week: an average week of 2,000.00), now 91 days after its first sale."""
    move_to(frozen_clock, 10)
    world = await make_merchant()
    item = await product(world, 100_000)
    consumers = [await make_user() for _ in range(6)]
    buyers = itertools.cycle(consumers)
    for _week in range(12):
        for _ in range(2):
            await sell(world, item, next(buyers))
        frozen_clock.advance(days=7)
    frozen_clock.advance(days=7)  # day 91: nothing sold in the last two weeks
    await background.drain()
    return world, item, consumers


async def test_a_week_at_exactly_three_times_the_average_week_is_no_spike(client, frozen_clock):
    # Given twelve weeks of sales, an average week of 2,000.00
    world, item, consumers = await twelve_weeks_of_sales(frozen_clock)

    # When six consumers each buy a card of 1,000.00 this week: 6,000.00, three times the average
    for consumer in consumers:
        await purchase(client, consumer, item.id)

    # Then no alert is raised
    assert await alerts_of(world) == []


async def test_a_week_over_three_times_the_average_week_and_5000_yuan_raises_a_sales_spike(
    client, frozen_clock
):
    # Given twelve weeks of sales and this week's 6,000.00, three times the average week
    world, item, consumers = await twelve_weeks_of_sales(frozen_clock)
    bought = [await purchase(client, consumer, item.id) for consumer in consumers]

    # When one of them tops a card up by one fen
    await top_up(client, consumers[0], bought[0]["card"]["id"], "0.01")

    # Then a MEDIUM sales spike is open, with its figures and this week's sales behind it
    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity, alert.status) == (
        RiskAlertKind.SALES_SPIKE,
        RiskLevel.MEDIUM,
        AlertStatus.OPEN,
    )
    assert metric(alert, "sales_7d_yuan") == (6000.01, 5000.0)
    value, threshold = metric(alert, "sales_7d_to_average_week")
    assert value == pytest.approx(3.000005) and threshold == 3.0
    assert metric(alert, "sales_history_days") == (91.0, 30.0)
    assert "6000.01" in alert.summary and "2000.00" in alert.summary
    linked = await linked_transfers(alert)
    assert len(linked) == 7
    assert {t.kind for t in linked} == {TransferKind.PURCHASE, TransferKind.TOP_UP}
    await assert_ledger_clean()


async def test_a_new_merchants_first_sales_are_no_spike(client, frozen_clock):
    # Given a merchant whose first sale was 29 days ago
    move_to(frozen_clock, 10)
    world = await make_merchant()
    item = await product(world, 100_000)
    await sell(world, item, await make_user())
    frozen_clock.advance(days=29)

    # When seven consumers buy 7,000.00 in one day, 23 times its average week so far
    consumers = [await make_user() for _ in range(7)]
    for consumer in consumers[:6]:
        await purchase(client, consumer, item.id)

    # Then no spike is raised until it has sold for 30 days
    assert await alerts_of(world) == []
    frozen_clock.advance(days=1)
    await purchase(client, consumers[6], item.id)
    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.SALES_SPIKE, RiskLevel.HIGH)


# ---------------------------------------------------------------- LARGE_PURCHASE


async def pays_almost_10000(client: httpx.AsyncClient) -> tuple[MerchantWorld, User, str]:
    """A consumer who paid 9,999.99 for cards of one merchant today (four cards of 2,000.00,
    one of them topped up by 1,999.99)."""
    world = await make_merchant()
    item = await product(world, 200_000)
    consumer = await make_user()
    bought = [await purchase(client, consumer, item.id) for _ in range(4)]
    await top_up(client, consumer, bought[0]["card"]["id"], "1999.99")
    return world, consumer, bought[1]["card"]["id"]


async def test_a_consumer_paying_just_under_10000_raises_nothing(client):
    world, _consumer, _card = await pays_almost_10000(client)

    assert await alerts_of(world) == []


async def test_a_consumer_paying_10000_within_24_hours_raises_a_large_purchase(client):
    # Given a consumer who paid 9,999.99 today
    world, consumer, card_id = await pays_almost_10000(client)

    # When they top a card up by one fen
    await top_up(client, consumer, card_id, "0.01")

    # Then a LOW large-purchase alert lists every payment they made
    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.LARGE_PURCHASE, RiskLevel.LOW)
    assert metric(alert, "paid_by_one_consumer_24h_yuan") == (10000.0, 10000.0)
    linked = await linked_transfers(alert)
    assert len(linked) == 6
    assert sum(t.cash_amount_fen for t in linked) == 1_000_000
    regulator = await make_user(Role.REGULATOR)
    listed = data_of(
        await call(
            client,
            RISK_ALERTS,
            {"filter": {"merchantId": encode_id("Merchant", world.merchant.id)}},
            regulator,
        )
    )["riskAlerts"]
    (node,) = [edge["node"] for edge in listed["edges"]]
    assert node["id"] == encode_id("RiskAlert", alert.id)
    assert len(node["transactions"]) == 6
    assert {"name": "paid_by_one_consumer_24h_yuan", "value": 10000.0, "threshold": 10000.0} in (
        node["metrics"]
    )
    assert node["merchant"]["riskLevel"] == "LOW"


async def test_payments_more_than_24_hours_apart_do_not_add_up(client, frozen_clock):
    world = await make_merchant()
    item = await product(world, 500_000)
    consumer = await make_user()
    await purchase(client, consumer, item.id)
    frozen_clock.advance(hours=24, seconds=1)
    await purchase(client, consumer, item.id)

    assert await alerts_of(world) == []


# ---------------------------------------------------------------- REDEMPTION_ANOMALY


async def redemptions_in_minutes(count: int, frozen_clock: Any) -> MerchantWorld:
    """`count` redemptions of 1.00 at one store, 20 seconds apart, in the morning."""
    move_to(frozen_clock, 10)
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    for _ in range(count):
        await redeem_at(world, card, consumer, 100)
        frozen_clock.advance(seconds=20)
    return world


async def test_20_redemptions_in_10_minutes_at_one_store_raise_nothing(client, frozen_clock):
    world = await redemptions_in_minutes(20, frozen_clock)

    assert await alerts_of(world) == []


async def test_21_redemptions_in_10_minutes_at_one_store_raise_a_burst(client, frozen_clock):
    world = await redemptions_in_minutes(21, frozen_clock)

    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.REDEMPTION_ANOMALY, RiskLevel.MEDIUM)
    assert metric(alert, "redemptions_10min_at_one_store") == (21.0, 20.0)
    linked = await linked_transfers(alert)
    assert len(linked) == 21
    assert {t.store_id for t in linked} == {world.stores[0].id}


async def redeemed_at(frozen_clock: Any, hour: int, minute: int = 0, second: int = 0):
    move_to(frozen_clock, 10)
    world = await make_merchant()
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    move_to(frozen_clock, hour, minute)
    frozen_clock.advance(seconds=second)
    await redeem_fen(world, card.id, consumer, 10_000)
    return world


async def test_a_redemption_at_six_in_the_morning_raises_nothing(client, frozen_clock):
    world = await redeemed_at(frozen_clock, 6)

    assert await alerts_of(world) == []


@pytest.mark.parametrize("time", [(0, 0, 0), (2, 30, 0), (5, 59, 59)])
async def test_a_redemption_between_midnight_and_six_raises_a_low_anomaly(
    client, frozen_clock, time
):
    world = await redeemed_at(frozen_clock, *time)

    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.REDEMPTION_ANOMALY, RiskLevel.LOW)
    assert metric(alert, "night_redemptions_24h") == (1.0, 0.0)
    (linked,) = await linked_transfers(alert)
    assert linked.kind is TransferKind.REDEMPTION


async def redemptions_then_a_fortnight(frozen_clock: Any, last_fortnight_fen: int) -> MerchantWorld:
    """A card of 5,000.00 sold on day 0 and 350.00 of it redeemed weekly from day 3 to day 80
    (4,200.00 in the 84 days before the last fortnight: a norm of 700.00 a fortnight); another
    card sold on day 90, and `last_fortnight_fen` redeemed on day 97; now it is day 98."""
    move_to(frozen_clock, 10)
    world = await make_merchant()
    item = await product(world, 500_000)
    regular = await make_user()
    card = await sell(world, item, regular)
    frozen_clock.advance(days=3)
    for _week in range(12):
        await redeem_at(world, card, regular, 35_000)
        frozen_clock.advance(days=7)
    frozen_clock.advance(days=3)  # day 90
    await sell(world, item, await make_user())
    frozen_clock.advance(days=7)  # day 97
    if last_fortnight_fen:
        await redeem_at(world, card, regular, last_fortnight_fen)
    frozen_clock.advance(days=1)
    await background.drain()
    return world


async def test_a_stall_is_raised_by_the_sweep_while_cards_still_sell(client, frozen_clock):
    # Given a merchant that redeemed nothing for 14 days but sold a card meanwhile
    world = await redemptions_then_a_fortnight(frozen_clock, 0)
    assert await alerts_of(world) == []

    # When the sweep runs
    report = await risk.sweep(merchant_ids=[world.merchant.id])

    # Then a HIGH redemption anomaly says redemptions stalled
    assert (report.merchants, report.raised, report.repeated) == (1, 1, 0)
    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.REDEMPTION_ANOMALY, RiskLevel.HIGH)
    assert metric(alert, "redemptions_14d_to_norm") == (0.0, 0.3)
    assert metric(alert, "sales_14d_yuan") == (5000.0, 0.0)
    assert alert.summary.startswith("Redemptions stalled")
    # A second sweep finds the same and raises nothing new
    again = await risk.sweep(merchant_ids=[world.merchant.id])
    assert (again.raised, again.repeated) == (0, 1)
    assert len(await alerts_of(world)) == 1


async def test_redemptions_at_30_percent_of_the_norm_are_no_stall(client, frozen_clock):
    world = await redemptions_then_a_fortnight(frozen_clock, 21_000)

    report = await risk.sweep(merchant_ids=[world.merchant.id])

    assert report.raised == 0
    assert await alerts_of(world) == []


async def test_redemptions_just_under_30_percent_of_the_norm_are_a_stall(client, frozen_clock):
    world = await redemptions_then_a_fortnight(frozen_clock, 20_999)

    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.REDEMPTION_ANOMALY, RiskLevel.MEDIUM)
    value, threshold = metric(alert, "redemptions_14d_to_norm")
    assert value == pytest.approx(0.29998571) and threshold == 0.3


# ---------------------------------------------------------------- ESCROW_SHORTFALL


async def ten_thousand_of_liability(client: httpx.AsyncClient, custody_ratio_bp: int):
    world = await make_merchant(custody_ratio_bp=custody_ratio_bp)
    item = await product(world, 100_000)
    consumer, other = await make_user(), await make_user()
    bought = [await purchase(client, buyer, item.id) for buyer in (consumer, other) * 5]
    return world, consumer, bought


async def test_a_liability_at_the_threshold_under_partial_custody_raises_nothing(
    client, settings, monkeypatch
):
    # Given a threshold of 10,000.00 (instead of 200,000.00)
    monkeypatch.setattr(settings, "risk_liability_fen", 1_000_000)

    # When a merchant keeping 80 % in custody owes 10,000.00 of cards
    world, _consumer, _bought = await ten_thousand_of_liability(client, 8_000)

    # Then nothing is raised
    assert await alerts_of(world) == []


async def test_a_custody_ratio_cut_under_a_large_liability_raises_an_escrow_shortfall(
    client, settings, monkeypatch
):
    # Given a threshold of 10,000.00 and a merchant in full custody owing 10,000.01 of cards
    monkeypatch.setattr(settings, "risk_liability_fen", 1_000_000)
    world, consumer, bought = await ten_thousand_of_liability(client, 10_000)
    await top_up(client, consumer, bought[0]["card"]["id"], "0.01")
    assert await alerts_of(world) == []

    # When a regulator lets it keep only 80 % in custody
    regulator = await make_user(Role.REGULATOR)
    variables = {
        "merchantId": encode_id("Merchant", world.merchant.id),
        "ratio": 0.8,
        "reason": "经营稳定，降低存管比例",
    }
    data_of(await call(client, SET_CUSTODY_RATIO, variables, regulator))

    # Then a MEDIUM escrow alert says how much prepaid cash is out of custody
    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.ESCROW_SHORTFALL, RiskLevel.MEDIUM)
    assert metric(alert, "outstanding_liability_yuan") == (10000.01, 10000.0)
    assert metric(alert, "custody_ratio") == (0.8, 1.0)
    await assert_ledger_clean()


# ---------------------------------------------------------------- COMPLAINT_SURGE


async def complaints_against(client: httpx.AsyncClient, cards_sold: int) -> MerchantWorld:
    """`cards_sold` consumers buy a card of 10.00; three of them complain."""
    world = await make_merchant()
    item = await product(world, 1_000)
    holders = []
    for _ in range(cards_sold):
        consumer = await make_user()
        holders.append((consumer, await sell(world, item, consumer)))
    for consumer, card in holders[:3]:
        complaint = {
            "merchantId": encode_id("Merchant", world.merchant.id),
            "cardId": encode_id("Card", card.id),
            "category": "SERVICE_REFUSED",
            "description": "门店拒绝用卡",
        }
        data_of(await call(client, FILE_COMPLAINT, {"input": complaint}, consumer))
    return world


async def test_three_complaints_against_60_live_cards_raise_nothing(client):
    world = await complaints_against(client, 60)  # 5.0 per 100

    assert await alerts_of(world) == []


async def test_three_complaints_against_59_live_cards_raise_a_complaint_surge(client):
    world = await complaints_against(client, 59)  # 5.08 per 100

    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.COMPLAINT_SURGE, RiskLevel.MEDIUM)
    assert metric(alert, "complaints_30d") == (3.0, 3.0)
    value, threshold = metric(alert, "complaints_per_100_live_cards")
    assert value == pytest.approx(5.0847, abs=1e-4) and threshold == 5.0


async def test_two_complaints_are_no_surge_however_few_the_cards(client):
    world = await make_merchant()
    holders = [(await make_user(), None) for _ in range(2)]
    for consumer, _card in holders:
        card = (await buy_card(consumer, world)).card
        await complaints.file_complaint(
            consumer_id=consumer.id,
            merchant_id=world.merchant.id,
            card_id=card.id,
            category=ComplaintCategory.QUALITY,
            description="洗坏了衣服",
        )

    assert await alerts_of(world) == []


# ---------------------------------------------------------------- STORE_CLOSURES


async def close_stores(client: httpx.AsyncClient, world: MerchantWorld, count: int) -> None:
    for store in world.stores[:count]:
        closed = await call(client, CLOSE_STORE, {"id": encode_id("Store", store.id)}, world.owner)
        assert data_of(closed)["closeStore"]["status"] == "CLOSED"


async def test_two_of_seven_stores_closed_raise_nothing(client):
    world = await make_merchant(stores=7)
    await buy_card(await make_user(), world)

    await close_stores(client, world, 2)  # 28.6 %

    assert await alerts_of(world) == []


async def test_three_of_ten_stores_closed_within_30_days_raise_store_closures(client):
    world = await make_merchant(stores=10)
    await buy_card(await make_user(), world)

    await close_stores(client, world, 3)  # 30 %

    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.STORE_CLOSURES, RiskLevel.MEDIUM)
    assert metric(alert, "stores_closed_30d_share") == (0.3, 0.3)
    assert alert.summary == "3 of 10 stores closed within 30 days"


async def test_every_store_closed_while_cards_hold_service_is_high(client, frozen_clock):
    # Given a merchant with one store and a card still holding 900.00 of service
    move_to(frozen_clock, 10)
    world = await make_merchant(stores=1)
    consumer = await make_user()
    card = (await buy_card(consumer, world)).card
    await redeem_fen(world, card.id, consumer, 10_000)

    # When its last store closes
    await close_stores(client, world, 1)

    # Then the closure alert is HIGH, and so is the merchant's risk level
    (alert,) = await alerts_of(world)
    assert (alert.kind, alert.severity) == (RiskAlertKind.STORE_CLOSURES, RiskLevel.HIGH)
    assert alert.summary == "Every store is closed while 1 card(s) still hold service"
    level = data_of(
        await call(
            client, RISK_LEVEL, {"id": encode_id("Merchant", world.merchant.id)}, world.owner
        )
    )
    assert level["merchant"]["riskLevel"] == "HIGH"


# ---------------------------------------------------------------- one open alert per kind


async def large_buyer(client: httpx.AsyncClient, world: MerchantWorld, item: CardProduct) -> User:
    consumer = await make_user()
    for _ in range(2):
        await purchase(client, consumer, item.id)
    return consumer


async def test_a_repeat_updates_the_open_alert_and_raises_its_severity(client):
    # Given a LOW large-purchase alert about one consumer's 10,000.00
    world = await make_merchant()
    item = await product(world, 500_000)
    first = await large_buyer(client, world, item)
    (raised,) = await alerts_of(world)
    assert raised.severity is RiskLevel.LOW

    # When a second consumer pays 10,000.00 too
    await large_buyer(client, world, item)

    # Then the same alert is MEDIUM now, says two consumers and lists both consumers' payments
    (alert,) = await alerts_of(world)
    assert alert.id == raised.id and alert.raised_at == raised.raised_at
    assert alert.severity is RiskLevel.MEDIUM
    assert metric(alert, "consumers_over_threshold_24h") == (2.0, 1.0)
    assert alert.summary.startswith("2 consumers each paid 10000.00 or more")
    linked = await linked_transfers(alert)
    assert len(linked) == 4
    owners = set(
        await Card.filter(id__in=[t.card_id for t in linked]).values_list("owner_id", flat=True)
    )
    assert first.id in owners and len(owners) == 2


async def test_an_acknowledged_alert_stays_acknowledged_when_repeated(client):
    world = await make_merchant()
    item = await product(world, 500_000)
    await large_buyer(client, world, item)
    (alert,) = await alerts_of(world)
    regulator = await make_user(Role.REGULATOR)
    await risk.update_alert(regulator_of(regulator), alert.id, AlertStatus.ACKNOWLEDGED, "跟进中")

    await large_buyer(client, world, item)

    (repeated,) = await alerts_of(world)
    assert (repeated.id, repeated.status) == (alert.id, AlertStatus.ACKNOWLEDGED)
    assert repeated.severity is RiskLevel.MEDIUM and repeated.note == "跟进中"


async def test_a_closed_alert_covers_what_it_showed(client):
    # Given a large purchase a regulator dismissed
    world = await make_merchant()
    item = await product(world, 500_000)
    buyer = await large_buyer(client, world, item)
    (alert,) = await alerts_of(world)
    regulator = await make_user(Role.REGULATOR)
    await risk.update_alert(regulator_of(regulator), alert.id, AlertStatus.DISMISSED, "家庭消费")

    # When the same consumer buys once more: 15,000.00 within 24 hours, 5,000.00 since
    await purchase(client, buyer, item.id)

    # Then nothing new is raised; a new 10,000.00 after the dismissal raises a new alert
    assert [a.id for a in await alerts_of(world)] == [alert.id]
    await large_buyer(client, world, item)
    dismissed, new = await alerts_of(world)
    assert dismissed.status is AlertStatus.DISMISSED
    assert new.status is AlertStatus.OPEN and new.severity is RiskLevel.LOW


async def test_two_raises_at_once_make_one_open_alert(client):
    # Given a merchant whose consumer paid 10,000.00, its alert not raised yet
    world = await make_merchant()
    item = await product(world, 500_000)
    await large_buyer(client, world, item)
    await background.drain()
    await RiskAlert.filter(merchant_id=world.merchant.id).delete()

    # When the rules run four times at the same moment, and a finding is recorded four times
    runs = await asyncio.gather(
        *(risk.evaluate(world.merchant.id, [RiskAlertKind.LARGE_PURCHASE]) for _ in range(4))
    )
    finding = risk.Finding(RiskAlertKind.STORE_CLOSURES, RiskLevel.HIGH, "测试", ())
    now = dt.datetime.now(dt.UTC)
    recorded = await asyncio.gather(
        *(risk.record(world.merchant.id, finding, now) for _ in range(4))
    )

    # Then each kind has one open alert, raised once and repeated by the others
    assert [len(run) for run in runs] == [1, 1, 1, 1]
    assert sum(item.new for run in runs for item in run) == 1
    assert sum(item.new for item in recorded) == 1
    open_alerts = await RiskAlert.filter(
        merchant_id=world.merchant.id, status__in=OPEN_ALERT_STATUSES
    ).values_list("kind", flat=True)
    assert sorted(open_alerts) == [RiskAlertKind.LARGE_PURCHASE, RiskAlertKind.STORE_CLOSURES]


async def test_rules_leave_merchants_that_are_not_trading_alone(client):
    world = await make_merchant(stores=1)
    await close_stores(client, world, 1)
    await RiskAlert.filter(merchant_id=world.merchant.id).delete()
    for status in (MerchantStatus.PENDING_REVIEW, MerchantStatus.REJECTED, MerchantStatus.CLOSED):
        await Merchant.filter(id=world.merchant.id).update(status=status)

        assert await risk.evaluate(world.merchant.id) == []


# ---------------------------------------------------------------- updateRiskAlert and riskLevel


async def open_alert(client: httpx.AsyncClient) -> tuple[MerchantWorld, RiskAlert]:
    """A merchant with a LOW large-purchase alert."""
    world = await make_merchant()
    item = await product(world, 500_000)
    await large_buyer(client, world, item)
    (alert,) = await alerts_of(world)
    return world, alert


async def test_a_regulator_acknowledges_then_resolves_an_alert_with_notes(client):
    world, alert = await open_alert(client)
    regulator = await make_user(Role.REGULATOR)
    alert_id = encode_id("RiskAlert", alert.id)

    acknowledged = data_of(
        await call(
            client,
            UPDATE_RISK_ALERT,
            {"id": alert_id, "status": "ACKNOWLEDGED", "note": "已约谈"},
            regulator,
        )
    )["updateRiskAlert"]
    resolved = data_of(
        await call(client, UPDATE_RISK_ALERT, {"id": alert_id, "status": "RESOLVED"}, regulator)
    )["updateRiskAlert"]

    assert acknowledged == {
        "id": alert_id,
        "status": "ACKNOWLEDGED",
        "note": "已约谈",
        "resolvedAt": None,
        "merchant": {"riskLevel": "LOW"},
    }
    assert (resolved["status"], resolved["note"]) == ("RESOLVED", "已约谈")
    assert resolved["resolvedAt"] is not None
    entries = await AuditEntry.filter(subject_type="RiskAlert", subject_id=alert.id).order_by("id")
    assert [(e.action, e.actor_id, e.merchant_id) for e in entries] == [
        ("RISK_ALERT_ACKNOWLEDGED", regulator.id, world.merchant.id),
        ("RISK_ALERT_RESOLVED", regulator.id, world.merchant.id),
    ]
    assert entries[0].reason == "已约谈"
    assert entries[1].details == {
        "kind": "LARGE_PURCHASE",
        "from": "ACKNOWLEDGED",
        "to": "RESOLVED",
    }


@pytest.mark.parametrize(
    ("path", "tried", "message"),
    [
        ((), "OPEN", "The alert is already open"),
        (("ACKNOWLEDGED",), "OPEN", "An acknowledged alert cannot be reopened"),
        (("RESOLVED",), "DISMISSED", "A resolved alert cannot be dismissed any more"),
        (("DISMISSED",), "ACKNOWLEDGED", "A dismissed alert cannot be acknowledged any more"),
        (
            ("ACKNOWLEDGED", "DISMISSED"),
            "RESOLVED",
            "A dismissed alert cannot be resolved any more",
        ),
    ],
)
async def test_a_change_the_alert_cannot_make_is_invalid_state(client, path, tried, message):
    _world, alert = await open_alert(client)
    regulator = await make_user(Role.REGULATOR)
    alert_id = encode_id("RiskAlert", alert.id)
    for status in path:
        data_of(
            await call(client, UPDATE_RISK_ALERT, {"id": alert_id, "status": status}, regulator)
        )
    before = await RiskAlert.get(id=alert.id)

    result = await call(client, UPDATE_RISK_ALERT, {"id": alert_id, "status": tried}, regulator)

    assert codes(result) == ["INVALID_STATE"]
    assert result["errors"][0]["message"] == message
    after = await RiskAlert.get(id=alert.id)
    assert (after.status, after.resolved_at, after.note) == (
        before.status,
        before.resolved_at,
        before.note,
    )


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("anonymous", "UNAUTHENTICATED"),
        ("consumer", "FORBIDDEN"),
        ("merchant", "FORBIDDEN"),
        ("staff", "FORBIDDEN"),
    ],
)
async def test_only_regulators_update_alerts(client, who, code):
    world, alert = await open_alert(client)
    user = {
        "anonymous": None,
        "consumer": await make_user(),
        "merchant": world.owner,
        "staff": await make_user(Role.MERCHANT, merchant_id=world.merchant.id),
    }[who]

    result = await call(
        client,
        UPDATE_RISK_ALERT,
        {"id": encode_id("RiskAlert", alert.id), "status": "DISMISSED"},
        user,
    )

    assert codes(result) == [code]
    assert (await RiskAlert.get(id=alert.id)).status is AlertStatus.OPEN


async def test_an_unknown_alert_is_not_found_and_a_long_note_bad_input(client):
    _world, alert = await open_alert(client)
    regulator = await make_user(Role.REGULATOR)
    unknown = {"id": encode_id("RiskAlert", 2_000_000_000), "status": "RESOLVED"}
    too_long = {"id": encode_id("RiskAlert", alert.id), "status": "RESOLVED", "note": "长" * 2001}

    assert codes(await call(client, UPDATE_RISK_ALERT, unknown, regulator)) == ["NOT_FOUND"]
    assert codes(await call(client, UPDATE_RISK_ALERT, too_long, regulator)) == ["BAD_USER_INPUT"]
    assert (await RiskAlert.get(id=alert.id)).status is AlertStatus.OPEN


async def test_two_regulators_closing_an_alert_at_once_close_it_once(client):
    _world, alert = await open_alert(client)
    first, second = await make_user(Role.REGULATOR), await make_user(Role.REGULATOR)
    alert_id = encode_id("RiskAlert", alert.id)

    results = await asyncio.gather(
        call(client, UPDATE_RISK_ALERT, {"id": alert_id, "status": "RESOLVED"}, first),
        call(client, UPDATE_RISK_ALERT, {"id": alert_id, "status": "DISMISSED"}, second),
    )

    assert sorted(tuple(codes(result)) for result in results) == [(), ("INVALID_STATE",)]
    assert await AuditEntry.filter(subject_type="RiskAlert", subject_id=alert.id).count() == 1


async def test_risk_level_is_the_highest_open_severity(client):
    # Given a merchant with a LOW large-purchase alert and a HIGH store-closure alert
    world = await make_merchant(stores=1)
    item = await product(world, 500_000)
    await large_buyer(client, world, item)
    await close_stores(client, world, 1)
    low, high = await alerts_of(world)
    assert (low.severity, high.severity) == (RiskLevel.LOW, RiskLevel.HIGH)
    regulator = await make_user(Role.REGULATOR)
    merchant_id = {"id": encode_id("Merchant", world.merchant.id)}

    async def level() -> str:
        return data_of(await call(client, RISK_LEVEL, merchant_id, regulator))["merchant"][
            "riskLevel"
        ]

    # Then its level is HIGH while the HIGH alert is open or acknowledged, then LOW
    assert await level() == "HIGH"
    await risk.update_alert(regulator_of(regulator), high.id, AlertStatus.ACKNOWLEDGED, None)
    assert await level() == "HIGH"
    await risk.update_alert(regulator_of(regulator), high.id, AlertStatus.RESOLVED, "新店已开")
    assert await level() == "LOW"
    await risk.update_alert(regulator_of(regulator), low.id, AlertStatus.DISMISSED, None)
    assert await level() == "LOW"


# ---------------------------------------------------------------- the sweep's command


def test_anfu_risk_sweep_raises_what_it_finds(tmp_path: Path):
    # Given a database with a merchant that closed one of its two stores today
    database = tmp_path / "anfu.sqlite3"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TEST_", "ANFU_", "DATABASE_", "CACHE_"))
    }
    env["DATABASE_URL"] = f"sqlite://{database}"
    anfu = Path(sys.executable).parent / "anfu"
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(anfu), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run("migrate").returncode == 0
    now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
    db = sqlite3.connect(database, isolation_level=None)
    try:
        db.execute(
            "INSERT INTO merchants (id, name, credit_code, legal_representative, category_id, "
            "contact_phone, status, registry_verified, registry_findings, custody_ratio_bp, "
            "created_at) VALUES (7, '老街干洗店', '91320800MA1XYW13K2', '钱老', 'LAUNDRY', "
            "'13912340002', 'ACTIVE', 1, '[]', 10000, ?)",
            (now,),
        )
        for status, closed_at in (("OPEN", None), ("CLOSED", now)):
            db.execute(
                "INSERT INTO stores (merchant_id, name, address, district, status, created_at, "
                "closed_at) VALUES (7, '老街干洗店', '河下古镇12号', '淮安区', ?, ?, ?)",
                (status, now, closed_at),
            )
    finally:
        db.close()

    # When the sweep runs twice
    first, second = run("risk", "sweep"), run("risk", "sweep")

    # Then the first raises the store-closure alert and the second finds it open
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "checked 1 merchant(s): 1 new alert(s), 0 open alert(s) updated"
    assert second.stdout.strip() == "checked 1 merchant(s): 0 new alert(s), 1 open alert(s) updated"
    db = sqlite3.connect(database)
    try:
        rows = db.execute("SELECT kind, severity, status FROM risk_alerts").fetchall()
    finally:
        db.close()
    assert rows == [("STORE_CLOSURES", "MEDIUM", "OPEN")]


# ---------------------------------------------------------------- riskAlertRaised


@pytest.fixture
def app(database: str, settings) -> Any:
    return create_app(settings, manage_database=False)


@contextlib.asynccontextmanager
async def websockets(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = ASGIWebSocketTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anfu.test") as http:
        yield http


async def subscribe(ws: AsyncWebSocketSession, *, wait: bool = True) -> str:
    before = events.bus().subscribers(events.RISK_ALERTS)
    operation_id = str(next(_operation_ids))
    await ws.send_json(
        {"id": operation_id, "type": "subscribe", "payload": {"query": RISK_ALERT_RAISED}}
    )
    if wait:
        for _ in range(200):
            if events.bus().subscribers(events.RISK_ALERTS) > before:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the subscription never reached the event bus")
    return operation_id


async def refused(ws: AsyncWebSocketSession) -> dict:
    """The error a subscription that may not start ends with."""
    operation_id = await subscribe(ws, wait=False)
    message = await asyncio.wait_for(ws.receive_json(), 5)
    assert message["id"] == operation_id
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors")
    assert errors, message
    if message["type"] == "next":
        ending = await asyncio.wait_for(ws.receive_json(), 5)
        assert ending == {"id": operation_id, "type": "complete"}
    return errors[0]


async def assert_quiet(ws: AsyncWebSocketSession) -> None:
    with pytest.raises(TimeoutError):
        message = await asyncio.wait_for(ws.receive_json(), QUIET_SECONDS)
        raise AssertionError(f"unexpected message {message}")


async def test_a_regulator_receives_an_alert_raised_by_another_clients_purchases(client, app):
    async with websockets(app) as ws_client:
        # Given a regulator subscribed to new alerts
        world = await make_merchant()
        item = await product(world, 500_000)
        regulator = await make_user(Role.REGULATOR)
        async with connected(ws_client, token_for(regulator)) as ws:
            operation_id = await subscribe(ws)

            # When a consumer pays 10,000.00 over HTTP
            buyer = await large_buyer(client, world, item)
            message = await asyncio.wait_for(ws.receive_json(), 5)

        # Then the regulator hears of the new alert, with the purchases behind it
        assert (message["type"], message["id"]) == ("next", operation_id)
        raised = data_of(message["payload"])["riskAlertRaised"]
        (alert,) = await alerts_of(world)
        assert raised["id"] == encode_id("RiskAlert", alert.id)
        assert (raised["kind"], raised["severity"]) == ("LARGE_PURCHASE", "LOW")
        assert raised["merchant"] == {
            "id": encode_id("Merchant", world.merchant.id),
            "name": world.merchant.name,
        }
        bought = await Transfer.filter(card__owner_id=buyer.id).values_list("id", flat=True)
        assert {decode_id(t["id"], "Transaction") for t in raised["transactions"]} == set(bought)


async def test_a_repeat_of_an_open_alert_is_not_announced_again(client, app):
    async with websockets(app) as ws_client:
        world = await make_merchant()
        item = await product(world, 500_000)
        await large_buyer(client, world, item)
        await background.drain()
        async with connected(ws_client, token_for(await make_user(Role.REGULATOR))) as ws:
            await subscribe(ws)
            await large_buyer(client, world, item)
            await background.drain()

            await assert_quiet(ws)


@pytest.mark.parametrize(
    ("who", "code"),
    [("consumer", "FORBIDDEN"), ("merchant", "FORBIDDEN"), ("anonymous", "UNAUTHENTICATED")],
)
async def test_nobody_but_regulators_may_subscribe_to_alerts(client, app, who, code):
    async with websockets(app) as ws_client:
        world = await make_merchant()
        item = await product(world, 500_000)
        user = {"consumer": await make_user(), "merchant": world.owner, "anonymous": None}[who]
        async with connected(ws_client, token_for(user) if user else None) as ws:
            error = await refused(ws)
            # The merchant's own alert, raised by a consumer's purchases, does not reach them
            await large_buyer(client, world, item)
            await background.drain()
            await assert_quiet(ws)

        assert error["extensions"]["code"] == code
        assert len(await alerts_of(world)) == 1
