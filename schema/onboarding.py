"""Inputs and payloads of merchant onboarding and self-management (stores, staff, products)."""

from __future__ import annotations

import strawberry

from schema.accounts import AuthPayload
from schema.merchants import Merchant
from schema.scalars import Money


@strawberry.input
class StoreInput:
    name: str
    address: str
    district: str = strawberry.field(
        description="One of the platform city's districts (Huai'an's unless configured), "
        "e.g. 清江浦区; any other is BAD_USER_INPUT naming them."
    )
    phone: str | None = None


@strawberry.input
class RegisterMerchantInput:
    name: str
    credit_code: str
    legal_representative: str
    category_code: strawberry.ID
    contact_phone: str = strawberry.field(description="Also the owner's login phone.")
    password: str
    stores: list[StoreInput]


@strawberry.type
class MerchantRegistrationPayload:
    auth: AuthPayload
    merchant: Merchant


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
