"""Cards, the wallet, redemption codes, transactions and refund requests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth import scoping
from core import clock
from core.errors import Forbidden
from models import Card as CardRow
from models import Posting as PostingRow
from models import RefundRequest as RefundRequestRow
from models import Transfer as TransferRow
from models import User as UserRow
from models.enums import CardStatus as CardStatusValue
from schema.accounts import User, load_user
from schema.context import Info
from schema.enums import CardStatus, LedgerSide, RefundStatus, TransactionKind
from schema.ids import encode_id
from schema.merchants import load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.scalars import Money
from services.cards import is_expired
from services.pagination import page_request, slice_page

if TYPE_CHECKING:
    from schema.merchants import CardProduct, Merchant, Store


async def _card(info: Info, card_id: int) -> Card:
    row = await info.context.loaders.card.load(card_id)
    assert row is not None
    return Card.of(row)


@strawberry.type(description="A consumer's prepaid card with one merchant.")
class Card(Node):
    row: strawberry.Private[CardRow]

    @classmethod
    def of(cls, row: CardRow) -> Card:
        return cls(id=strawberry.ID(encode_id("Card", row.id)), row=row)

    @strawberry.field
    def card_number(self) -> str:
        return self.row.card_number

    @strawberry.field
    async def owner(self, info: Info) -> User:
        return await load_user(info, self.row.owner_id)

    @strawberry.field
    async def product(
        self, info: Info
    ) -> Annotated[CardProduct, strawberry.lazy("schema.merchants")]:
        from schema.merchants import CardProduct

        row = await info.context.loaders.card_product.load(self.row.product_id)
        assert row is not None
        return CardProduct.of(row)

    @strawberry.field
    async def merchant(
        self, info: Info
    ) -> Annotated[Merchant, strawberry.lazy("schema.merchants")]:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field(description="Remaining value at the merchant (face value units).")
    def balance(self) -> Money:
        return Money(self.row.balance_fen)

    @strawberry.field(
        description="Remaining prepaid cash behind the balance: what a full refund pays."
    )
    def cash_value(self) -> Money:
        return Money(self.row.cash_value_fen)

    @strawberry.field(
        description="EXPIRED as soon as the validity ends; FROZEN while a refund request waits."
    )
    def status(self) -> CardStatus:
        if self.row.status is CardStatusValue.ACTIVE and is_expired(self.row, clock.now()):
            return CardStatusValue.EXPIRED
        return self.row.status

    @strawberry.field
    def issued_at(self) -> dt.datetime:
        return self.row.issued_at

    @strawberry.field
    def expires_at(self) -> dt.datetime:
        return self.row.expires_at

    @strawberry.field(description="Until then an unused card is refunded in full on request.")
    def cooling_off_ends_at(self) -> dt.datetime:
        return self.row.cooling_off_ends_at

    @strawberry.field(description="Newest first.")
    async def transactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Transaction]:
        request = page_request(first, after)
        rows = await info.context.loaders.transactions_by_card.load(self.row.id)
        return to_connection(slice_page(rows, request), Transaction.of)


@strawberry.type(description="The consumer's card bag (卡包).")
class Wallet:
    owner_row: strawberry.Private[UserRow]
    # The owner's cards, newest first.
    card_rows: strawberry.Private[list[CardRow]]

    @strawberry.field
    def owner(self) -> User:
        return User.of(self.owner_row)

    @strawberry.field(description="Newest first.")
    def cards(
        self, status: CardStatus | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Card]:
        request = page_request(first, after)
        cards = [Card.of(row) for row in self.card_rows]
        if status is not None:
            cards = [card for card in cards if card.status() == status]
        return to_connection(slice_page(cards, request), lambda card: card)

    @strawberry.field(description="Balance left on all the owner's cards.")
    def total_balance(self) -> Money:
        return Money(sum(row.balance_fen for row in self.card_rows))

    @strawberry.field(description="Prepaid cash behind all the owner's cards.")
    def total_cash_value(self) -> Money:
        return Money(sum(row.cash_value_fen for row in self.card_rows))


@strawberry.type(description="A one-time code the consumer shows; the merchant redeems with it.")
class RedemptionCode:
    code: str
    card: Card
    expires_at: dt.datetime


@strawberry.type
class LedgerEntry:
    account: str = strawberry.field(
        description="e.g. escrow:merchant:42, merchant_settlement:42, consumer_funds."
    )
    side: LedgerSide
    amount: Money

    @classmethod
    def of(cls, row: PostingRow) -> LedgerEntry:
        return cls(account=row.account, side=row.side, amount=Money(row.amount_fen))


@strawberry.type
class Transaction(Node):
    row: strawberry.Private[TransferRow]

    @classmethod
    def of(cls, row: TransferRow) -> Transaction:
        return cls(id=strawberry.ID(encode_id("Transaction", row.id)), row=row)

    @strawberry.field
    def kind(self) -> TransactionKind:
        return TransactionKind(self.row.kind.value)

    @strawberry.field
    async def card(self, info: Info) -> Card:
        assert self.row.card_id is not None
        return await _card(info, self.row.card_id)

    @strawberry.field
    async def merchant(
        self, info: Info
    ) -> Annotated[Merchant, strawberry.lazy("schema.merchants")]:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field(description="The store where a redemption happened.")
    async def store(
        self, info: Info
    ) -> Annotated[Store, strawberry.lazy("schema.merchants")] | None:
        from schema.merchants import Store

        if self.row.store_id is None:
            return None
        row = await info.context.loaders.store.load(self.row.store_id)
        return Store.of(row) if row else None

    @strawberry.field(
        description="Change of card balance in face value (always positive; kind gives the direction)."
    )
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field(
        description="Change of the card's prepaid cash: paid in (PURCHASE, TOP_UP), released "
        "from custody to the merchant (REDEMPTION) or paid back (REFUND)."
    )
    def cash_amount(self) -> Money:
        return Money(self.row.cash_amount_fen)

    @strawberry.field
    def balance_after(self) -> Money:
        return Money(self.row.balance_after_fen)

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field(description="The balanced postings behind this transaction: regulators only.")
    async def ledger_entries(self, info: Info) -> list[LedgerEntry] | None:
        if not scoping.sees_ledger_entries(info.context.principal):
            raise Forbidden("Only regulators see ledger entries")
        rows = await info.context.loaders.postings_by_transfer.load(self.row.id)
        return [LedgerEntry.of(row) for row in rows]


@strawberry.input
class TransactionFilter:
    kind: TransactionKind | None = None
    merchant_id: strawberry.ID | None = None
    card_id: strawberry.ID | None = None
    store_id: strawberry.ID | None = None
    from_: dt.datetime | None = strawberry.field(default=None, name="from")
    to: dt.datetime | None = None


@strawberry.type
class CardOperationPayload:
    card: Card
    transaction: Transaction


@strawberry.type
class RefundRequest(Node):
    row: strawberry.Private[RefundRequestRow]

    @classmethod
    def of(cls, row: RefundRequestRow) -> RefundRequest:
        return cls(id=strawberry.ID(encode_id("RefundRequest", row.id)), row=row)

    @strawberry.field
    async def card(self, info: Info) -> Card:
        return await _card(info, self.row.card_id)

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def status(self) -> RefundStatus:
        return self.row.status

    @strawberry.field(description="Cash the refund pays (or would pay) back to the consumer.")
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field
    def requested_at(self) -> dt.datetime:
        return self.row.requested_at

    @strawberry.field
    def decided_at(self) -> dt.datetime | None:
        return self.row.decided_at

    @strawberry.field
    def decision_note(self) -> str | None:
        return self.row.decision_note

    @strawberry.field
    async def transaction(self, info: Info) -> Transaction | None:
        if self.row.transfer_id is None:
            return None
        row = await info.context.loaders.transfer.load(self.row.transfer_id)
        return Transaction.of(row) if row else None
