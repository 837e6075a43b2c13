"""Stores: the checks every way of opening one makes, and the one place a store row is written.

An application's stores (services/onboarding.py), `addStore` (services/merchants.py) and
the demo loader all open stores through `open_stores`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from core import clock, text
from core.errors import BadInput
from models import Store
from models.enums import StoreStatus
from settings import get_settings

# A merchant's, a store's or a card product's name.
MAX_NAME_LENGTH = 128
MAX_ADDRESS_LENGTH = 255


@dataclass(frozen=True)
class StoreDraft:
    name: str
    address: str
    district: str
    phone: str | None = None


def clean_district(district: str) -> str:
    """One of the platform city's districts (a setting), so statistics by district add up."""
    districts = get_settings().districts
    district = district.strip()
    if district not in districts:
        raise BadInput(f"A store's district is one of {', '.join(districts)}")
    return district


def clean_store(draft: StoreDraft) -> StoreDraft:
    """A store as every way of opening one checks it: an application's or `addStore`'s."""
    phone = draft.phone.strip() if draft.phone else None
    if phone is not None and not (5 <= len(phone) <= 20):
        raise BadInput("A store phone has 5 to 20 characters")
    return StoreDraft(
        name=text.bounded(draft.name, "store name", MAX_NAME_LENGTH),
        address=text.bounded(draft.address, "store address", MAX_ADDRESS_LENGTH),
        district=clean_district(draft.district),
        phone=phone or None,
    )


async def open_stores(
    merchant_id: int, drafts: Sequence[StoreDraft], *, opened_at: dt.datetime | None = None
) -> list[Store]:
    """Open stores of a merchant (drafts already checked): the one place a store row is written.

    One store is saved on its own, so that its row comes back with its id; several are written
    in one bulk insert, which does not read ids back.
    """
    opened_at = opened_at or clock.now()
    rows = [
        Store(
            merchant_id=merchant_id,
            name=draft.name,
            address=draft.address,
            district=draft.district,
            phone=draft.phone,
            status=StoreStatus.OPEN,
            created_at=opened_at,
        )
        for draft in drafts
    ]
    if len(rows) == 1:
        await rows[0].save()
    elif rows:
        await Store.bulk_create(rows, batch_size=500)
    return rows
