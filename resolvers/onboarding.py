"""Mutations of merchant onboarding and self-management."""

from __future__ import annotations

from models import Merchant as MerchantRow
from models.enums import CardProductStatus, Role
from resolvers.accounts import session_payload
from schema.accounts import User
from schema.context import Info
from schema.ids import decode_id
from schema.merchants import CardProduct, Merchant, Store
from schema.onboarding import (
    AddStaffInput,
    CardProductInput,
    MerchantRegistrationPayload,
    RegisterMerchantInput,
    StoreInput,
)
from services import merchants, onboarding


def _store_draft(store: StoreInput) -> onboarding.StoreDraft:
    return onboarding.StoreDraft(
        name=store.name, address=store.address, district=store.district, phone=store.phone
    )


async def register_merchant(
    info: Info, input: RegisterMerchantInput
) -> MerchantRegistrationPayload:
    registration = await onboarding.register_merchant(
        onboarding.Application(
            name=input.name,
            credit_code=input.credit_code,
            legal_representative=input.legal_representative,
            category_code=str(input.category_code),
            contact_phone=input.contact_phone,
            password=input.password,
            stores=[_store_draft(store) for store in input.stores],
        ),
        # A rejected applicant applying again signs in: failures count per address too.
        client_address=info.context.client_address,
    )
    return MerchantRegistrationPayload(
        auth=session_payload(registration.session), merchant=Merchant.of(registration.merchant)
    )


async def review_merchant(
    info: Info, merchant_id: str, approve: bool, reason: str | None
) -> Merchant:
    regulator_id = info.context.principal.require_role(Role.REGULATOR)
    row: MerchantRow = await onboarding.review_merchant(
        regulator_id=regulator_id,
        merchant_id=decode_id(merchant_id, "Merchant"),
        approve=approve,
        reason=reason,
    )
    return Merchant.of(row)


async def add_store(info: Info, input: StoreInput) -> Store:
    return Store.of(await merchants.add_store(info.context.principal, _store_draft(input)))


async def close_store(info: Info, store_id: str) -> Store:
    row = await merchants.close_store(info.context.principal, decode_id(store_id, "Store"))
    return Store.of(row)


async def add_staff(info: Info, input: AddStaffInput) -> User:
    row = await merchants.add_staff(
        info.context.principal,
        phone=input.phone,
        password=input.password,
        display_name=input.display_name,
        store_id=decode_id(input.store_id, "Store") if input.store_id is not None else None,
    )
    return User.of(row)


async def create_card_product(info: Info, input: CardProductInput) -> CardProduct:
    draft = merchants.ProductDraft(
        name=input.name,
        description=input.description,
        price_fen=input.price,
        face_value_fen=input.face_value,
        validity_days=input.validity_days,
        store_ids=[decode_id(store_id, "Store") for store_id in input.store_ids or []],
    )
    return CardProduct.of(await merchants.create_card_product(info.context.principal, draft))


async def set_card_product_status(
    info: Info, product_id: str, status: CardProductStatus
) -> CardProduct:
    row = await merchants.set_card_product_status(
        info.context.principal, decode_id(product_id, "CardProduct"), status
    )
    return CardProduct.of(row)
