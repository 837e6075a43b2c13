"""The merchants domain's reads and writes for the API: the caller has passed the field's rule.

Reads go through scoping (what the caller may see); a merchant's owner manages its stores,
staff and card products through services/merchants.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q, Subquery

from auth import scoping
from core import public_cache
from core.principal import Principal
from models import CardProduct, Category, Merchant, Store, User
from models.enums import CardProductStatus, MerchantStatus
from models.enums import CreditGrade as Grade
from services import merchants as merchant_service
from services.merchants import ProductDraft
from services.pagination import Page, ordered_by, page_of
from services.stores import StoreDraft

GRADES_BEST_FIRST = [Grade.A, Grade.B, Grade.C, Grade.D]


async def categories() -> list[Category]:
    # The same for every caller: cached for all.
    return await public_cache.public_cache().get(
        "categories", (), public_cache.CATEGORIES, _categories
    )


async def _categories() -> list[Category]:
    return await Category.all().order_by("position", "code")


@dataclass(frozen=True)
class MerchantFilter:
    """What the merchants page is narrowed by (hashable: it keys the public-read cache)."""

    category_code: str | None = None
    status: MerchantStatus | None = None
    search: str | None = None
    district: str | None = None
    min_grade: Grade | None = None


async def merchants(
    principal: Principal, wanted: MerchantFilter, first: int | None, after: str | None
) -> Page[Merchant]:
    async def load() -> Page[Merchant]:
        return await _merchants(principal, wanted, first, after)

    # Searches are left out: their terms are endless and each is rarely asked twice.
    if public_cache.is_public(principal) and not (wanted.search and wanted.search.strip()):
        return await public_cache.public_cache().get(
            "merchants-page", (wanted, first, after), public_cache.MERCHANTS, load
        )
    return await load()


async def _merchants(
    principal: Principal, wanted: MerchantFilter, first: int | None, after: str | None
) -> Page[Merchant]:
    search, district, min_grade = wanted.search, wanted.district, wanted.min_grade
    status = wanted.status
    scope = scoping.readable_merchants(principal)
    # The review queue: oldest application first.
    by_application = status is MerchantStatus.PENDING_REVIEW
    if search and search.strip():
        term = search.strip()
        stores_named = Store.filter(name__icontains=term).values("merchant_id")
        scope = scope.filter(Q(name__icontains=term) | Q(id__in=Subquery(stores_named)))
    if district and district.strip():
        in_district = Store.filter(district=district.strip()).values("merchant_id")
        scope = scope.filter(id__in=Subquery(in_district))
    good_enough = None
    if min_grade is not None:
        good_enough = GRADES_BEST_FIRST[: GRADES_BEST_FIRST.index(min_grade) + 1]
    return await page_of(
        scope,
        ordered_by("created_at", "id") if by_application else ordered_by("id"),
        first,
        after,
        {"category_id": wanted.category_code, "status": status, "credit_grade__in": good_enough},
    )


async def merchant(principal: Principal, merchant_id: int) -> Merchant | None:
    async def load() -> Merchant | None:
        return await scoping.readable_merchants(principal).get_or_none(id=merchant_id)

    if public_cache.is_public(principal):
        return await public_cache.public_cache().get(
            "merchant", merchant_id, public_cache.MERCHANTS, load
        )
    return await load()


async def add_store(principal: Principal, draft: StoreDraft) -> Store:
    return await merchant_service.add_store(principal, draft)


async def close_store(principal: Principal, store_id: int) -> Store:
    return await merchant_service.close_store(principal, store_id)


async def add_staff(
    principal: Principal, *, phone: str, password: str, display_name: str, store_id: int | None
) -> User:
    return await merchant_service.add_staff(
        principal, phone=phone, password=password, display_name=display_name, store_id=store_id
    )


async def create_card_product(principal: Principal, draft: ProductDraft) -> CardProduct:
    return await merchant_service.create_card_product(principal, draft)


async def set_card_product_status(
    principal: Principal, product_id: int, status: CardProductStatus
) -> CardProduct:
    return await merchant_service.set_card_product_status(principal, product_id, status)
