"""The credit model: a merchant's features in, a 0–1000 score with its factors out.

Pure functions, no database: services/credit_features.py gathers a
`CreditFeatures` from the database, services/credit_factors.py assesses each
factor of it, this module rounds the factors into the score and grade, and
services/credit_scores.py stores what `score` returns. docs/credit-model.md
explains every factor to people.

A factor's earned points are rounded to whole points so that they add up
exactly to the score; a registry hard negative (registration not in operation,
the abnormal-operations list) adds a last line that takes the score below 600,
so the grade is D whatever the other factors say.

Rates measured over too few cards score neutral (services/credit_factors.py),
so a new merchant with a clean registry record starts at grade C or better, and
one alert of MEDIUM severity or below does not take such a merchant under C
(tests/test_credit_model.py proves both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from models.enums import CreditGrade
from services.credit_factors import (
    ASSESSORS,
    FACTOR_BY_CODE,
    FACTORS,
    MAX_SCORE,
    MIN_CARDS,
    CreditFeatures,
)

# The model's inputs and factor table, importable from here with the score they make.
__all__ = [
    "FACTORS",
    "FACTOR_BY_CODE",
    "HARD_NEGATIVE_CEILING",
    "HARD_NEGATIVE_CODE",
    "MAX_SCORE",
    "MIN_CARDS",
    "MODEL_VERSION",
    "CreditFeatures",
    "CreditResult",
    "FactorResult",
    "allocate",
    "grade_for",
    "hard_negatives",
    "score",
]

MODEL_VERSION = "anfu-credit-1"
GRADE_FLOORS = ((CreditGrade.A, 850), (CreditGrade.B, 700), (CreditGrade.C, 600))
# A hard negative holds the score at most here: the highest score of grade D.
HARD_NEGATIVE_CEILING = 599
HARD_NEGATIVE_CODE = "HARD_NEGATIVE"


@dataclass(frozen=True)
class FactorResult:
    code: str
    name: str
    value: float
    weight: float
    """Share of the 1000 points this factor can earn (0.11 = 110 points)."""
    contribution: int
    """Points earned; the contributions of a score add up to it."""
    explanation: str
    neutral: bool = False
    """Scored at the neutral value: too little history to judge."""


@dataclass(frozen=True)
class CreditResult:
    score: int
    grade: CreditGrade
    factors: tuple[FactorResult, ...]
    hard_negatives: tuple[str, ...] = field(default=())
    model_version: str = MODEL_VERSION


def grade_for(score: int) -> CreditGrade:
    for grade, floor in GRADE_FLOORS:
        if score >= floor:
            return grade
    return CreditGrade.D


def hard_negatives(features: CreditFeatures) -> tuple[str, ...]:
    """The registry facts that force grade D, in words."""
    found = []
    if features.registry_found and not features.operating:
        found.append(
            f"registration status 「{features.registration_status}」, not 存续 (in operation)"
        )
    if features.on_abnormal_list:
        found.append("on the abnormal-operations list (经营异常名录)")
    return tuple(found)


def score(features: CreditFeatures) -> CreditResult:
    """Score a merchant: every factor's points, rounded so that they add up to the score."""
    assessed = [(spec, ASSESSORS[spec.code](features)) for spec in FACTORS]
    exact = [spec.points * _clamp(item.subscore) for spec, item in assessed]
    points = allocate(exact, [spec.points for spec, _ in assessed])
    factors = [
        FactorResult(
            code=spec.code,
            name=spec.name,
            value=round(item.value, 4),
            weight=spec.points / MAX_SCORE,
            contribution=earned,
            explanation=item.explanation,
            neutral=item.neutral,
        )
        for (spec, item), earned in zip(assessed, points, strict=True)
    ]
    total = sum(points)
    negatives = hard_negatives(features)
    if negatives:
        cut = min(0, HARD_NEGATIVE_CEILING - total)
        factors.append(
            FactorResult(
                code=HARD_NEGATIVE_CODE,
                name="Registry hard negative",
                value=float(len(negatives)),
                weight=0.0,
                contribution=cut,
                explanation=f"The registry shows {'; '.join(negatives)}. The score is held "
                "under 600, grade D, until the registry record is clean.",
            )
        )
        total += cut
    return CreditResult(
        score=total, grade=grade_for(total), factors=tuple(factors), hard_negatives=negatives
    )


def allocate(exact: list[float], caps: list[int]) -> list[int]:
    """Whole points for each exact share, adding up to the exact total rounded half up.

    Largest remainder: every share is rounded down, and the points still missing go one each
    to the shares with the largest fractions (ties to the earlier factor), so no share gets
    more than its cap when the exact share is within it.
    """
    cleaned = [round(min(max(value, 0.0), cap), 6) for value, cap in zip(exact, caps, strict=True)]
    floors = [math.floor(value) for value in cleaned]
    target = math.floor(sum(cleaned) + 0.5)
    missing = target - sum(floors)
    by_fraction = sorted(range(len(cleaned)), key=lambda i: (-(cleaned[i] - floors[i]), i))
    for index in by_fraction[:missing]:
        floors[index] += 1
    return floors


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)
