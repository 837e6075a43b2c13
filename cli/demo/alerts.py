"""Risk alerts, which no service raises yet: the trouble the story planned (complaint
surges, stalls, store closures, closure shortfalls), the large purchase, and the sales
spikes and redemption stalls that the planned history really shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from cli.demo.plan import MerchantPlan
from cli.demo.world import World
from models import RiskAlert, RiskAlertTransfer
from models.enums import AlertStatus, MerchantStatus, RiskAlertKind, RiskLevel
from services.custody import custody_share


async def write_alerts(world: World) -> None:
    """Risk alerts that fit the story (a merchant's riskLevel follows from its open ones)."""
    alerts = [*_trouble_alerts(world), _large_purchase_alert(world), *_detected_alerts(world)]
    for alert, transfer_ids in alerts:
        await alert.save()
        links = [RiskAlertTransfer(alert_id=alert.id, transfer_id=t) for t in transfer_ids]
        await RiskAlertTransfer.bulk_create(links)


def _alert(
    merchant: MerchantPlan,
    kind: RiskAlertKind,
    severity: RiskLevel,
    status: AlertStatus,
    summary: str,
    raised_at: datetime,
    metrics: Sequence[tuple[str, float, float]],
    resolved_at: datetime | None = None,
    note: str | None = None,
) -> RiskAlert:
    return RiskAlert(
        merchant_id=merchant.id,
        kind=kind,
        severity=severity,
        status=status,
        summary=summary,
        metrics=[{"name": n, "value": round(v, 2), "threshold": t} for n, v, t in metrics],
        raised_at=raised_at,
        resolved_at=resolved_at,
        note=note,
    )


def _trouble_alerts(world: World) -> Iterator[tuple[RiskAlert, list[int]]]:
    """Complaint surges and stalls at the weak merchants, store closures, closure shortfalls."""
    K, L, S = RiskAlertKind, RiskLevel, AlertStatus
    for m in world.merchants:
        surge = _complaint_surge(m) if m.weak else None
        if surge is not None:
            yield surge, []
            stall = _alert(
                m,
                K.REDEMPTION_ANOMALY,
                L.MEDIUM,
                S.ACKNOWLEDGED,
                "Redemptions stalled while cards are still outstanding",
                surge.raised_at - timedelta(days=3),
                [("redemptions_14d_vs_90d_norm", world.rng.uniform(0.05, 0.2), 0.3)],
                note="已约谈经营者，要求说明情况",
            )
            yield stall, []
        closed = [s.closed_at for s in m.stores if s.closed_at is not None]
        if closed:
            status, severity, resolved_at, note = {
                MerchantStatus.SUSPENDED: (S.ACKNOWLEDGED, L.HIGH, None, "已暂停售卡，责令整改"),
                MerchantStatus.CLOSED: (
                    S.RESOLVED,
                    L.HIGH,
                    m.stop_at,
                    "商户已关闭，预付卡已全额退款",
                ),
                MerchantStatus.ACTIVE: (
                    S.DISMISSED,
                    L.LOW,
                    min(closed) + timedelta(days=2),
                    "门店到期搬迁，其余门店正常营业",
                ),
            }[m.status]
            yield (
                _alert(
                    m,
                    K.STORE_CLOSURES,
                    severity,
                    status,
                    f"{len(closed)} of {len(m.stores)} stores closed within 30 days",
                    min(closed) + timedelta(minutes=10),
                    [("closed_store_share_30d", len(closed) / len(m.stores), 0.3)],
                    resolved_at,
                    note,
                ),
                [],
            )
        if m.status is MerchantStatus.CLOSED and m.stop_at and m.custody_ratio_bp < 10_000:
            refunded = [c for c in m.cards if c.refunded_at == m.stop_at]
            short = sum(c.cash - custody_share(m.custody_ratio_bp, c.cash) for c in refunded) / 100
            yield (
                _alert(
                    m,
                    K.ESCROW_SHORTFALL,
                    L.HIGH,
                    S.RESOLVED,
                    f"Closing refunds need {short:,.2f} yuan more than custody holds",
                    m.stop_at - timedelta(hours=1),
                    [
                        ("shortfall_yuan", short, 0.0),
                        ("custody_ratio", m.custody_ratio_bp / 10_000, 1.0),
                    ],
                    m.stop_at,
                    "差额已从商户已结算款项中追回",
                ),
                [],
            )


def _complaint_surge(merchant: MerchantPlan) -> RiskAlert | None:
    """Raised with the complaint that first makes over 5 per 100 live cards in 30 days (3 or more)."""
    for complaint in sorted(merchant.complaints, key=lambda c: c.created_at):
        at = complaint.created_at
        count = sum(1 for c in merchant.complaints if at - timedelta(days=30) < c.created_at <= at)
        live = sum(
            1
            for card in merchant.cards
            if card.bought_at <= at and (card.refunded_at is None or card.refunded_at > at)
        )
        per_100 = 100 * count / max(live, 1)
        if count >= 3 and per_100 > 5:
            return _alert(
                merchant,
                RiskAlertKind.COMPLAINT_SURGE,
                RiskLevel.HIGH,
                AlertStatus.OPEN,
                f"{count} complaints in 30 days against {live} live cards",
                at + timedelta(minutes=1),
                [("complaints_30d", count, 3), ("per_100_live_cards", per_100, 5)],
            )
    return None


def _large_purchase_alert(world: World) -> tuple[RiskAlert, list[int]]:
    buyer = next(iter(world.consumers))
    bought = [c for c in world.cards if c.owner == buyer and c.merchant.category == "EDUCATION"]
    bought = [c for c in bought if c.bought_at.date() == bought[0].bought_at.date()]
    total = sum(card.product.price_fen for card in bought) / 100
    alert = _alert(
        bought[0].merchant,
        RiskAlertKind.LARGE_PURCHASE,
        RiskLevel.MEDIUM,
        AlertStatus.OPEN,
        f"One consumer prepaid {total:,.2f} yuan within 24 hours",
        bought[-1].bought_at + timedelta(seconds=30),
        [("prepaid_by_one_consumer_24h", total, 10_000.0)],
    )
    return alert, [card.purchase_transfer_id for card in bought]


def _detected_alerts(world: World) -> Iterator[tuple[RiskAlert, list[int]]]:
    """Sales spikes and redemption stalls where the history really shows them (DESIGN.md's
    triggers, checked nightly), most of them already handled."""
    S = AlertStatus
    statuses = (S.RESOLVED, S.DISMISSED, S.OPEN, S.RESOLVED, S.ACKNOWLEDGED)
    notes = {
        RiskAlertKind.SALES_SPIKE: "节日促销，已核实",
        RiskAlertKind.REDEMPTION_ANOMALY: "已电话回访持卡人",
    }
    found = 0
    for merchant in world.merchants[1:]:
        if merchant.status is not MerchantStatus.ACTIVE or merchant.weak or not merchant.cards:
            continue
        for signal in (_first_spike(world, merchant), _first_stall(world, merchant)):
            if signal is None or found >= 16:
                continue
            kind, severity, summary, raised, metrics = signal
            status = statuses[found % len(statuses)]
            resolved_at: datetime | None = raised + timedelta(days=2)
            found += 1
            if status in (S.RESOLVED, S.DISMISSED) and raised + timedelta(days=2) >= world.end:
                status = S.OPEN
            if status not in (S.RESOLVED, S.DISMISSED):
                resolved_at = None
            note = None if status is S.OPEN else notes[kind]
            alert = _alert(
                merchant, kind, severity, status, summary, raised, metrics, resolved_at, note
            )
            yield alert, []


Signal = tuple[RiskAlertKind, RiskLevel, str, datetime, list[tuple[str, float, float]]]


def _first_spike(world: World, merchant: MerchantPlan) -> Signal | None:
    """7-day sales over 3x the average week of the 90 days before, and over 5,000.00."""
    first = min(card.bought_at for card in merchant.cards)

    def paid(after: datetime, until: datetime) -> int:
        return sum(
            cash for c in merchant.cards for when, cash in c.payments if after < when <= until
        )

    week = timedelta(days=7)
    for day in range(-90, 0):
        end = world.at(day, 22 * 60)
        if end - first < timedelta(days=30):
            continue  # a new merchant's first sales are no spike
        recent, usual = paid(end - week, end), paid(end - week * 13, end - week) / 12
        if usual and recent > 3 * usual and recent > 500_000:
            metrics = [
                ("sales_7d", recent / 100, 5_000.0),
                ("times_usual_week", recent / usual, 3.0),
            ]
            summary = f"Seven-day sales of {recent / 100:,.2f} yuan, {recent / usual:.1f} times a usual week"
            return RiskAlertKind.SALES_SPIKE, RiskLevel.MEDIUM, summary, end, metrics
    return None


def _first_stall(world: World, merchant: MerchantPlan) -> Signal | None:
    """14-day redemptions under 30% of the 90-day norm while cards still sell."""

    def used(after: datetime, until: datetime) -> int:
        return sum(1 for c in merchant.cards for when, _ in c.redemptions if after < when <= until)

    for day in range(-90, 0):
        end = world.at(day, 22 * 60)
        start = end - timedelta(days=14)
        recent, norm = used(start, end), used(end - timedelta(days=90), end) * 14 / 90
        selling = any(start < card.bought_at <= end for card in merchant.cards)
        if norm >= 1.5 and recent < 0.3 * norm and selling:
            metrics = [("redemptions_14d", recent, 0.3 * norm), ("norm_14d", norm, norm)]
            summary = f"{recent} redemptions in 14 days against a norm of {norm:.1f}"
            return RiskAlertKind.REDEMPTION_ANOMALY, RiskLevel.LOW, summary, end, metrics
    return None
