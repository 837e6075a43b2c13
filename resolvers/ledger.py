"""The ledger domain's writes for the API: custody. The caller has passed the field's rule."""

from __future__ import annotations

from core.principal import Principal
from models import Merchant
from services import escrow


async def set_custody_ratio(
    principal: Principal, merchant_id: int, ratio: float, reason: str
) -> Merchant:
    """The merchant after its custody ratio changed; schema/ledger.py shows its custody."""
    return await escrow.set_custody_ratio(
        principal=principal, merchant_id=merchant_id, ratio=ratio, reason=reason
    )
