"""Credit scores through the real model (services/credit_scores.py), as the nightly job would
have computed them: a month ago and last night, for every merchant approved by then. The
demo keeps no scoring of its own.
"""

from __future__ import annotations

from cli.demo.world import World, fixed_clock
from core import clock
from models import Merchant
from models.enums import MerchantStatus
from services import credit_scores

NIGHTLY = 23 * 60 + 30  # 23:30 local time


async def write_credit(world: World) -> None:
    for at in (world.at(-31, NIGHTLY), world.at(-1, NIGHTLY)):
        clock.set_clock(fixed_clock(at))
        for merchant in world.merchants:
            approved = merchant.reviewed_at is not None and merchant.reviewed_at < at
            if approved and merchant.status is not MerchantStatus.REJECTED:
                await credit_scores.recompute(merchant.id, now=at)
    grades = dict(
        await Merchant.filter(id__in=[m.id for m in world.merchants]).values_list(
            "id", "credit_grade"
        )
    )
    for merchant in world.merchants:
        merchant.grade = grades.get(merchant.id)
