"""Complaints: filed by card holders, answered by the merchant, mediated and resolved by regulators.

Each test makes its own merchant, consumers and cards. The 72-hour sweep runs
over the whole database, so its test looks only at its own complaints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.principal import Principal
from models import Card, Complaint, ComplaintEvent, RefundRequest
from models.enums import CardStatus, ComplaintStatus, MerchantStatus, RefundStatus, Role
from schema.ids import decode_id, encode_id
from services import complaints as complaint_service
from services import supervision
from services.refunds import request_refund
from tests.support import (
    MerchantWorld,
    assert_ledger_clean,
    buy_card,
    codes,
    data_of,
    gql,
    make_merchant,
    make_staff,
    make_user,
    principal_of,
    redeem_fen,
    token_for,
)

COMPLAINT_FIELDS = """
    id
    status
    outcome
    resolution
    respondBy
    createdAt
    category
    description
    merchant { id }
    card { id status balance cashValue }
    events { at actorRole action message }
    refund { id status amount transaction { kind cashAmount } }
"""
FILE_COMPLAINT = f"""
mutation File($input: ComplaintInput!) {{ fileComplaint(input: $input) {{ {COMPLAINT_FIELDS} }} }}
"""
RESPOND = f"""
mutation Respond($id: ID!, $message: String!) {{
  respondToComplaint(complaintId: $id, message: $message) {{ {COMPLAINT_FIELDS} }}
}}
"""
ESCALATE = f"""
mutation Escalate($id: ID!, $message: String) {{
  escalateComplaint(complaintId: $id, message: $message) {{ {COMPLAINT_FIELDS} }}
}}
"""
WITHDRAW = f"""
mutation Withdraw($id: ID!) {{ withdrawComplaint(complaintId: $id) {{ {COMPLAINT_FIELDS} }} }}
"""
RESOLVE = f"""
mutation Resolve(
  $id: ID!, $outcome: ComplaintOutcome!, $resolution: String!, $refundCard: Boolean
) {{
  resolveComplaint(
    complaintId: $id, outcome: $outcome, resolution: $resolution, refundCard: $refundCard
  ) {{ {COMPLAINT_FIELDS} }}
}}
"""
COMPLAINT = (
    f"query Complaint($id: ID!) {{ node(id: $id) {{ ... on Complaint {{ {COMPLAINT_FIELDS} }} }} }}"
)


class Scene:
    """A merchant, a consumer holding one partly used card with it, and a regulator."""

    def __init__(self, world: MerchantWorld, consumer, card_id: int, regulator) -> None:
        self.world = world
        self.consumer = consumer
        self.card_id = card_id
        self.regulator = regulator

    @property
    def consumer_token(self) -> str:
        return token_for(self.consumer)

    @property
    def merchant_token(self) -> str:
        return self.world.token

    @property
    def regulator_token(self) -> str:
        return token_for(self.regulator)

    @property
    def merchant_id(self) -> str:
        return encode_id("Merchant", self.world.merchant.id)

    @property
    def card_gid(self) -> str:
        return encode_id("Card", self.card_id)


async def scene(*, used: bool = True) -> Scene:
    world = await make_merchant()
    consumer = await make_user(Role.CONSUMER)
    card = (await buy_card(consumer, world)).card
    if used:
        await redeem_fen(world, card.id, consumer, 10_000)
    return Scene(world, consumer, card.id, await make_user(Role.REGULATOR))


async def file(client, s: Scene, *, with_card: bool = True, token: str | None = None) -> dict:
    complaint_input: dict[str, Any] = {
        "merchantId": s.merchant_id,
        "category": "SERVICE_REFUSED",
        "description": "门店拒绝用卡消费",
    }
    if with_card:
        complaint_input["cardId"] = s.card_gid
    return await gql(client, FILE_COMPLAINT, {"input": complaint_input}, token or s.consumer_token)


async def filed(client, s: Scene, *, with_card: bool = True) -> dict[str, Any]:
    return data_of(await file(client, s, with_card=with_card))["fileComplaint"]


async def respond(client, s: Scene, complaint_id: str, token: str | None = None) -> dict:
    return await gql(
        client,
        RESPOND,
        {"id": complaint_id, "message": "已联系顾客，门店恢复服务"},
        token or s.merchant_token,
    )


async def resolve(
    client,
    s: Scene,
    complaint_id: str,
    outcome: str = "UPHELD",
    refund_card: bool | None = None,
    token: str | None = None,
) -> dict:
    return await gql(
        client,
        RESOLVE,
        {
            "id": complaint_id,
            "outcome": outcome,
            "resolution": "经调解，商家同意处理",
            "refundCard": refund_card,
        },
        token or s.regulator_token,
    )


async def status_of(complaint_id: str) -> ComplaintStatus:
    return (await Complaint.get(id=decode_id(complaint_id, "Complaint"))).status


def steps(complaint: dict[str, Any]) -> list[tuple[str, str]]:
    return [(event["actorRole"], event["action"]) for event in complaint["events"]]


# ---------------------------------------------------------------- filing


async def test_card_holder_files_a_complaint(client):
    # Given a consumer holding a card with a merchant
    s = await scene()

    # When the consumer complains, naming the card
    complaint = await filed(client, s)

    # Then the complaint is SUBMITTED with the merchant's 72-hour deadline and one event
    assert complaint["status"] == "SUBMITTED"
    assert complaint["merchant"] == {"id": s.merchant_id}
    assert complaint["card"]["id"] == s.card_gid
    assert complaint["category"] == "SERVICE_REFUSED"
    assert complaint["outcome"] is None
    row = await Complaint.get(id=decode_id(complaint["id"], "Complaint"))
    assert (row.respond_by - row.created_at).total_seconds() == 72 * 3600
    assert steps(complaint) == [("CONSUMER", "SUBMITTED")]
    assert complaint["events"][0]["message"] == "门店拒绝用卡消费"
    assert complaint["events"][0]["at"]


async def test_a_complaint_without_a_card_needs_a_card_with_the_merchant(client):
    # Given a card holder, and a consumer who never had a card with the merchant
    s = await scene()
    stranger = await make_user(Role.CONSUMER)

    # When each complains without naming a card
    holder = await file(client, s, with_card=False)
    outsider = await file(client, s, with_card=False, token=token_for(stranger))

    # Then the holder's complaint is taken and the stranger is forbidden
    assert data_of(holder)["fileComplaint"]["card"] is None
    assert codes(outsider) == ["FORBIDDEN"]
    assert not await Complaint.exists(complainant_id=stranger.id)


@pytest.mark.parametrize(
    "status",
    [
        MerchantStatus.PENDING_REVIEW,
        MerchantStatus.REJECTED,
        MerchantStatus.SUSPENDED,
        MerchantStatus.CLOSED,
    ],
)
async def test_a_merchant_hidden_from_consumers_is_not_found_without_a_card(client, status):
    # Given a merchant consumers cannot see, and a consumer without a card there
    hidden = await make_merchant(status=status)
    stranger = token_for(await make_user(Role.CONSUMER))

    # When the consumer complains about it
    result = await gql(
        client,
        FILE_COMPLAINT,
        {
            "input": {
                "merchantId": encode_id("Merchant", hidden.merchant.id),
                "category": "OTHER",
                "description": "听说这家不靠谱",
            }
        },
        stranger,
    )

    # Then it is not found: FORBIDDEN would tell the consumer that it exists
    assert codes(result) == ["NOT_FOUND"]
    assert not await Complaint.exists(merchant_id=hidden.merchant.id)


async def test_a_card_holder_complains_about_a_closed_merchant(client):
    # Given a consumer whose card was refunded when its merchant was closed
    s = await scene()
    await supervision.close_merchant(
        principal=Principal(user_id=s.regulator.id, role=Role.REGULATOR),
        merchant_id=s.world.merchant.id,
        reason="关闭",
    )

    # When the consumer complains, with or without naming the card
    with_card = await file(client, s)
    without = await file(client, s, with_card=False)

    # Then both are taken
    assert data_of(with_card)["fileComplaint"]["status"] == "SUBMITTED"
    assert data_of(without)["fileComplaint"]["status"] == "SUBMITTED"


async def test_a_consumer_who_held_a_card_may_complain(client):
    # Given a consumer whose only card with the merchant was refunded
    s = await scene(used=False)
    refund = await request_refund(
        principal=principal_of(s.consumer), card_id=s.card_id, reason="冷静期退款"
    )
    assert refund.status is RefundStatus.APPROVED

    # When the consumer complains about the merchant
    complaint = await filed(client, s)

    # Then the complaint is taken
    assert complaint["status"] == "SUBMITTED"
    assert complaint["card"]["status"] == "REFUNDED"


async def test_someone_elses_card_is_not_found(client):
    # Given two consumers with cards at one merchant, and a card at another merchant
    s = await scene()
    other = await make_user(Role.CONSUMER)
    await buy_card(other, s.world)
    elsewhere = await make_merchant()
    own_card_elsewhere = (await buy_card(s.consumer, elsewhere)).card

    for card_id in (
        encode_id("Card", (await Card.filter(owner_id=other.id).first()).id),  # type: ignore[union-attr]
        encode_id("Card", own_card_elsewhere.id),
    ):
        # When the first consumer complains naming a card not theirs or not the merchant's
        result = await gql(
            client,
            FILE_COMPLAINT,
            {
                "input": {
                    "merchantId": s.merchant_id,
                    "cardId": card_id,
                    "category": "QUALITY",
                    "description": "洗坏了衣服",
                }
            },
            s.consumer_token,
        )

        # Then the card is not found and nothing is filed
        assert codes(result) == ["NOT_FOUND"]
    assert not await Complaint.exists(complainant_id=s.consumer.id)


async def test_only_consumers_file_complaints(client):
    # Given a merchant, its owner and a regulator
    s = await scene()

    # When the merchant, a regulator or an anonymous user files a complaint
    by_merchant = await file(client, s, token=s.merchant_token)
    by_regulator = await file(client, s, token=s.regulator_token)
    anonymous = await gql(
        client,
        FILE_COMPLAINT,
        {"input": {"merchantId": s.merchant_id, "category": "OTHER", "description": "匿名"}},
    )

    # Then they are refused
    assert codes(by_merchant) == ["FORBIDDEN"]
    assert codes(by_regulator) == ["FORBIDDEN"]
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert not await Complaint.exists(merchant_id=s.world.merchant.id)


@pytest.mark.parametrize("description", ["", "   ", "长" * 2001])
async def test_a_complaint_needs_a_description(client, description):
    # Given a card holder
    s = await scene()

    # When the consumer files a complaint without a usable description
    result = await gql(
        client,
        FILE_COMPLAINT,
        {"input": {"merchantId": s.merchant_id, "category": "OTHER", "description": description}},
        s.consumer_token,
    )

    # Then it is bad input
    assert codes(result) == ["BAD_USER_INPUT"]
    assert not await Complaint.exists(complainant_id=s.consumer.id)


# ---------------------------------------------------------------- responding


async def test_merchant_responds_once(client):
    # Given a submitted complaint
    s = await scene()
    complaint = await filed(client, s)

    # When the merchant responds
    answered = data_of(await respond(client, s, complaint["id"]))["respondToComplaint"]

    # Then it is MERCHANT_RESPONDED with the merchant's event
    assert answered["status"] == "MERCHANT_RESPONDED"
    assert steps(answered) == [("CONSUMER", "SUBMITTED"), ("MERCHANT", "RESPONDED")]
    assert answered["events"][1]["message"] == "已联系顾客，门店恢复服务"

    # And a second response is an invalid state
    again = await respond(client, s, complaint["id"])
    assert codes(again) == ["INVALID_STATE"]
    assert (
        len(await ComplaintEvent.filter(complaint_id=decode_id(complaint["id"], "Complaint"))) == 2
    )


async def test_merchant_staff_may_respond(client):
    # Given a submitted complaint and a staff member of the merchant
    s = await scene()
    complaint = await filed(client, s)
    staff = await make_staff(s.world, s.world.stores[0])

    # When the staff member responds
    answered = await respond(client, s, complaint["id"], token=token_for(staff))

    # Then the response is recorded as the merchant's
    assert data_of(answered)["respondToComplaint"]["status"] == "MERCHANT_RESPONDED"


async def test_only_the_merchant_responds(client):
    # Given a submitted complaint
    s = await scene()
    complaint = await filed(client, s)
    other_merchant = await make_merchant()

    # When another merchant, the consumer, a regulator or nobody responds
    results = {
        "other merchant": await respond(client, s, complaint["id"], token=other_merchant.token),
        "consumer": await respond(client, s, complaint["id"], token=s.consumer_token),
        "regulator": await respond(client, s, complaint["id"], token=s.regulator_token),
    }
    anonymous = await gql(client, RESPOND, {"id": complaint["id"], "message": "匿名回复"})

    # Then another merchant does not find it and the others are forbidden
    assert codes(results["other merchant"]) == ["NOT_FOUND"]
    assert codes(results["consumer"]) == ["FORBIDDEN"]
    assert codes(results["regulator"]) == ["FORBIDDEN"]
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert await status_of(complaint["id"]) is ComplaintStatus.SUBMITTED


# ---------------------------------------------------------------- escalating and withdrawing


@pytest.mark.parametrize("answered", [False, True], ids=["submitted", "answered"])
async def test_complainant_escalates_to_mediation(client, answered):
    # Given a complaint, answered or not
    s = await scene()
    complaint = await filed(client, s)
    if answered:
        data_of(await respond(client, s, complaint["id"]))

    # When the complainant escalates it
    result = await gql(
        client, ESCALATE, {"id": complaint["id"], "message": "回复不满意"}, s.consumer_token
    )

    # Then it is UNDER_MEDIATION with the consumer's event
    escalated = data_of(result)["escalateComplaint"]
    assert escalated["status"] == "UNDER_MEDIATION"
    assert steps(escalated)[-1] == ("CONSUMER", "ESCALATED")
    assert escalated["events"][-1]["message"] == "回复不满意"

    # And escalating again is an invalid state
    again = await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token)
    assert codes(again) == ["INVALID_STATE"]


@pytest.mark.parametrize("document", [ESCALATE, WITHDRAW], ids=["escalate", "withdraw"])
async def test_only_the_complainant_escalates_or_withdraws(client, document):
    # Given a submitted complaint
    s = await scene()
    complaint = await filed(client, s)
    other_consumer = token_for(await make_user(Role.CONSUMER))

    # When another consumer, the merchant, a regulator or nobody tries
    variables = {"id": complaint["id"]}
    by_other = await gql(client, document, variables, other_consumer)
    by_merchant = await gql(client, document, variables, s.merchant_token)
    by_regulator = await gql(client, document, variables, s.regulator_token)
    anonymous = await gql(client, document, variables)

    # Then another consumer does not find it, the others are refused, and it stays SUBMITTED
    assert codes(by_other) == ["NOT_FOUND"]
    assert codes(by_merchant) == ["FORBIDDEN"]
    assert codes(by_regulator) == ["FORBIDDEN"]
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert await status_of(complaint["id"]) is ComplaintStatus.SUBMITTED


@pytest.mark.parametrize("before", ["submitted", "answered", "mediated"])
async def test_complainant_withdraws_an_open_complaint(client, before):
    # Given an open complaint
    s = await scene()
    complaint = await filed(client, s)
    if before == "answered":
        data_of(await respond(client, s, complaint["id"]))
    if before == "mediated":
        data_of(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token))

    # When the complainant withdraws it
    result = await gql(client, WITHDRAW, {"id": complaint["id"]}, s.consumer_token)

    # Then it is WITHDRAWN
    withdrawn = data_of(result)["withdrawComplaint"]
    assert withdrawn["status"] == "WITHDRAWN"
    assert steps(withdrawn)[-1] == ("CONSUMER", "WITHDRAWN")

    # And nothing more can happen to it
    assert codes(await gql(client, WITHDRAW, {"id": complaint["id"]}, s.consumer_token)) == [
        "INVALID_STATE"
    ]
    assert codes(await respond(client, s, complaint["id"])) == ["INVALID_STATE"]
    assert codes(await resolve(client, s, complaint["id"])) == ["INVALID_STATE"]


# ---------------------------------------------------------------- resolving


async def test_a_submitted_complaint_cannot_be_resolved_yet(client):
    # Given a complaint nobody answered or escalated
    s = await scene()
    complaint = await filed(client, s)

    # When a regulator resolves it
    result = await resolve(client, s, complaint["id"], "DISMISSED")

    # Then it is an invalid state
    assert codes(result) == ["INVALID_STATE"]
    assert await status_of(complaint["id"]) is ComplaintStatus.SUBMITTED


REFUSALS = [
    pytest.param(
        "submitted",
        "dismiss",
        "A complaint still awaiting the merchant's answer cannot be dismissed yet; "
        "it must be answered or escalate first",
        id="dismiss-submitted",
    ),
    pytest.param(
        "submitted",
        "uphold",
        "A complaint still awaiting the merchant's answer cannot be upheld yet; "
        "it must be answered or escalate first",
        id="uphold-submitted",
    ),
    pytest.param(
        "answered", "answer", "An answered complaint cannot be answered again", id="answer-twice"
    ),
    pytest.param(
        "mediated", "answer", "A complaint under mediation cannot be answered", id="answer-mediated"
    ),
    pytest.param(
        "mediated",
        "escalate",
        "A complaint under mediation cannot be escalated again",
        id="escalate-twice",
    ),
    pytest.param(
        "withdrawn",
        "escalate",
        "A withdrawn complaint cannot be escalated any more",
        id="escalate-withdrawn",
    ),
    pytest.param(
        "dismissed",
        "partly uphold",
        "A rejected complaint cannot be partly upheld any more",
        id="uphold-dismissed",
    ),
]


@pytest.mark.parametrize(("before", "attempt", "message"), REFUSALS)
async def test_a_refused_step_names_what_was_tried_in_plain_words(client, before, attempt, message):
    # Given a complaint in some state
    s = await scene()
    complaint = await filed(client, s)
    complaint_id = complaint["id"]
    if before in ("answered", "dismissed"):
        data_of(await respond(client, s, complaint_id))
    if before == "mediated":
        data_of(await gql(client, ESCALATE, {"id": complaint_id}, s.consumer_token))
    if before == "withdrawn":
        data_of(await gql(client, WITHDRAW, {"id": complaint_id}, s.consumer_token))
    if before == "dismissed":
        data_of(await resolve(client, s, complaint_id, "DISMISSED"))

    # When someone tries a step the state does not allow
    if attempt == "answer":
        result = await respond(client, s, complaint_id)
    elif attempt == "escalate":
        result = await gql(client, ESCALATE, {"id": complaint_id}, s.consumer_token)
    else:
        outcome = {"dismiss": "DISMISSED", "uphold": "UPHELD", "partly uphold": "PARTIALLY_UPHELD"}
        result = await resolve(client, s, complaint_id, outcome[attempt])

    # Then the message says what was tried and the state in words, no enum value
    assert codes(result) == ["INVALID_STATE"]
    assert result["errors"][0]["message"] == message


async def test_only_regulators_resolve(client):
    # Given an answered complaint
    s = await scene()
    complaint = await filed(client, s)
    data_of(await respond(client, s, complaint["id"]))

    # When the complainant, the merchant or nobody resolves it
    by_consumer = await resolve(client, s, complaint["id"], token=s.consumer_token)
    by_merchant = await resolve(client, s, complaint["id"], token=s.merchant_token)
    anonymous = await gql(
        client,
        RESOLVE,
        {"id": complaint["id"], "outcome": "UPHELD", "resolution": "匿名裁决"},
    )

    # Then they are refused and the complaint stays answered
    assert codes(by_consumer) == ["FORBIDDEN"]
    assert codes(by_merchant) == ["FORBIDDEN"]
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert await status_of(complaint["id"]) is ComplaintStatus.MERCHANT_RESPONDED


@pytest.mark.parametrize("before", ["answered", "mediated"])
async def test_dismissed_complaint_is_rejected(client, before):
    # Given an answered or mediated complaint
    s = await scene()
    complaint = await filed(client, s)
    if before == "answered":
        data_of(await respond(client, s, complaint["id"]))
    else:
        data_of(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token))

    # When a regulator dismisses it
    resolved = data_of(await resolve(client, s, complaint["id"], "DISMISSED"))["resolveComplaint"]

    # Then it is REJECTED with the outcome, the ruling and the regulator's event
    assert resolved["status"] == "REJECTED"
    assert resolved["outcome"] == "DISMISSED"
    assert resolved["resolution"] == "经调解，商家同意处理"
    assert steps(resolved)[-1] == ("REGULATOR", "RESOLVED")
    assert resolved["refund"] is None
    assert (await Card.get(id=s.card_id)).status is CardStatus.ACTIVE


@pytest.mark.parametrize("outcome", ["UPHELD", "PARTIALLY_UPHELD"])
async def test_upheld_without_refund_resolves(client, outcome):
    # Given a mediated complaint
    s = await scene()
    complaint = await filed(client, s)
    data_of(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token))

    # When a regulator upholds it without ordering a refund
    resolved = data_of(await resolve(client, s, complaint["id"], outcome))["resolveComplaint"]

    # Then it is RESOLVED and the card is untouched
    assert (resolved["status"], resolved["outcome"], resolved["refund"]) == (
        "RESOLVED",
        outcome,
        None,
    )
    assert (await Card.get(id=s.card_id)).status is CardStatus.ACTIVE

    # And resolving it again is an invalid state
    assert codes(await resolve(client, s, complaint["id"], "DISMISSED")) == ["INVALID_STATE"]
    assert codes(await gql(client, WITHDRAW, {"id": complaint["id"]}, s.consumer_token)) == [
        "INVALID_STATE"
    ]
    assert codes(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token)) == [
        "INVALID_STATE"
    ]


async def test_upheld_with_refund_refunds_the_card_through_the_ledger(client):
    # Given an answered complaint about a partly used card
    s = await scene()
    card_before = await Card.get(id=s.card_id)
    assert card_before.cash_value_fen == 63_000
    complaint = await filed(client, s)
    data_of(await respond(client, s, complaint["id"]))

    # When a regulator upholds it and orders the card refunded
    resolved = data_of(await resolve(client, s, complaint["id"], "UPHELD", refund_card=True))[
        "resolveComplaint"
    ]

    # Then the complaint is RESOLVED and links an approved refund of the whole cash value
    assert resolved["status"] == "RESOLVED"
    assert resolved["outcome"] == "UPHELD"
    assert resolved["refund"]["status"] == "APPROVED"
    assert resolved["refund"]["amount"] == "630.00"
    assert resolved["refund"]["transaction"] == {"kind": "REFUND", "cashAmount": "630.00"}
    # And the card is refunded with nothing left
    assert resolved["card"] == {
        "id": s.card_gid,
        "status": "REFUNDED",
        "balance": "0.00",
        "cashValue": "0.00",
    }
    # And the consumer sees the refund on the complaint too
    seen = data_of(await gql(client, COMPLAINT, {"id": complaint["id"]}, s.consumer_token))
    assert seen["node"]["refund"]["id"] == resolved["refund"]["id"]
    # And the ledger is clean
    await assert_ledger_clean()


async def test_upheld_refund_settles_a_pending_refund_request(client):
    # Given a pending refund request for the card in a mediated complaint
    s = await scene()
    pending = await request_refund(
        principal=principal_of(s.consumer), card_id=s.card_id, reason="拒绝服务"
    )
    assert pending.status is RefundStatus.PENDING
    complaint = await filed(client, s)
    data_of(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token))

    # When a regulator upholds the complaint with a refund
    resolved = data_of(await resolve(client, s, complaint["id"], "UPHELD", refund_card=True))[
        "resolveComplaint"
    ]

    # Then that pending request is the one approved, and no second request is made
    assert resolved["refund"]["id"] == encode_id("RefundRequest", pending.id)
    assert resolved["refund"]["status"] == "APPROVED"
    assert await RefundRequest.filter(card_id=s.card_id).count() == 1
    await assert_ledger_clean()


@pytest.mark.parametrize("outcome", ["PARTIALLY_UPHELD", "DISMISSED"])
async def test_only_an_upheld_complaint_orders_a_refund(client, outcome):
    # Given an answered complaint
    s = await scene()
    complaint = await filed(client, s)
    data_of(await respond(client, s, complaint["id"]))

    # When a regulator orders a refund with another outcome
    result = await resolve(client, s, complaint["id"], outcome, refund_card=True)

    # Then it is bad input and nothing changed
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await status_of(complaint["id"]) is ComplaintStatus.MERCHANT_RESPONDED
    assert (await Card.get(id=s.card_id)).status is CardStatus.ACTIVE


async def test_a_refund_needs_a_card_named_in_the_complaint(client):
    # Given an answered complaint that names no card
    s = await scene()
    complaint = await filed(client, s, with_card=False)
    data_of(await respond(client, s, complaint["id"]))

    # When a regulator upholds it with a refund
    result = await resolve(client, s, complaint["id"], "UPHELD", refund_card=True)

    # Then it is bad input
    assert codes(result) == ["BAD_USER_INPUT"]
    assert await status_of(complaint["id"]) is ComplaintStatus.MERCHANT_RESPONDED


async def test_refunding_an_already_refunded_card_changes_nothing(client):
    # Given a mediated complaint whose card was refunded meanwhile
    s = await scene(used=False)
    complaint = await filed(client, s)
    data_of(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token))
    await request_refund(principal=principal_of(s.consumer), card_id=s.card_id, reason="冷静期退款")

    # When a regulator upholds it with a refund
    result = await resolve(client, s, complaint["id"], "UPHELD", refund_card=True)

    # Then it is an invalid state and the complaint is still under mediation
    assert codes(result) == ["INVALID_STATE"]
    assert await status_of(complaint["id"]) is ComplaintStatus.UNDER_MEDIATION
    await assert_ledger_clean()


async def test_full_story_records_every_step(client):
    # Given a complaint that is answered, escalated and resolved with a refund
    s = await scene()
    complaint = await filed(client, s)
    data_of(await respond(client, s, complaint["id"]))
    data_of(await gql(client, ESCALATE, {"id": complaint["id"]}, s.consumer_token))
    data_of(await resolve(client, s, complaint["id"], "UPHELD", refund_card=True))

    # When the merchant reads it
    seen = data_of(await gql(client, COMPLAINT, {"id": complaint["id"]}, s.merchant_token))["node"]

    # Then every step is there, oldest first, with its role and time
    assert steps(seen) == [
        ("CONSUMER", "SUBMITTED"),
        ("MERCHANT", "RESPONDED"),
        ("CONSUMER", "ESCALATED"),
        ("REGULATOR", "RESOLVED"),
    ]
    times = [event["at"] for event in seen["events"]]
    assert all(times)
    assert seen["events"][-1]["message"].startswith("UPHELD")


# ---------------------------------------------------------------- the 72-hour sweep


async def test_unanswered_complaint_escalates_after_72_hours(client, frozen_clock):
    # Given a complaint nobody answers and one the merchant answers
    s = await scene()
    unanswered = await filed(client, s)
    answered = await filed(client, s, with_card=False)
    frozen_clock.advance(hours=1)
    data_of(await respond(client, s, answered["id"]))

    # When 71 hours have passed and the sweep runs
    frozen_clock.advance(hours=70)
    await complaint_service.sweep_unanswered()

    # Then nothing moved yet
    assert await status_of(unanswered["id"]) is ComplaintStatus.SUBMITTED

    # When 73 hours have passed and the sweep runs
    frozen_clock.advance(hours=2)
    escalated = await complaint_service.sweep_unanswered()

    # Then the unanswered complaint is under mediation, escalated by the platform (SYSTEM)
    assert escalated >= 1
    assert await status_of(unanswered["id"]) is ComplaintStatus.UNDER_MEDIATION
    seen = data_of(await gql(client, COMPLAINT, {"id": unanswered["id"]}, s.consumer_token))
    assert steps(seen["node"]) == [("CONSUMER", "SUBMITTED"), ("SYSTEM", "AUTO_ESCALATED")]
    # And the answered one is left alone
    assert await status_of(answered["id"]) is ComplaintStatus.MERCHANT_RESPONDED
    # And a second sweep escalates it no further
    await complaint_service.sweep_unanswered()
    events = await ComplaintEvent.filter(complaint_id=decode_id(unanswered["id"], "Complaint"))
    assert [event.action for event in events].count("AUTO_ESCALATED") == 1
    # And a regulator can now resolve it
    resolved = await resolve(client, s, unanswered["id"], "DISMISSED")
    assert data_of(resolved)["resolveComplaint"]["status"] == "REJECTED"


async def test_withdrawn_complaint_is_not_swept(client, frozen_clock):
    # Given a complaint withdrawn before its deadline
    s = await scene()
    complaint = await filed(client, s)
    data_of(await gql(client, WITHDRAW, {"id": complaint["id"]}, s.consumer_token))

    # When the deadline passes and the sweep runs
    frozen_clock.advance(hours=100)
    await complaint_service.sweep_unanswered()

    # Then it stays withdrawn
    assert await status_of(complaint["id"]) is ComplaintStatus.WITHDRAWN


def test_cli_sweep_runs_against_a_fresh_database(tmp_path):
    # Given a fresh SQLite database migrated by the CLI
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env["DATABASE_URL"] = f"sqlite://{tmp_path / 'x.sqlite3'}"
    env.pop("CACHE_URL", None)
    anfu = str(Path(sys.executable).parent / "anfu")
    migrated = subprocess.run(
        [anfu, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr

    # When the sweep command runs
    swept = subprocess.run(
        [anfu, "complaints", "sweep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it reports that nothing was escalated
    assert swept.returncode == 0, swept.stderr
    assert "0 complaint(s) escalated" in swept.stdout
