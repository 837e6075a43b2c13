"""Financing applications, written last because they depend on the grades and open alerts:
the laundry chain's own and a few from well-graded merchants without high-risk alerts.
"""

from __future__ import annotations

from datetime import timedelta

from cli.demo.texts import FINANCING_NOTES, FINANCING_PURPOSES
from cli.demo.world import World
from models import FinancingApplication, RiskAlert
from models.enums import AlertStatus, CreditGrade, FinancingStatus, MerchantStatus, RiskLevel


async def write_financing(world: World) -> None:
    rng = world.rng
    high = set(
        await RiskAlert.filter(
            severity=RiskLevel.HIGH, status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
        ).values_list("merchant_id", flat=True)
    )
    rows = [
        FinancingApplication(
            merchant_id=world.chain.id,
            amount_fen=50_000_000,
            term_months=12,
            purpose=FINANCING_PURPOSES[1],
            status=FinancingStatus.SUBMITTED,
            grade_at_application=world.chain.grade or CreditGrade.A,
            created_at=world.at(-2, 640),
        )
    ]
    good = [
        m
        for m in world.merchants[1:]
        if m.grade in (CreditGrade.A, CreditGrade.B)
        and m.status is MerchantStatus.ACTIVE
        and m.id not in high
    ]
    statuses = (
        (FinancingStatus.APPROVED,) * 3
        + (FinancingStatus.REJECTED,)
        + (FinancingStatus.SUBMITTED,) * 2
    )
    for merchant, status in zip(rng.sample(good, len(statuses)), statuses, strict=True):
        created = world.business(rng.randrange(-40, -12))
        decided = status is not FinancingStatus.SUBMITTED
        assert merchant.grade is not None
        rows.append(
            FinancingApplication(
                merchant_id=merchant.id,
                amount_fen=rng.choice((5, 10, 20, 30)) * 1_000_000,
                term_months=rng.choice((6, 12, 24)),
                purpose=rng.choice(FINANCING_PURPOSES),
                status=status,
                grade_at_application=merchant.grade,
                created_at=created,
                decided_at=created + timedelta(days=rng.randrange(3, 10)) if decided else None,
                decision_note=FINANCING_NOTES.get(status.value),
            )
        )
    await FinancingApplication.bulk_create(rows)
