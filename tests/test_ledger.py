"""The custody ledger: balanced transfers only, append-only postings, custody ratios, and a
verification that finds every broken invariant.

Checks that corrupt the database do so inside a transaction that is rolled back, so the shared
test database stays clean for every other test.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import Card, LedgerAccount, Merchant, Posting, Transfer
from models.enums import CardStatus, CreditGrade, LedgerSide, Role, TransferKind
from schema.ids import encode_id
from services import cards, ledger
from services.ledger import (
    UnbalancedTransfer,
    credit,
    debit,
    record_transfer,
    verify_ledger,
)
from tests.support import (
    assert_ledger_clean,
    buy_card,
    call,
    codes,
    data_of,
    error_at,
    make_merchant,
    make_user,
    principal_of,
    redeem_fen,
)

SET_CUSTODY_RATIO = """
mutation SetCustodyRatio($merchantId: ID!, $ratio: Float!, $reason: String!) {
  setCustodyRatio(merchantId: $merchantId, ratio: $ratio, reason: $reason) {
    merchant { id }
    custodyRatio held released outstandingLiability coverageRatio
  }
}
"""

MERCHANT_ESCROW = """
query MerchantEscrow($id: ID!) {
  merchant(id: $id) { escrow { custodyRatio held released outstandingLiability } }
}
"""

CARD_TRANSACTIONS = """
query CardTransactions($id: ID!) {
  card(id: $id) {
    balance cashValue
    transactions {
      edges { node { id kind amount cashAmount balanceAfter ledgerEntries { account side amount } } }
    }
  }
}
"""

TRANSACTION_ENTRIES = """
query TransactionEntries($id: ID!) {
  node(id: $id) { ... on Transaction { kind ledgerEntries { account side amount } } }
}
"""


class Rollback(Exception):
    """Raised to undo a deliberately corrupted database."""


async def problems_after(corrupt: Callable[[], Awaitable[None]]) -> list[str]:
    """What verify_ledger reports after `corrupt` ran, undone afterwards."""
    found: list[str] = []
    with pytest.raises(Rollback):
        async with in_transaction():
            await corrupt()
            found.extend((await verify_ledger()).problems)
            raise Rollback
    return found


def entries(payload: dict) -> list[tuple[str, str, str]]:
    return sorted((e["account"], e["side"], e["amount"]) for e in payload["ledgerEntries"])


# ---------------------------------------------------------------- writing transfers


@pytest.mark.parametrize(
    "legs",
    [
        [debit("consumer_funds", 100), credit("escrow:merchant:1", 99)],
        [debit("consumer_funds", 100)],
        [],
        [debit("consumer_funds", -100), credit("escrow:merchant:1", -100)],
        [debit("consumer_funds", 0), credit("escrow:merchant:1", 0)],
    ],
)
async def test_an_unbalanced_transfer_never_reaches_the_database(database, legs):
    world = await make_merchant()
    before = await Transfer.filter(merchant_id=world.merchant.id).count()

    with pytest.raises(UnbalancedTransfer):
        async with in_transaction():
            await record_transfer(
                kind=TransferKind.CUSTODY_ADJUSTMENT, merchant_id=world.merchant.id, legs=legs
            )

    assert await Transfer.filter(merchant_id=world.merchant.id).count() == before
    await assert_ledger_clean()


async def test_every_card_operation_is_one_balanced_transfer(client):
    # Given a 700/1000 card at custody 0.8, used for 100.00 and topped up with 70.00
    world = await make_merchant(custody_ratio_bp=8_000)
    consumer = await make_user()
    regulator = await make_user(Role.REGULATOR)
    card_id = (await buy_card(consumer, world)).card.id
    await redeem_fen(world, card_id, consumer, 10_000)
    await cards.top_up(
        principal=principal_of(consumer),
        card_id=card_id,
        pay_fen=7_000,
        idempotency_key=uuid.uuid4().hex,
    )

    # When a regulator reads the card's transactions with their postings
    card = data_of(
        await call(client, CARD_TRANSACTIONS, {"id": encode_id("Card", card_id)}, regulator)
    )["card"]

    # Then each is balanced, on the three kinds of account, as DESIGN.md says
    escrow, settlement = (
        ledger.escrow_account(world.merchant.id),
        ledger.settlement_account(world.merchant.id),
    )
    top_up, redemption, purchase = (edge["node"] for edge in card["transactions"]["edges"])
    assert purchase["kind"] == "PURCHASE"
    assert entries(purchase) == [
        ("consumer_funds", "DEBIT", "700.00"),
        (escrow, "CREDIT", "560.00"),
        (settlement, "CREDIT", "140.00"),
    ]
    # 630.00 left: ceil(0.8 * 630) = 504.00 held, 56.00 released from custody
    assert redemption["kind"] == "REDEMPTION"
    assert (redemption["cashAmount"], redemption["balanceAfter"]) == ("70.00", "900.00")
    assert entries(redemption) == [(escrow, "DEBIT", "56.00"), (settlement, "CREDIT", "56.00")]
    # 700.00 of cash: 560.00 held (56.00 more), 14.00 released at once
    assert top_up["kind"] == "TOP_UP"
    assert (top_up["amount"], top_up["balanceAfter"]) == ("100.00", "1000.00")
    assert entries(top_up) == [
        ("consumer_funds", "DEBIT", "70.00"),
        (escrow, "CREDIT", "56.00"),
        (settlement, "CREDIT", "14.00"),
    ]
    assert (card["balance"], card["cashValue"]) == ("1000.00", "700.00")
    await assert_ledger_clean()


async def test_postings_are_never_changed_by_later_operations(client):
    world = await make_merchant(custody_ratio_bp=5_000)
    consumer = await make_user()
    regulator = await make_user(Role.REGULATOR)
    card_id = (await buy_card(consumer, world)).card.id
    snapshot = await Posting.filter(transfer__merchant_id=world.merchant.id).order_by("id").values()

    await redeem_fen(world, card_id, consumer, 25_000)
    data_of(
        await call(
            client,
            SET_CUSTODY_RATIO,
            {"merchantId": encode_id("Merchant", world.merchant.id), "ratio": 0.9, "reason": "r"},
            regulator,
        )
    )
    from services.refunds import request_refund

    await request_refund(principal=principal_of(consumer), card_id=card_id, reason="r")

    after = await Posting.filter(transfer__merchant_id=world.merchant.id).order_by("id").values()
    assert after[: len(snapshot)] == snapshot
    assert len(after) > len(snapshot)
    await assert_ledger_clean()


async def test_ledger_entries_are_for_regulators_only(client):
    world = await make_merchant()
    consumer = await make_user()
    operation = await buy_card(consumer, world)
    transaction_id = encode_id("Transaction", operation.transfer.id)

    for viewer in (consumer, world.owner):
        result = await call(client, TRANSACTION_ENTRIES, {"id": transaction_id}, viewer)
        assert error_at(result, "node", "ledgerEntries") == "FORBIDDEN"
        assert result["data"]["node"]["kind"] == "PURCHASE"


# ---------------------------------------------------------------- custody ratio


async def test_a_regulator_lowers_and_raises_the_custody_ratio(client):
    # Given a merchant at full custody with two cards (700.00 and 630.01 of cash)
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    consumer = await make_user()
    first = (await buy_card(consumer, world)).card.id
    second = (await buy_card(consumer, world)).card.id
    await redeem_fen(world, second, consumer, 9_999)  # ceil(700 * 900.01 / 1000) = 630.01
    variables = {"merchantId": encode_id("Merchant", world.merchant.id), "reason": "信用良好"}

    # When a regulator sets the ratio to 0.45
    lowered = data_of(
        await call(client, SET_CUSTODY_RATIO, {**variables, "ratio": 0.45}, regulator)
    )

    # Then each card keeps ceil(0.45 * cash) (315.00 + ceil(283.5045) = 283.51) and the rest
    # of the 1400.00 paid is with the merchant (69.99 released by the redemption, 731.50 now)
    assert lowered["setCustodyRatio"] == {
        "merchant": {"id": encode_id("Merchant", world.merchant.id)},
        "custodyRatio": 0.45,
        "held": "598.51",
        "released": "801.49",
        "outstandingLiability": "1330.01",
        "coverageRatio": round(59_851 / 133_001, 4),
    }
    assert (await Card.get(id=first)).escrow_held_fen == 31_500
    assert (await Card.get(id=second)).escrow_held_fen == 28_351
    await assert_ledger_clean()

    # And a card bought afterwards is kept at the new ratio
    third = (await buy_card(consumer, world)).card
    assert (third.custody_ratio_bp, third.escrow_held_fen) == (4_500, 31_500)

    # When it goes back to 1.0, everything returns to custody
    raised = data_of(await call(client, SET_CUSTODY_RATIO, {**variables, "ratio": 1.0}, regulator))
    assert raised["setCustodyRatio"]["held"] == "2030.01"
    assert raised["setCustodyRatio"]["released"] == "69.99"
    assert raised["setCustodyRatio"]["coverageRatio"] == 1.0
    adjustments = await Transfer.filter(
        merchant_id=world.merchant.id, kind=TransferKind.CUSTODY_ADJUSTMENT
    ).count()
    assert adjustments == 2
    await assert_ledger_clean()


async def test_only_regulators_set_the_custody_ratio(client):
    world = await make_merchant()
    await buy_card(await make_user(), world)
    variables = {
        "merchantId": encode_id("Merchant", world.merchant.id),
        "ratio": 0.5,
        "reason": "x",
    }

    assert codes(await call(client, SET_CUSTODY_RATIO, variables, world.owner)) == ["FORBIDDEN"]
    assert codes(await call(client, SET_CUSTODY_RATIO, variables, await make_user())) == [
        "FORBIDDEN"
    ]
    assert codes(await call(client, SET_CUSTODY_RATIO, variables)) == ["UNAUTHENTICATED"]
    assert (await Merchant.get(id=world.merchant.id)).custody_ratio_bp == 10_000


@pytest.mark.parametrize("ratio", [0.39, 1.01, 0.0, -1.0, 0.12345, 0.55555])
async def test_a_custody_ratio_is_between_0_4_and_1(client, ratio):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    variables = {
        "merchantId": encode_id("Merchant", world.merchant.id),
        "ratio": ratio,
        "reason": "x",
    }

    assert codes(await call(client, SET_CUSTODY_RATIO, variables, regulator)) == ["BAD_USER_INPUT"]


async def test_the_custody_ratio_bounds_are_allowed(client):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    await buy_card(await make_user(), world)
    variables = {"merchantId": encode_id("Merchant", world.merchant.id), "reason": "x"}

    for ratio, held in ((0.4, "280.00"), (1.0, "700.00")):
        payload = data_of(
            await call(client, SET_CUSTODY_RATIO, {**variables, "ratio": ratio}, regulator)
        )["setCustodyRatio"]
        assert (payload["custodyRatio"], payload["held"]) == (ratio, held)
    await assert_ledger_clean()


async def test_grade_d_keeps_full_custody(client):
    world = await make_merchant()
    regulator = await make_user(Role.REGULATOR)
    await Merchant.filter(id=world.merchant.id).update(credit_grade=CreditGrade.D)
    variables = {"merchantId": encode_id("Merchant", world.merchant.id), "reason": "x"}

    assert codes(await call(client, SET_CUSTODY_RATIO, {**variables, "ratio": 0.9}, regulator)) == [
        "INVALID_STATE"
    ]
    data_of(await call(client, SET_CUSTODY_RATIO, {**variables, "ratio": 1.0}, regulator))


# ---------------------------------------------------------------- verification


async def test_verification_finds_an_unbalanced_transfer(database):
    world = await make_merchant()

    async def corrupt() -> None:
        transfer = await Transfer.create(
            kind=TransferKind.CUSTODY_ADJUSTMENT, merchant_id=world.merchant.id
        )
        await Posting.create(
            transfer_id=transfer.id, account="consumer_funds", side=LedgerSide.DEBIT, amount_fen=5
        )
        await Posting.create(
            transfer_id=transfer.id,
            account=ledger.escrow_account(world.merchant.id),
            side=LedgerSide.CREDIT,
            amount_fen=4,
        )
        corrupt.transfer_id = transfer.id  # type: ignore[attr-defined]

    problems = await problems_after(corrupt)

    transfer_id = corrupt.transfer_id  # type: ignore[attr-defined]
    assert f"transfer {transfer_id}: debits 5 fen != credits 4 fen" in problems
    escrow = ledger.escrow_account(world.merchant.id)
    assert any(problem.startswith(f"account {escrow}:") for problem in problems)
    assert "the ledger sums to -1 fen, not zero" in problems
    await assert_ledger_clean()


async def test_verification_finds_a_transfer_with_one_posting(database):
    world = await make_merchant()

    async def corrupt() -> None:
        transfer = await Transfer.create(kind=TransferKind.PURCHASE, merchant_id=world.merchant.id)
        await Posting.create(
            transfer_id=transfer.id, account="consumer_funds", side=LedgerSide.DEBIT, amount_fen=5
        )
        corrupt.transfer_id = transfer.id  # type: ignore[attr-defined]

    problems = await problems_after(corrupt)

    transfer_id = corrupt.transfer_id  # type: ignore[attr-defined]
    assert f"transfer {transfer_id}: 1 posting(s), needs two or more" in problems


async def test_verification_finds_a_money_transfer_without_postings(database):
    world = await make_merchant()

    async def corrupt() -> None:
        transfer = await Transfer.create(kind=TransferKind.TOP_UP, merchant_id=world.merchant.id)
        corrupt.transfer_id = transfer.id  # type: ignore[attr-defined]

    problems = await problems_after(corrupt)

    assert f"transfer {corrupt.transfer_id}: 0 posting(s), needs two or more" in problems  # type: ignore[attr-defined]


async def test_verification_finds_a_card_changed_outside_the_ledger(database):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id

    async def corrupt() -> None:
        await Card.filter(id=card_id).update(balance_fen=F("balance_fen") + 100)

    problems = await problems_after(corrupt)

    assert problems == [
        f"card {card_id}: holds 100100/70000 fen, its transactions end at 100000/70000"
    ]


async def test_verification_finds_custody_that_does_not_match_the_cards(database):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id

    async def shrink_card_share() -> None:
        await Card.filter(id=card_id).update(escrow_held_fen=69_999)

    problems = await problems_after(shrink_card_share)
    assert f"card {card_id}: custody share 69999 fen, expected 70000 fen" in problems
    assert (
        f"merchant {world.merchant.id}: custody account holds 70000 fen, its live cards 69999 fen"
        in problems
    )

    async def grow_account() -> None:
        await LedgerAccount.filter(name=ledger.escrow_account(world.merchant.id)).update(
            credits_fen=F("credits_fen") + 1
        )

    problems = await problems_after(grow_account)
    assert any(
        p.startswith(f"account {ledger.escrow_account(world.merchant.id)}") for p in problems
    )
    assert (
        f"merchant {world.merchant.id}: custody account holds 70001 fen, its live cards 70000 fen"
        in problems
    )


async def test_verification_finds_money_on_a_refunded_card_and_a_wrong_history(database):
    world = await make_merchant()
    consumer = await make_user()
    card_id = (await buy_card(consumer, world)).card.id

    async def refunded_with_money() -> None:
        await Card.filter(id=card_id).update(status=CardStatus.REFUNDED)

    problems = await problems_after(refunded_with_money)
    assert f"card {card_id}: REFUNDED but money is left on it" in problems

    async def record_too_much() -> None:
        await Transfer.filter(card_id=card_id).update(balance_after_fen=99_999)

    problems = await problems_after(record_too_much)
    assert any(p.startswith("transfer ") and f"card {card_id} replays to" in p for p in problems)
