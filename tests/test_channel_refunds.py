"""Refunds of channel-paid cards go back through the channel, against the original payments,
and are tracked to the channel's refund notification."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel.interface import ChannelRefundResult
from models import ChannelRefund, ManualPayout, Merchant, PaymentOrder, Posting, RefundRequest
from models.enums import (
    ChannelRefundStatus,
    ComplaintCategory,
    ComplaintOutcome,
    PayoutStatus,
    RefundStatus,
    Role,
)
from schema.ids import encode_id
from services import (
    channel_refunds,
    complaints,
    ledger,
    payment_orders,
    payments,
    refunds,
    supervision,
)
from services.channel_refunds import UnknownRefund, split
from tests.channel_refund_support import channel_card, pay
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    make_merchant,
    make_user,
    principal_of,
    redeem_fen,
)

CLEARING = ledger.channel_clearing_account("wechat")

REQUEST_REFUND = """
mutation RequestRefund($cardId: ID!) {
  requestRefund(cardId: $cardId, reason: "不想要了") {
    id status amount channelRefunds { amount status submittedAt succeededAt }
  }
}
"""

DECIDE_REFUND = """
mutation Decide($id: ID!) {
  decideRefund(refundId: $id, approve: true) { status channelRefunds { amount status } }
}
"""

REFUND_STATUS = """
query Refund($id: ID!) {
  node(id: $id) { ... on RefundRequest { channelRefunds { amount status succeededAt } } }
}
"""


async def postings_of(transfer_id: int) -> dict[tuple[str, str], int]:
    rows = await Posting.filter(transfer_id=transfer_id).values_list(
        "account", "side", "amount_fen"
    )
    return {(account, str(side)): amount for account, side, amount in rows}


async def refunds_of(card_id: int) -> list[ChannelRefund]:
    return await ChannelRefund.filter(card_id=card_id).order_by("id")


# ---------------------------------------------------------------- each refund path


async def test_a_cooling_off_refund_goes_back_through_the_channel(client, channel):
    # Given a 700/1000 card bought through the channel just now
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)

    # When the consumer asks for a refund, it is approved at once and sent to the channel
    # (whose notification, held back a moment, comes after the answer)
    channel.simulator.control(refund_delay_seconds=0.3)
    refund = data_of(
        await call(client, REQUEST_REFUND, {"cardId": encode_id("Card", card.id)}, consumer)
    )["requestRefund"]
    assert (refund["status"], refund["amount"]) == ("APPROVED", "700.00")
    [sent] = refund["channelRefunds"]
    assert (sent["amount"], sent["status"]) == ("700.00", "PROCESSING")
    assert sent["submittedAt"] is not None and sent["succeededAt"] is None

    # Then the refund's cash went to the channel's clearing account, none to consumer_funds
    request = await RefundRequest.get(card_id=card.id)
    assert request.transfer_id is not None
    assert await postings_of(request.transfer_id) == {
        (ledger.escrow_account(world.merchant.id), "DEBIT"): 70_000,
        (CLEARING, "CREDIT"): 70_000,
    }
    [row] = await refunds_of(card.id)
    order = await PaymentOrder.get(card_id=card.id, kind="PURCHASE")
    assert (row.order_id, row.amount_fen, row.transfer_id) == (
        order.id,
        70_000,
        request.transfer_id,
    )

    # And the channel's notification makes it SUCCESS
    await channel.settle()
    shown = data_of(
        await call(client, REFUND_STATUS, {"id": encode_id("RefundRequest", request.id)}, consumer)
    )["node"]["channelRefunds"]
    assert [(r["status"], r["succeededAt"] is not None) for r in shown] == [("SUCCESS", True)]
    await assert_ledger_clean()


async def test_an_approved_refund_goes_back_against_each_payment_newest_first(client, channel):
    # Given a card bought (700.00) and topped up twice (350.00, then 100.00) through the
    # channel, with 630.00 of face value redeemed: cash left 1150.00 - 441.00 = 709.00
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world, 35_000, 10_000)
    await redeem_fen(world, card.id, consumer, 63_000)
    pending = data_of(
        await call(client, REQUEST_REFUND, {"cardId": encode_id("Card", card.id)}, consumer)
    )["requestRefund"]
    assert (pending["status"], pending["amount"]) == ("PENDING", "709.00")

    # When the merchant approves
    decided = data_of(await call(client, DECIDE_REFUND, {"id": pending["id"]}, world.owner))

    # Then the last top-up comes back whole, then the first, then the rest of the purchase
    sent = decided["decideRefund"]["channelRefunds"]
    assert [refund["amount"] for refund in sent] == ["100.00", "350.00", "259.00"]
    assert {refund["status"] for refund in sent} <= {"PROCESSING", "SUCCESS"}
    rows = await refunds_of(card.id)
    orders = await PaymentOrder.filter(card_id=card.id).order_by("-paid_at", "-id")
    assert [row.order_id for row in rows] == [order.id for order in orders]
    await channel.settle()
    assert {row.status for row in await refunds_of(card.id)} == {ChannelRefundStatus.SUCCESS}
    await assert_ledger_clean()


async def test_a_complaint_upheld_with_a_refund_goes_back_through_the_channel(client, channel):
    world = await make_merchant()
    consumer = await make_user()
    regulator = await make_user(Role.REGULATOR)
    card = await channel_card(channel, consumer, world)
    await redeem_fen(world, card.id, consumer, 10_000)
    complaint = await complaints.file_complaint(
        consumer_id=consumer.id,
        merchant_id=world.merchant.id,
        card_id=card.id,
        category=ComplaintCategory.SERVICE_REFUSED,
        description="门店拒绝服务",
    )
    await complaints.respond(
        principal=principal_of(world.owner), complaint_id=complaint.id, message="我们查一下"
    )

    await complaints.resolve(
        principal=principal_of(regulator),
        complaint_id=complaint.id,
        outcome=ComplaintOutcome.UPHELD,
        resolution="退款",
        refund_card_too=True,
    )

    [row] = await refunds_of(card.id)
    assert (row.amount_fen, row.reason) == (63_000, "Complaint upheld")
    assert row.status in (ChannelRefundStatus.PROCESSING, ChannelRefundStatus.SUCCESS)
    await channel.settle()
    assert (await ChannelRefund.get(id=row.id)).status is ChannelRefundStatus.SUCCESS
    await assert_ledger_clean()


async def test_closing_a_merchant_refunds_every_channel_paid_card_through_the_channel(
    client, channel
):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    cards = [await channel_card(channel, await make_user(), world, 1_000 * n) for n in range(1, 4)]

    report = await supervision.close_merchant(
        principal=principal_of(regulator), merchant_id=world.merchant.id, reason="跑路"
    )

    assert report.cards_refunded == 3
    rows = [row for card in cards for row in await refunds_of(card.id)]
    assert len(rows) == 6  # a purchase and a top-up each
    assert {row.status for row in rows} <= {
        ChannelRefundStatus.PROCESSING,
        ChannelRefundStatus.SUCCESS,
    }
    assert {row.reason for row in rows} == {"Merchant closed"}
    assert sum(row.amount_fen for row in rows) == 3 * 70_000 + 6_000
    await channel.settle()
    assert {(await ChannelRefund.get(id=row.id)).status for row in rows} == {
        ChannelRefundStatus.SUCCESS
    }
    await assert_ledger_clean()


async def test_a_card_paid_part_in_the_sandbox_and_part_through_the_channel_splits(channel):
    # Given a card bought in the sandbox (700.00) and topped up through the channel (200.00)
    world = await make_merchant()
    consumer = await make_user()
    installed = payments.use_channel(None)
    card_id = (await buy_card(consumer, world)).card.id
    payments.use_channel(installed)
    await pay(channel, consumer, card_id=card_id, pay_fen=20_000)

    # When it is refunded within the cooling-off period
    request = await refunds.request_refund(
        principal=principal_of(consumer), card_id=card_id, reason="不要了"
    )

    # Then 200.00 goes back through the channel and 700.00 the sandbox's way
    assert request.transfer_id is not None
    assert await postings_of(request.transfer_id) == {
        (ledger.escrow_account(world.merchant.id), "DEBIT"): 90_000,
        (CLEARING, "CREDIT"): 20_000,
        (ledger.CONSUMER_FUNDS, "CREDIT"): 70_000,
    }
    assert [row.amount_fen for row in await refunds_of(card_id)] == [20_000]
    await assert_ledger_clean()


async def test_a_sandbox_card_refunds_as_before():
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id

    request = await refunds.request_refund(
        principal=principal_of(consumer), card_id=card_id, reason="不要了"
    )

    assert request.transfer_id is not None
    assert await postings_of(request.transfer_id) == {
        (ledger.escrow_account(world.merchant.id), "DEBIT"): 70_000,
        (ledger.CONSUMER_FUNDS, "CREDIT"): 70_000,
    }
    assert await refunds_of(card_id) == []


# ---------------------------------------------------------------- failures and notices


async def test_a_refused_refund_becomes_a_manual_payout(channel):
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    channel.refuse("TRADE_OVERDUE")

    await refunds.request_refund(principal=principal_of(consumer), card_id=card.id, reason="x")

    [row] = await refunds_of(card.id)
    assert row.status is ChannelRefundStatus.MANUAL and "TRADE_OVERDUE" in (row.failure or "")
    payout = await ManualPayout.get(channel_refund_id=row.id)
    assert (payout.amount_fen, payout.payee_id, payout.status) == (
        70_000,
        consumer.id,
        PayoutStatus.DUE,
    )
    assert await postings_of(payout.due_transfer_id) == {
        (CLEARING, "DEBIT"): 70_000,
        (ledger.MANUAL_PAYOUTS, "CREDIT"): 70_000,
    }
    await assert_ledger_clean()


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
async def test_an_abnormal_or_closed_notice_becomes_a_manual_payout(channel, status):
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    if status == "ABNORMAL":
        channel.abnormal()  # the simulator's own REFUND.ABNORMAL reaches the endpoint
    else:
        channel.hold_notifications()
    await refunds.request_refund(principal=principal_of(consumer), card_id=card.id, reason="x")
    await channel.settle()
    [row] = await refunds_of(card.id)

    notice = dataclasses.replace(await channel.notice(row.out_refund_no), status=status)
    await asyncio.gather(*(channel_refunds.apply_refund_notice(notice) for _ in range(4)))
    await channel_refunds.apply_refund_notice(notice)

    assert (await ChannelRefund.get(id=row.id)).status is ChannelRefundStatus.MANUAL
    assert await ManualPayout.filter(channel_refund_id=row.id).count() == 1
    await assert_ledger_clean()


async def test_duplicate_and_parallel_success_notices_apply_once(channel):
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    await refunds.request_refund(principal=principal_of(consumer), card_id=card.id, reason="x")
    await channel.settle()
    [row] = await refunds_of(card.id)
    notice = await channel.notice(row.out_refund_no)
    assert notice.status == "SUCCESS"

    await asyncio.gather(*(channel_refunds.apply_refund_notice(notice) for _ in range(5)))
    first = await ChannelRefund.get(id=row.id)
    await channel_refunds.apply_refund_notice(notice)
    # A late ABNORMAL for a refund already paid changes nothing either.
    await channel_refunds.apply_refund_notice(
        ChannelRefundResult(notice.out_refund_no, notice.out_trade_no, "ABNORMAL", 70_000)
    )

    again = await ChannelRefund.get(id=row.id)
    assert first.status is again.status is ChannelRefundStatus.SUCCESS
    assert first.succeeded_at == again.succeeded_at
    assert not await ManualPayout.filter(channel_refund_id=row.id).exists()
    await assert_ledger_clean()


async def test_a_notice_for_an_unknown_refund_is_refused():
    with pytest.raises(UnknownRefund):
        await channel_refunds.apply_refund_notice(
            ChannelRefundResult("R-nobody", "AF-nothing", "SUCCESS", 100)
        )


async def test_when_the_channel_is_down_the_refund_waits_and_the_sweep_sends_it(
    channel, frozen_clock
):
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    channel.set_down(True)

    await refunds.request_refund(principal=principal_of(consumer), card_id=card.id, reason="x")
    [row] = await refunds_of(card.id)
    assert row.status is ChannelRefundStatus.PENDING and row.submitted_at is None

    # The channel is back; a sweep right away leaves it (its own send may be under way)
    channel.set_down(False)
    channel.hold_notifications()
    await channel_refunds.sweep()
    assert (await ChannelRefund.get(id=row.id)).status is ChannelRefundStatus.PENDING

    # A few minutes later the sweep sends it
    frozen_clock.advance(minutes=2)
    await channel_refunds.sweep()
    assert (await ChannelRefund.get(id=row.id)).status is ChannelRefundStatus.PROCESSING

    # The notification never comes: later still, the sweep asks the channel
    frozen_clock.advance(minutes=11)
    await channel_refunds.sweep()
    assert (await ChannelRefund.get(id=row.id)).status is ChannelRefundStatus.SUCCESS
    await assert_ledger_clean()


async def test_a_payment_that_cannot_be_fulfilled_is_returned_through_the_channel(channel):
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    # A top-up ordered, then the merchant suspended before the payment arrives
    start = await payment_orders.create_order(
        principal=principal_of(consumer), idempotency_key="t", card_id=card.id, pay_fen=5_000
    )
    await Merchant.filter(id=world.merchant.id).update(status="SUSPENDED")
    channel.refuse("USER_ACCOUNT_ABNORMAL")
    assert start.payment is not None
    await channel.simulator.pay(start.payment.package.removeprefix("prepay_id="))
    await channel.settle()
    order = await PaymentOrder.get(id=start.order.id)

    assert order.status == "REFUNDED"
    [row] = await ChannelRefund.filter(order_id=order.id)
    assert (row.card_id, row.transfer_id, row.amount_fen) == (None, None, 5_000)
    assert row.status is ChannelRefundStatus.MANUAL
    payout = await ManualPayout.get(channel_refund_id=row.id)
    assert await postings_of(payout.due_transfer_id) == {
        (CLEARING, "DEBIT"): 5_000,
        (ledger.MANUAL_PAYOUTS, "CREDIT"): 5_000,
    }
    await assert_ledger_clean()


async def test_two_refunds_of_one_card_racing_give_one_refund(client, channel):
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world, 10_000)
    variables = {"cardId": encode_id("Card", card.id)}

    results = await asyncio.gather(
        *(call(client, REQUEST_REFUND, variables, consumer) for _ in range(3))
    )

    approved = [r for r in results if not r.get("errors")]
    assert len(approved) == 1
    assert all(codes(r) == ["INVALID_STATE"] for r in results if r.get("errors"))
    rows = await refunds_of(card.id)
    assert sorted(row.amount_fen for row in rows) == [10_000, 70_000]
    await assert_ledger_clean()


# ---------------------------------------------------------------- the allocation


@given(
    cash=st.integers(min_value=0, max_value=10**7),
    payments=st.lists(
        st.tuples(st.integers(1, 10**6), st.integers(0, 10**6)), min_size=0, max_size=6
    ),
)
def test_the_split_never_refunds_more_than_a_payment_has_left(cash, payments):
    left = [
        (index, "wechat", max(0, paid - refunded))
        for index, (paid, refunded) in enumerate(payments)
    ]
    plan = split(cash, left)
    by_order = {part.order_id: part.amount_fen for part in plan.allocations}
    for order_id, _name, refundable in left:
        assert 0 <= by_order.get(order_id, 0) <= refundable
    assert plan.through_channels_fen + plan.elsewhere_fen == cash
    assert plan.through_channels_fen == min(cash, sum(r for _i, _n, r in left))
    # newest first: a payment is used only when every newer one is used up
    used = [by_order.get(order_id, 0) for order_id, _n, _r in left]
    for index, amount in enumerate(used):
        if amount and index:
            assert all(used[j] == left[j][2] for j in range(index))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("top_up"), st.integers(100, 50_000)),
            st.tuples(st.just("redeem"), st.integers(1, 40_000)),
        ),
        max_size=6,
    )
)
def test_refunds_of_random_card_histories_match_the_payments(loop, channel, steps):
    loop.run_until_complete(_random_history(channel, steps))


async def _random_history(channel, steps: list[tuple[str, int]]) -> None:
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    for step, amount in steps:
        if step == "top_up":
            await pay(channel, consumer, card_id=card.id, pay_fen=amount)
        elif amount <= card.balance_fen:
            await redeem_fen(world, card.id, consumer, amount)
        await card.refresh_from_db()
    await card.refresh_from_db()
    cash = card.cash_value_fen
    if cash <= 0:
        return
    request = await refunds.request_refund(
        principal=principal_of(consumer), card_id=card.id, reason="x"
    )
    if request.status is RefundStatus.PENDING:  # used: the merchant decides
        await refunds.decide_refund(
            principal=principal_of(world.owner), refund_id=request.id, approve=True, note=None
        )
    rows = await refunds_of(card.id)
    assert sum(row.amount_fen for row in rows) == cash
    for row in rows:
        order = await PaymentOrder.get(id=row.order_id)
        assert 0 < row.amount_fen <= order.amount_fen
    await channel.settle()
    await assert_ledger_clean()
