"""The merchants domain's mutations: a merchant's owner manages its stores, staff and card
products (the merchants' types and reads are in schema/merchants.py).

Each field declares who may call it (MERCHANT; services/merchants.py narrows that to the
owner through scoping), decodes global IDs and hands plain values to resolvers/merchants.py.
"""

from __future__ import annotations

import strawberry

from models.enums import Role
from resolvers import merchants
from schema.accounts import User
from schema.context import Info
from schema.enums import CardProductStatus
from schema.ids import decode_id
from schema.merchants import CardProduct, Store
from schema.permissions import allow
from schema.scalars import Money
from services.merchants import ProductDraft
from services.stores import StoreDraft


@strawberry.input
class StoreInput:
    name: str
    address: str
    district: str = strawberry.field(
        description="One of the platform city's districts (Huai'an's unless configured), "
        "e.g. 清江浦区; any other is BAD_USER_INPUT naming them."
    )
    phone: str | None = None

    def draft(self) -> StoreDraft:
        return StoreDraft(
            name=self.name, address=self.address, district=self.district, phone=self.phone
        )


@strawberry.input
class AddStaffInput:
    phone: str
    password: str
    display_name: str
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="Bind the staff member to one store; omitted: every store."
    )


@strawberry.input
class CardProductInput:
    name: str
    description: str
    price: Money
    face_value: Money
    validity_days: int
    store_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Empty or omitted: every store of the merchant."
    )


@strawberry.type
class MerchantsMutation:
    @strawberry.mutation(
        description="The merchant's owner adds a store.", extensions=[allow(Role.MERCHANT)]
    )
    async def add_store(self, info: Info, input: StoreInput) -> Store:
        return Store.of(await merchants.add_store(info.context.principal, input.draft()))

    @strawberry.mutation(
        description="The merchant's owner closes one of its stores.",
        extensions=[allow(Role.MERCHANT)],
    )
    async def close_store(self, info: Info, store_id: strawberry.ID) -> Store:
        row = await merchants.close_store(info.context.principal, decode_id(store_id, "Store"))
        return Store.of(row)

    @strawberry.mutation(
        description="The merchant's owner adds a staff account.",
        extensions=[allow(Role.MERCHANT)],
    )
    async def add_staff(self, info: Info, input: AddStaffInput) -> User:
        row = await merchants.add_staff(
            info.context.principal,
            phone=input.phone,
            password=input.password,
            display_name=input.display_name,
            store_id=decode_id(input.store_id, "Store") if input.store_id is not None else None,
        )
        return User.of(row)

    @strawberry.mutation(
        description="The merchant's owner creates a card product (on sale at once).",
        extensions=[allow(Role.MERCHANT)],
    )
    async def create_card_product(self, info: Info, input: CardProductInput) -> CardProduct:
        draft = ProductDraft(
            name=input.name,
            description=input.description,
            price_fen=input.price,
            face_value_fen=input.face_value,
            validity_days=input.validity_days,
            store_ids=[decode_id(store_id, "Store") for store_id in input.store_ids or []],
        )
        return CardProduct.of(await merchants.create_card_product(info.context.principal, draft))

    @strawberry.mutation(
        description="ACTIVE and SUSPENDED switch freely; RETIRED is final.",
        extensions=[allow(Role.MERCHANT)],
    )
    async def set_card_product_status(
        self, info: Info, product_id: strawberry.ID, status: CardProductStatus
    ) -> CardProduct:
        row = await merchants.set_card_product_status(
            info.context.principal, decode_id(product_id, "CardProduct"), status
        )
        return CardProduct.of(row)
