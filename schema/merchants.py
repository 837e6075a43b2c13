"""The merchants domain: categories, merchants, their stores and card products, and the root
fields that read them (its mutations are in schema/merchant_mutations.py).

The root types in schema/root.py merge MerchantsQuery with the other domains'; each field
declares who may call it (schema/permissions.py), decodes global IDs and hands plain
arguments to resolvers/merchants.py.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth import scoping
from core.errors import Forbidden, NotFound
from models import CardProduct as CardProductRow
from models import Category as CategoryRow
from models import Merchant as MerchantRow
from models import Store as StoreRow
from models.enums import CardProductStatus as CardProductStatusValue
from models.enums import StoreStatus as StoreStatusValue
from resolvers import merchants
from schema.context import Info
from schema.enums import (
    CardProductStatus,
    CreditGrade,
    MerchantStatus,
    RiskLevel,
    StoreStatus,
)
from schema.ids import decode_id, encode_id
from schema.ledger import EscrowAccount
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.permissions import anyone
from schema.scalars import Money
from services.pagination import page_request, slice_page

if TYPE_CHECKING:
    from schema.credit import CreditScore


def require_internals(info: Info, merchant_id: int, what: str) -> None:
    """FORBIDDEN at this field unless the caller is the merchant or a regulator."""
    if not scoping.sees_merchant_internals(info.context.principal, merchant_id):
        raise Forbidden(f"Only the merchant itself and regulators see its {what}")


async def load_merchant(info: Info, merchant_id: int) -> Merchant:
    """The merchant an object the caller could read belongs to (batched per request)."""
    row = await info.context.loaders.merchant.load(merchant_id)
    assert row is not None
    return Merchant.of(row)


@strawberry.type
class Category:
    row: strawberry.Private[CategoryRow]

    @strawberry.field(description="Stable code, e.g. HOTEL_DINING, RETAIL, LAUNDRY.")
    def code(self) -> strawberry.ID:
        return strawberry.ID(self.row.code)

    @strawberry.field(description="Display name, e.g. 酒店餐饮.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="ACTIVE merchants in the category.")
    async def merchant_count(self, info: Info) -> int:
        return await info.context.loaders.active_merchant_count_by_category.load(self.row.code)


@strawberry.type
class CreditRating:
    grade: CreditGrade
    score: int


@strawberry.type
class Merchant(Node):
    row: strawberry.Private[MerchantRow]

    @classmethod
    def of(cls, row: MerchantRow) -> Merchant:
        return cls(id=strawberry.ID(encode_id("Merchant", row.id)), row=row)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(
        description="Unified social credit code (统一社会信用代码), 18 characters with check digit."
    )
    def credit_code(self) -> str:
        return self.row.credit_code

    @strawberry.field
    def legal_representative(self) -> str:
        return self.row.legal_representative

    @strawberry.field
    async def category(self, info: Info) -> Category:
        row = await info.context.loaders.category.load(self.row.category_id)
        assert row is not None
        return Category(row=row)

    @strawberry.field
    def status(self) -> MerchantStatus:
        return self.row.status

    @strawberry.field(
        description="True when the application matched the market-regulation registry."
    )
    def registry_verified(self) -> bool:
        return self.row.registry_verified

    @strawberry.field(
        description="Why the registry check failed or what differed; empty when verified."
    )
    def registry_findings(self) -> list[str]:
        return list(self.row.registry_findings or [])

    @strawberry.field
    async def stores(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Store]:
        request = page_request(first, after)
        rows = await info.context.loaders.stores_by_merchant.load(self.row.id)
        return to_connection(slice_page(rows, request), Store.of)

    @strawberry.field(
        description="The merchant's card products. Anonymous users and consumers see those on "
        "sale (ACTIVE); the merchant itself and regulators see all."
    )
    async def card_products(
        self,
        info: Info,
        status: CardProductStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CardProduct]:
        request = page_request(first, after)
        rows = await info.context.loaders.card_products_by_merchant.load(self.row.id)
        if not scoping.sees_merchant_internals(info.context.principal, self.row.id):
            rows = [row for row in rows if row.status is CardProductStatusValue.ACTIVE]
        if status is not None:
            rows = [row for row in rows if row.status == status]
        return to_connection(slice_page(rows, request), CardProduct.of)

    @strawberry.field(description="Public summary of the latest credit score.")
    def credit_rating(self) -> CreditRating | None:
        if self.row.credit_grade is None or self.row.credit_score is None:
            return None
        return CreditRating(grade=self.row.credit_grade, score=self.row.credit_score)

    @strawberry.field(
        description="Full latest score with factors: the merchant itself and regulators only."
    )
    async def credit_score(
        self, info: Info
    ) -> Annotated[CreditScore, strawberry.lazy("schema.credit")] | None:
        from schema.credit import CreditScore

        require_internals(info, self.row.id, "credit score")
        history = await info.context.loaders.credit_scores_by_merchant.load(self.row.id)
        return CreditScore(row=history[0], merchant_row=self.row) if history else None

    @strawberry.field(
        description="Every credit score, newest first: the merchant itself and regulators only."
    )
    async def credit_history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[CreditScore, strawberry.lazy("schema.credit")]] | None:
        from schema.credit import CreditScore

        require_internals(info, self.row.id, "credit history")
        request = page_request(first, after)
        history = await info.context.loaders.credit_scores_by_merchant.load(self.row.id)
        return to_connection(
            slice_page(history, request), lambda row: CreditScore(row=row, merchant_row=self.row)
        )

    @strawberry.field(description="The merchant itself and regulators only.")
    async def risk_level(self, info: Info) -> RiskLevel | None:
        # The highest severity among open (OPEN or ACKNOWLEDGED) alerts, LOW when none.
        require_internals(info, self.row.id, "risk level")
        return await info.context.loaders.risk_level_by_merchant.load(self.row.id)

    @strawberry.field(description="The merchant itself and regulators only.")
    def escrow(self, info: Info) -> EscrowAccount | None:
        require_internals(info, self.row.id, "custody account")
        return EscrowAccount(merchant_row=self.row)

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at


@strawberry.input
class MerchantFilter:
    category_code: strawberry.ID | None = None
    status: MerchantStatus | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches merchant or store names."
    )
    district: str | None = None
    min_grade: CreditGrade | None = None


@strawberry.type
class Store(Node):
    row: strawberry.Private[StoreRow]

    @classmethod
    def of(cls, row: StoreRow) -> Store:
        return cls(id=strawberry.ID(encode_id("Store", row.id)), row=row)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def address(self) -> str:
        return self.row.address

    @strawberry.field
    def district(self) -> str:
        return self.row.district

    @strawberry.field
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field
    def status(self) -> StoreStatus:
        return self.row.status


@strawberry.type
class CardProduct(Node):
    row: strawberry.Private[CardProductRow]

    @classmethod
    def of(cls, row: CardProductRow) -> CardProduct:
        return cls(id=strawberry.ID(encode_id("CardProduct", row.id)), row=row)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field(description='What the consumer pays, e.g. "700.00".')
    def price(self) -> Money:
        return Money(self.row.price_fen)

    @strawberry.field(description='What the card is worth at the merchant, e.g. "1000.00".')
    def face_value(self) -> Money:
        return Money(self.row.face_value_fen)

    @strawberry.field
    def validity_days(self) -> int:
        return self.row.validity_days

    @strawberry.field(description="True when the card can be used at every store of the merchant.")
    def all_stores(self) -> bool:
        return self.row.all_stores

    @strawberry.field(
        description="The open stores where the card can be used (every open store when allStores)."
    )
    async def stores(self, info: Info) -> list[Store]:
        # Always through the merchant's stores (one batched query shared with Merchant.stores),
        # so the page costs the same statements whichever kind of products it holds.
        loaders = info.context.loaders
        rows = await loaders.stores_by_merchant.load(self.row.merchant_id)
        open_rows = [row for row in rows if row.status is StoreStatusValue.OPEN]
        if self.row.all_stores:
            return [Store.of(row) for row in open_rows]
        allowed = set(await loaders.store_ids_by_card_product.load(self.row.id))
        return [Store.of(row) for row in open_rows if row.id in allowed]

    @strawberry.field
    def status(self) -> CardProductStatus:
        return self.row.status

    @strawberry.field
    async def sold_count(self, info: Info) -> int:
        return await info.context.loaders.sold_count_by_card_product.load(self.row.id)


@strawberry.type
class MerchantsQuery:
    @strawberry.field(extensions=[anyone()])
    async def categories(self) -> list[Category]:
        return [Category(row=row) for row in await merchants.categories()]

    @strawberry.field(
        description="Anonymous users and consumers see ACTIVE merchants only. In order of id; "
        "with status PENDING_REVIEW (the review queue), oldest application first.",
        extensions=[anyone()],
    )
    async def merchants(
        self,
        info: Info,
        filter: MerchantFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Merchant]:
        filter = filter or MerchantFilter()
        wanted = merchants.MerchantFilter(
            category_code=str(filter.category_code) if filter.category_code is not None else None,
            status=filter.status,
            search=filter.search,
            district=filter.district,
            min_grade=filter.min_grade,
        )
        page = await merchants.merchants(info.context.principal, wanted, first, after)
        for row in page.items:
            info.context.loaders.merchant.prime(row.id, row)
        return to_connection(page, Merchant.of)

    @strawberry.field(extensions=[anyone()])
    async def merchant(self, info: Info, id: strawberry.ID) -> Merchant | None:
        try:
            merchant_id = decode_id(id, "Merchant")
        except NotFound:
            return None
        row = await merchants.merchant(info.context.principal, merchant_id)
        return Merchant.of(row) if row else None
