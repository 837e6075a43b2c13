"""The credit model's factor table: each factor's points and how it is assessed.

Pure functions, no database: services/credit_features.py gathers a
`CreditFeatures` from the database, each assessor here turns it into the share
of its factor's points it earns, and services/credit.py rounds those into the
score. docs/credit-model.md explains every factor to people.

Each factor earns between 0 and its points (the points of all factors add up
to 1000: 400 for the registry's static data, 600 for what the merchant does on
the platform). Rates measured over too few cards mean nothing: below
`MIN_CARDS` they score the neutral `NEUTRAL_SUBSCORE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from models.enums import RiskLevel

MAX_SCORE = 1000
"""What all factors' points add up to: 400 static (the registry), 600 dynamic."""

# The windows the features are measured over (services/credit_features.py measures over them).
WINDOW_DAYS = 90
"""Redemptions, refunds, complaints, alerts and store closures count over the last 90 days."""
SETTLING_DAYS = 14
"""A card younger than this is not expected to have been used yet."""
COMPLAINT_DEADLINE_DAYS = 15
"""A complaint still open this long after it was filed counts as unresolved."""

MIN_CARDS = 10
"""Fewer cards than this and a rate per card means nothing: the factor scores neutral."""
NEUTRAL_SUBSCORE = 0.7
"""The share of its points a factor earns when there is no history to judge it by."""

FULL_REDEMPTION_RATE = 0.6
"""Cards used in the window at or above this share earn all the factor's points."""
ZERO_COMPLAINTS_PER_100 = 20.0
"""Complaints per 100 cards at which the complaint-rate factor earns nothing."""
ZERO_REFUND_RATE = 0.25
"""Share of cards refunded at which the refund-rate factor earns nothing."""
MIN_CUSTODY = 0.4
"""The lowest custody ratio a regulator may set: coverage at or under it earns nothing."""
FULL_YEARS = 10.0
"""Years in operation that earn all the factor's points."""
FULL_CAPITAL_YUAN = 5_000_000
"""Registered capital (yuan) that earns all the factor's points (square-root scale below)."""
PENALTY_COST = 0.4
"""Share of the penalties factor each administrative penalty takes."""
DISCOUNT_LIMIT_BP = 4_000
"""A product sold at more than 40 % off counts against the merchant."""
DISCOUNT_ZERO_BP = 7_000
"""At 70 % off or more the discount factor earns nothing."""
ALERT_COST = {RiskLevel.LOW: 0.25, RiskLevel.MEDIUM: 0.5, RiskLevel.HIGH: 1.0}
"""Share of an alert factor's points each alert of that severity in the window takes."""


@dataclass(frozen=True)
class FactorSpec:
    code: str
    name: str
    points: int
    static: bool


FACTORS = (
    FactorSpec("YEARS_IN_OPERATION", "Years in operation", 110, True),
    FactorSpec("REGISTERED_CAPITAL", "Registered capital", 70, True),
    FactorSpec("ADMINISTRATIVE_PENALTIES", "Administrative penalties", 100, True),
    FactorSpec("ABNORMAL_LIST", "Abnormal-operations list", 60, True),
    FactorSpec("REGISTRATION_STATUS", "Registration status", 60, True),
    FactorSpec("REDEMPTION_RATE", "Redemption rate (90 days)", 110, False),
    FactorSpec("COMPLAINT_RATE", "Complaint rate (90 days)", 90, False),
    FactorSpec("UNRESOLVED_COMPLAINTS", "Complaints unresolved after 15 days", 80, False),
    FactorSpec("REFUND_RATE", "Refund rate (90 days)", 70, False),
    FactorSpec("CUSTODY_COVERAGE", "Custody coverage", 60, False),
    FactorSpec("SALES_SPIKES", "Sales spikes (90 days)", 50, False),
    FactorSpec("REDEMPTION_STALLS", "Redemption stalls (90 days)", 50, False),
    FactorSpec("STORE_CLOSURES", "Store closures (90 days)", 40, False),
    FactorSpec("DISCOUNT_DEPTH", "Discount depth", 50, False),
)
FACTOR_BY_CODE = {spec.code: spec for spec in FACTORS}
assert sum(spec.points for spec in FACTORS) == MAX_SCORE
assert sum(spec.points for spec in FACTORS if spec.static) == 400


@dataclass(frozen=True)
class CreditFeatures:
    """What the model knows about one merchant at one moment."""

    # The registry (None / zero when it has no record of the credit code).
    registry_found: bool
    registration_status: str | None
    operating: bool
    years_in_operation: float
    registered_capital_fen: int
    administrative_penalties: int
    on_abnormal_list: bool
    # Cards: those live at some time in the window, and of those the ones refunded in it.
    cards_in_window: int
    cards_refunded: int
    # Cards old enough to have been used: used in the window, or holding unused balance.
    cards_redeemed: int
    cards_idle: int
    live_cards: int
    # Complaints filed in the window (neither withdrawn nor dismissed); all complaints filed in
    # the window or still open; of those, the ones open past the deadline.
    complaints_in_window: int
    complaints_considered: int
    complaints_unresolved: int
    # Custody: the prepaid cash on live cards and the part of it held in custody.
    live_cash_fen: int
    live_escrow_fen: int
    custody_ratio_bp: int
    # Severities of SALES_SPIKE and REDEMPTION_ANOMALY alerts raised in the window, not dismissed.
    sales_spike_alerts: tuple[RiskLevel, ...] = ()
    redemption_stall_alerts: tuple[RiskLevel, ...] = ()
    # Stores open now, and stores closed within the window.
    stores_open: int = 1
    stores_closed_in_window: int = 0
    # The deepest discount (1 - price/face, basis points) among products on sale or sold lately.
    deepest_discount_bp: int = 0
    deepest_discount_product: str | None = None


@dataclass(frozen=True)
class Assessed:
    """One factor before rounding: its measured value and the share of its points it earns."""

    value: float
    subscore: float
    explanation: str
    neutral: bool = False


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _neutral(value: float, why: str) -> Assessed:
    return Assessed(
        value,
        NEUTRAL_SUBSCORE,
        f"{why}: too few to judge, so this factor earns the neutral "
        f"{_percent(NEUTRAL_SUBSCORE)} of its points until there are at least {MIN_CARDS}.",
        neutral=True,
    )


# ---------------------------------------------------------------- static factors


_NO_RECORD = "The registry has no record of this credit code"


def _years(f: CreditFeatures) -> Assessed:
    years = max(f.years_in_operation, 0.0)
    if not f.registry_found:
        return Assessed(0.0, 0.0, f"{_NO_RECORD}, so no years in operation are counted.")
    return Assessed(
        years,
        min(years, FULL_YEARS) / FULL_YEARS,
        f"Established {years:.1f} years ago; {FULL_YEARS:.0f} years or more earns all the points.",
    )


def _capital(f: CreditFeatures) -> Assessed:
    yuan = max(f.registered_capital_fen, 0) / 100
    if not f.registry_found:
        return Assessed(0.0, 0.0, f"{_NO_RECORD}, so no registered capital is counted.")
    return Assessed(
        yuan,
        math.sqrt(min(yuan / FULL_CAPITAL_YUAN, 1.0)),
        f"Registered capital of {yuan:,.0f} yuan; {FULL_CAPITAL_YUAN:,} yuan or more earns "
        "all the points.",
    )


def _penalties(f: CreditFeatures) -> Assessed:
    count = max(f.administrative_penalties, 0)
    if count == 0:
        why = _NO_RECORD + "." if not f.registry_found else "No administrative penalties on record."
        return Assessed(0.0, 1.0, why)
    return Assessed(
        float(count),
        1 - PENALTY_COST * count,
        f"{_plural(count, 'administrative penalty', 'administrative penalties')} on record; "
        f"each takes {_percent(PENALTY_COST)} of this factor.",
    )


def _abnormal_list(f: CreditFeatures) -> Assessed:
    if f.on_abnormal_list:
        return Assessed(
            1.0,
            0.0,
            "Listed on the abnormal-operations list (经营异常名录): grade D until the listing "
            "is removed.",
        )
    if not f.registry_found:
        return Assessed(0.0, 1.0, f"{_NO_RECORD}; not known to be on the abnormal list.")
    return Assessed(0.0, 1.0, "Not on the abnormal-operations list.")


def _registration_status(f: CreditFeatures) -> Assessed:
    if not f.registry_found:
        return Assessed(1.0, 1.0, f"{_NO_RECORD}; not known to be out of operation.")
    if not f.operating:
        return Assessed(
            0.0,
            0.0,
            f"Registration status is 「{f.registration_status}」, not 存续 (in operation): "
            "grade D.",
        )
    return Assessed(1.0, 1.0, f"Registration status 「{f.registration_status}」: in operation.")


# ---------------------------------------------------------------- dynamic factors


def _redemption_rate(f: CreditFeatures) -> Assessed:
    sample = f.cards_redeemed + f.cards_idle
    rate = f.cards_redeemed / sample if sample else 0.0
    if sample < MIN_CARDS:
        return _neutral(
            rate,
            f"{_plural(sample, 'card')} older than {SETTLING_DAYS} days to show whether "
            "cards get used",
        )
    return Assessed(
        rate,
        rate / FULL_REDEMPTION_RATE,
        f"{f.cards_redeemed} of {sample} cards older than {SETTLING_DAYS} days were used in the "
        f"last {WINDOW_DAYS} days ({_percent(rate)}); {_percent(FULL_REDEMPTION_RATE)} or more "
        "earns all the points.",
    )


def _complaint_rate(f: CreditFeatures) -> Assessed:
    cards = f.cards_in_window
    per_100 = 100 * f.complaints_in_window / cards if cards else 0.0
    if cards < MIN_CARDS:
        return _neutral(per_100, f"{_plural(cards, 'card')} in the last {WINDOW_DAYS} days")
    return Assessed(
        per_100,
        1 - per_100 / ZERO_COMPLAINTS_PER_100,
        f"{_plural(f.complaints_in_window, 'complaint')} in the last {WINDOW_DAYS} days against "
        f"{cards} cards ({per_100:.1f} per 100 cards); {ZERO_COMPLAINTS_PER_100:.0f} per 100 "
        "or more earns nothing.",
    )


def _unresolved_complaints(f: CreditFeatures) -> Assessed:
    considered = f.complaints_considered
    if considered == 0:
        if f.cards_in_window < MIN_CARDS:
            return _neutral(0.0, f"No complaint yet, and {_plural(f.cards_in_window, 'card')}")
        return Assessed(0.0, 1.0, f"No complaints in the last {WINDOW_DAYS} days.")
    unresolved = min(f.complaints_unresolved, considered)
    share = unresolved / considered
    return Assessed(
        share,
        1 - share,
        f"{unresolved} of {_plural(considered, 'complaint')} still unresolved more than "
        f"{COMPLAINT_DEADLINE_DAYS} days after filing ({_percent(share)})."
        if unresolved
        else f"No complaint has stayed unresolved for {COMPLAINT_DEADLINE_DAYS} days "
        f"({_plural(considered, 'complaint')} considered).",
    )


def _refund_rate(f: CreditFeatures) -> Assessed:
    cards = f.cards_in_window
    refunded = min(f.cards_refunded, cards)
    rate = refunded / cards if cards else 0.0
    if cards < MIN_CARDS:
        return _neutral(rate, f"{_plural(cards, 'card')} in the last {WINDOW_DAYS} days")
    return Assessed(
        rate,
        1 - rate / ZERO_REFUND_RATE,
        f"{refunded} of {cards} cards were refunded in the last {WINDOW_DAYS} days "
        f"({_percent(rate)}); {_percent(ZERO_REFUND_RATE)} or more earns nothing.",
    )


def _custody_coverage(f: CreditFeatures) -> Assessed:
    if f.live_cash_fen > 0:
        coverage = min(max(f.live_escrow_fen, 0) / f.live_cash_fen, 1.0)
        why = f"{_percent(coverage)} of the prepaid cash on live cards is held in custody"
    else:
        coverage = f.custody_ratio_bp / 10_000
        why = (
            f"No prepaid cash is outstanding; {_percent(coverage)} of each payment goes to custody"
        )
    return Assessed(
        coverage,
        (coverage - MIN_CUSTODY) / (1 - MIN_CUSTODY),
        f"{why}. Full custody earns all the points, {_percent(MIN_CUSTODY)} none.",
    )


def _alerts(severities: tuple[RiskLevel, ...], what: str) -> Assessed:
    cost = sum(ALERT_COST[severity] for severity in severities)
    if not severities:
        return Assessed(0.0, 1.0, f"No {what} alert in the last {WINDOW_DAYS} days.")
    listed = ", ".join(severity.value for severity in severities)
    return Assessed(
        cost,
        1 - cost,
        f"{_plural(len(severities), what + ' alert')} in the last {WINDOW_DAYS} days ({listed}); "
        "a LOW alert takes a quarter of this factor, MEDIUM half, HIGH all of it.",
    )


def _sales_spikes(f: CreditFeatures) -> Assessed:
    return _alerts(f.sales_spike_alerts, "sales-spike")


def _redemption_stalls(f: CreditFeatures) -> Assessed:
    return _alerts(f.redemption_stall_alerts, "redemption-anomaly")


def _store_closures(f: CreditFeatures) -> Assessed:
    if f.stores_open == 0 and f.live_cards > 0:
        return Assessed(
            1.0, 0.0, f"Every store is closed while {_plural(f.live_cards, 'card')} still live."
        )
    stores = f.stores_open + f.stores_closed_in_window
    share = f.stores_closed_in_window / stores if stores else 0.0
    if not f.stores_closed_in_window:
        return Assessed(0.0, 1.0, f"No store closed in the last {WINDOW_DAYS} days.")
    return Assessed(
        share,
        1 - share,
        f"{f.stores_closed_in_window} of {stores} stores closed in the last {WINDOW_DAYS} days "
        f"({_percent(share)}).",
    )


def _discount_depth(f: CreditFeatures) -> Assessed:
    depth = f.deepest_discount_bp / 10_000
    product = f" ({f.deepest_discount_product})" if f.deepest_discount_product else ""
    if f.deepest_discount_bp <= 0:
        return Assessed(0.0, 1.0, "No card is sold below its face value.")
    if f.deepest_discount_bp <= DISCOUNT_LIMIT_BP:
        return Assessed(
            depth,
            1.0,
            f"The deepest discount on sale is {_percent(depth)} off{product}; more than "
            f"{_percent(DISCOUNT_LIMIT_BP / 10_000)} off would count against the merchant.",
        )
    beyond = (f.deepest_discount_bp - DISCOUNT_LIMIT_BP) / (DISCOUNT_ZERO_BP - DISCOUNT_LIMIT_BP)
    return Assessed(
        depth,
        0.5 * (1 - beyond),
        f"A card is sold at {_percent(depth)} off{product}: more than "
        f"{_percent(DISCOUNT_LIMIT_BP / 10_000)} off takes at least half of this factor, "
        f"{_percent(DISCOUNT_ZERO_BP / 10_000)} off all of it. Deep discounts bring in cash "
        "the merchant may not be able to serve.",
    )


ASSESSORS: dict[str, Callable[[CreditFeatures], Assessed]] = {
    "YEARS_IN_OPERATION": _years,
    "REGISTERED_CAPITAL": _capital,
    "ADMINISTRATIVE_PENALTIES": _penalties,
    "ABNORMAL_LIST": _abnormal_list,
    "REGISTRATION_STATUS": _registration_status,
    "REDEMPTION_RATE": _redemption_rate,
    "COMPLAINT_RATE": _complaint_rate,
    "UNRESOLVED_COMPLAINTS": _unresolved_complaints,
    "REFUND_RATE": _refund_rate,
    "CUSTODY_COVERAGE": _custody_coverage,
    "SALES_SPIKES": _sales_spikes,
    "REDEMPTION_STALLS": _redemption_stalls,
    "STORE_CLOSURES": _store_closures,
    "DISCOUNT_DEPTH": _discount_depth,
}
assert set(ASSESSORS) == set(FACTOR_BY_CODE)
