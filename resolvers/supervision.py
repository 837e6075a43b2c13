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
from services.pagination import newest_first, page_of


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
    given = filter or AuditFilter()
    page = await page_of(
        scoping.readable_audit_entries(info.context.principal),
        newest_first("at"),
        first,
        after,
        {
            "merchant_id": decode_id(given.merchant_id, "Merchant") if given.merchant_id else None,
            "action": given.action.strip().upper() if given.action else None,
            "actor_id": decode_id(given.actor_id, "User") if given.actor_id else None,
            "at__gte": given.from_,
            "at__lt": given.to,
        },
    )
    return to_connection(page, AuditEntry.of)
