"""A merchant's credit features, gathered from the database in a few aggregate queries.

`gather` counts and sums in SQL (conditional COUNT/SUM, GROUP BY): it never
loads the merchant's cards, transfers or complaints into Python, so it costs the
same dozen statements for a merchant with ten cards or ten thousand. What the
counts mean is the credit model's business (services/credit_factors.py, whose
constants the windows are).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from models import Card, CardProduct, Complaint, Merchant, RegistryRecord, RiskAlert, Store
from models.enums import (
    LIVE_CARD_STATUSES,
    AlertStatus,
    CardProductStatus,
    CardStatus,
    ComplaintStatus,
    RiskAlertKind,
    RiskLevel,
    TransferKind,
)
from models.ledger import Transfer
from services import onboarding
from services.credit_factors import (
    COMPLAINT_DEADLINE_DAYS,
    SETTLING_DAYS,
    WINDOW_DAYS,
    CreditFeatures,
)
from services.custody import FULL_CUSTODY_BP
from settings import get_settings

DAYS_PER_YEAR = 365.25
REDEEMABLE_STATUSES = (CardStatus.ACTIVE, CardStatus.FROZEN)
NOT_HELD_AGAINST_THE_MERCHANT = (ComplaintStatus.WITHDRAWN, ComplaintStatus.REJECTED)


async def gather(merchant_id: int, now: datetime) -> CreditFeatures:
    """The merchant's features as they are at `now` (times after it are not counted)."""
    merchant = await Merchant.get(id=merchant_id)
    record = await RegistryRecord.get_or_none(credit_code=merchant.credit_code)
    window = now - timedelta(days=WINDOW_DAYS)
    cards = await _card_counts(merchant_id, now, window)
    redeemed, idle = await _redemption_counts(merchant_id, now, window)
    complaints = await _complaint_counts(merchant_id, now, window)
    stores = await _store_counts(merchant_id, now, window)
    alerts = await _alert_severities(merchant_id, now, window)
    discount_bp, product = await _deepest_discount(merchant_id, now, window)
    today = now.astimezone(ZoneInfo(get_settings().timezone)).date()
    return CreditFeatures(
        registry_found=record is not None,
        registration_status=record.registration_status if record else None,
        operating=onboarding.is_operating(record.registration_status) if record else True,
        years_in_operation=(today - record.established_on).days / DAYS_PER_YEAR if record else 0,
        registered_capital_fen=record.registered_capital_fen if record else 0,
        administrative_penalties=record.administrative_penalties if record else 0,
        on_abnormal_list=record.on_abnormal_list if record else False,
        cards_in_window=cards["in_window"],
        cards_refunded=cards["refunded"],
        cards_redeemed=redeemed,
        cards_idle=idle,
        live_cards=cards["live"],
        complaints_in_window=complaints["in_window"],
        complaints_considered=complaints["considered"],
        complaints_unresolved=complaints["unresolved"],
        live_cash_fen=cards["live_cash"],
        live_escrow_fen=cards["live_escrow"],
        custody_ratio_bp=merchant.custody_ratio_bp or FULL_CUSTODY_BP,
        sales_spike_alerts=alerts.get(RiskAlertKind.SALES_SPIKE, ()),
        redemption_stall_alerts=alerts.get(RiskAlertKind.REDEMPTION_ANOMALY, ()),
        stores_open=stores["open"],
        stores_closed_in_window=stores["closed_in_window"],
        deepest_discount_bp=discount_bp,
        deepest_discount_product=product,
    )


async def _one_row(query: QuerySet[Any], **aggregates: Any) -> dict[str, int]:
    """The aggregates over `query` as whole numbers (an empty set counts 0)."""
    rows = await query.annotate(**aggregates).values(*aggregates)
    row = rows[0] if rows else {}
    return {name: int(row.get(name) or 0) for name in aggregates}


def _alive_at(now: datetime) -> Q:
    """A card issued by `now` and not ended by then (refunded cards end; used-up ones do not)."""
    return Q(issued_at__lte=now) & (Q(closed_at__isnull=True) | Q(closed_at__gt=now))


async def _card_counts(merchant_id: int, now: datetime, window: datetime) -> dict[str, int]:
    in_window = Q(issued_at__lte=now) & (Q(closed_at__isnull=True) | Q(closed_at__gt=window))
    live = Q(status__in=LIVE_CARD_STATUSES)
    return await _one_row(
        Card.filter(merchant_id=merchant_id),
        in_window=Count("id", _filter=in_window),
        refunded=Count(
            "id",
            _filter=Q(status=CardStatus.REFUNDED, closed_at__gt=window, closed_at__lte=now),
        ),
        live=Count("id", _filter=_alive_at(now) & live),
        live_cash=Sum("cash_value_fen", _filter=live),
        live_escrow=Sum("escrow_held_fen", _filter=live),
    )


async def _redemption_counts(merchant_id: int, now: datetime, window: datetime) -> tuple[int, int]:
    """Cards old enough to judge: those redeemed in the window, and those idle with balance."""
    settled = now - timedelta(days=SETTLING_DAYS)
    redeemed_in_window = Transfer.filter(
        merchant_id=merchant_id,
        kind=TransferKind.REDEMPTION,
        created_at__gt=window,
        created_at__lte=now,
    ).values("card_id")
    old_enough = Card.filter(merchant_id=merchant_id, issued_at__lte=settled)
    redeemed = await old_enough.filter(id__in=Subquery(redeemed_in_window)).count()
    idle = (
        await Card.filter(
            merchant_id=merchant_id,
            issued_at__lte=settled,
            status__in=REDEEMABLE_STATUSES,
            balance_fen__gt=0,
            expires_at__gt=now,
        )
        .exclude(id__in=Subquery(redeemed_in_window))
        .count()
    )
    return redeemed, idle


async def _complaint_counts(merchant_id: int, now: datetime, window: datetime) -> dict[str, int]:
    open_at_now = Q(resolved_at__isnull=True) | Q(resolved_at__gt=now)
    deadline = now - timedelta(days=COMPLAINT_DEADLINE_DAYS)
    return await _one_row(
        Complaint.filter(merchant_id=merchant_id, created_at__lte=now),
        # A complaint its consumer withdrew or a regulator dismissed does not count against the
        # merchant's complaint rate; it still counts as answered for the unresolved share.
        in_window=Count(
            "id",
            _filter=Q(created_at__gt=window) & ~Q(status__in=NOT_HELD_AGAINST_THE_MERCHANT),
        ),
        considered=Count("id", _filter=Q(created_at__gt=window) | open_at_now),
        unresolved=Count("id", _filter=open_at_now & Q(created_at__lte=deadline)),
    )


async def _store_counts(merchant_id: int, now: datetime, window: datetime) -> dict[str, int]:
    return await _one_row(
        Store.filter(merchant_id=merchant_id, created_at__lte=now),
        open=Count("id", _filter=Q(closed_at__isnull=True) | Q(closed_at__gt=now)),
        closed_in_window=Count("id", _filter=Q(closed_at__gt=window, closed_at__lte=now)),
    )


async def _alert_severities(
    merchant_id: int, now: datetime, window: datetime
) -> dict[RiskAlertKind, tuple[RiskLevel, ...]]:
    """Severities of the spike and stall alerts raised in the window that were not dismissed."""
    rows = (
        await RiskAlert.filter(
            merchant_id=merchant_id,
            kind__in=(RiskAlertKind.SALES_SPIKE, RiskAlertKind.REDEMPTION_ANOMALY),
            raised_at__gt=window,
            raised_at__lte=now,
        )
        .exclude(status=AlertStatus.DISMISSED)
        .annotate(alerts=Count("id"))
        .group_by("kind", "severity")
        .values("kind", "severity", "alerts")
    )
    found: dict[RiskAlertKind, list[RiskLevel]] = {}
    for row in sorted(rows, key=lambda row: (row["kind"], row["severity"])):
        found.setdefault(RiskAlertKind(row["kind"]), []).extend(
            [RiskLevel(row["severity"])] * int(row["alerts"])
        )
    return {kind: tuple(severities) for kind, severities in found.items()}


async def _deepest_discount(
    merchant_id: int, now: datetime, window: datetime
) -> tuple[int, str | None]:
    """The deepest discount (basis points) among products on sale or sold in the window."""
    sold_lately = Card.filter(
        merchant_id=merchant_id, issued_at__gt=window, issued_at__lte=now
    ).values("product_id")
    products = (
        await CardProduct.filter(merchant_id=merchant_id)
        .filter(Q(status=CardProductStatus.ACTIVE) | Q(id__in=Subquery(sold_lately)))
        .values("name", "price_fen", "face_value_fen")
    )
    deepest, name = 0, None
    for product in sorted(products, key=lambda product: product["name"]):
        face = int(product["face_value_fen"])
        depth = (face - int(product["price_fen"])) * 10_000 // face if face > 0 else 0
        if depth > deepest:
            deepest, name = depth, str(product["name"])
    return deepest, name
