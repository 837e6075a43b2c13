"""Merchant onboarding for the API: an application, its review, and the registry it is checked
against. The caller has passed the field's rule."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import Merchant, RegistryRecord
from services import onboarding


async def register_merchant(
    application: onboarding.Application, client_address: str | None
) -> onboarding.Registration:
    # A rejected applicant applying again signs in: failures count per address too.
    return await onboarding.register_merchant(application, client_address=client_address)


async def review_merchant(
    principal: Principal, merchant_id: int, approve: bool, reason: str | None
) -> Merchant:
    return await onboarding.review_merchant(principal, merchant_id, approve=approve, reason=reason)


async def registry_record(principal: Principal, credit_code: str) -> RegistryRecord | None:
    return await scoping.readable_registry_records(principal).get_or_none(
        credit_code=credit_code.strip().upper()
    )
