"""Stored credit scores: score a merchant now, keep the score with its factors, apply its grade.

`recompute` gathers the merchant's features (services/credit_features.py),
scores them (services/credit.py), stores a CreditScore with its CreditFactor
rows (history is kept; the newest is current), copies score and grade onto the
merchant, and when the grade is D puts 100 % of the merchant's prepaid cash in
custody through the ledger (services/escrow.py), all in one transaction that
holds the merchant's row, so a sale racing with it sees the new grade.

Who calls it: a regulator's `recomputeCreditScores` and `anfu credit recompute`
(`recompute_many`, `recompute_all`); a regulator's approval, synchronously, so
a newly approved merchant has a score at once; and, through
`schedule_recompute`, the events that move a score (a resolved complaint, a
closure, a risk alert), after their transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from core import clock, public_cache
from models import CreditFactor, CreditScore, Merchant
from models.enums import CreditGrade, MerchantStatus
from services import background, credit, credit_features, escrow
from services.custody import FULL_CUSTODY_BP

log = logging.getLogger("anfu.credit")

SCORED_STATUSES = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED, MerchantStatus.CLOSED)
"""Merchants that were approved have a score; applications (pending or rejected) have none."""
RESCORED_BY_DEFAULT = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
"""What `recompute_all` scores: every approved merchant that is not closed."""


async def recompute(merchant_id: int, *, now: datetime | None = None) -> CreditScore | None:
    """Score the merchant now, store the score with its factors and apply the grade.

    None for a merchant that is not (or no longer) there, or was never approved.
    """
    now = now or clock.now()
    merchant = await Merchant.get_or_none(id=merchant_id)
    if merchant is None or merchant.status not in SCORED_STATUSES:
        return None
    result = credit.score(await credit_features.gather(merchant_id, now))
    async with in_transaction():
        # Held until commit: a purchase locks this row too, so it waits and then sees grade D.
        locked = await Merchant.filter(id=merchant_id).select_for_update(no_key=True).first()
        if locked is None:
            return None
        stored = await _store(merchant_id, result, now)
        rating_moved = (locked.credit_score, locked.credit_grade) != (result.score, result.grade)
        await Merchant.filter(id=merchant_id).update(
            credit_score=result.score, credit_grade=result.grade
        )
        if result.grade is CreditGrade.D and locked.custody_ratio_bp < FULL_CUSTODY_BP:
            moved = await escrow.apply_ratio(merchant_id, FULL_CUSTODY_BP, initiated_by_id=None)
            log.info(
                "merchant %s fell to grade D (score %s): custody forced to 100 %%, %s fen moved",
                merchant_id,
                result.score,
                moved,
            )
    if rating_moved:
        # The public rating (and what minGrade filters) changed; an unchanged one keeps the
        # anonymous pages, which every sale's recompute would otherwise empty.
        await public_cache.changed(public_cache.MERCHANTS)
    return stored


async def _store(merchant_id: int, result: credit.CreditResult, now: datetime) -> CreditScore:
    stored = await CreditScore.create(
        merchant_id=merchant_id,
        score=result.score,
        grade=result.grade,
        model_version=result.model_version,
        computed_at=now,
    )
    await CreditFactor.bulk_create(
        [
            CreditFactor(
                score_id=stored.id,
                position=position,
                code=factor.code,
                name=factor.name,
                value=factor.value,
                weight=factor.weight,
                contribution=float(factor.contribution),
                explanation=factor.explanation,
            )
            for position, factor in enumerate(result.factors)
        ]
    )
    return stored


async def recompute_many(merchant_ids: Sequence[int]) -> int:
    """Score each of these merchants; returns how many were scored (one that does not exist,
    or an application never approved, has no score)."""
    scored = 0
    for merchant_id in dict.fromkeys(merchant_ids):
        if await recompute(merchant_id) is not None:
            scored += 1
    return scored


async def recompute_all(progress: Callable[[int], object] | None = None) -> int:
    """Score every approved merchant that is not closed; `progress(1)` after each. Returns how
    many were scored."""
    query = Merchant.filter(status__in=RESCORED_BY_DEFAULT).order_by("id")
    scored = 0
    for row in await query.values("id"):
        if await recompute(row["id"]) is not None:
            scored += 1
        if progress is not None:
            progress(1)
    return scored


async def merchants_to_rescore() -> int:
    """How many merchants `recompute_all` would score (for a progress bar's total)."""
    return await Merchant.filter(status__in=RESCORED_BY_DEFAULT).count()


def schedule_recompute(merchant_id: int) -> None:
    """Recompute after the current request, merged with other requests for the same merchant.

    Call it after the transaction of the event commits: the work reads what it wrote.
    """
    background.defer(("credit", merchant_id), lambda: recompute(merchant_id))


async def grade_distribution() -> dict[CreditGrade | None, int]:
    """How many approved merchants that are not closed hold each grade (None: not scored yet)."""
    rows = (
        await Merchant.filter(status__in=RESCORED_BY_DEFAULT)
        .annotate(merchants=Count("id"))
        .group_by("credit_grade")
        .values("credit_grade", "merchants")
    )
    found: dict[CreditGrade | None, int] = {grade: 0 for grade in CreditGrade}
    found[None] = 0
    for row in rows:
        grade = CreditGrade(row["credit_grade"]) if row["credit_grade"] else None
        found[grade] += int(row["merchants"])
    return found


async def latest(merchant_id: int) -> tuple[CreditScore, list[CreditFactor]] | None:
    """The merchant's current score with its factors in order, or None when it has none."""
    current = (
        await CreditScore.filter(merchant_id=merchant_id).order_by("-computed_at", "-id").first()
    )
    if current is None:
        return None
    return current, await CreditFactor.filter(score_id=current.id).order_by("position", "id")
