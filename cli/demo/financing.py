"""Financing applications through the financing service, after last night's scores: the
laundry chain's own, and a few from merchants the partner bank's rules let apply (grade A or
B, no open HIGH alert, no complaint left unresolved for 15 days); regulators decided some.
"""

from __future__ import annotations

from datetime import timedelta

from cli.demo.texts import FINANCING_NOTES, FINANCING_PURPOSES
from cli.demo.world import World, fixed_clock
from core import clock
from core.errors import InvalidState
from models.enums import CreditGrade, MerchantStatus
from services import financing

DECISIONS = (True, True, True, False, None, None)  # approve, reject, or still waiting


async def write_financing(world: World) -> None:
    rng = world.rng
    clock.set_clock(fixed_clock(world.at(-1, 23 * 60 + 45)))
    await financing.apply(
        world.owner(world.chain),
        amount_fen=50_000_000,
        term_months=12,
        purpose=FINANCING_PURPOSES[1],
    )
    good = [
        m
        for m in world.merchants[1:]
        if m.grade in (CreditGrade.A, CreditGrade.B) and m.status is MerchantStatus.ACTIVE
    ]
    applied = 0
    for merchant in rng.sample(good, len(good)):
        if applied == len(DECISIONS):
            break
        try:
            application = await financing.apply(
                world.owner(merchant),
                amount_fen=rng.choice((5, 10, 20, 30)) * 1_000_000,
                term_months=rng.choice((6, 12, 24)),
                purpose=rng.choice(FINANCING_PURPOSES),
            )
        except InvalidState:  # an open HIGH alert or a stale complaint: the bank's rules say no
            continue
        approve = DECISIONS[applied]
        applied += 1
        if approve is None:
            continue
        clock.set_clock(fixed_clock(world.at(-1, 23 * 60 + 50)))
        await financing.decide(
            world.regulator(),
            application.id,
            approve=approve,
            note=FINANCING_NOTES["APPROVED" if approve else "REJECTED"],
        )
        clock.set_clock(fixed_clock(world.at(-1, 23 * 60 + 45) + timedelta(seconds=applied)))
