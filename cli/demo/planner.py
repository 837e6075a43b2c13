"""The whole plan, decided by one seeded generator (and today's date), with no database.

The planners run in a fixed order and draw from the same generator, so the order below is
part of what the demo contains: changing it changes every later draw.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from cli.demo.card_sales import plan_cards
from cli.demo.complaints import plan_complaints
from cli.demo.events import plan_announcements, plan_merchant_events
from cli.demo.merchants import plan_chain, plan_merchants
from cli.demo.people import plan_people
from cli.demo.runaway import plan_runaway
from cli.demo.showcase import plan_demo_cards, plan_large_purchase
from cli.demo.world import SHANGHAI, World

SEED = 20250701


def plan_world(today: datetime | None = None) -> World:
    """Everything the demo will contain, decided by the seed alone (and today's date)."""
    now = (today or datetime.now(UTC)).astimezone(SHANGHAI)
    world = World(random.Random(SEED), now.replace(hour=0, minute=0, second=0, microsecond=0))
    plan_people(world)
    plan_chain(world)
    plan_merchants(world)
    plan_demo_cards(world)
    plan_large_purchase(world)
    plan_cards(world)
    plan_merchant_events(world)
    plan_complaints(world)
    plan_announcements(world)
    plan_runaway(world)
    return world
