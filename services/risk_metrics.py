"""The figures the risk rules look at, each read with a few aggregate queries.

services/risk_rules.py holds the rules (pure functions over these figures) and
services/risk.py decides when they run; this module only reads, never loading a merchant's history row by
row. Amounts are fen, times UTC. A window counts what happened after its start
and up to `now` included.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from typing import cast
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.functions import Count, Max, Sum

from models import Card, Complaint, Merchant, RiskAlert, Store, Transfer
from models.enums import (
    LIVE_CARD_STATUSES,
    AlertStatus,
    ComplaintStatus,
    RiskAlertKind,
    StoreStatus,
    TransferKind,
)
from services import ledger
from services.aggregates import total

SALES_KINDS = (TransferKind.PURCHASE, TransferKind.TOP_UP)
CLOSED_ALERT_STATUSES = (AlertStatus.RESOLVED, AlertStatus.DISMISSED)
# Complaints a consumer took back or a regulator dismissed do not count towards a surge.
UNCOUNTED_COMPLAINTS = (ComplaintStatus.WITHDRAWN, ComplaintStatus.REJECTED)
TOP_BUYERS = 5
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)


def _days(delta: timedelta) -> float:
    return max(delta.total_seconds(), 0.0) / DAY.total_seconds()


def _later(start: datetime, since: datetime | None) -> datetime:
    return start if since is None or since < start else since


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Evidence:
    """Which of the merchant's transfers lie behind a finding: of these kinds, within
    one of the periods, optionally at one store or bought by some consumers."""

    kinds: tuple[TransferKind, ...]
    periods: tuple[tuple[datetime, datetime], ...]
    store_id: int | None = None
    owner_ids: tuple[int, ...] = ()


async def transfers_behind(merchant_id: int, evidence: list[Evidence], limit: int) -> list[int]:
    """Ids of up to `limit` transfers per piece of evidence, the largest cash amounts first."""
    found: list[int] = []
    for item in evidence:
        if not item.periods:
            continue
        during = reduce(
            operator.or_,
            [Q(created_at__gt=start, created_at__lte=end) for start, end in item.periods],
        )
        query = Transfer.filter(during, merchant_id=merchant_id, kind__in=item.kinds)
        if item.store_id is not None:
            query = query.filter(store_id=item.store_id)
        if item.owner_ids:
            query = query.filter(card__owner_id__in=item.owner_ids)
        ids = cast(
            list[int],
            await query.order_by("-cash_amount_fen", "-id")
            .limit(limit)
            .values_list("id", flat=True),
        )
        found.extend(transfer_id for transfer_id in ids if transfer_id not in found)
    return found


# ---------------------------------------------------------------- alerts already handled


async def last_closed(merchant_id: int) -> dict[RiskAlertKind, datetime]:
    """When a regulator last resolved or dismissed an alert of each kind about the merchant."""
    rows = (
        await RiskAlert.filter(
            merchant_id=merchant_id, status__in=CLOSED_ALERT_STATUSES, resolved_at__isnull=False
        )
        .annotate(closed=Max("resolved_at"))
        .group_by("kind")
        .values_list("kind", "closed")
    )
    closed: dict[RiskAlertKind, datetime] = {}
    for kind, at in rows:
        # SQLite hands an aggregate of a date-time back as text.
        closed[RiskAlertKind(kind)] = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    return closed


# ---------------------------------------------------------------- sales


@dataclass(frozen=True)
class SalesHistory:
    """Cash paid for cards and top-ups: in the window, and in the baseline before it."""

    window_start: datetime
    now: datetime
    window_fen: int
    baseline_fen: int
    # Days of the baseline during which the merchant was already selling.
    baseline_days: float
    # Days since the merchant's first sale (0 when it never sold).
    history_days: float


async def _first_sale(merchant_id: int) -> datetime | None:
    first = (
        await Transfer.filter(merchant_id=merchant_id, kind__in=SALES_KINDS)
        .order_by("created_at")
        .first()
        .values_list("created_at", flat=True)
    )
    return cast(datetime | None, first)


async def _sum(merchant_id: int, kinds: tuple[TransferKind, ...], column: str, start, end) -> int:
    query = Transfer.filter(
        merchant_id=merchant_id, kind__in=kinds, created_at__gt=start, created_at__lte=end
    )
    return await total(query, column)


async def sales_history(
    merchant_id: int, now: datetime, window: timedelta, baseline: timedelta, since: datetime | None
) -> SalesHistory:
    """Sales in the window ending now (counted from `since` when later), and in the baseline
    period just before the window."""
    window_start = now - window
    counted_from = _later(window_start, since)
    first = await _first_sale(merchant_id)
    if first is None:
        return SalesHistory(counted_from, now, 0, 0, 0.0, 0.0)
    baseline_start = window_start - baseline
    return SalesHistory(
        window_start=counted_from,
        now=now,
        window_fen=await _sum(merchant_id, SALES_KINDS, "cash_amount_fen", counted_from, now),
        baseline_fen=await _sum(
            merchant_id, SALES_KINDS, "cash_amount_fen", baseline_start, window_start
        ),
        baseline_days=_days(window_start - max(baseline_start, first)),
        history_days=_days(now - first),
    )


# ---------------------------------------------------------------- redemptions


@dataclass(frozen=True)
class RedemptionFlow:
    """Face value redeemed in the window and in the baseline before it, and sales meanwhile."""

    window_start: datetime
    now: datetime
    window_fen: int
    baseline_fen: int
    baseline_days: float
    history_days: float
    window_sales_fen: int


async def redemption_flow(
    merchant_id: int, now: datetime, window: timedelta, baseline: timedelta
) -> RedemptionFlow:
    window_start = now - window
    baseline_start = window_start - baseline
    first = await _first_sale(merchant_id)
    if first is None:
        return RedemptionFlow(window_start, now, 0, 0, 0.0, 0.0, 0)
    redemption = (TransferKind.REDEMPTION,)
    return RedemptionFlow(
        window_start=window_start,
        now=now,
        window_fen=await _sum(merchant_id, redemption, "amount_fen", window_start, now),
        baseline_fen=await _sum(
            merchant_id, redemption, "amount_fen", baseline_start, window_start
        ),
        baseline_days=_days(window_start - max(baseline_start, first)),
        history_days=_days(now - first),
        window_sales_fen=await _sum(merchant_id, SALES_KINDS, "cash_amount_fen", window_start, now),
    )


@dataclass(frozen=True)
class StoreBurst:
    """The store with the most redemptions in the window (None when there were none)."""

    window_start: datetime
    now: datetime
    store_id: int | None
    count: int


async def busiest_store(merchant_id: int, window_start: datetime, now: datetime) -> StoreBurst:
    rows = (
        await Transfer.filter(
            merchant_id=merchant_id,
            kind=TransferKind.REDEMPTION,
            created_at__gt=window_start,
            created_at__lte=now,
        )
        .annotate(n=Count("id"))
        .group_by("store_id")
        .order_by("-n")
        .limit(1)
        .values_list("store_id", "n")
    )
    if not rows:
        return StoreBurst(window_start, now, None, 0)
    store_id, count = rows[0]
    return StoreBurst(window_start, now, store_id, int(count))


def night_periods(
    since: datetime, until: datetime, zone: ZoneInfo, end_hour: int
) -> tuple[tuple[datetime, datetime], ...]:
    """The parts of (since, until] that fall between 00:00 (included) and `end_hour`:00 (not
    included) on the clock of `zone`, oldest first. Like every window here each is a period
    (start, end]: [00:00, 06:00) is (23:59:59.999999, 05:59:59.999999], the same instants."""
    periods = []
    day: date = since.astimezone(zone).date()
    last: date = until.astimezone(zone).date()
    while day <= last:
        start = datetime.combine(day, time.min, zone).astimezone(since.tzinfo) - MICROSECOND
        end = datetime.combine(day, time(end_hour), zone).astimezone(since.tzinfo) - MICROSECOND
        start, end = max(start, since), min(end, until)
        if start < end:
            periods.append((start, end))
        day += DAY
    return tuple(periods)


@dataclass(frozen=True)
class NightRedemptions:
    periods: tuple[tuple[datetime, datetime], ...]
    count: int


async def night_redemptions(
    merchant_id: int, since: datetime, now: datetime, zone: ZoneInfo, end_hour: int
) -> NightRedemptions:
    periods = night_periods(since, now, zone, end_hour)
    if not periods:
        return NightRedemptions(periods, 0)
    during = reduce(
        operator.or_, [Q(created_at__gt=start, created_at__lte=end) for start, end in periods]
    )
    count = await Transfer.filter(
        during, merchant_id=merchant_id, kind=TransferKind.REDEMPTION
    ).count()
    return NightRedemptions(periods, count)


# ---------------------------------------------------------------- purchases by one consumer


@dataclass(frozen=True)
class ConsumerPurchases:
    """The consumers who paid the merchant most within the window, largest first."""

    window_start: datetime
    now: datetime
    # (consumer id, fen paid)
    top: tuple[tuple[int, int], ...]


async def top_buyers(merchant_id: int, window_start: datetime, now: datetime) -> ConsumerPurchases:
    rows = (
        await Transfer.filter(
            merchant_id=merchant_id,
            kind__in=SALES_KINDS,
            card_id__isnull=False,
            created_at__gt=window_start,
            created_at__lte=now,
        )
        .annotate(paid=Sum("cash_amount_fen"))
        .group_by("card__owner_id")
        .order_by("-paid")
        .limit(TOP_BUYERS)
        .values_list("card__owner_id", "paid")
    )
    return ConsumerPurchases(
        window_start, now, tuple((int(owner), int(paid or 0)) for owner, paid in rows)
    )


# ---------------------------------------------------------------- custody


@dataclass(frozen=True)
class Custody:
    ratio_bp: int
    held_fen: int
    liability_fen: int


async def custody(merchant: Merchant) -> Custody:
    balances = await ledger.account_balances([ledger.escrow_account(merchant.id)])
    liability = await total(
        Card.filter(merchant_id=merchant.id, status__in=LIVE_CARD_STATUSES),
        "cash_value_fen",
    )
    return Custody(
        ratio_bp=merchant.custody_ratio_bp,
        held_fen=balances[ledger.escrow_account(merchant.id)],
        liability_fen=liability,
    )


# ---------------------------------------------------------------- complaints


@dataclass(frozen=True)
class ComplaintLoad:
    complaints: int
    live_cards: int


async def complaint_load(merchant_id: int, window_start: datetime, now: datetime) -> ComplaintLoad:
    complaints = (
        await Complaint.filter(
            merchant_id=merchant_id, created_at__gt=window_start, created_at__lte=now
        )
        .exclude(status__in=UNCOUNTED_COMPLAINTS)
        .count()
    )
    live = await Card.filter(merchant_id=merchant_id, status__in=LIVE_CARD_STATUSES).count()
    return ComplaintLoad(complaints, live)


# ---------------------------------------------------------------- stores


@dataclass(frozen=True)
class StoreClosures:
    """Stores closed within the window, stores open now and closed at all, and the cards
    that still hold service the merchant owes."""

    closed_in_window: int
    open_now: int
    closed_now: int
    cards_with_balance: int


async def store_closures(merchant_id: int, window_start: datetime, now: datetime) -> StoreClosures:
    by_status = dict(
        await Store.filter(merchant_id=merchant_id)
        .annotate(n=Count("id"))
        .group_by("status")
        .values_list("status", "n")
    )
    closed_in_window = await Store.filter(
        merchant_id=merchant_id,
        status=StoreStatus.CLOSED,
        closed_at__gt=window_start,
        closed_at__lte=now,
    ).count()
    owed = await Card.filter(
        merchant_id=merchant_id, status__in=LIVE_CARD_STATUSES, balance_fen__gt=0
    ).count()
    return StoreClosures(
        closed_in_window=closed_in_window,
        open_now=int(by_status.get(StoreStatus.OPEN, 0)),
        closed_now=int(by_status.get(StoreStatus.CLOSED, 0)),
        cards_with_balance=owed,
    )
