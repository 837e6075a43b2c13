"""Risk alerts: the rules that raise them, when they run, and how regulators handle them.

The rules are pure functions over the figures services/risk_metrics.py reads
(DESIGN.md "Credit and risk"; thresholds are settings, `risk_*` in settings.py):

| kind | raised when | severity |
|---|---|---|
| SALES_SPIKE | 7-day sales over 3x the average week of the 90 days before and over 5,000.00, for a merchant selling for 30 days or more | MEDIUM; HIGH at twice the factor (6x) |
| REDEMPTION_ANOMALY | 14-day redemptions under 30 % of the 90-day norm while cards still sell (a stall); over 20 redemptions within 10 minutes at one store (a burst); redemptions between 00:00 and 06:00 in the platform's time zone (at night) | stall MEDIUM, HIGH under a third of the ratio (10 %); burst MEDIUM; night LOW |
| LARGE_PURCHASE | one consumer pays 10,000.00 or more to one merchant within 24 hours | LOW; MEDIUM at twice the amount or when two consumers do |
| ESCROW_SHORTFALL | custody holds less than the custody ratio requires of the live cards' cash; or outstanding liability over 200,000.00 with a custody ratio under 1 | HIGH when custody is short; MEDIUM for the exposure |
| COMPLAINT_SURGE | over 5 complaints per 100 live cards within 30 days, and at least 3 (withdrawn and dismissed ones do not count) | MEDIUM; HIGH at twice the rate |
| STORE_CLOSURES | 30 % or more of the stores closed within 30 days; or every store closed while cards still hold service | MEDIUM; HIGH when every store is closed |

Rules run for merchants that are ACTIVE or SUSPENDED, after the events that move
them (`check_soon`, deferred past the request that caused the event) and in a
periodic `sweep` for what time alone changes (a stall) or a crashed process
left undone. At most one alert per merchant and kind is open (OPEN or
ACKNOWLEDGED): a repeat updates it (metrics, summary, a higher severity, more
transfers). An alert a regulator closed covers what it showed: windowed rules
count only what happened after it was closed (a stall needs a whole 14 days
after it), and a state (custody short, every store closed) is looked at again
`risk_recheck_hours` later. A new alert is published to subscribed regulators
and the merchant's credit score is recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock
from core.errors import BadInput, InvalidState, NotFound
from core.principal import Principal
from models import Merchant, RiskAlert, RiskAlertTransfer, Transfer
from models.enums import (
    OPEN_ALERT_STATUSES,
    AlertStatus,
    MerchantStatus,
    RiskAlertKind,
    RiskLevel,
    TransferKind,
)
from services import audit, background, credit_scores, events, risk_metrics
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
from settings import Settings, get_settings

log = logging.getLogger("anfu.risk")

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
# Transfers linked to an alert per piece of evidence, the largest first.
MAX_LINKED_TRANSFERS = 50
MAX_NOTE_LENGTH = 2000

CLOSED_ALERT_STATUSES = (AlertStatus.RESOLVED, AlertStatus.DISMISSED)
WATCHED_MERCHANTS = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
ALL_KINDS = tuple(RiskAlertKind)
SEVERITY_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}
# What each kind of card transaction may change.
KINDS_AFTER_TRANSFER = {
    TransferKind.PURCHASE: (
        RiskAlertKind.SALES_SPIKE,
        RiskAlertKind.LARGE_PURCHASE,
        RiskAlertKind.ESCROW_SHORTFALL,
    ),
    TransferKind.TOP_UP: (
        RiskAlertKind.SALES_SPIKE,
        RiskAlertKind.LARGE_PURCHASE,
        RiskAlertKind.ESCROW_SHORTFALL,
    ),
    TransferKind.REDEMPTION: (RiskAlertKind.REDEMPTION_ANOMALY,),
}


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


# ---------------------------------------------------------------- gathering and applying


def _after(start: datetime, closed_at: datetime | None) -> datetime:
    return start if closed_at is None or closed_at < start else closed_at


def _quiet(closed_at: datetime | None, now: datetime, t: Thresholds) -> bool:
    """A state a regulator closed an alert about is not looked at again for a while."""
    return closed_at is not None and now - closed_at < t.recheck


async def _check(
    kind: RiskAlertKind,
    merchant: Merchant,
    now: datetime,
    closed_at: datetime | None,
    t: Thresholds,
) -> Finding | None:
    """Read the figures of one kind's rule and apply it."""
    m = merchant.id
    if kind is RiskAlertKind.SALES_SPIKE:
        sales = await risk_metrics.sales_history(m, now, SPIKE_WINDOW, BASELINE, closed_at)
        return sales_spike(sales, t)
    if kind is RiskAlertKind.REDEMPTION_ANOMALY:
        whole_window = closed_at is None or closed_at <= now - STALL_WINDOW
        flow = (
            await risk_metrics.redemption_flow(m, now, STALL_WINDOW, BASELINE)
            if whole_window
            else None
        )
        burst = await risk_metrics.busiest_store(m, _after(now - t.burst_window, closed_at), now)
        night = await risk_metrics.night_redemptions(
            m, _after(now - NIGHT_WINDOW, closed_at), now, t.zone, t.night_end_hour
        )
        return redemption_anomaly(flow, burst, night, t)
    if kind is RiskAlertKind.LARGE_PURCHASE:
        buyers = await risk_metrics.top_buyers(
            m, _after(now - LARGE_PURCHASE_WINDOW, closed_at), now
        )
        return large_purchase(buyers, t)
    if kind is RiskAlertKind.ESCROW_SHORTFALL:
        if _quiet(closed_at, now, t):
            return None
        return escrow_shortfall(await risk_metrics.custody(merchant), t)
    if kind is RiskAlertKind.COMPLAINT_SURGE:
        load = await risk_metrics.complaint_load(m, _after(now - COMPLAINT_WINDOW, closed_at), now)
        return complaint_surge(load, t)
    if kind is RiskAlertKind.STORE_CLOSURES:
        stores = await risk_metrics.store_closures(m, _after(now - STORE_WINDOW, closed_at), now)
        return store_closures(stores, t, check_all_closed=not _quiet(closed_at, now, t))
    raise ValueError(f"no rule for {kind}")


@dataclass(frozen=True)
class Recorded:
    """An alert a finding raised (`new`) or repeated."""

    alert: RiskAlert
    new: bool


async def evaluate(
    merchant_id: int, kinds: Iterable[RiskAlertKind] = ALL_KINDS, now: datetime | None = None
) -> list[Recorded]:
    """Run the rules of `kinds` for one merchant as of `now`; record what they find."""
    now = now or clock.now()
    merchant = await Merchant.get_or_none(id=merchant_id)
    if merchant is None or merchant.status not in WATCHED_MERCHANTS:
        return []
    thresholds = Thresholds.of(get_settings())
    closed = await risk_metrics.last_closed(merchant_id)
    recorded = []
    for kind in dict.fromkeys(kinds):
        finding = await _check(kind, merchant, now, closed.get(kind), thresholds)
        if finding is not None:
            recorded.append(await record(merchant_id, finding, now))
    return recorded


async def record(merchant_id: int, finding: Finding, now: datetime) -> Recorded:
    """Raise the finding as a new alert, or fold it into the open one of its kind."""
    transfer_ids = await risk_metrics.transfers_behind(
        merchant_id, list(finding.evidence), MAX_LINKED_TRANSFERS
    )
    metrics = [metric.as_json() for metric in finding.metrics]
    severity_rose = False
    async with in_transaction():
        # At most one open alert per merchant and kind: raises about one merchant queue on its
        # row (a row lock on PostgreSQL; SQLite runs one transaction at a time), so the later of
        # two racing raises finds the earlier one's alert and updates it.
        await Merchant.filter(id=merchant_id).select_for_update(no_key=True).first()
        alert = (
            await RiskAlert.filter(
                merchant_id=merchant_id, kind=finding.kind, status__in=OPEN_ALERT_STATUSES
            )
            .order_by("id")
            .first()
        )
        new = alert is None
        if alert is None:
            alert = await RiskAlert.create(
                merchant_id=merchant_id,
                kind=finding.kind,
                severity=finding.severity,
                summary=finding.summary,
                metrics=metrics,
                raised_at=now,
            )
        else:
            severity = higher(alert.severity, finding.severity)
            severity_rose = severity is not alert.severity
            # Matching the open statuses: an alert a regulator closed meanwhile stays as closed.
            await RiskAlert.filter(id=alert.id, status__in=OPEN_ALERT_STATUSES).update(
                summary=finding.summary, metrics=metrics, severity=severity
            )
        await _link(alert.id, transfer_ids)
    alert = await RiskAlert.get(id=alert.id)
    if new:
        log.info("raised %s alert %s about merchant %s", finding.kind, alert.id, merchant_id)
        await events.risk_alert_raised(alert.id, merchant_id=merchant_id)
    if new or severity_rose:
        credit_scores.schedule_recompute(merchant_id)
    return Recorded(alert, new)


async def _link(alert_id: int, transfer_ids: Sequence[int]) -> None:
    if not transfer_ids:
        return
    linked = set(
        await RiskAlertTransfer.filter(alert_id=alert_id, transfer_id__in=transfer_ids).values_list(
            "transfer_id", flat=True
        )
    )
    await RiskAlertTransfer.bulk_create(
        [
            RiskAlertTransfer(alert_id=alert_id, transfer_id=transfer_id)
            for transfer_id in transfer_ids
            if transfer_id not in linked
        ]
    )


# ---------------------------------------------------------------- when the rules run


def check_soon(merchant_id: int, *kinds: RiskAlertKind) -> None:
    """Run the rules of `kinds` (all when none) for the merchant once the current request is
    done; calls for the same merchant and kinds before then run once."""
    chosen = tuple(sorted(set(kinds))) or ALL_KINDS

    async def work() -> None:
        await evaluate(merchant_id, chosen)

    background.defer(("risk", merchant_id, chosen), work)


def check_after_transfer(transfer: Transfer) -> None:
    """After a committed card transaction: the rules its kind can trip."""
    kinds = KINDS_AFTER_TRANSFER.get(transfer.kind)
    if kinds:
        check_soon(transfer.merchant_id, *kinds)


@dataclass(frozen=True)
class SweepReport:
    merchants: int
    raised: int
    repeated: int


async def sweep(
    now: datetime | None = None, merchant_ids: Iterable[int] | None = None
) -> SweepReport:
    """Every rule for every ACTIVE or SUSPENDED merchant (or those named): what time alone
    brings (a stall) and what a crashed process did not get to."""
    now = now or clock.now()
    query = Merchant.filter(status__in=WATCHED_MERCHANTS)
    if merchant_ids is not None:
        query = query.filter(id__in=list(merchant_ids))
    ids = cast(list[int], await query.order_by("id").values_list("id", flat=True))
    raised = repeated = 0
    for merchant_id in ids:
        try:
            recorded = await evaluate(merchant_id, ALL_KINDS, now)
        except Exception:  # one merchant's failure must not stop the others' checks
            log.exception("risk rules failed for merchant %s", merchant_id)
            continue
        raised += sum(1 for item in recorded if item.new)
        repeated += sum(1 for item in recorded if not item.new)
    return SweepReport(merchants=len(ids), raised=raised, repeated=repeated)


# ---------------------------------------------------------------- regulators handle alerts

ALLOWED_CHANGES = {
    AlertStatus.OPEN: {AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED, AlertStatus.DISMISSED},
    AlertStatus.ACKNOWLEDGED: {AlertStatus.RESOLVED, AlertStatus.DISMISSED},
    AlertStatus.RESOLVED: set(),
    AlertStatus.DISMISSED: set(),
}
_DESCRIBED = {
    AlertStatus.OPEN: "An open alert",
    AlertStatus.ACKNOWLEDGED: "An acknowledged alert",
    AlertStatus.RESOLVED: "A resolved alert",
    AlertStatus.DISMISSED: "A dismissed alert",
}
_TRIED = {
    AlertStatus.OPEN: "reopened",
    AlertStatus.ACKNOWLEDGED: "acknowledged",
    AlertStatus.RESOLVED: "resolved",
    AlertStatus.DISMISSED: "dismissed",
}


def _refusal(status: AlertStatus, to: AlertStatus) -> str:
    """Why an alert in `status` cannot move to `to`, in the words of what was tried."""
    if status is to:
        return f"The alert is already {status.value.lower()}"
    if to is AlertStatus.OPEN:
        return f"{_DESCRIBED[status]} cannot be reopened"
    return f"{_DESCRIBED[status]} cannot be {_TRIED[to]} any more"


def clean_note(note: str | None) -> str | None:
    """An optional note: trimmed, at most 2000 characters, Unicode text (None when empty)."""
    note = (note or "").strip()
    if not note:
        return None
    if len(note) > MAX_NOTE_LENGTH:
        raise BadInput(f"A note has at most {MAX_NOTE_LENGTH} characters")
    if "\x00" in note or _has_surrogate(note):
        raise BadInput("A note must be text without NUL characters or unpaired surrogates")
    return note


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


async def update_alert(
    principal: Principal, alert_id: int, status: AlertStatus, note: str | None
) -> RiskAlert:
    """A regulator acknowledges, resolves or dismisses an alert, with an optional note (kept
    when none is given); recorded in the audit trail."""
    regulator_id = principal.require_user()
    note = clean_note(note)
    alert = await scoping.writable_risk_alerts(principal).get_or_none(id=alert_id)
    if alert is None:
        raise NotFound("No such risk alert")
    if status not in ALLOWED_CHANGES[alert.status]:
        raise InvalidState(_refusal(alert.status, status))
    changes: dict[str, object] = {"status": status}
    if note is not None:
        changes["note"] = note
    if status in CLOSED_ALERT_STATUSES:
        changes["resolved_at"] = clock.now()
    async with in_transaction():
        # Claimed with an UPDATE matching the status read: of two regulators acting at once,
        # one moves the alert and the other is told it changed.
        changed = await RiskAlert.filter(id=alert.id, status=alert.status).update(**changes)
        if changed != 1:
            raise InvalidState("The alert changed meanwhile; try again")
        await audit.record(
            actor_id=regulator_id,
            action=f"RISK_ALERT_{status.value}",
            subject_type="RiskAlert",
            subject_id=alert.id,
            merchant_id=alert.merchant_id,
            reason=note,
            details={"kind": alert.kind.value, "from": alert.status.value, "to": status.value},
        )
    # The merchant's risk level, and so its score, may have changed.
    credit_scores.schedule_recompute(alert.merchant_id)
    return await RiskAlert.get(id=alert.id)


async def open_alerts(merchant_id: int, severity: RiskLevel | None = None) -> list[RiskAlert]:
    """The merchant's open (OPEN or ACKNOWLEDGED) alerts, optionally of one severity."""
    query = RiskAlert.filter(merchant_id=merchant_id, status__in=OPEN_ALERT_STATUSES)
    if severity is not None:
        query = query.filter(severity=severity)
    return await query.order_by("raised_at", "id")
