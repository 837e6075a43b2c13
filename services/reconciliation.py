"""Daily reconciliation: what every run shares once its statement has been compared.

services/reconcile_channel.py compares the channel's trade bill with payment orders and
channel refunds, services/reconcile_bank.py the custody bank's statement with the custody
ledger; both hand a `Comparison` to `store`, which keeps the report (a new one per run: the
history of a day) and raises the alerts.

Alerts: an unexplained difference raises a RECONCILIATION_MISMATCH alert on its merchant
through services/risk.py (one open alert per merchant and kind, like every kind). HIGH when
money is unaccounted for on our side or amounts differ (MISSING_IN_LEDGER, AMOUNT_DIFFERS,
STATUS_DIFFERS), MEDIUM when the statement lacks what we recorded (MISSING_AT_SOURCE: most
often a statement that is late). A difference already held by an open alert (same source,
reference and kind, from an earlier run) joins it and raises nothing new; one without a
merchant is reported without an alert. Explained differences raise nothing: timing cases are
explained by the comparison, others by a regulator (`explain_difference`); a rerun repeats a
regulator's explanation for the same difference (same amounts).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock
from core.errors import BadInput, InvalidState, NotFound
from core.principal import Principal
from models import Merchant, ReconciliationDifference, ReconciliationReport, RiskAlert
from models.enums import (
    OPEN_ALERT_STATUSES,
    AlertStatus,
    DifferenceKind,
    ReconciliationSource,
    RiskAlertKind,
    RiskLevel,
)
from services import audit, risk
from services.money import format_money
from services.risk_rules import Finding, Metric, higher
from settings import get_settings

log = logging.getLogger("anfu.reconciliation")

MAX_EXPLANATION_LENGTH = 2000
NO_MERCHANT = " No merchant could be named for it: reported without a risk alert."
_SOURCE_NAMES = {
    ReconciliationSource.CHANNEL: "the channel's trade bill",
    ReconciliationSource.BANK: "the custody bank's statement",
}


class StatementRejected(BadInput):
    """The statement cannot be reconciled: unreadable, tampered with, of another day, or not
    to be had. Nothing is stored."""


@dataclass(frozen=True)
class Draft:
    """A difference found by a comparison, before it is stored."""

    kind: DifferenceKind
    reference: str
    merchant_id: int | None
    ledger_amount_fen: int | None
    statement_amount_fen: int | None
    ledger_status: str | None
    statement_status: str | None
    detail: str
    explanation: str | None = None


@dataclass
class Comparison:
    """What a statement and our records agree and disagree on. Amounts are net: money in
    (payments, credits) minus money out (refunds, debits)."""

    statement_count: int = 0
    statement_fen: int = 0
    ledger_count: int = 0
    ledger_fen: int = 0
    matched_count: int = 0
    matched_fen: int = 0
    differences: list[Draft] = field(default_factory=list)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day in the platform's time zone, as [start, end) instants."""
    zone = ZoneInfo(get_settings().timezone)
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    # In UTC, as stored: SQLite compares the text.
    return start.astimezone(UTC), end.astimezone(UTC)


def local_time(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(get_settings().timezone))


def local_day(moment: datetime) -> date:
    return local_time(moment).date()


def near_midnight(moment: datetime) -> bool:
    """Within RECONCILIATION_CUTOFF_SECONDS of a midnight in the platform's time zone."""
    cutoff = timedelta(seconds=get_settings().reconciliation_cutoff_seconds)
    start, end = day_bounds(local_day(moment))
    return moment - start <= cutoff or end - moment <= cutoff


def severity_of(kind: DifferenceKind) -> RiskLevel:
    return RiskLevel.MEDIUM if kind is DifferenceKind.MISSING_AT_SOURCE else RiskLevel.HIGH


# ---------------------------------------------------------------- storing a run


async def store(
    source: ReconciliationSource,
    statement_date: date,
    statement_name: str,
    statement_sha256: str,
    comparison: Comparison,
) -> ReconciliationReport:
    """Keep the run's report and differences, then raise the alerts they call for."""
    drafts = await _named_merchants(comparison.differences)
    drafts = [await _repeat_explanation(source, draft) for draft in drafts]
    async with in_transaction():
        report = await ReconciliationReport.create(
            source=source,
            statement_date=statement_date,
            statement_name=statement_name[:255],
            statement_sha256=statement_sha256,
            matched_count=comparison.matched_count,
            matched_fen=comparison.matched_fen,
            statement_count=comparison.statement_count,
            statement_fen=comparison.statement_fen,
            ledger_count=comparison.ledger_count,
            ledger_fen=comparison.ledger_fen,
            difference_count=len(drafts),
        )
        await ReconciliationDifference.bulk_create(
            [
                ReconciliationDifference(
                    report_id=report.id,
                    kind=draft.kind,
                    reference=draft.reference[:64],
                    merchant_id=draft.merchant_id,
                    ledger_amount_fen=draft.ledger_amount_fen,
                    statement_amount_fen=draft.statement_amount_fen,
                    ledger_status=draft.ledger_status,
                    statement_status=draft.statement_status,
                    detail=draft.detail + ("" if draft.merchant_id else NO_MERCHANT),
                    explanation=draft.explanation,
                )
                for draft in drafts
            ]
        )
    await _raise_alerts(report)
    return report


async def _named_merchants(drafts: list[Draft]) -> list[Draft]:
    """A merchant named by a statement (a bill's attach) that does not exist is no merchant."""
    named = {draft.merchant_id for draft in drafts if draft.merchant_id is not None}
    known = set(await Merchant.filter(id__in=list(named)).values_list("id", flat=True))
    return [
        draft
        if draft.merchant_id is None or draft.merchant_id in known
        else replace(draft, merchant_id=None)
        for draft in drafts
    ]


async def _repeat_explanation(source: ReconciliationSource, draft: Draft) -> Draft:
    if draft.explanation is not None:
        return draft
    earlier = (
        await ReconciliationDifference.filter(
            report__source=source,
            reference=draft.reference,
            kind=draft.kind,
            ledger_amount_fen=draft.ledger_amount_fen,
            statement_amount_fen=draft.statement_amount_fen,
            explanation__isnull=False,
        )
        .order_by("-id")
        .first()
    )
    if earlier is None:
        return draft
    return replace(draft, explanation=earlier.explanation)


async def _raise_alerts(report: ReconciliationReport) -> None:
    unexplained = await ReconciliationDifference.filter(
        report_id=report.id, explanation__isnull=True, merchant_id__isnull=False
    ).order_by("id")
    new_by_merchant: dict[int, list[ReconciliationDifference]] = defaultdict(list)
    for difference in unexplained:
        held_by = await _open_alert_holding(report.source, difference)
        if held_by is not None:
            await ReconciliationDifference.filter(id=difference.id).update(alert_id=held_by)
        else:
            new_by_merchant[difference.merchant_id or 0].append(difference)
    for merchant_id, differences in new_by_merchant.items():
        finding = _finding(report, differences)
        recorded = await risk.record(merchant_id, finding, clock.now())
        await ReconciliationDifference.filter(id__in=[d.id for d in differences]).update(
            alert_id=recorded.alert.id
        )


async def _open_alert_holding(
    source: ReconciliationSource, difference: ReconciliationDifference
) -> int | None:
    """The open alert an earlier run raised for the same difference, if any."""
    earlier = (
        await ReconciliationDifference.filter(
            report__source=source,
            reference=difference.reference,
            kind=difference.kind,
            merchant_id=difference.merchant_id,
            alert__status__in=OPEN_ALERT_STATUSES,
        )
        .exclude(id=difference.id)
        .order_by("-id")
        .first()
    )
    return earlier.alert_id if earlier is not None else None


def _finding(report: ReconciliationReport, differences: list[ReconciliationDifference]) -> Finding:
    severity = RiskLevel.LOW
    for difference in differences:
        severity = higher(severity, severity_of(difference.kind))
    listed = "; ".join(f"{d.kind.value} {d.reference}" for d in differences[:10])
    more = f" and {len(differences) - 10} more" if len(differences) > 10 else ""
    summary = (
        f"{len(differences)} unexplained difference(s) with {_SOURCE_NAMES[report.source]} "
        f"of {report.statement_date.isoformat()}: {listed}{more}"
    )
    at_stake = sum(
        abs((d.statement_amount_fen or 0) - (d.ledger_amount_fen or 0)) for d in differences
    )
    return Finding(
        kind=RiskAlertKind.RECONCILIATION_MISMATCH,
        severity=severity,
        summary=summary,
        metrics=(
            Metric("differences", float(len(differences)), 0.0),
            Metric("amount_at_stake_yuan", round(at_stake / 100, 2), 0.0),
        ),
    )


def describe(fen: int | None) -> str:
    return "-" if fen is None else format_money(fen)


# ---------------------------------------------------------------- regulators explain


def clean_explanation(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise BadInput("An explanation is needed")
    if len(text) > MAX_EXPLANATION_LENGTH:
        raise BadInput(f"An explanation has at most {MAX_EXPLANATION_LENGTH} characters")
    return text


async def explain_difference(
    principal: Principal, difference_id: int, explanation: str
) -> ReconciliationDifference:
    """A regulator writes down why a difference is not a problem. Its repeats (the same
    difference found by reruns, held by the same alert) are explained with it, and the alert
    is resolved when no unexplained difference holds it open any more."""
    regulator_id = principal.require_user()
    explanation = clean_explanation(explanation)
    difference = await scoping.readable_reconciliation_differences(principal).get_or_none(
        id=difference_id
    )
    if difference is None:
        raise NotFound("No such reconciliation difference")
    if difference.explanation is not None:
        raise InvalidState("The difference is already explained")
    report = await ReconciliationReport.get(id=difference.report_id)
    async with in_transaction():
        # Claimed with an UPDATE matching "unexplained": of two regulators, one explains it.
        changed = await ReconciliationDifference.filter(
            id=difference.id, explanation__isnull=True
        ).update(explanation=explanation)
        if changed != 1:
            raise InvalidState("The difference was explained meanwhile")
        if difference.alert_id is not None:
            await ReconciliationDifference.filter(
                alert_id=difference.alert_id,
                report__source=report.source,
                reference=difference.reference,
                kind=difference.kind,
                explanation__isnull=True,
            ).update(explanation=explanation)
        await audit.record(
            actor_id=regulator_id,
            action="RECONCILIATION_DIFFERENCE_EXPLAINED",
            subject_type="ReconciliationDifference",
            subject_id=difference.id,
            merchant_id=difference.merchant_id,
            reason=explanation,
            details={"kind": difference.kind.value, "reference": difference.reference},
        )
    if difference.alert_id is not None:
        await _resolve_if_explained(principal, difference.alert_id, explanation)
    return await ReconciliationDifference.get(id=difference.id)


async def _resolve_if_explained(principal: Principal, alert_id: int, explanation: str) -> None:
    still_open = await ReconciliationDifference.filter(
        alert_id=alert_id, explanation__isnull=True
    ).exists()
    alert = await RiskAlert.get_or_none(id=alert_id)
    if still_open or alert is None or alert.status not in OPEN_ALERT_STATUSES:
        return
    try:
        await risk.update_alert(
            principal, alert_id, AlertStatus.RESOLVED, f"Explained: {explanation}"[:2000]
        )
    except InvalidState:  # a regulator closed it meanwhile: nothing left to do
        log.info("alert %s changed while its differences were explained", alert_id)
