"""Credit scores with their factors, which no service computes yet: each merchant's factors
are worked out from its plan at the moment of scoring, as the nightly job would from the
database, and its latest grade is stored on the merchant.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from cli.demo.plan import MerchantPlan
from cli.demo.world import World
from models import CreditFactor, CreditScore, Merchant
from models.enums import CreditGrade, MerchantStatus

MODEL_VERSION = "demo-1"

# Credit factors: code -> (name, weight before normalisation).
FACTORS = {
    "YEARS_IN_OPERATION": ("Years in operation", 0.12),
    "REGISTERED_CAPITAL": ("Registered capital", 0.08),
    "PENALTIES": ("Administrative penalties", 0.10),
    "ABNORMAL_LIST": ("Abnormal-operations list", 0.10),
    "REDEMPTION_RATE": ("Redemption rate", 0.15),
    "COMPLAINT_RATE": ("Complaint rate", 0.15),
    "UNRESOLVED_COMPLAINTS": ("Unresolved complaints", 0.10),
    "REFUND_RATE": ("Refund rate", 0.10),
    "CUSTODY_COVERAGE": ("Custody coverage", 0.10),
    "STORE_CLOSURES": ("Store closures", 0.05),
}


def _grade(score: int) -> CreditGrade:
    if score >= 850:
        return CreditGrade.A
    if score >= 700:
        return CreditGrade.B
    if score >= 600:
        return CreditGrade.C
    return CreditGrade.D


def _factors(merchant: MerchantPlan, at: datetime) -> list[tuple[str, float, float, str]]:
    """(code, value, sub-score 0..1, explanation) for each factor that applies at `at`."""
    found: list[tuple[str, float, float, str]] = []

    def add(code: str, value: float, subscore: float, explanation: str) -> None:
        found.append((code, round(value, 3), max(0.0, min(subscore, 1.0)), explanation))

    registry = merchant.registry
    assert registry is not None
    years = (at.date() - registry["established_on"]).days / 365.25
    add(
        "YEARS_IN_OPERATION",
        years,
        0.1 + 0.06 * years,
        f"Registered {years:.1f} years ago; fifteen years or more earns the full weight.",
    )
    capital = registry["registered_capital_fen"] // 100
    add(
        "REGISTERED_CAPITAL",
        capital / 10_000,
        0.1 + 0.9 * math.sqrt(capital / 10_000_000),
        f"Registered capital of {capital:,} yuan; 10,000,000 yuan or more earns the full weight.",
    )
    penalties = registry["administrative_penalties"]
    add(
        "PENALTIES",
        penalties,
        1 - 0.4 * penalties,
        f"{penalties} administrative penalties on record; each takes 40% of this factor."
        if penalties
        else "No administrative penalties on record.",
    )
    listed = registry["on_abnormal_list"]
    add(
        "ABNORMAL_LIST",
        float(listed),
        0.0 if listed else 1.0,
        f"{'Listed' if listed else 'Not listed'} on the abnormal-operations list.",
    )
    sold = [card for card in merchant.cards if card.bought_at <= at]
    live = [card for card in sold if card.refunded_at is None or card.refunded_at > at]
    window = at - timedelta(days=90)
    settled = [c for c in sold if c.bought_at <= at - timedelta(days=14)]
    settled = [c for c in settled if c.refunded_at is None or c.refunded_at > window]
    if settled:
        used = [c for c in settled if any(window < when <= at for when, _ in c.redemptions)]
        rate = len(used) / len(settled)
        add(
            "REDEMPTION_RATE",
            rate,
            rate,
            f"{len(used)} of {len(settled)} cards were used in the last 90 days ({rate:.0%}).",
        )
    if sold:
        refunded = [
            c
            for c in sold
            if c.refunded_at and c.refunded_at <= at and c.refunded_at != merchant.stop_at
        ]
        rate = len(refunded) / len(sold)
        add(
            "REFUND_RATE",
            rate,
            1 - 4 * rate,
            f"{len(refunded)} of {len(sold)} cards sold were refunded ({rate:.0%}).",
        )
    recent = [c for c in merchant.complaints if window < c.created_at <= at]
    per_100 = 100 * len(recent) / max(len(live), 10)  # a first complaint is no surge
    add(
        "COMPLAINT_RATE",
        per_100,
        1 - per_100 / 40,
        f"{len(recent)} complaints in 90 days against {len(live)} live cards "
        f"({per_100:.1f} per 100 cards).",
    )
    filed = [c for c in merchant.complaints if c.created_at <= at]
    if filed:
        stale = [
            c
            for c in filed
            if c.created_at <= at - timedelta(days=15) and (c.closed_at is None or c.closed_at > at)
        ]
        share = len(stale) / len(filed)
        add(
            "UNRESOLVED_COMPLAINTS",
            share,
            1 - share,
            f"{len(stale)} of {len(filed)} complaints were still open after 15 days.",
        )
    ratio = merchant.custody_ratio_bp / 10_000
    add(
        "CUSTODY_COVERAGE",
        ratio,
        (ratio - 0.4) / 0.6,
        f"{ratio:.0%} of every payment is held in custody.",
    )
    closed = [s for s in merchant.stores if s.closed_at is not None and s.closed_at <= at]
    if closed:
        share = len(closed) / len(merchant.stores)
        add(
            "STORE_CLOSURES",
            share,
            1 - share,
            f"{len(closed)} of {len(merchant.stores)} stores have closed.",
        )
    return found


def _score(merchant: MerchantPlan, at: datetime) -> tuple[int, list[CreditFactor]]:
    """The score at `at` and its factors: each weight normalised over the factors that apply."""
    factors = _factors(merchant, at)
    total_weight = sum(FACTORS[code][1] for code, *_ in factors)
    rows = []
    for position, (code, value, subscore, explanation) in enumerate(factors):
        weight = FACTORS[code][1] / total_weight
        rows.append(
            CreditFactor(
                position=position,
                code=code,
                name=FACTORS[code][0],
                value=value,
                weight=round(weight, 4),
                contribution=round(1000 * weight * subscore, 1),
                explanation=explanation,
            )
        )
    return max(0, min(1000, round(sum(row.contribution for row in rows)))), rows


async def _write_score(merchant: MerchantPlan, at: datetime) -> int:
    score, factors = _score(merchant, at)
    merchant.grade = _grade(score)
    saved = await CreditScore.create(
        merchant_id=merchant.id,
        score=score,
        grade=merchant.grade,
        model_version=MODEL_VERSION,
        computed_at=at,
    )
    for factor in factors:
        factor.score_id = saved.id
    await CreditFactor.bulk_create(factors)
    return score


async def write_credit(world: World) -> None:
    """Nightly scores: the latest last night, an earlier one a month before for some merchants."""
    latest, earlier = world.at(-1, 23 * 60 + 30), world.at(-31, 23 * 60 + 30)
    for merchant in world.merchants:
        if merchant.status not in (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED):
            continue
        if merchant.weak or merchant is world.chain or world.rng.random() < 0.4:
            await _write_score(merchant, earlier)
        score = await _write_score(merchant, latest)
        await Merchant.filter(id=merchant.id).update(
            credit_score=score, credit_grade=merchant.grade
        )
