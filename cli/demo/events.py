"""The history's steps that are not about one card or complaint: the regulator's reviews,
suspensions and closures, stores shutting, a product retired, and the announcements.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cli.demo.accounts import WANG
from cli.demo.plan import MerchantPlan, ProductPlan, StorePlan
from cli.demo.texts import ANNOUNCEMENTS
from cli.demo.world import World
from models import CardProduct, Store
from models.enums import AnnouncementKind, CardProductStatus, MerchantStatus, StoreStatus
from services import announcements, onboarding, supervision


def plan_merchant_events(world: World) -> None:
    """Reviews, store closures, the retired product, suspensions and closures."""
    for merchant in world.merchants:
        for store in merchant.stores:
            if store.closed_at is not None:
                world.step(store.closed_at, _close_store(store))
        for product in merchant.products:
            if product.retired_at is not None:
                world.step(product.retired_at, _retire(product))
        if merchant.reviewed_at is not None:
            world.step(merchant.reviewed_at, _review(world, merchant))
        if merchant.stop_at is None:
            continue
        reason = merchant.status_reason or ""
        if merchant.status is MerchantStatus.SUSPENDED:

            async def suspend(m: MerchantPlan = merchant, why: str = reason) -> None:
                await supervision.suspend_merchant(
                    principal=world.regulator(), merchant_id=m.id, reason=why
                )

            world.step(merchant.stop_at, suspend)
        else:  # closing refunds every card that still has a balance
            for card in merchant.cards:
                if card.refunded_at is None and card.balance > 0:
                    card.refunded_at = merchant.stop_at

            async def close(m: MerchantPlan = merchant, why: str = reason) -> None:
                await supervision.close_merchant(
                    principal=world.regulator(), merchant_id=m.id, reason=why
                )

            world.step(merchant.stop_at, close)


def _close_store(store: StorePlan) -> Callable[[], Awaitable[Any]]:
    async def close() -> None:
        await Store.filter(id=store.id).update(status=StoreStatus.CLOSED, closed_at=store.closed_at)

    return close


def _retire(product: ProductPlan) -> Callable[[], Awaitable[Any]]:
    async def retire() -> None:
        await CardProduct.filter(id=product.id).update(status=CardProductStatus.RETIRED)

    return retire


def _review(world: World, merchant: MerchantPlan) -> Callable[[], Awaitable[Any]]:
    approve = merchant.status is not MerchantStatus.REJECTED

    async def review() -> None:
        await onboarding.review_merchant(
            world.regulator(),
            merchant.id,
            approve=approve,
            reason=None if approve else merchant.status_reason,
        )

    return review


def plan_announcements(world: World) -> None:
    for kind, title, body, pinned, days_ago in ANNOUNCEMENTS:

        async def publish(
            kind: str = kind, title: str = title, body: str = body, pinned: bool = pinned
        ) -> None:
            await announcements.publish(
                regulator_id=world.user(WANG.phone),
                kind=AnnouncementKind(kind),
                title=title,
                body=body,
                pinned=pinned,
            )

        world.step(world.at(-days_ago, 570), publish)
