"""Risk alerts: when the rules run, how their findings become alerts, and how regulators
handle them.

The rules themselves (DESIGN.md "Credit and risk"; which figures raise which
kind at which severity) are pure functions in services/risk_rules.py, over the
figures services/risk_metrics.py reads; they are importable from here too.

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
from datetime import datetime
from typing import cast

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

# Every rule is read as risk.<rule> as well (tests/test_risk_rules.py): the `x as x` imports
# below re-export the ones this module does not call itself.
from services.custody import custody_share as custody_share
from services.risk_rules import (
    BASELINE,
    COMPLAINT_WINDOW,
    LARGE_PURCHASE_WINDOW,
    NIGHT_WINDOW,
    SPIKE_WINDOW,
    STALL_WINDOW,
    STORE_WINDOW,
    Finding,
    Thresholds,
    complaint_surge,
    escrow_shortfall,
    higher,
    large_purchase,
    redemption_anomaly,
    sales_spike,
    store_closures,
)
from services.risk_rules import SEVERITY_RANK as SEVERITY_RANK
from services.risk_rules import night_redemption as night_redemption
from services.risk_rules import redemption_burst as redemption_burst
from services.risk_rules import redemption_stall as redemption_stall
from settings import get_settings

log = logging.getLogger("anfu.risk")

# Transfers linked to an alert per piece of evidence, the largest first.
MAX_LINKED_TRANSFERS = 50
MAX_NOTE_LENGTH = 2000

CLOSED_ALERT_STATUSES = (AlertStatus.RESOLVED, AlertStatus.DISMISSED)
WATCHED_MERCHANTS = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
# The kinds the rules raise; a reconciliation run raises RECONCILIATION_MISMATCH itself.
ALL_KINDS = tuple(
    kind for kind in RiskAlertKind if kind is not RiskAlertKind.RECONCILIATION_MISMATCH
)
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
    """An optional note: trimmed, at most 2000 characters (None when empty). NUL characters
    and unpaired surrogates never get this far: schema/text.py refuses them in any request."""
    note = (note or "").strip()
    if not note:
        return None
    if len(note) > MAX_NOTE_LENGTH:
        raise BadInput(f"A note has at most {MAX_NOTE_LENGTH} characters")
    return note


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
