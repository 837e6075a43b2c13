"""A model-based test of the money core: random operations through the GraphQL API against a
simple reference model of every card and every custody account.

Hypothesis drives purchases, top-ups, redemptions (code issued by the consumer, redeemed by the
merchant; a code replaced by a newer one no longer works), refund requests (a waiting one
freezes the card) and decisions (by the owner, a regulator, another merchant or store-bound
staff), custody ratio changes, merchant suspensions, the passing of time, replayed idempotency
keys and bad inputs. After every step every visible
balance (each card's balance, cash value and status in the consumers' wallets; each merchant's
custody account as its owner sees it) is compared with the model, each card's custody share in
the database too, and the whole ledger is verified.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core import clock
from models import Card, Transfer, User
from models.enums import Role
from schema.ids import encode_id
from services.ledger import verify_ledger
from services.money import format_money
from tests.support import (
    MerchantWorld,
    codes,
    data_of,
    gql,
    make_merchant,
    make_staff,
    make_user,
    token_for,
)

CARD_CAP = 500_000
MERCHANT_CAP = 2_000_000
COOLING_OFF = dt.timedelta(days=7)

OPERATION_FIELDS = """
  card { id balance cashValue status }
  transaction { id kind amount cashAmount balanceAfter }
"""

PURCHASE_CARD = f"""
mutation PurchaseCard($productId: ID!, $key: String!) {{
  purchaseCard(productId: $productId, idempotencyKey: $key) {{ {OPERATION_FIELDS} }}
}}
"""

TOP_UP_CARD = f"""
mutation TopUpCard($cardId: ID!, $pay: Money!, $key: String!) {{
  topUpCard(cardId: $cardId, payAmount: $pay, idempotencyKey: $key) {{ {OPERATION_FIELDS} }}
}}
"""

ISSUE_REDEMPTION_CODE = """
mutation IssueRedemptionCode($cardId: ID!) { issueRedemptionCode(cardId: $cardId) { code } }
"""

REDEEM = f"""
mutation Redeem($code: String!, $storeId: ID!, $amount: Money!, $key: String!) {{
  redeem(code: $code, storeId: $storeId, amount: $amount, idempotencyKey: $key) {{
    {OPERATION_FIELDS}
  }}
}}
"""

REQUEST_REFUND = """
mutation RequestRefund($cardId: ID!, $reason: String!) {
  requestRefund(cardId: $cardId, reason: $reason) {
    id status amount card { id balance cashValue status } transaction { kind cashAmount }
  }
}
"""

DECIDE_REFUND = """
mutation DecideRefund($refundId: ID!, $approve: Boolean!) {
  decideRefund(refundId: $refundId, approve: $approve) {
    id status amount card { id balance cashValue status } transaction { kind cashAmount }
  }
}
"""

SUSPEND_MERCHANT = """
mutation SuspendMerchant($merchantId: ID!, $reason: String!) {
  suspendMerchant(merchantId: $merchantId, reason: $reason) { status }
}
"""

REINSTATE_MERCHANT = """
mutation ReinstateMerchant($merchantId: ID!, $reason: String!) {
  reinstateMerchant(merchantId: $merchantId, reason: $reason) { status }
}
"""

SET_CUSTODY_RATIO = """
mutation SetCustodyRatio($merchantId: ID!, $ratio: Float!, $reason: String!) {
  setCustodyRatio(merchantId: $merchantId, ratio: $ratio, reason: $reason) {
    custodyRatio held released outstandingLiability
  }
}
"""

WALLET = """
query Wallet {
  wallet {
    totalBalance totalCashValue
    cards(first: 100) { totalCount edges { node { id balance cashValue status } } }
  }
}
"""

MERCHANT_ESCROW = """
query MerchantEscrow($id: ID!) {
  merchant(id: $id) { escrow { custodyRatio held released outstandingLiability } }
}
"""

# The reference arithmetic, written independently of services/custody.py (DESIGN.md "Money").


def cash_value_after_redemption(balance: int, cash: int, redeemed: int) -> int:
    """ceil(cash * (balance - r) / balance); the whole balance leaves nothing."""
    return math.ceil(Fraction(cash * (balance - redeemed), balance))


def custody_share(ratio_bp: int, cash: int) -> int:
    return math.ceil(Fraction(ratio_bp, 10_000) * cash)


def face_value_for_payment(pay: int, price: int, face: int) -> int:
    return math.floor(Fraction(pay) * Fraction(face, price))


SHRINKLESS = (Phase.explicit, Phase.reuse, Phase.generate)

BAD_MONEY = ["0.00", "5", "5.0", "5.000", "+1.00", "-1.00", "1e3", "", " 1.00", "1,00", 12.5, 100]


@dataclass
class MerchantModel:
    world: MerchantWorld
    price: int
    face: int
    validity: dt.timedelta
    ratio_bp: int
    settlement: int = 0
    suspended: bool = False

    @property
    def gid(self) -> str:
        return encode_id("Merchant", self.world.merchant.id)


@dataclass
class CardModel:
    gid: str
    pk: int
    owner: int
    merchant: int
    balance: int
    cash: int
    share: int
    issued_at: dt.datetime
    redeemed: bool = False
    refunded: bool = False
    pending_refund: str | None = None


@dataclass
class Done:
    """A successful money mutation, to be replayed."""

    query: str
    variables: dict[str, Any]
    user: User
    transaction: dict[str, Any]
    merchant: int
    conflicting: dict[str, Any] = field(default_factory=dict)


class MoneyModel(RuleBasedStateMachine):
    loop: ClassVar[asyncio.AbstractEventLoop]
    client: ClassVar[httpx.AsyncClient]
    clock: ClassVar[Any]

    # ------------------------------------------------------------ plumbing

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def api(self, query: str, variables: dict[str, Any], user: User | None) -> dict[str, Any]:
        token = token_for(user) if user is not None else None
        return self.run(gql(self.client, query, variables, token=token))

    def expect_error(self, result: dict[str, Any], allowed: set[str]) -> None:
        found = codes(result)
        assert len(found) == 1 and found[0] in allowed, (found, allowed, result)
        assert result["data"] is None

    def transfers(self) -> int:
        ids = [merchant.world.merchant.id for merchant in self.merchants]
        return self.run(Transfer.filter(merchant_id__in=ids).count())

    def live(self, card: CardModel) -> bool:
        return not card.refunded

    def status(self, card: CardModel) -> str:
        if card.refunded:
            return "REFUNDED"
        if card.pending_refund:
            return "FROZEN"
        return "EXPIRED" if self.expired(card) else "ACTIVE"

    def expired(self, card: CardModel) -> bool:
        return card.issued_at + self.merchants[card.merchant].validity <= clock.now()

    def choose(self, pick: int) -> CardModel:
        """Mostly a live card (refunded ones only say INVALID_STATE or CARD_NOT_ACTIVE)."""
        live = [card for card in self.cards if self.live(card)]
        pool = live if live and pick % 4 else self.cards
        return pool[pick // 4 % len(pool)]

    def held_with(self, owner: int, merchant: int) -> int:
        return sum(
            card.cash
            for card in self.cards
            if card.owner == owner and card.merchant == merchant and self.live(card)
        )

    def recustody(self, card: CardModel) -> None:
        """Give a live card its share at its merchant's ratio; the difference is settled."""
        merchant = self.merchants[card.merchant]
        share = custody_share(merchant.ratio_bp, card.cash)
        merchant.settlement -= share - card.share
        card.share = share

    def check_operation(self, payload: dict[str, Any], card: CardModel) -> None:
        assert payload["card"]["id"] == card.gid
        assert payload["card"]["balance"] == format_money(card.balance)
        assert payload["card"]["cashValue"] == format_money(card.cash)
        assert payload["transaction"]["balanceAfter"] == format_money(card.balance)

    # ------------------------------------------------------------ the world

    @initialize()
    def build_world(self) -> None:
        self.merchants: list[MerchantModel] = []
        self.cards: list[CardModel] = []
        self.done: list[Done] = []
        self.decided: list[str] = []
        # A laundry chain (700 for 1000, full custody, valid a year) and a gym selling big
        # cards (4,000 for 4,500 at 60 % custody, valid 30 days) that reach the caps fast.
        worlds = ((70_000, 100_000, 10_000, 365), (400_000, 450_000, 6_000, 30))
        for price, face, ratio_bp, days in worlds:
            world = self.run(
                make_merchant(
                    price_fen=price, face_fen=face, custody_ratio_bp=ratio_bp, validity_days=days
                )
            )
            self.merchants.append(
                MerchantModel(world, price, face, dt.timedelta(days=days), ratio_bp)
            )
        # Staff bound to one store redeem there but decide no refunds.
        self.store_staff = [
            self.run(make_staff(model.world, model.world.stores[1])) for model in self.merchants
        ]
        self.consumers: list[User] = [self.run(make_user()) for _ in range(2)]
        self.regulator: User = self.run(make_user(Role.REGULATOR))
        # Each consumer starts with a laundry card, so every rule has something to work on;
        # the first one is used at once (its refund will wait for a decision). The second
        # consumer also holds 12,000.00 of gym cards: two more fit under the 20,000.00 cap.
        for consumer in range(len(self.consumers)):
            self.purchase(consumer, 0)
        self.redeem(pick=0, how="some", some=9_999, store=0)
        for _ in range(3):
            self.purchase(1, 1)

    # ------------------------------------------------------------ purchase and top-up

    @rule(consumer=st.integers(0, 1), merchant=st.integers(0, 1))
    def purchase(self, consumer: int, merchant: int) -> None:
        model = self.merchants[merchant]
        allowed: set[str] = set()
        if model.suspended:
            allowed.add("MERCHANT_NOT_ACTIVE")
        if (
            model.price > CARD_CAP
            or self.held_with(consumer, merchant) + model.price > MERCHANT_CAP
        ):
            allowed.add("LIMIT_EXCEEDED")
        variables = {
            "productId": encode_id("CardProduct", model.world.product.id),
            "key": uuid.uuid4().hex,
        }

        result = self.api(PURCHASE_CARD, variables, self.consumers[consumer])

        if allowed:
            self.expect_error(result, allowed)
            return
        payload = data_of(result)["purchaseCard"]
        share = custody_share(model.ratio_bp, model.price)
        card = CardModel(
            gid=payload["card"]["id"],
            pk=int(
                self.run(
                    Card.filter(owner_id=self.consumers[consumer].id).order_by("-id").first()
                ).id
            ),
            owner=consumer,
            merchant=merchant,
            balance=model.face,
            cash=model.price,
            share=share,
            issued_at=clock.now(),
        )
        assert encode_id("Card", card.pk) == card.gid
        self.cards.append(card)
        model.settlement += model.price - share
        self.check_operation(payload, card)
        assert payload["transaction"]["kind"] == "PURCHASE"
        assert payload["transaction"]["cashAmount"] == format_money(model.price)
        other = self.merchants[1 - merchant].world.product.id
        self.done.append(
            Done(
                PURCHASE_CARD,
                variables,
                self.consumers[consumer],
                payload["transaction"],
                merchant,
                conflicting={"productId": encode_id("CardProduct", other)},
            )
        )

    @precondition(lambda self: self.cards)
    @rule(
        pick=st.integers(0, 10**6),
        pay=st.sampled_from([1, 3, 7, 12_345, 35_000, 100_000, 499_999]),
    )
    def top_up(self, pick: int, pay: int) -> None:
        card = self.choose(pick)
        model = self.merchants[card.merchant]
        allowed: set[str] = set()
        if model.suspended:
            allowed.add("MERCHANT_NOT_ACTIVE")
        if card.refunded or card.pending_refund or self.expired(card):
            allowed.add("CARD_NOT_ACTIVE")
        if card.cash + pay > CARD_CAP or (
            self.held_with(card.owner, card.merchant) + pay > MERCHANT_CAP
        ):
            allowed.add("LIMIT_EXCEEDED")
        variables = {"cardId": card.gid, "pay": format_money(pay), "key": uuid.uuid4().hex}

        result = self.api(TOP_UP_CARD, variables, self.consumers[card.owner])

        if allowed:
            self.expect_error(result, allowed)
            return
        payload = data_of(result)["topUpCard"]
        added = face_value_for_payment(pay, model.price, model.face)
        card.balance += added
        card.cash += pay
        model.settlement += pay
        self.recustody(card)
        self.check_operation(payload, card)
        assert payload["transaction"]["kind"] == "TOP_UP"
        assert payload["transaction"]["amount"] == format_money(added)
        self.done.append(
            Done(
                TOP_UP_CARD,
                variables,
                self.consumers[card.owner],
                payload["transaction"],
                card.merchant,
                conflicting={"pay": format_money(pay + 1)},
            )
        )

    # ------------------------------------------------------------ redemption

    @precondition(lambda self: self.cards)
    @rule(
        pick=st.integers(0, 10**6),
        how=st.sampled_from(["fen", "third", "all", "over", "some", "replaced code"]),
        some=st.integers(1, 10**6),
        store=st.integers(0, 1),
    )
    def redeem(self, pick: int, how: str, some: int, store: int) -> None:
        card = self.choose(pick)
        model = self.merchants[card.merchant]
        owner = self.consumers[card.owner]

        issued = self.api(ISSUE_REDEMPTION_CODE, {"cardId": card.gid}, owner)

        if self.status(card) != "ACTIVE" or card.balance == 0:
            allowed = {"INSUFFICIENT_BALANCE"} if card.balance == 0 else set()
            if self.status(card) != "ACTIVE":
                allowed.add("CARD_NOT_ACTIVE")
            self.expect_error(issued, allowed)
            return
        code = data_of(issued)["issueRedemptionCode"]["code"]
        if how == "replaced code":
            # A newer code voids this one: one live code per card.
            data_of(self.api(ISSUE_REDEMPTION_CODE, {"cardId": card.gid}, owner))
        amount = {
            "fen": 1,
            "third": max(1, card.balance // 3),
            "all": card.balance,
            "over": card.balance + 1,
            "some": 1 + some % card.balance,
            "replaced code": 1,
        }[how]
        variables = {
            "code": code,
            "storeId": encode_id("Store", model.world.stores[store].id),
            "amount": format_money(amount),
            "key": uuid.uuid4().hex,
        }

        result = self.api(REDEEM, variables, model.world.owner)

        if how == "replaced code":
            self.expect_error(result, {"REDEMPTION_CODE_INVALID"})
            return
        if amount > card.balance:
            self.expect_error(result, {"INSUFFICIENT_BALANCE"})
            return
        payload = data_of(result)["redeem"]
        cash = cash_value_after_redemption(card.balance, card.cash, amount)
        released = card.cash - cash
        card.balance -= amount
        card.cash = cash
        card.redeemed = True
        self.recustody(card)
        self.check_operation(payload, card)
        assert payload["transaction"]["kind"] == "REDEMPTION"
        assert payload["transaction"]["amount"] == format_money(amount)
        assert payload["transaction"]["cashAmount"] == format_money(released)
        self.done.append(
            Done(
                REDEEM,
                variables,
                model.world.owner,
                payload["transaction"],
                card.merchant,
                conflicting={"amount": format_money(amount + 1)},
            )
        )

    # ------------------------------------------------------------ refunds

    def refund_card(self, card: CardModel) -> None:
        merchant = self.merchants[card.merchant]
        merchant.settlement -= card.cash - card.share
        card.balance = card.cash = card.share = 0
        card.refunded = True
        card.pending_refund = None

    def check_refunded(self, payload: dict[str, Any], card: CardModel, amount: int) -> None:
        assert payload["status"] == "APPROVED"
        assert payload["amount"] == format_money(amount)
        assert payload["transaction"] == {"kind": "REFUND", "cashAmount": format_money(amount)}
        assert payload["card"] == {
            "id": card.gid,
            "balance": "0.00",
            "cashValue": "0.00",
            "status": "REFUNDED",
        }

    @precondition(lambda self: self.cards)
    @rule(pick=st.integers(0, 10**6))
    def request_refund(self, pick: int) -> None:
        card = self.choose(pick)
        model = self.merchants[card.merchant]

        result = self.api(
            REQUEST_REFUND, {"cardId": card.gid, "reason": "不想用了"}, self.consumers[card.owner]
        )

        at_once = (
            model.suspended
            or self.expired(card)
            or (clock.now() < card.issued_at + COOLING_OFF and not card.redeemed)
        )
        if card.refunded or card.cash == 0 or (card.pending_refund and not at_once):
            self.expect_error(result, {"INVALID_STATE"})
            return
        payload = data_of(result)["requestRefund"]
        if at_once:
            # A request still waiting since before the suspension or expiry is the one settled.
            assert payload["id"] == (card.pending_refund or payload["id"])
            amount = card.cash
            self.refund_card(card)
            self.check_refunded(payload, card, amount)
            self.decided.append(payload["id"])
        else:
            assert payload["status"] == "PENDING"
            assert payload["amount"] == format_money(card.cash)
            assert payload["transaction"] is None
            assert payload["card"]["status"] == "FROZEN"
            card.pending_refund = payload["id"]

    @precondition(lambda self: any(card.pending_refund for card in self.cards))
    @rule(
        pick=st.integers(0, 10**6),
        approve=st.booleans(),
        who=st.sampled_from(["merchant", "regulator", "other merchant", "store staff"]),
    )
    def decide_refund(self, pick: int, approve: bool, who: str) -> None:
        pending = [card for card in self.cards if card.pending_refund]
        card = pending[pick % len(pending)]
        refund_id = card.pending_refund
        assert refund_id is not None
        decider = {
            "merchant": self.merchants[card.merchant].world.owner,
            "regulator": self.regulator,
            "other merchant": self.merchants[1 - card.merchant].world.owner,
            "store staff": self.store_staff[card.merchant],
        }[who]

        result = self.api(DECIDE_REFUND, {"refundId": refund_id, "approve": approve}, decider)

        if who == "other merchant":
            self.expect_error(result, {"NOT_FOUND"})
            return
        if who == "store staff":
            self.expect_error(result, {"FORBIDDEN"})
            return
        payload = data_of(result)["decideRefund"]
        if approve:
            # The card was frozen since the request: what it asked for is what is paid.
            assert payload["amount"] == format_money(card.cash)
            amount = card.cash
            self.refund_card(card)
            self.check_refunded(payload, card, amount)
        else:
            assert payload["status"] == "REJECTED"
            assert payload["transaction"] is None
            card.pending_refund = None
            assert payload["card"]["status"] == self.status(card)
        self.decided.append(refund_id)

    @precondition(lambda self: self.decided)
    @rule(pick=st.integers(0, 10**6), approve=st.booleans())
    def decide_again(self, pick: int, approve: bool) -> None:
        refund_id = self.decided[pick % len(self.decided)]
        result = self.api(
            DECIDE_REFUND, {"refundId": refund_id, "approve": approve}, self.regulator
        )
        self.expect_error(result, {"INVALID_STATE"})

    # ------------------------------------------------------------ regulators and time

    @rule(
        what=st.sampled_from(["custody", "custody", "suspension", "time"]),
        merchant=st.integers(0, 1),
        ratio=st.sampled_from([0.4, 0.45, 0.6, 0.8, 0.9999, 1.0]),
        days=st.sampled_from([1, 8, 31]),
    )
    def world_changes(self, what: str, merchant: int, ratio: float, days: int) -> None:
        """A regulator sets a custody ratio or suspends / reinstates a merchant; or time passes.

        (One rule, so that these happen less often than the consumers' and merchants' steps.)
        """
        model = self.merchants[merchant]
        if what == "custody":
            variables = {"merchantId": model.gid, "ratio": ratio, "reason": "调整存管比例"}
            result = self.api(SET_CUSTODY_RATIO, variables, self.regulator)
            model.ratio_bp = round(ratio * 10_000)
            for card in self.cards:
                if card.merchant == merchant and self.live(card):
                    self.recustody(card)
            live = [card for card in self.cards if card.merchant == merchant and self.live(card)]
            assert data_of(result)["setCustodyRatio"] == {
                "custodyRatio": ratio,
                "held": format_money(sum(card.share for card in live)),
                "released": format_money(model.settlement),
                "outstandingLiability": format_money(sum(card.cash for card in live)),
            }
        elif what == "suspension":
            model.suspended = not model.suspended
            query = SUSPEND_MERCHANT if model.suspended else REINSTATE_MERCHANT
            result = self.api(query, {"merchantId": model.gid, "reason": "检查"}, self.regulator)
            (payload,) = data_of(result).values()
            assert payload["status"] == ("SUSPENDED" if model.suspended else "ACTIVE")
        else:
            self.clock.advance(days=days)

    # ------------------------------------------------------------ replays and bad input

    @precondition(lambda self: self.done)
    @rule(pick=st.integers(0, 10**6), conflict=st.booleans())
    def replay(self, pick: int, conflict: bool) -> None:
        done = self.done[pick % len(self.done)]
        before = self.transfers()
        variables = {**done.variables, **done.conflicting} if conflict else done.variables

        result = self.api(done.query, variables, done.user)

        if conflict:
            self.expect_error(result, {"IDEMPOTENCY_CONFLICT"})
        else:
            (payload,) = data_of(result).values()
            assert payload["transaction"] == done.transaction
        assert self.transfers() == before

    @precondition(lambda self: self.cards)
    @rule(
        pick=st.integers(0, 10**6),
        what=st.sampled_from(["top-up", "redeem", "key", "ratio"]),
        money=st.sampled_from(BAD_MONEY),
    )
    def bad_input(self, pick: int, what: str, money: Any) -> None:
        card = self.choose(pick)
        model = self.merchants[card.merchant]
        before = self.transfers()
        if what == "top-up":
            variables = {"cardId": card.gid, "pay": money, "key": uuid.uuid4().hex}
            result = self.api(TOP_UP_CARD, variables, self.consumers[card.owner])
        elif what == "redeem":
            variables = {
                "code": "0" * 18,
                "storeId": encode_id("Store", model.world.stores[0].id),
                "amount": money,
                "key": uuid.uuid4().hex,
            }
            result = self.api(REDEEM, variables, model.world.owner)
        elif what == "key":
            variables = {
                "productId": encode_id("CardProduct", model.world.product.id),
                "key": "" if pick % 2 else "k" * 256,
            }
            result = self.api(PURCHASE_CARD, variables, self.consumers[card.owner])
        else:
            variables = {"merchantId": model.gid, "ratio": 0.39, "reason": "太低"}
            result = self.api(SET_CUSTODY_RATIO, variables, self.regulator)
        self.expect_error(result, {"BAD_USER_INPUT"})
        assert self.transfers() == before

    # ------------------------------------------------------------ what must always hold

    @invariant()
    def balances_match_the_model(self) -> None:
        for index, consumer in enumerate(self.consumers):
            wallet = data_of(self.api(WALLET, {}, consumer))["wallet"]
            seen = {edge["node"]["id"]: edge["node"] for edge in wallet["cards"]["edges"]}
            mine = [card for card in self.cards if card.owner == index]
            assert wallet["cards"]["totalCount"] == len(mine)
            for card in mine:
                assert seen[card.gid] == {
                    "id": card.gid,
                    "balance": format_money(card.balance),
                    "cashValue": format_money(card.cash),
                    "status": self.status(card),
                }
            assert wallet["totalBalance"] == format_money(sum(card.balance for card in mine))
            assert wallet["totalCashValue"] == format_money(sum(card.cash for card in mine))
        for index, model in enumerate(self.merchants):
            result = self.api(MERCHANT_ESCROW, {"id": model.gid}, model.world.owner)
            escrow = data_of(result)["merchant"]["escrow"]
            live = [card for card in self.cards if card.merchant == index and self.live(card)]
            assert escrow == {
                "custodyRatio": model.ratio_bp / 10_000,
                "held": format_money(sum(card.share for card in live)),
                "released": format_money(model.settlement),
                "outstandingLiability": format_money(sum(card.cash for card in live)),
            }
        shares = dict(
            self.run(
                Card.filter(id__in=[card.pk for card in self.cards]).values_list(
                    "id", "escrow_held_fen"
                )
            )
        )
        assert shares == {card.pk: card.share for card in self.cards}
        assert self.run(verify_ledger()).problems == []


def test_the_money_core_matches_its_model(loop, client, frozen_clock):
    MoneyModel.loop = loop
    MoneyModel.client = client
    MoneyModel.clock = frozen_clock
    run_state_machine_as_test(
        MoneyModel,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            # Shrinking a failing run can take Hypothesis its full five minutes; CI reports the
            # run as found (reproducible from the printed blob) and stays inside its budget.
            phases=SHRINKLESS if os.environ.get("CI") else tuple(Phase),
            print_blob=True,
        ),
    )
