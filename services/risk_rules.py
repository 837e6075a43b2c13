"""The risk rules: pure functions from a merchant's figures to the alert they raise.

Each rule takes the figures services/risk_metrics.py reads and returns the
`Finding` they amount to, or None (DESIGN.md "Credit and risk"; thresholds are
settings, `risk_*` in settings.py):

| kind | raised when | severity |
|---|---|---|
| SALES_SPIKE | 7-day sales over 3x the average week of the 90 days before and over 5,000.00, for a merchant selling for 30 days or more | MEDIUM; HIGH at twice the factor (6x) |
| REDEMPTION_ANOMALY | 14-day redemptions under 30 % of the 90-day norm while cards still sell (a stall); over 20 redemptions within 10 minutes at one store (a burst); redemptions between 00:00 and 06:00 in the platform's time zone (at night) | stall MEDIUM, HIGH under a third of the ratio (10 %); burst MEDIUM; night LOW |
| LARGE_PURCHASE | one consumer pays 10,000.00 or more to one merchant within 24 hours | LOW; MEDIUM at twice the amount or when two consumers do |
| ESCROW_SHORTFALL | custody holds less than the custody ratio requires of the live cards' cash; or outstanding liability over 200,000.00 with a custody ratio under 1 | HIGH when custody is short; MEDIUM for the exposure |
| COMPLAINT_SURGE | over 5 complaints per 100 live cards within 30 days, and at least 3 (withdrawn and dismissed ones do not count) | MEDIUM; HIGH at twice the rate |
| STORE_CLOSURES | 30 % or more of the stores closed within 30 days; or every store closed while cards still hold service | MEDIUM; HIGH when every store is closed |
| RECONCILIATION_MISMATCH | raised by a reconciliation run (services/reconciliation.py), not by a rule here: an unexplained difference with the channel's bill or the custody bank's statement | MEDIUM when the statement lacks what we recorded; HIGH otherwise |

No database and no clock here: services/risk.py reads the figures, runs the
rules and records what they find as alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from models.enums import RiskAlertKind, RiskLevel, TransferKind
from services.custody import FULL_CUSTODY_BP, bp_to_ratio, custody_share
from services.money import format_money
from services.risk_metrics import (
    SALES_KINDS,
    ComplaintLoad,
    ConsumerPurchases,
    Custody,
    Evidence,
    NightRedemptions,
    RedemptionFlow,
    SalesHistory,
    StoreBurst,
    StoreClosures,
)
from settings import Settings

# The windows the rules judge (their summaries name them).
DAY = timedelta(days=1)
SPIKE_WINDOW = timedelta(days=7)
STALL_WINDOW = timedelta(days=14)
BASELINE = timedelta(days=90)
LARGE_PURCHASE_WINDOW = DAY
NIGHT_WINDOW = DAY
COMPLAINT_WINDOW = timedelta(days=30)
STORE_WINDOW = timedelta(days=30)
# An average week under 1.00 counts as 1.00, so a merchant that sold nothing for months and
# then sells a lot has a spike of a finite size.
MIN_AVERAGE_WEEK_FEN = 100
SEVERITY_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}
"""Severities in order: a repeat never lowers an open alert's severity."""


# ---------------------------------------------------------------- findings


@dataclass(frozen=True)
class Thresholds:
    """The settings the rules compare figures with."""

    sales_spike_factor: float
    sales_spike_min_fen: int
    history_days: float
    stall_ratio: float
    burst_count: int
    burst_window: timedelta
    night_redemptions: int
    night_end_hour: int
    large_purchase_fen: int
    liability_fen: int
    complaints_per_100: float
    complaints_min: int
    store_closure_share: float
    recheck: timedelta
    zone: ZoneInfo

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(
            sales_spike_factor=settings.risk_sales_spike_factor,
            sales_spike_min_fen=settings.risk_sales_spike_min_fen,
            history_days=settings.risk_history_days,
            stall_ratio=settings.risk_redemption_stall_ratio,
            burst_count=settings.risk_redemption_burst_count,
            burst_window=timedelta(minutes=settings.risk_redemption_burst_minutes),
            night_redemptions=settings.risk_night_redemptions,
            night_end_hour=settings.risk_night_end_hour,
            large_purchase_fen=settings.risk_large_purchase_fen,
            liability_fen=settings.risk_liability_fen,
            complaints_per_100=settings.risk_complaint_surge_per_100,
            complaints_min=settings.risk_complaint_surge_min,
            store_closure_share=settings.risk_store_closure_share,
            recheck=timedelta(hours=settings.risk_recheck_hours),
            zone=ZoneInfo(settings.timezone),
        )


@dataclass(frozen=True)
class Metric:
    """One figure an alert shows, beside the threshold it is compared with."""

    name: str
    value: float
    threshold: float

    def as_json(self) -> dict[str, float | str]:
        return {"name": self.name, "value": round(self.value, 6), "threshold": self.threshold}


@dataclass(frozen=True)
class Finding:
    """What a rule found: the alert it raises or repeats."""

    kind: RiskAlertKind
    severity: RiskLevel
    summary: str
    metrics: tuple[Metric, ...]
    evidence: tuple[Evidence, ...] = ()


def higher(a: RiskLevel, b: RiskLevel) -> RiskLevel:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


def _yuan(fen: float) -> float:
    return round(fen / 100, 2)


def _money(fen: float) -> str:
    return format_money(round(fen))


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / DAY.total_seconds()


# ---------------------------------------------------------------- the rules (pure)


def sales_spike(sales: SalesHistory, t: Thresholds) -> Finding | None:
    """MEDIUM; HIGH when the week sells twice the factor times its average week or more."""
    if sales.history_days < t.history_days or sales.baseline_days <= 0:
        return None  # a new merchant's first sales are no spike
    average_week = sales.baseline_fen * 7 / sales.baseline_days
    times = sales.window_fen / max(average_week, MIN_AVERAGE_WEEK_FEN)
    if sales.window_fen <= t.sales_spike_min_fen or times <= t.sales_spike_factor:
        return None
    severity = RiskLevel.HIGH if times >= 2 * t.sales_spike_factor else RiskLevel.MEDIUM
    return Finding(
        RiskAlertKind.SALES_SPIKE,
        severity,
        f"Cards worth {_money(sales.window_fen)} sold in 7 days: {times:.1f} times the average "
        f"week of the 90 days before ({_money(average_week)})",
        (
            Metric("sales_7d_yuan", _yuan(sales.window_fen), _yuan(t.sales_spike_min_fen)),
            Metric("sales_7d_to_average_week", times, t.sales_spike_factor),
            Metric("sales_history_days", sales.history_days, t.history_days),
        ),
        (Evidence(SALES_KINDS, ((sales.window_start, sales.now),)),),
    )


def redemption_stall(flow: RedemptionFlow, t: Thresholds) -> Finding | None:
    """MEDIUM; HIGH when redemptions fell under a third of the ratio (10 % by default)."""
    if flow.history_days < t.history_days or flow.baseline_days <= 0:
        return None
    window_days = _days(flow.now - flow.window_start)
    norm = flow.baseline_fen * window_days / flow.baseline_days
    if norm <= 0 or flow.window_sales_fen <= 0:
        return None  # nothing to fall from, or cards no longer sell
    ratio = flow.window_fen / norm
    if ratio >= t.stall_ratio:
        return None
    severity = RiskLevel.HIGH if ratio < t.stall_ratio / 3 else RiskLevel.MEDIUM
    return Finding(
        RiskAlertKind.REDEMPTION_ANOMALY,
        severity,
        f"Redemptions stalled: {_money(flow.window_fen)} redeemed in 14 days, {ratio:.0%} of the "
        f"90-day norm ({_money(norm)}), while cards worth {_money(flow.window_sales_fen)} sold",
        (
            Metric("redemptions_14d_to_norm", ratio, t.stall_ratio),
            Metric("redeemed_14d_yuan", _yuan(flow.window_fen), _yuan(norm * t.stall_ratio)),
            Metric("sales_14d_yuan", _yuan(flow.window_sales_fen), 0.0),
        ),
        (Evidence(SALES_KINDS, ((flow.window_start, flow.now),)),),
    )


def redemption_burst(burst: StoreBurst, t: Thresholds) -> Finding | None:
    """MEDIUM: many codes redeemed at once at one counter look like custody being drained."""
    if burst.store_id is None or burst.count <= t.burst_count:
        return None
    minutes = round(t.burst_window.total_seconds() / 60)
    return Finding(
        RiskAlertKind.REDEMPTION_ANOMALY,
        RiskLevel.MEDIUM,
        f"Burst of redemptions: {burst.count} within {minutes} minutes at one store",
        (Metric(f"redemptions_{minutes}min_at_one_store", burst.count, t.burst_count),),
        (
            Evidence(
                (TransferKind.REDEMPTION,),
                ((burst.window_start, burst.now),),
                store_id=burst.store_id,
            ),
        ),
    )


def night_redemption(night: NightRedemptions, t: Thresholds) -> Finding | None:
    """LOW: one night's redemptions are worth a look, not a verdict."""
    if night.count <= t.night_redemptions:
        return None
    return Finding(
        RiskAlertKind.REDEMPTION_ANOMALY,
        RiskLevel.LOW,
        f"{night.count} redemption(s) between 00:00 and {t.night_end_hour:02d}:00 within 24 hours",
        (Metric("night_redemptions_24h", night.count, t.night_redemptions),),
        (Evidence((TransferKind.REDEMPTION,), night.periods),),
    )


def redemption_anomaly(
    flow: RedemptionFlow | None, burst: StoreBurst, night: NightRedemptions, t: Thresholds
) -> Finding | None:
    """A stall, a burst or night redemptions: one alert kind, the worst severity of the parts."""
    parts = [
        part
        for part in (
            redemption_stall(flow, t) if flow is not None else None,
            redemption_burst(burst, t),
            night_redemption(night, t),
        )
        if part is not None
    ]
    if not parts:
        return None
    severity = RiskLevel.LOW
    for part in parts:
        severity = higher(severity, part.severity)
    return Finding(
        RiskAlertKind.REDEMPTION_ANOMALY,
        severity,
        "; ".join(part.summary for part in parts),
        tuple(metric for part in parts for metric in part.metrics),
        tuple(evidence for part in parts for evidence in part.evidence),
    )


def large_purchase(buyers: ConsumerPurchases, t: Thresholds) -> Finding | None:
    """LOW; MEDIUM when one consumer paid twice the amount or more, or two consumers did."""
    over = [(owner, paid) for owner, paid in buyers.top if paid >= t.large_purchase_fen]
    if not over:
        return None
    most = over[0][1]
    severity = (
        RiskLevel.MEDIUM if len(over) > 1 or most >= 2 * t.large_purchase_fen else RiskLevel.LOW
    )
    summary = (
        f"One consumer paid {_money(most)} for cards within 24 hours"
        if len(over) == 1
        else f"{len(over)} consumers each paid {_money(t.large_purchase_fen)} or more for cards "
        f"within 24 hours (the most {_money(most)})"
    )
    return Finding(
        RiskAlertKind.LARGE_PURCHASE,
        severity,
        summary,
        (
            Metric("paid_by_one_consumer_24h_yuan", _yuan(most), _yuan(t.large_purchase_fen)),
            Metric("consumers_over_threshold_24h", len(over), 1),
        ),
        (
            Evidence(
                SALES_KINDS,
                ((buyers.window_start, buyers.now),),
                owner_ids=tuple(owner for owner, _paid in over),
            ),
        ),
    )


def escrow_shortfall(held: Custody, t: Thresholds) -> Finding | None:
    """HIGH when custody holds less than the ratio requires (cash that should be there is not);
    MEDIUM when much prepaid cash is out of custody by a ratio under 1."""
    ratio = bp_to_ratio(held.ratio_bp)
    # The sum of each card's share (rounded up per card) is at least this.
    required = custody_share(held.ratio_bp, held.liability_fen)
    if held.held_fen < required:
        return Finding(
            RiskAlertKind.ESCROW_SHORTFALL,
            RiskLevel.HIGH,
            f"Custody holds {_money(held.held_fen)}, {_money(required - held.held_fen)} less "
            f"than a custody ratio of {ratio:g} requires of {_money(held.liability_fen)} of "
            "live cards",
            (
                Metric("custody_held_yuan", _yuan(held.held_fen), _yuan(required)),
                Metric("custody_coverage", held.held_fen / held.liability_fen, ratio),
            ),
        )
    if held.ratio_bp < FULL_CUSTODY_BP and held.liability_fen > t.liability_fen:
        return Finding(
            RiskAlertKind.ESCROW_SHORTFALL,
            RiskLevel.MEDIUM,
            f"Outstanding liability of {_money(held.liability_fen)} with only {ratio:.0%} of it "
            f"kept in custody: {_money(held.liability_fen - held.held_fen)} is out of custody",
            (
                Metric(
                    "outstanding_liability_yuan", _yuan(held.liability_fen), _yuan(t.liability_fen)
                ),
                Metric("custody_ratio", ratio, 1.0),
            ),
        )
    return None


def complaint_surge(load: ComplaintLoad, t: Thresholds) -> Finding | None:
    """MEDIUM; HIGH at twice the rate."""
    per_100 = 100 * load.complaints / max(load.live_cards, 1)
    if load.complaints < t.complaints_min or per_100 <= t.complaints_per_100:
        return None
    severity = RiskLevel.HIGH if per_100 > 2 * t.complaints_per_100 else RiskLevel.MEDIUM
    return Finding(
        RiskAlertKind.COMPLAINT_SURGE,
        severity,
        f"{load.complaints} complaints within 30 days against {load.live_cards} live cards "
        f"({per_100:.1f} per 100)",
        (
            Metric("complaints_30d", load.complaints, t.complaints_min),
            Metric("complaints_per_100_live_cards", per_100, t.complaints_per_100),
        ),
    )


def store_closures(
    stores: StoreClosures, t: Thresholds, *, check_all_closed: bool
) -> Finding | None:
    """HIGH when every store is closed while cards still hold service (nowhere to use them);
    MEDIUM when a large share closed within 30 days."""
    if (
        check_all_closed
        and stores.open_now == 0
        and stores.closed_now > 0
        and stores.cards_with_balance > 0
    ):
        return Finding(
            RiskAlertKind.STORE_CLOSURES,
            RiskLevel.HIGH,
            f"Every store is closed while {stores.cards_with_balance} card(s) still hold service",
            (
                Metric("open_stores", 0, 1),
                Metric("cards_with_balance", stores.cards_with_balance, 0),
            ),
        )
    counted = stores.open_now + stores.closed_in_window
    share = stores.closed_in_window / counted if counted else 0.0
    if stores.closed_in_window == 0 or share < t.store_closure_share:
        return None
    return Finding(
        RiskAlertKind.STORE_CLOSURES,
        RiskLevel.MEDIUM,
        f"{stores.closed_in_window} of {counted} stores closed within 30 days",
        (Metric("stores_closed_30d_share", share, t.store_closure_share),),
    )
