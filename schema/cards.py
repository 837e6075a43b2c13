"""The cards domain: cards, the wallet, redemption codes and transactions.

The root types in schema/root.py merge CardsQuery, CardsMutation and CardsSubscription
with the other domains'; each field declares who may call it (schema/permissions.py),
decodes its IDs and hands plain arguments to resolvers/cards.py, then wraps the rows.
A `Transaction` is a card transaction: the card's side of one ledger transfer
(services/card_transactions.py). Refund requests are schema/refunds.py's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import clock
from models import Card as CardRow
from models import Transfer as TransferRow
from models import User as UserRow
from models.enums import CardStatus as CardStatusValue
from models.enums import Role
from resolvers import cards
from schema.accounts import User, load_user
from schema.context import Info
from schema.enums import CardStatus, TransactionKind
from schema.ids import decode_id, encode_id
from schema.ledger import LedgerEntry
from schema.merchants import load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import allow, anyone
from schema.scalars import Money
from services.card_transactions import CardOperation
from services.cards import is_expired
from services.pagination import page_request, slice_page
from services.redemption import IssuedCode

if TYPE_CHECKING:
    from schema.merchants import CardProduct, Merchant, Store


async def load_card(info: Info, card_id: int) -> Card:
    """The card an object the caller could read belongs to (batched per request)."""
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
        transfers = await info.context.loaders.transactions_by_card.load(self.row.id)
        return to_connection(slice_page(transfers, request), Transaction.of)


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

    @classmethod
    def of(cls, issued: IssuedCode) -> RedemptionCode:
        return cls(code=issued.code, card=Card.of(issued.card), expires_at=issued.expires_at)


@strawberry.type
class Transaction(Node):
    """A card transaction, read off the ledger transfer behind it (same id)."""

    transfer: strawberry.Private[TransferRow]

    @classmethod
    def of(cls, transfer: TransferRow) -> Transaction:
        return cls(id=strawberry.ID(encode_id("Transaction", transfer.id)), transfer=transfer)

    @strawberry.field
    def kind(self) -> TransactionKind:
        return TransactionKind(self.transfer.kind.value)

    @strawberry.field
    async def card(self, info: Info) -> Card:
        assert self.transfer.card_id is not None
        return await load_card(info, self.transfer.card_id)

    @strawberry.field
    async def merchant(
        self, info: Info
    ) -> Annotated[Merchant, strawberry.lazy("schema.merchants")]:
        return await load_merchant(info, self.transfer.merchant_id)

    @strawberry.field(description="The store where a redemption happened.")
    async def store(
        self, info: Info
    ) -> Annotated[Store, strawberry.lazy("schema.merchants")] | None:
        from schema.merchants import Store

        if self.transfer.store_id is None:
            return None
        store = await info.context.loaders.store.load(self.transfer.store_id)
        return Store.of(store) if store else None

    @strawberry.field(
        description="Change of card balance in face value (always positive; kind gives the direction)."
    )
    def amount(self) -> Money:
        return Money(self.transfer.amount_fen)

    @strawberry.field(
        description="Change of the card's prepaid cash: paid in (PURCHASE, TOP_UP), released "
        "from custody to the merchant (REDEMPTION) or paid back (REFUND)."
    )
    def cash_amount(self) -> Money:
        return Money(self.transfer.cash_amount_fen)

    @strawberry.field
    def balance_after(self) -> Money:
        return Money(self.transfer.balance_after_fen)

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.transfer.created_at

    @strawberry.field(
        description="The balanced postings behind this transaction: regulators only.",
        extensions=[allow(Role.REGULATOR)],
    )
    async def ledger_entries(self, info: Info) -> list[LedgerEntry] | None:
        postings = await info.context.loaders.postings_by_transfer.load(self.transfer.id)
        return [LedgerEntry.of(posting) for posting in postings]


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

    @classmethod
    def of(cls, operation: CardOperation) -> CardOperationPayload:
        return cls(card=Card.of(operation.card), transaction=Transaction.of(operation.transfer))


@strawberry.type
class CardsQuery:
    @strawberry.field(description="The consumer's own card bag.", extensions=[allow(Role.CONSUMER)])
    async def wallet(self, info: Info) -> Wallet:
        owner, card_rows = await cards.wallet(info.context.principal)
        for row in card_rows:
            info.context.loaders.card.prime(row.id, row)
        return Wallet(owner_row=owner, card_rows=card_rows)

    @strawberry.field(extensions=[anyone()])
    async def card(self, info: Info, id: strawberry.ID) -> Card | None:
        row = await cards.card(info.context.principal, decode_id(id, "Card"))
        return Card.of(row) if row else None

    @strawberry.field(
        description="Scoped by role: a consumer's own cards, a merchant's own sales, "
        "everything for regulators.",
        extensions=[allow(Role.CONSUMER, Role.MERCHANT, Role.REGULATOR)],
    )
    async def transactions(
        self,
        info: Info,
        filter: TransactionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Transaction]:
        given = filter or TransactionFilter()
        page = await cards.transactions(
            info.context.principal,
            kind=given.kind,
            merchant_id=decode_id(given.merchant_id, "Merchant") if given.merchant_id else None,
            card_id=decode_id(given.card_id, "Card") if given.card_id else None,
            store_id=decode_id(given.store_id, "Store") if given.store_id else None,
            from_=given.from_,
            to=given.to,
            first=first,
            after=after,
        )
        return to_connection(page, Transaction.of)


@strawberry.type
class CardsMutation:
    @strawberry.mutation(
        description="Pays the product's price into custody and issues a card. "
        "Safe to retry with the same key.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def purchase_card(
        self, info: Info, product_id: strawberry.ID, idempotency_key: str
    ) -> CardOperationPayload:
        operation = await cards.purchase_card(
            info.context.principal, decode_id(product_id, "CardProduct"), idempotency_key
        )
        return CardOperationPayload.of(operation)

    @strawberry.mutation(
        description="Adds value at the card product's price-to-face ratio.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def top_up_card(
        self, info: Info, card_id: strawberry.ID, pay_amount: Money, idempotency_key: str
    ) -> CardOperationPayload:
        operation = await cards.top_up_card(
            info.context.principal, decode_id(card_id, "Card"), pay_amount, idempotency_key
        )
        return CardOperationPayload.of(operation)

    @strawberry.mutation(
        description="A single-use code for one card, valid for a few minutes; show it to the merchant.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def issue_redemption_code(self, info: Info, card_id: strawberry.ID) -> RedemptionCode:
        issued = await cards.issue_redemption_code(
            info.context.principal, decode_id(card_id, "Card")
        )
        return RedemptionCode.of(issued)

    @strawberry.mutation(
        description="Merchant staff redeem a consumer's one-time code at one of their stores.",
        extensions=[allow(Role.MERCHANT)],
    )
    async def redeem(
        self,
        info: Info,
        code: str,
        store_id: strawberry.ID,
        amount: Money,
        idempotency_key: str,
    ) -> CardOperationPayload:
        operation = await cards.redeem(
            info.context.principal, code, decode_id(store_id, "Store"), amount, idempotency_key
        )
        return CardOperationPayload.of(operation)


@strawberry.type
class CardsSubscription:
    @strawberry.subscription(
        description="Consumers: every transaction on their own cards as it happens.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def card_activity(self, info: Info) -> AsyncIterator[Transaction]:
        async for transfer in cards.card_activity(info.context.principal):
            # Fresh loaders per event: a cached card would show the balance of the last one.
            info.context.reset_loaders()
            yield Transaction.of(transfer)
