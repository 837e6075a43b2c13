"""The thousand consumers, and the names and phone numbers that merchants and stores get too."""

from __future__ import annotations

import random

from cli.demo.words import GIVEN_NAME_CHARACTERS, SURNAMES
from cli.demo.world import World

CONSUMERS = 1000


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choices(GIVEN_NAME_CHARACTERS, k=rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def mobile_numbers(rng: random.Random, prefix: str, count: int) -> list[str]:
    """Distinct mobile numbers that never collide with the demo accounts' 1380000000x."""
    return [f"{prefix}{number:08d}" for number in rng.sample(range(10**7, 10**8), count)]


def landline(rng: random.Random) -> str:
    return f"0517-8{rng.randrange(10**6, 10**7)}"


def plan_people(world: World) -> None:
    for phone in mobile_numbers(world.rng, "138", CONSUMERS):
        world.consumers[phone] = person_name(world.rng)
