"""Manual payouts: a refund the channel refused is listed for regulators and marked paid once."""

from __future__ import annotations

import asyncio

from models import AuditEntry, ChannelRefund, ManualPayout, Posting
from models.enums import PayoutStatus, Role
from schema.ids import encode_id
from services import ledger, refunds
from tests.channel_refund_support import channel_card
from tests.support import (
    assert_ledger_clean,
    call,
    codes,
    data_of,
    error_at,
    make_merchant,
    make_user,
    principal_of,
)

PAYOUT_FIELDS = """
  id amount reason status createdAt paidAt paymentReference
  payee { id phone } merchant { id } card { id }
"""

MANUAL_PAYOUTS = f"""
query Payouts($status: PayoutStatus, $first: Int, $after: String) {{
  manualPayouts(status: $status, first: $first, after: $after) {{
    totalCount edges {{ cursor node {{ {PAYOUT_FIELDS} }} }}
  }}
}}
"""

MARK_PAID = f"""
mutation MarkPaid($id: ID!, $reference: String!, $key: String) {{
  markPayoutPaid(payoutId: $id, paymentReference: $reference, idempotencyKey: $key) {{
    {PAYOUT_FIELDS}
  }}
}}
"""

NODE = "query Node($id: ID!) { node(id: $id) { ... on ManualPayout { id status } } }"


async def refused_refund(channel):
    """A consumer whose channel-paid 700.00 card's refund the channel refused; its payout."""
    world = await make_merchant()
    consumer = await make_user()
    card = await channel_card(channel, consumer, world)
    channel.refuse("TRADE_OVERDUE")
    await refunds.request_refund(principal=principal_of(consumer), card_id=card.id, reason="x")
    refund = await ChannelRefund.get(card_id=card.id)
    return world, consumer, card, await ManualPayout.get(channel_refund_id=refund.id)


async def test_a_regulator_lists_a_refused_refund_and_marks_it_paid(client, channel):
    # Given a refund the channel refused
    world, consumer, card, payout = await refused_refund(channel)
    regulator = await make_user(Role.REGULATOR)
    payout_id = encode_id("ManualPayout", payout.id)

    # When a regulator lists the payouts still due
    listed = data_of(await call(client, MANUAL_PAYOUTS, {"status": "DUE", "first": 100}, regulator))
    nodes = [edge["node"] for edge in listed["manualPayouts"]["edges"]]
    [mine] = [node for node in nodes if node["id"] == payout_id]

    # Then it is there, with the payee's whole phone, the merchant and the card
    assert mine["amount"] == "700.00" and mine["status"] == "DUE"
    assert mine["payee"] == {"id": encode_id("User", consumer.id), "phone": consumer.phone}
    assert mine["merchant"]["id"] == encode_id("Merchant", world.merchant.id)
    assert mine["card"]["id"] == encode_id("Card", card.id)
    assert "TRADE_OVERDUE" in mine["reason"] and mine["paidAt"] is None

    # When it is marked paid
    variables = {"id": payout_id, "reference": "BANK-20261129-001", "key": "pay-1"}
    paid = data_of(await call(client, MARK_PAID, variables, regulator))["markPayoutPaid"]

    # Then it is PAID, the cash left manual_payouts for the consumer, and the audit says so
    assert (paid["status"], paid["paymentReference"]) == ("PAID", "BANK-20261129-001")
    assert paid["paidAt"] is not None
    row = await ManualPayout.get(id=payout.id)
    assert row.paid_by_id == regulator.id and row.paid_transfer_id is not None
    postings = await Posting.filter(transfer_id=row.paid_transfer_id).values_list(
        "account", "side", "amount_fen"
    )
    assert sorted((a, str(s), n) for a, s, n in postings) == [
        (ledger.CONSUMER_FUNDS, "CREDIT", 70_000),
        (ledger.MANUAL_PAYOUTS, "DEBIT", 70_000),
    ]
    assert await AuditEntry.filter(
        action="PAYOUT_PAID", subject_type="ManualPayout", subject_id=payout.id
    ).exists()
    await assert_ledger_clean()

    # And the same key answers the same result; another call is INVALID_STATE
    again = data_of(await call(client, MARK_PAID, variables, regulator))["markPayoutPaid"]
    assert again == paid
    other = await call(client, MARK_PAID, {**variables, "key": None}, regulator)
    assert codes(other) == ["INVALID_STATE"]
    conflict = await call(client, MARK_PAID, {**variables, "reference": "OTHER"}, regulator)
    assert codes(conflict) == ["IDEMPOTENCY_CONFLICT"]
    assert await ManualPayout.get(id=payout.id) == row
    listed = data_of(
        await call(client, MANUAL_PAYOUTS, {"status": "PAID", "first": 100}, regulator)
    )
    assert payout_id in [edge["node"]["id"] for edge in listed["manualPayouts"]["edges"]]


async def test_two_regulators_marking_one_payout_at_once_pay_it_once(client, channel):
    _world, _consumer, _card, payout = await refused_refund(channel)
    regulators = [await make_user(Role.REGULATOR) for _ in range(3)]
    payout_id = encode_id("ManualPayout", payout.id)

    results = await asyncio.gather(
        *(
            call(client, MARK_PAID, {"id": payout_id, "reference": f"REF-{n}"}, regulator)
            for n, regulator in enumerate(regulators)
        )
    )

    assert sorted(tuple(codes(result)) for result in results) == [
        (),
        ("INVALID_STATE",),
        ("INVALID_STATE",),
    ]
    row = await ManualPayout.get(id=payout.id)
    assert row.status is PayoutStatus.PAID
    await assert_ledger_clean()


async def test_only_regulators_list_and_mark_payouts(client, channel):
    world, consumer, _card, payout = await refused_refund(channel)
    payout_id = encode_id("ManualPayout", payout.id)
    for who in (consumer, world.owner):
        assert error_at(await call(client, MANUAL_PAYOUTS, {}, who), "manualPayouts") == "FORBIDDEN"
        marked = await call(client, MARK_PAID, {"id": payout_id, "reference": "X"}, who)
        assert error_at(marked, "markPayoutPaid") == "FORBIDDEN"
    assert (await ManualPayout.get(id=payout.id)).status is PayoutStatus.DUE
    # The payee may look at its own payout; another consumer sees nothing
    own = data_of(await call(client, NODE, {"id": payout_id}, consumer))["node"]
    assert own == {"id": payout_id, "status": "DUE"}
    stranger = await make_user()
    assert data_of(await call(client, NODE, {"id": payout_id}, stranger))["node"] is None


async def test_a_blank_reference_or_an_unknown_payout_changes_nothing(client, channel):
    _world, _consumer, _card, payout = await refused_refund(channel)
    regulator = await make_user(Role.REGULATOR)
    payout_id = encode_id("ManualPayout", payout.id)

    blank = await call(client, MARK_PAID, {"id": payout_id, "reference": "  "}, regulator)
    unknown = await call(
        client, MARK_PAID, {"id": encode_id("ManualPayout", 10**9), "reference": "R"}, regulator
    )

    assert codes(blank) == ["BAD_USER_INPUT"] and codes(unknown) == ["NOT_FOUND"]
    assert (await ManualPayout.get(id=payout.id)).status is PayoutStatus.DUE
