"""Root fields for categories, merchants and the registry."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery

from auth import scoping
from core.errors import Forbidden, NotFound
from models import Category as CategoryRow
from models import RegistryRecord as RegistryRecordRow
from models import Store as StoreRow
from models.enums import CreditGrade as Grade
from models.enums import MerchantStatus
from schema.context import Info
from schema.ids import decode_id
from schema.merchants import Category, Merchant, MerchantFilter, RegistryRecord
from schema.pagination import Connection, to_connection
from services.pagination import ordered_by, paginate

GRADES_BEST_FIRST = [Grade.A, Grade.B, Grade.C, Grade.D]


async def categories() -> list[Category]:
    return [Category(row=row) for row in await CategoryRow.all().order_by("position", "code")]


async def merchants(
    info: Info, filter: MerchantFilter | None, first: int | None, after: str | None
) -> Connection[Merchant]:
    query = scoping.readable_merchants(info.context.principal)
    order: tuple[str, ...] = ("id",)
    if filter is not None:
        if filter.category_code is not None:
            query = query.filter(category_id=str(filter.category_code))
        if filter.status is not None:
            query = query.filter(status=filter.status)
            if filter.status is MerchantStatus.PENDING_REVIEW:
                # The review queue: oldest application first.
                order = ("created_at", "id")
        if filter.search and filter.search.strip():
            term = filter.search.strip()
            stores_named = StoreRow.filter(name__icontains=term).values("merchant_id")
            query = query.filter(Q(name__icontains=term) | Q(id__in=Subquery(stores_named)))
        if filter.district and filter.district.strip():
            in_district = StoreRow.filter(district=filter.district.strip()).values("merchant_id")
            query = query.filter(id__in=Subquery(in_district))
        if filter.min_grade is not None:
            good_enough = GRADES_BEST_FIRST[: GRADES_BEST_FIRST.index(filter.min_grade) + 1]
            query = query.filter(credit_grade__in=good_enough)
    page = await paginate(query, ordered_by(*order), first, after)
    for row in page.items:
        info.context.loaders.merchant.prime(row.id, row)
    return to_connection(page, Merchant.of)


async def merchant(info: Info, id: str) -> Merchant | None:
    try:
        key = decode_id(id, "Merchant")
    except NotFound:
        return None
    row = await scoping.readable_merchants(info.context.principal).get_or_none(id=key)
    return Merchant.of(row) if row else None


async def registry_record(info: Info, credit_code: str) -> RegistryRecord | None:
    if not info.context.principal.is_regulator:
        info.context.principal.require_user()
        raise Forbidden("Only regulators read the registry")
    row = await RegistryRecordRow.get_or_none(credit_code=credit_code.strip().upper())
    return RegistryRecord(row=row) if row else None
