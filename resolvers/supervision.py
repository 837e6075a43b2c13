"""Regulators' mutations on merchants, announcements, and the audit trail."""

from __future__ import annotations

from auth import scoping
from models.enums import Role
from schema.context import Info
from schema.ids import decode_id
from schema.merchants import Merchant
from schema.pagination import Connection, to_connection
from schema.platform import Announcement, AnnouncementInput
from schema.scalars import Money
from schema.supervision import AuditEntry, AuditFilter, MerchantClosureReport
from services import announcements, supervision
from services.pagination import page_request, paginate


async def suspend_merchant(info: Info, merchant_id: str, reason: str) -> Merchant:
    regulator_id = info.context.principal.require_role(Role.REGULATOR)
    row = await supervision.suspend_merchant(
        regulator_id=regulator_id, merchant_id=decode_id(merchant_id, "Merchant"), reason=reason
    )
    return Merchant.of(row)


async def reinstate_merchant(info: Info, merchant_id: str, reason: str) -> Merchant:
    regulator_id = info.context.principal.require_role(Role.REGULATOR)
    row = await supervision.reinstate_merchant(
        regulator_id=regulator_id, merchant_id=decode_id(merchant_id, "Merchant"), reason=reason
    )
    return Merchant.of(row)


async def close_merchant(info: Info, merchant_id: str, reason: str) -> MerchantClosureReport:
    regulator_id = info.context.principal.require_role(Role.REGULATOR)
    report = await supervision.close_merchant(
        regulator_id=regulator_id, merchant_id=decode_id(merchant_id, "Merchant"), reason=reason
    )
    return MerchantClosureReport(
        merchant=Merchant.of(report.merchant),
        cards_refunded=report.cards_refunded,
        cash_refunded=Money(report.cash_refunded_fen),
        shortfall=Money(report.shortfall_fen),
    )


async def publish_announcement(info: Info, input: AnnouncementInput) -> Announcement:
    regulator_id = info.context.principal.require_role(Role.REGULATOR)
    row = await announcements.publish(
        regulator_id=regulator_id,
        kind=input.kind,
        title=input.title,
        body=input.body,
        pinned=bool(input.pinned),
    )
    return Announcement.of(row)


async def audit_trail(
    info: Info, filter: AuditFilter | None, first: int | None, after: str | None
) -> Connection[AuditEntry]:
    info.context.principal.require_role(Role.REGULATOR)
    request = page_request(first, after)
    query = scoping.readable_audit_entries(info.context.principal)
    if filter is not None:
        if filter.merchant_id is not None:
            query = query.filter(merchant_id=decode_id(filter.merchant_id, "Merchant"))
        if filter.action:
            query = query.filter(action=filter.action.strip().upper())
        if filter.actor_id is not None:
            query = query.filter(actor_id=decode_id(filter.actor_id, "User"))
        if filter.from_ is not None:
            query = query.filter(at__gte=filter.from_)
        if filter.to is not None:
            query = query.filter(at__lt=filter.to)
    page = await paginate(query.order_by("-at", "-id"), request)
    return to_connection(page, AuditEntry.of)
