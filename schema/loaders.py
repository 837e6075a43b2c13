"""Per-request DataLoaders: every relation is fetched in batches, never row by row.

Built fresh for each request (they cache rows, which must not outlive the
caller's permissions). They follow relations from objects the caller could
already read; root lookups go through auth/scoping.py.

Categories and the public side of merchants (stores, card products, their stores, sold counts)
are the same for every caller; an anonymous request's loaders read them through the public-read
cache (core/public_cache.py), other callers' from the database. Categories and merchantCount
are read through it by everyone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.functions import Count, Sum
from tortoise.models import Model

from core import public_cache
from models import (
    Card,
    CardProduct,
    CardProductStore,
    Category,
    ChannelRefund,
    ComplaintEvent,
    CreditFactor,
    CreditScore,
    LedgerAccount,
    Merchant,
    Posting,
    ReconciliationDifference,
    RefundRequest,
    RiskAlert,
    RiskAlertTransfer,
    Store,
    Transfer,
    User,
)
from models.enums import LIVE_CARD_STATUSES, OPEN_ALERT_STATUSES, MerchantStatus, RiskLevel

M = TypeVar("M", bound=Model)
K = TypeVar("K", bound=Hashable)

SEVERITY_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


Load = Callable[[Sequence[Any]], Awaitable[list[Any]]]


def _public(name: str, family_of: Callable[[Any], str], load: Load) -> Load:
    """`load` through the public-read cache: each key's value lives while its family holds."""

    async def through_cache(keys: Sequence[Any]) -> list[Any]:
        return await public_cache.public_cache().get_many(name, list(keys), family_of, load)

    return through_cache


def _by_key(
    model: type[M], field: str = "id", public: Callable[[Load], Load] | None = None
) -> DataLoader[Any, M | None]:
    async def load(keys: Sequence[Any]) -> list[M | None]:
        rows = await model.filter(**{f"{field}__in": list(set(keys))})
        found = {getattr(row, field): row for row in rows}
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=public(load) if public else load)


def _grouped(
    model: type[M],
    parent_field: str,
    order_by: Sequence[str],
    prime: DataLoader | None = None,
    public: Callable[[Load], Load] | None = None,
) -> DataLoader[int, list[M]]:
    """All children of each parent, in order (pages are sliced from them)."""

    async def fetch(parent_ids: Sequence[int]) -> list[list[M]]:
        rows = await model.filter(**{f"{parent_field}__in": list(set(parent_ids))}).order_by(
            *order_by
        )
        groups: dict[int, list[M]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, parent_field)].append(row)
        return [groups.get(parent_id, []) for parent_id in parent_ids]

    through = public(fetch) if public else fetch

    async def load(parent_ids: Sequence[int]) -> list[list[M]]:
        groups = await through(parent_ids)
        if prime is not None:
            for row in (row for group in groups for row in group):
                prime.prime(row.pk, row)
        return groups

    return DataLoader(load_fn=load)


def _aggregate(
    fetch: Callable[[list[Any]], Any],
    default: Any = 0,
    public: Callable[[Load], Load] | None = None,
) -> DataLoader[Any, Any]:
    async def load(keys: Sequence[Any]) -> list[Any]:
        found = dict(await fetch(list(set(keys))))
        return [found.get(key, default) for key in keys]

    return DataLoader(load_fn=public(load) if public else load)


class Loaders:
    """The DataLoaders of one request, each built on first use; `public` for an anonymous one."""

    def __init__(self, *, public: bool = False) -> None:
        self.public = public

    def _per_merchant(self, name: str) -> Callable[[Load], Load] | None:
        if not self.public:
            return None
        return lambda load: _public(name, public_cache.merchant_family, load)

    def _per_product(self, name: str) -> Callable[[Load], Load] | None:
        if not self.public:
            return None
        return lambda load: _public(name, public_cache.product_family, load)

    @cached_property
    def user(self) -> DataLoader[int, User | None]:
        return _by_key(User)

    @cached_property
    def merchant(self) -> DataLoader[int, Merchant | None]:
        return _by_key(Merchant)

    @cached_property
    def category(self) -> DataLoader[str, Category | None]:
        return _by_key(
            Category,
            "code",
            lambda load: _public("category", lambda _code: public_cache.CATEGORIES, load),
        )

    @cached_property
    def store(self) -> DataLoader[int, Store | None]:
        return _by_key(Store)

    @cached_property
    def card_product(self) -> DataLoader[int, CardProduct | None]:
        return _by_key(CardProduct)

    @cached_property
    def card(self) -> DataLoader[int, Card | None]:
        return _by_key(Card)

    @cached_property
    def transfer(self) -> DataLoader[int, Transfer | None]:
        return _by_key(Transfer)

    @cached_property
    def refund_request(self) -> DataLoader[int, RefundRequest | None]:
        return _by_key(RefundRequest)

    @cached_property
    def channel_refund(self) -> DataLoader[int, ChannelRefund | None]:
        return _by_key(ChannelRefund)

    @cached_property
    def channel_refunds_by_transfer(self) -> DataLoader[int, list[ChannelRefund]]:
        return _grouped(ChannelRefund, "transfer_id", ("id",), prime=self.channel_refund)

    @cached_property
    def channel_refunds_by_order(self) -> DataLoader[int, list[ChannelRefund]]:
        return _grouped(ChannelRefund, "order_id", ("id",), prime=self.channel_refund)

    @cached_property
    def stores_by_merchant(self) -> DataLoader[int, list[Store]]:
        return _grouped(
            Store, "merchant_id", ("id",), self.store, self._per_merchant("stores-by-merchant")
        )

    @cached_property
    def card_products_by_merchant(self) -> DataLoader[int, list[CardProduct]]:
        return _grouped(
            CardProduct,
            "merchant_id",
            ("id",),
            self.card_product,
            self._per_merchant("card-products-by-merchant"),
        )

    @cached_property
    def store_ids_by_card_product(self) -> DataLoader[int, list[int]]:
        async def load(product_ids: Sequence[int]) -> list[list[int]]:
            rows = (
                await CardProductStore.filter(product_id__in=list(set(product_ids)))
                .order_by("store_id")
                .values_list("product_id", "store_id")
            )
            groups: dict[int, list[int]] = defaultdict(list)
            for product_id, store_id in rows:
                groups[product_id].append(store_id)
            return [groups.get(product_id, []) for product_id in product_ids]

        public = self._per_product("store-ids-by-card-product")
        return DataLoader(load_fn=public(load) if public else load)

    @cached_property
    def sold_count_by_card_product(self) -> DataLoader[int, int]:
        async def fetch(product_ids: list[int]) -> list[tuple[int, int]]:
            return await (
                Card.filter(product_id__in=product_ids)
                .group_by("product_id")
                .annotate(sold=Count("id"))
                .values_list("product_id", "sold")
            )

        return _aggregate(fetch, 0, self._per_product("sold-count-by-card-product"))

    @cached_property
    def transactions_by_card(self) -> DataLoader[int, list[Transfer]]:
        return _grouped(Transfer, "card_id", ("-created_at", "-id"), prime=self.transfer)

    @cached_property
    def postings_by_transfer(self) -> DataLoader[int, list[Posting]]:
        return _grouped(Posting, "transfer_id", ("id",))

    @cached_property
    def ledger_balance(self) -> DataLoader[str, int]:
        """Credits minus debits of a ledger account by name."""

        async def fetch(names: list[str]) -> list[tuple[str, int]]:
            rows = await LedgerAccount.filter(name__in=names).values_list(
                "name", "debits_fen", "credits_fen"
            )
            return [(name, credits - debits) for name, debits, credits in rows]

        return _aggregate(fetch)

    @cached_property
    def liability_by_merchant(self) -> DataLoader[int, int]:
        """Cash value of the merchant's live cards."""

        async def fetch(merchant_ids: list[int]) -> list[tuple[int, int]]:
            rows = await (
                Card.filter(merchant_id__in=merchant_ids, status__in=LIVE_CARD_STATUSES)
                .group_by("merchant_id")
                .annotate(total=Sum("cash_value_fen"))
                .values_list("merchant_id", "total")
            )
            return [(merchant_id, int(total or 0)) for merchant_id, total in rows]

        return _aggregate(fetch)

    @cached_property
    def active_merchant_count_by_category(self) -> DataLoader[str, int]:
        async def fetch(codes: list[str]) -> list[tuple[str, int]]:
            return await (
                Merchant.filter(category_id__in=codes, status=MerchantStatus.ACTIVE)
                .group_by("category_id")
                .annotate(count=Count("id"))
                .values_list("category_id", "count")
            )

        def by_category(load: Load) -> Load:
            return _public("merchant-count", lambda _code: public_cache.CATEGORIES, load)

        return _aggregate(fetch, 0, by_category)

    @cached_property
    def risk_level_by_merchant(self) -> DataLoader[int, RiskLevel]:
        """The highest severity among the merchant's open (OPEN or ACKNOWLEDGED) alerts, else LOW."""

        async def fetch(merchant_ids: list[int]) -> list[tuple[int, RiskLevel]]:
            rows = (
                await RiskAlert.filter(merchant_id__in=merchant_ids, status__in=OPEN_ALERT_STATUSES)
                .distinct()
                .values_list("merchant_id", "severity")
            )
            highest: dict[int, RiskLevel] = {}
            for merchant_id, severity in rows:
                level = RiskLevel(severity)
                if SEVERITY_RANK[level] > SEVERITY_RANK[highest.get(merchant_id, RiskLevel.LOW)]:
                    highest[merchant_id] = level
            return list(highest.items())

        return _aggregate(fetch, RiskLevel.LOW)

    @cached_property
    def credit_scores_by_merchant(self) -> DataLoader[int, list[CreditScore]]:
        """Newest first: the head is the current score."""
        return _grouped(CreditScore, "merchant_id", ("-computed_at", "-id"))

    @cached_property
    def credit_factors_by_score(self) -> DataLoader[int, list[CreditFactor]]:
        return _grouped(CreditFactor, "score_id", ("position", "id"))

    @cached_property
    def complaint_events_by_complaint(self) -> DataLoader[int, list[ComplaintEvent]]:
        return _grouped(ComplaintEvent, "complaint_id", ("at", "id"))

    @cached_property
    def transfer_ids_by_risk_alert(self) -> DataLoader[int, list[int]]:
        async def load(alert_ids: Sequence[int]) -> list[list[int]]:
            rows = (
                await RiskAlertTransfer.filter(alert_id__in=list(set(alert_ids)))
                .order_by("transfer_id")
                .values_list("alert_id", "transfer_id")
            )
            groups: dict[int, list[int]] = defaultdict(list)
            for alert_id, transfer_id in rows:
                groups[alert_id].append(transfer_id)
            return [groups.get(alert_id, []) for alert_id in alert_ids]

        return DataLoader(load_fn=load)

    @cached_property
    def risk_alert(self) -> DataLoader[int, RiskAlert | None]:
        return _by_key(RiskAlert)

    @cached_property
    def differences_by_reconciliation_report(
        self,
    ) -> DataLoader[int, list[ReconciliationDifference]]:
        return _grouped(ReconciliationDifference, "report_id", ("id",))
