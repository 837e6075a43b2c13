"""The credit domain's writes for the API: the caller has passed the field's rule."""

from __future__ import annotations

from auth import scoping
from core.errors import BadInput, NotFound
from core.principal import Principal
from services import credit_scores

MAX_MERCHANT_IDS = 500


async def recompute_credit_scores(principal: Principal, merchant_ids: list[int] | None) -> int:
    """Score these merchants now (every approved merchant that is not closed when None)."""
    if merchant_ids is None:
        return await credit_scores.recompute_all()
    if len(merchant_ids) > MAX_MERCHANT_IDS:
        raise BadInput(f"Name at most {MAX_MERCHANT_IDS} merchants; omit the list to score all")
    wanted = list(dict.fromkeys(merchant_ids))
    found = {
        row["id"]
        for row in await scoping.rescorable_merchants(principal).filter(id__in=wanted).values("id")
    }
    missing = [merchant_id for merchant_id in wanted if merchant_id not in found]
    if missing:
        raise NotFound("No such merchant")
    return await credit_scores.recompute_many(wanted)
