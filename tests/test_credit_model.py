"""The credit model as pure functions: properties over any features (hypothesis).

No database: services/credit.py takes a CreditFeatures and returns the score
with its factors. tests/test_credit.py drives the same model through real
operations.
"""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given
from hypothesis import strategies as st

from models.enums import CreditGrade, RiskLevel
from services import credit
from services.credit import (
    FACTOR_BY_CODE,
    HARD_NEGATIVE_CODE,
    MIN_CARDS,
    CreditFeatures,
    allocate,
    grade_for,
)

GRADE_ORDER = [CreditGrade.D, CreditGrade.C, CreditGrade.B, CreditGrade.A]
SEVERITIES = st.sampled_from(list(RiskLevel))
counts = st.integers(min_value=0, max_value=5_000)


@st.composite
def registry(draw: st.DrawFn, *, clean: bool | None = None) -> dict:
    """Registry fields; `clean`: 存续, no penalties, not on the abnormal list (or a record
    the registry does not have, which counts as clean and new)."""
    found = draw(st.booleans()) if clean is None else draw(st.sampled_from([True, True, False]))
    if clean:
        status, operating, penalties, listed = "存续", True, 0, False
    else:
        status = draw(st.sampled_from(["存续", "在业", "吊销", "注销", "迁出"]))
        operating = status in ("存续", "在业")
        penalties = draw(st.integers(min_value=0, max_value=10))
        listed = draw(st.booleans())
    return {
        "registry_found": found,
        "registration_status": status if found else None,
        "operating": operating or not found,
        "years_in_operation": draw(st.floats(min_value=0, max_value=60)) if found else 0.0,
        "registered_capital_fen": draw(st.integers(min_value=0, max_value=10**13)) if found else 0,
        "administrative_penalties": penalties if found else 0,
        "on_abnormal_list": listed and found,
    }


@st.composite
def features(draw: st.DrawFn, *, clean: bool | None = None) -> CreditFeatures:
    """Any features at all (consistent where the model relies on it)."""
    cards_in_window = draw(counts)
    considered = draw(counts)
    live_cash = draw(st.integers(min_value=0, max_value=10**10))
    return CreditFeatures(
        **draw(registry(clean=clean)),
        cards_in_window=cards_in_window,
        cards_refunded=draw(st.integers(min_value=0, max_value=cards_in_window)),
        cards_redeemed=draw(counts),
        cards_idle=draw(counts),
        live_cards=draw(counts),
        complaints_in_window=draw(counts),
        complaints_considered=considered,
        complaints_unresolved=draw(st.integers(min_value=0, max_value=considered)),
        live_cash_fen=live_cash,
        live_escrow_fen=draw(st.integers(min_value=0, max_value=live_cash)),
        custody_ratio_bp=draw(st.integers(min_value=4_000, max_value=10_000)),
        sales_spike_alerts=tuple(draw(st.lists(SEVERITIES, max_size=4))),
        redemption_stall_alerts=tuple(draw(st.lists(SEVERITIES, max_size=4))),
        stores_open=draw(st.integers(min_value=0, max_value=50)),
        stores_closed_in_window=draw(st.integers(min_value=0, max_value=50)),
        deepest_discount_bp=draw(st.integers(min_value=0, max_value=9_999)),
        deepest_discount_product=draw(st.none() | st.just("充1000送600")),
    )


@st.composite
def newcomer(draw: st.DrawFn) -> CreditFeatures:
    """A merchant with a clean registry record and no history to judge: too few cards for any
    rate, no complaint, alert, closure or deep discount; any custody ratio a regulator may set."""
    cards = draw(st.integers(min_value=0, max_value=MIN_CARDS - 1))
    live_cash = draw(st.integers(min_value=0, max_value=5 * 10**5 * cards))
    ratio_bp = draw(st.integers(min_value=4_000, max_value=10_000))
    return CreditFeatures(
        **draw(registry(clean=True)),
        cards_in_window=cards,
        cards_refunded=draw(st.integers(min_value=0, max_value=cards)),
        cards_redeemed=0,
        cards_idle=draw(st.integers(min_value=0, max_value=cards)),
        live_cards=cards,
        complaints_in_window=0,
        complaints_considered=0,
        complaints_unresolved=0,
        live_cash_fen=live_cash,
        live_escrow_fen=math.ceil(live_cash * ratio_bp / 10_000),
        custody_ratio_bp=ratio_bp,
        stores_open=draw(st.integers(min_value=1, max_value=20)),
        deepest_discount_bp=draw(st.integers(min_value=0, max_value=4_000)),
    )


def contribution_of(result: credit.CreditResult, code: str) -> float:
    return next(factor.contribution for factor in result.factors if factor.code == code)


# ---------------------------------------------------------------- arithmetic


@given(features())
def test_contributions_add_up_to_the_score_which_stays_in_range(f):
    result = credit.score(f)

    assert 0 <= result.score <= 1000
    assert sum(factor.contribution for factor in result.factors) == result.score
    assert result.grade is grade_for(result.score)
    for factor in result.factors:
        assert factor.contribution == int(factor.contribution)
        if factor.code != HARD_NEGATIVE_CODE:
            spec = FACTOR_BY_CODE[factor.code]
            assert 0 <= factor.contribution <= spec.points
            assert factor.weight == spec.points / 1000
            assert factor.explanation.endswith(".")
    assert [factor.code for factor in result.factors[: len(credit.FACTORS)]] == [
        spec.code for spec in credit.FACTORS
    ]
    assert result.model_version == credit.MODEL_VERSION


@given(st.lists(st.tuples(st.integers(1, 200), st.floats(0, 1)), min_size=1, max_size=20))
def test_rounding_gives_whole_points_that_add_up_to_the_exact_total_rounded(shares):
    caps = [cap for cap, _ in shares]
    exact = [cap * fraction for cap, fraction in shares]

    points = allocate(exact, caps)

    assert sum(points) == math.floor(sum(round(value, 6) for value in exact) + 0.5)
    for value, cap, earned in zip(exact, caps, points, strict=True):
        assert math.floor(round(value, 6)) <= earned <= min(math.ceil(round(value, 6)), cap)


def test_grade_bands():
    assert [grade_for(score) for score in (0, 599, 600, 699, 700, 849, 850, 1000)] == [
        CreditGrade.D,
        CreditGrade.D,
        CreditGrade.C,
        CreditGrade.C,
        CreditGrade.B,
        CreditGrade.B,
        CreditGrade.A,
        CreditGrade.A,
    ]


# ---------------------------------------------------------------- the guarantees in DESIGN.md


@given(features(), st.sampled_from(["abnormal", "revoked", "both"]))
def test_a_hard_negative_forces_grade_d(f, negative):
    listed = negative in ("abnormal", "both")
    revoked = negative in ("revoked", "both")
    f = dataclasses.replace(
        f,
        registry_found=True,
        registration_status="吊销" if revoked else "存续",
        operating=not revoked,
        on_abnormal_list=listed,
    )

    result = credit.score(f)

    assert result.grade is CreditGrade.D
    assert result.score <= credit.HARD_NEGATIVE_CEILING
    assert result.factors[-1].code == HARD_NEGATIVE_CODE
    assert len(result.hard_negatives) == (2 if negative == "both" else 1)


@given(newcomer())
def test_a_newcomer_with_a_clean_record_is_at_least_grade_c(f):
    result = credit.score(f)

    assert result.grade is not CreditGrade.D, result
    rates = ("REDEMPTION_RATE", "COMPLAINT_RATE", "UNRESOLVED_COMPLAINTS", "REFUND_RATE")
    assert all(factor.neutral for factor in result.factors if factor.code in rates)


@st.composite
def clean_and_not_worse_than_neutral(draw: st.DrawFn) -> CreditFeatures:
    """A clean registry record and a history at least as good as the neutral values."""
    f = draw(newcomer())
    if draw(st.booleans()):  # enough history, every rate at its neutral value or better
        cards = draw(st.integers(min_value=MIN_CARDS, max_value=2_000))
        redeemed = draw(st.integers(min_value=math.ceil(0.42 * cards), max_value=cards))
        f = dataclasses.replace(
            f,
            cards_in_window=cards,
            live_cards=cards,
            cards_redeemed=redeemed,
            cards_idle=cards - redeemed,
            complaints_in_window=draw(st.integers(min_value=0, max_value=(6 * cards) // 100)),
            complaints_considered=draw(st.integers(min_value=0, max_value=10)),
            cards_refunded=draw(st.integers(min_value=0, max_value=(7 * cards) // 100)),
        )
        f = dataclasses.replace(
            f,
            complaints_unresolved=draw(
                st.integers(min_value=0, max_value=int(0.3 * f.complaints_considered))
            ),
        )
    return f


@given(
    clean_and_not_worse_than_neutral(),
    st.sampled_from(["sales_spike_alerts", "redemption_stall_alerts"]),
    st.sampled_from([RiskLevel.LOW, RiskLevel.MEDIUM]),
)
def test_one_alert_of_medium_severity_or_below_keeps_a_clean_merchant_at_c_or_above(
    f, kind, severity
):
    with_alert = dataclasses.replace(f, **{kind: (severity,)})

    result = credit.score(with_alert)

    assert result.grade is not CreditGrade.D, result


def test_the_lowest_newcomer_still_has_a_margin_for_one_medium_alert():
    # 0 years, no capital, custody at the 40 % minimum: the worst a clean newcomer can be.
    f = CreditFeatures(
        registry_found=True,
        registration_status="存续",
        operating=True,
        years_in_operation=0,
        registered_capital_fen=0,
        administrative_penalties=0,
        on_abnormal_list=False,
        cards_in_window=0,
        cards_refunded=0,
        cards_redeemed=0,
        cards_idle=0,
        live_cards=0,
        complaints_in_window=0,
        complaints_considered=0,
        complaints_unresolved=0,
        live_cash_fen=0,
        live_escrow_fen=0,
        custody_ratio_bp=4_000,
    )
    assert credit.score(f).score == 655
    alerted = credit.score(dataclasses.replace(f, sales_spike_alerts=(RiskLevel.MEDIUM,)))
    assert (alerted.score, alerted.grade) == (630, CreditGrade.C)
    high = credit.score(dataclasses.replace(f, redemption_stall_alerts=(RiskLevel.HIGH,)))
    assert (high.score, high.grade) == (605, CreditGrade.C)


# ---------------------------------------------------------------- single factors move the right way


@given(features(clean=False), st.integers(min_value=4_001, max_value=9_999))
def test_a_discount_deeper_than_40_percent_counts_against_the_merchant(f, deep_bp):
    modest = credit.score(dataclasses.replace(f, deepest_discount_bp=4_000))
    deep = credit.score(dataclasses.replace(f, deepest_discount_bp=deep_bp))

    assert contribution_of(modest, "DISCOUNT_DEPTH") == 50
    assert contribution_of(deep, "DISCOUNT_DEPTH") <= 25
    assert deep.score <= modest.score


@given(features(), st.integers(min_value=1, max_value=5))
def test_more_penalties_or_unresolved_complaints_never_raise_the_score(f, more):
    baseline = credit.score(f).score
    penalised = dataclasses.replace(
        f, administrative_penalties=f.administrative_penalties + more, registry_found=True
    )
    if f.registry_found:
        assert credit.score(penalised).score <= baseline
    if f.complaints_unresolved + more <= f.complaints_considered:
        worse = dataclasses.replace(f, complaints_unresolved=f.complaints_unresolved + more)
        assert credit.score(worse).score <= baseline


def test_an_established_merchant_with_a_good_record_is_grade_a():
    f = CreditFeatures(
        registry_found=True,
        registration_status="存续",
        operating=True,
        years_in_operation=12,
        registered_capital_fen=500_000_000,
        administrative_penalties=0,
        on_abnormal_list=False,
        cards_in_window=200,
        cards_refunded=2,
        cards_redeemed=150,
        cards_idle=30,
        live_cards=190,
        complaints_in_window=1,
        complaints_considered=1,
        complaints_unresolved=0,
        live_cash_fen=10**8,
        live_escrow_fen=10**8,
        custody_ratio_bp=10_000,
    )

    result = credit.score(f)

    assert result.grade is CreditGrade.A
    assert not result.hard_negatives
    assert not any(factor.neutral for factor in result.factors)
