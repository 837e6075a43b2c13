"""The World every planner works on: the one seeded generator, the calendar of the four
months of history, everything planned so far, and the steps that will replay it.

Steps are coroutines run later, in time order, with the clock fixed at their moment; they
find database ids through the plans and `user_ids`, which the load fills in first.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cli.demo.accounts import WANG
from cli.demo.plan import CardPlan, ComplaintPlan, MerchantPlan, StorePlan
from core.principal import Principal
from models.enums import Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
HISTORY_DAYS = 120


@dataclass(order=True)
class Step:
    at: datetime
    seq: int  # steps planned for the same moment run in the order they were planned
    run: Callable[[], Awaitable[Any]] = field(compare=False)


@dataclass
class World:
    rng: random.Random
    anchor: datetime  # midnight today in Shanghai: the history ends there
    merchants: list[MerchantPlan] = field(default_factory=list)
    consumers: dict[str, str] = field(default_factory=dict)  # phone -> display name
    cards: list[CardPlan] = field(default_factory=list)
    complaints: list[ComplaintPlan] = field(default_factory=list)
    extra_registry: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    user_ids: dict[str, int] = field(default_factory=dict)

    @property
    def chain(self) -> MerchantPlan:
        return self.merchants[0]

    @property
    def end(self) -> datetime:
        return self.anchor.astimezone(UTC)

    def at(self, day: int, minute: int) -> datetime:
        """`minute` minutes after local midnight of `day` (0 is today, -1 yesterday), in UTC."""
        return (self.anchor + timedelta(days=day, minutes=minute)).astimezone(UTC)

    def business(self, day: int, first_hour: int = 9, last_hour: int = 21) -> datetime:
        return self.at(day, self.rng.randrange(first_hour * 60, last_hour * 60))

    def day_of(self, at: datetime) -> int:
        return (at.astimezone(SHANGHAI) - self.anchor).days

    def step(self, at: datetime, run: Callable[[], Awaitable[Any]]) -> None:
        assert at < self.end, "the demo history ends at midnight today"
        self.steps.append(Step(at, len(self.steps), run))

    def user(self, phone: str) -> int:
        return self.user_ids[phone]

    def owner(self, merchant: MerchantPlan) -> Principal:
        return Principal(
            user_id=self.user(merchant.owner_phone), role=Role.MERCHANT, merchant_id=merchant.id
        )

    def staff(self, phone: str, merchant: MerchantPlan, store: StorePlan) -> Principal:
        """A staff member of `merchant` bound to `store`."""
        return Principal(
            user_id=self.user(phone), role=Role.MERCHANT, merchant_id=merchant.id, store_id=store.id
        )

    def consumer(self, phone: str) -> Principal:
        return Principal(user_id=self.user(phone), role=Role.CONSUMER)

    def regulator(self) -> Principal:
        return Principal(user_id=self.user(WANG.phone), role=Role.REGULATOR)


def hours(rng: random.Random, low: float, high: float) -> timedelta:
    """A random span between `low` and `high` hours, in whole minutes."""
    return timedelta(minutes=rng.randrange(round(low * 60), round(high * 60)))


def fixed_clock(at: datetime) -> Callable[[], datetime]:
    """A clock for core.clock.set_clock that always says `at`."""
    return lambda: at
