"""The supervision domain's figures for regulators: the platform now, and cash flows per day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from tortoise.functions import Count

from core import clock
from core.errors import BadInput
from models import Card, Complaint, LedgerAccount, Merchant, RiskAlert, Transfer
from models.enums import (
    LIVE_CARD_STATUSES,
    OPEN_ALERT_STATUSES,
    CardStatus,
    MerchantStatus,
    TransferKind,
)
from services.aggregates import total
from services.complaints import OPEN_STATUSES as OPEN_COMPLAINT_STATUSES

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass
class DayFigures:
    date: dt.date
    sales_fen: int = 0
    redemptions_fen: int = 0
    refunds_fen: int = 0


@dataclass
class SupervisionFigures:
    merchants_by_status: dict[MerchantStatus, int]
    active_cards: int
    escrow_held_fen: int
    outstanding_liability_fen: int
    open_complaints: int
    open_alerts: int
    daily: list[DayFigures] = field(default_factory=list)

    @property
    def sales_fen(self) -> int:
        return sum(day.sales_fen for day in self.daily)

    @property
    def redemptions_fen(self) -> int:
        return sum(day.redemptions_fen for day in self.daily)

    @property
    def refunds_fen(self) -> int:
        return sum(day.refunds_fen for day in self.daily)


def period(start: dt.date | None, end: dt.date | None, timezone: str) -> tuple[dt.date, dt.date]:
    """The dates covered: the last 30 days, today included, unless told otherwise."""
    today = clock.now().astimezone(ZoneInfo(timezone)).date()
    end = end or today
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadInput("`from` comes after `to`")
    if (end - start).days >= MAX_DAYS:
        raise BadInput(f"A period covers at most {MAX_DAYS} days")
    return start, end


async def supervision_figures(
    start: dt.date | None, end: dt.date | None, timezone: str
) -> SupervisionFigures:
    start, end = period(start, end, timezone)
    zone = ZoneInfo(timezone)
    status_counts = dict(
        await Merchant.all().group_by("status").annotate(n=Count("id")).values_list("status", "n")
    )
    escrow_totals = await LedgerAccount.filter(name__startswith="escrow:merchant:").values_list(
        "debits_fen", "credits_fen"
    )
    figures = SupervisionFigures(
        merchants_by_status={
            status: int(status_counts.get(status, 0)) for status in MerchantStatus
        },
        active_cards=await Card.filter(
            status=CardStatus.ACTIVE, expires_at__gt=clock.now()
        ).count(),
        escrow_held_fen=sum(credits - debits for debits, credits in escrow_totals),
        outstanding_liability_fen=await total(
            Card.filter(status__in=LIVE_CARD_STATUSES), "cash_value_fen"
        ),
        open_complaints=await Complaint.filter(status__in=OPEN_COMPLAINT_STATUSES).count(),
        open_alerts=await RiskAlert.filter(status__in=OPEN_ALERT_STATUSES).count(),
    )
    days = {
        start + dt.timedelta(days=offset): DayFigures(start + dt.timedelta(days=offset))
        for offset in range((end - start).days + 1)
    }
    window_start = dt.datetime.combine(start, dt.time.min, zone)
    window_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone)
    rows = await Transfer.filter(
        created_at__gte=window_start,
        created_at__lt=window_end,
        kind__in=(
            TransferKind.PURCHASE,
            TransferKind.TOP_UP,
            TransferKind.REDEMPTION,
            TransferKind.REFUND,
        ),
    ).values_list("kind", "created_at", "cash_amount_fen")
    by_day: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind, created_at, cash in rows:
        by_day[created_at.astimezone(zone).date()][kind] += cash
    for date, totals in by_day.items():
        day = days.get(date)
        if day is None:
            continue
        day.sales_fen = totals[TransferKind.PURCHASE] + totals[TransferKind.TOP_UP]
        day.redemptions_fen = totals[TransferKind.REDEMPTION]
        day.refunds_fen = totals[TransferKind.REFUND]
    figures.daily = [days[date] for date in sorted(days)]
    return figures
