"""A merchant's owner manages its stores, staff and card products.

What a caller may change comes from `scoping.writable_*`: only the merchant's owner
manages; its staff, bound to a store or not, manage nothing. Stores are opened through
services/stores.py, as an application's are.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock, public_cache, text
from core.errors import BadInput, Forbidden, InvalidState, NotFound
from core.principal import Principal
from models import CardProduct, CardProductStore, Merchant, Store, User
from models.enums import CardProductStatus, MerchantStatus, RiskAlertKind, Role, StoreStatus
from services import accounts, risk
from services.money import format_money
from services.stores import MAX_NAME_LENGTH, StoreDraft, clean_store, open_stores
from settings import get_settings

MAX_VALIDITY_DAYS = 3 * 365
MAX_DESCRIPTION_LENGTH = 2000
MANAGING_STATUSES = (MerchantStatus.PENDING_REVIEW, MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)


@dataclass(frozen=True)
class ProductDraft:
    name: str
    description: str
    price_fen: int
    face_value_fen: int
    validity_days: int
    store_ids: list[int]


async def _managed_merchant(principal: Principal) -> Merchant:
    """The caller's merchant, when the caller manages it and it can still be managed."""
    merchant = await scoping.writable_merchant(principal).get_or_none()
    if merchant is None:
        # Past the field's rule the caller works for a merchant, so it is one of its staff.
        raise Forbidden("Only the merchant's owner manages stores, staff and products")
    if merchant.status not in MANAGING_STATUSES:
        raise InvalidState(f"The merchant is {merchant.status.value} and can change nothing")
    return merchant


async def add_store(principal: Principal, draft: StoreDraft) -> Store:
    merchant = await _managed_merchant(principal)
    [store] = await open_stores(merchant.id, [clean_store(draft)])
    # The merchants page too: its search and district filters read stores.
    await public_cache.changed(public_cache.MERCHANTS, public_cache.merchant_family(merchant.id))
    return store


async def close_store(principal: Principal, store_id: int) -> Store:
    merchant = await _managed_merchant(principal)
    store = await scoping.writable_stores(principal).get_or_none(id=store_id)
    if store is None:
        raise NotFound("No such store")
    closed = await Store.filter(id=store.id, status=StoreStatus.OPEN).update(
        status=StoreStatus.CLOSED, closed_at=clock.now()
    )
    if closed != 1:
        raise InvalidState("The store is already closed")
    await public_cache.changed(public_cache.merchant_family(merchant.id))
    risk.check_soon(merchant.id, RiskAlertKind.STORE_CLOSURES)
    return await Store.get(id=store.id)


async def add_staff(
    principal: Principal,
    *,
    phone: str,
    password: str,
    display_name: str,
    store_id: int | None,
) -> User:
    """A staff account of the caller's merchant, optionally bound to one of its open stores."""
    merchant = await _managed_merchant(principal)
    if store_id is not None:
        store = await scoping.writable_stores(principal).get_or_none(id=store_id)
        if store is None:
            raise NotFound("No such store")
        if store.status is not StoreStatus.OPEN:
            raise InvalidState(f"{store.name} is closed")
    return await accounts.create_user(
        role=Role.MERCHANT,
        phone=phone,
        password=password,
        display_name=display_name,
        merchant_id=merchant.id,
        store_id=store_id,
    )


def check_product(draft: ProductDraft) -> None:
    cap = get_settings().card_cash_cap_fen
    if draft.price_fen <= 0:
        raise BadInput("The price must be above zero")
    if draft.price_fen > draft.face_value_fen:
        raise BadInput("The price is at most the face value")
    if draft.face_value_fen > cap:
        raise BadInput(f"The face value is at most the card cap of {format_money(cap)}")
    if not 0 < draft.validity_days <= MAX_VALIDITY_DAYS:
        raise BadInput(f"Validity is 1 to {MAX_VALIDITY_DAYS} days")


async def create_card_product(principal: Principal, draft: ProductDraft) -> CardProduct:
    merchant = await _managed_merchant(principal)
    check_product(draft)
    name = text.bounded(draft.name, "product name", MAX_NAME_LENGTH)
    description = draft.description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise BadInput(f"A description has at most {MAX_DESCRIPTION_LENGTH} characters")
    store_ids = sorted(set(draft.store_ids))
    if store_ids:
        owned = await (
            scoping.writable_stores(principal).filter(id__in=store_ids).values_list("id", "status")
        )
        if len(owned) != len(store_ids):
            raise NotFound("No such store")
        if any(status is not StoreStatus.OPEN for _id, status in owned):
            raise InvalidState("A product cannot be limited to a closed store")
    async with in_transaction():
        product = await CardProduct.create(
            merchant_id=merchant.id,
            name=name,
            description=description,
            price_fen=draft.price_fen,
            face_value_fen=draft.face_value_fen,
            validity_days=draft.validity_days,
            all_stores=not store_ids,
            status=CardProductStatus.ACTIVE,
            created_at=clock.now(),
        )
        await CardProductStore.bulk_create(
            [CardProductStore(product_id=product.id, store_id=store_id) for store_id in store_ids]
        )
    await public_cache.changed(public_cache.merchant_family(merchant.id))
    return product


# RETIRED is final; ACTIVE and SUSPENDED switch freely.
ALLOWED_PRODUCT_CHANGES = {
    CardProductStatus.ACTIVE: {CardProductStatus.SUSPENDED, CardProductStatus.RETIRED},
    CardProductStatus.SUSPENDED: {CardProductStatus.ACTIVE, CardProductStatus.RETIRED},
    CardProductStatus.RETIRED: set(),
}


async def set_card_product_status(
    principal: Principal, product_id: int, status: CardProductStatus
) -> CardProduct:
    merchant = await _managed_merchant(principal)
    product = await scoping.writable_card_products(principal).get_or_none(id=product_id)
    if product is None:
        raise NotFound("No such card product")
    if status not in ALLOWED_PRODUCT_CHANGES[product.status]:
        raise InvalidState(f"A {product.status.value} product cannot become {status.value}")
    changed = await CardProduct.filter(id=product.id, status=product.status).update(status=status)
    if changed != 1:
        raise InvalidState("The product changed meanwhile; try again")
    await public_cache.changed(public_cache.merchant_family(merchant.id))
    return await CardProduct.get(id=product.id)
