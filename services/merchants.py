"""A merchant manages its own stores, staff and card products (owner only)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from core import clock
from core.errors import BadInput, Forbidden, InvalidState, NotFound
from core.principal import Principal
from models import CardProduct, CardProductStore, Merchant, Store, User
from models.enums import CardProductStatus, MerchantStatus, RiskAlertKind, Role, StoreStatus
from services import accounts, risk
from services.money import format_money
from services.onboarding import StoreDraft, clean_store, clean_text
from settings import get_settings

MAX_VALIDITY_DAYS = 3 * 365
MANAGING_STATUSES = (MerchantStatus.PENDING_REVIEW, MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)


@dataclass(frozen=True)
class ProductDraft:
    name: str
    description: str
    price_fen: int
    face_value_fen: int
    validity_days: int
    store_ids: list[int]


async def _owned_merchant(principal: Principal) -> Merchant:
    """The caller's merchant, when the caller is its owner and it can still be managed."""
    merchant_id = principal.require_merchant()
    owner = await User.get_or_none(id=principal.user_id)
    if owner is None or not owner.is_merchant_owner:
        raise Forbidden("Only the merchant's owner manages stores, staff and products")
    merchant = await Merchant.get(id=merchant_id)
    if merchant.status not in MANAGING_STATUSES:
        raise InvalidState(f"The merchant is {merchant.status.value} and can change nothing")
    return merchant


async def add_store(principal: Principal, draft: StoreDraft) -> Store:
    merchant = await _owned_merchant(principal)
    store = clean_store(draft)
    return await Store.create(
        merchant_id=merchant.id,
        name=store.name,
        address=store.address,
        district=store.district,
        phone=store.phone,
        status=StoreStatus.OPEN,
        created_at=clock.now(),
    )


async def close_store(principal: Principal, store_id: int) -> Store:
    merchant = await _owned_merchant(principal)
    store = await Store.get_or_none(id=store_id, merchant_id=merchant.id)
    if store is None:
        raise NotFound("No such store")
    closed = await Store.filter(id=store.id, status=StoreStatus.OPEN).update(
        status=StoreStatus.CLOSED, closed_at=clock.now()
    )
    if closed != 1:
        raise InvalidState("The store is already closed")
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
    merchant = await _owned_merchant(principal)
    if store_id is not None:
        store = await Store.get_or_none(id=store_id, merchant_id=merchant.id)
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
    merchant = await _owned_merchant(principal)
    check_product(draft)
    name = clean_text(draft.name, "product name", 128)
    description = draft.description.strip()
    if len(description) > 2000:
        raise BadInput("A description has at most 2000 characters")
    store_ids = sorted(set(draft.store_ids))
    if store_ids:
        owned = await Store.filter(id__in=store_ids, merchant_id=merchant.id).values_list(
            "id", "status"
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
    merchant = await _owned_merchant(principal)
    product = await CardProduct.get_or_none(id=product_id, merchant_id=merchant.id)
    if product is None:
        raise NotFound("No such card product")
    if status not in ALLOWED_PRODUCT_CHANGES[product.status]:
        raise InvalidState(f"A {product.status.value} product cannot become {status.value}")
    changed = await CardProduct.filter(id=product.id, status=product.status).update(status=status)
    if changed != 1:
        raise InvalidState("The product changed meanwhile; try again")
    return await CardProduct.get(id=product.id)
