"""`load_demo`: plan the world, check that none of it is in the database yet, then write it
in one transaction (reference rows, the history replayed step by step with the clock set
back, then credit, alerts and financing), then pay a week through the channel's simulator and
reconcile its statements (cli/demo/statements.py), and say in a few lines what the database
now holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager

from tortoise.transactions import in_transaction

from auth.passwords import hash_password
from cli.demo.accounts import (
    CHEN,
    DEMO_ACCOUNTS,
    DEMO_CHAIN_CREDIT_CODE,
    DEMO_PASSWORD,
    WANG,
    ZHANG,
    ZHOU,
)
from cli.demo.alerts import write_alerts
from cli.demo.credit import write_credit
from cli.demo.financing import write_financing
from cli.demo.planner import plan_world
from cli.demo.reference_rows import write_merchants, write_users
from cli.demo.statements import load_week
from cli.demo.world import World, fixed_clock
from core import clock
from models import (
    Card,
    CardProduct,
    Complaint,
    CreditScore,
    Merchant,
    RefundRequest,
    RegistryRecord,
    RiskAlert,
    Store,
    Transfer,
    User,
)
from models.enums import (
    MerchantStatus,
    RefundStatus,
    Role,
    TransferKind,
)
from services import background

ALREADY_LOADED = "demo data already loaded"

# `progress(phase, total)` opens one phase of the load; calling what it yields marks a step done.
Progress = Callable[[str, int], AbstractContextManager[Callable[[], object]]]
PLANNING = "planning"
REFERENCE_ROWS = "merchants and people"
HISTORY = "four months of history"
COMPUTED = "credit, alerts, financing"
STATEMENTS = "a week of channel payments and statements"
PHASES = (PLANNING, REFERENCE_ROWS, HISTORY, COMPUTED, STATEMENTS)


@contextmanager
def no_progress(_phase: str, _total: int) -> Iterator[Callable[[], object]]:
    yield lambda: None


async def load_demo(force: bool = False, progress: Progress = no_progress) -> str:
    """Load the demo data once into this database; returns a few lines saying what it loaded.

    Without `force` nothing happens when the demo laundry chain is already here. Either
    way nothing is written when any of the demo's phone numbers or credit codes (which
    are unique) already exist, and the answer says so; a load that fails rolls back whole.
    """
    started = time.monotonic()
    if not force and await Merchant.exists(credit_code=DEMO_CHAIN_CREDIT_CODE):
        return ALREADY_LOADED
    with progress(PLANNING, 1) as done:
        world = plan_world()
        taken = await _taken(world)
        done()
    if taken:
        shown = ", ".join(taken[:5]) + (" …" if len(taken) > 5 else "")
        return (
            "demo data not loaded: nothing changed, because "
            f"{len(taken)} of its phone numbers or credit codes already exist here ({shown}); "
            "load it into a freshly migrated database"
        )
    password_hash = hash_password(DEMO_PASSWORD)
    # What the history's operations defer is kept (no tasks beside the load's transaction):
    # the risk rules run at the end of each day of the history, as a server's would have; the
    # score recomputes they ask for are left to the nightly scores written after the history
    # (a grade D mid-history would refuse the sales the plan has already counted on).
    background.queue_instead()
    try:
        async with in_transaction():
            with progress(REFERENCE_ROWS, 2) as done:
                await write_merchants(world)
                done()
                await write_users(world, password_hash)
                done()
            with progress(HISTORY, len(world.steps)) as done:
                await _run_steps(world, done)
            with progress(COMPUTED, 3) as done:
                for write in (write_alerts, write_credit, write_financing):
                    await write(world)
                    done()
        # After the commit: payments reach the channel (here in process) outside any
        # transaction, as a server's do.
        with progress(STATEMENTS, 2) as done:
            statements = await load_week(world, done)
    finally:
        # What is still kept (recomputes the history's alerts asked for) is covered by the
        # nightly scores above: dropped.
        background.queue_instead(False)
        clock.set_clock(None)
    return await _summary(time.monotonic() - started, statements)


async def _taken(world: World) -> list[str]:
    """Demo phones and credit codes that this database already has (they must be new)."""
    phones = [a.phone for a in DEMO_ACCOUNTS] + list(world.consumers)
    phones += [m.owner_phone for m in world.merchants]
    codes = [m.credit_code for m in world.merchants] + [
        r["credit_code"] for r in world.extra_registry
    ]
    taken: list[str] = []
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        taken += map(str, await User.filter(phone__in=chunk).values_list("phone", flat=True))
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for model in (Merchant, RegistryRecord):
            found = await model.filter(credit_code__in=chunk).values_list("credit_code", flat=True)
            taken += map(str, found)
    return sorted(set(taken))


async def _run_steps(world: World, done: Callable[[], object]) -> None:
    """Replay the history in time order, each step with the clock set to its moment, and the
    risk rules its operations asked for at the end of each day."""
    day = None
    for step in sorted(world.steps):
        if day is not None and world.day_of(step.at) != day:
            await background.run_queued(only=_risk_rules)
        clock.set_clock(fixed_clock(step.at))
        await step.run()
        day = world.day_of(step.at)
        done()
    await background.run_queued(only=_risk_rules)


def _risk_rules(key: Hashable) -> bool:
    return isinstance(key, tuple) and key[0] == "risk"


async def _summary(seconds: float, statements: str) -> str:
    """What the database holds after the load (all of it the demo's, on a fresh database)."""
    merchants = {s: await Merchant.filter(status=s).count() for s in MerchantStatus}
    kinds = {k: await Transfer.filter(kind=k, card_id__isnull=False).count() for k in TransferKind}
    refunds_pending = await RefundRequest.filter(status=RefundStatus.PENDING).count()
    by_status = ", ".join(
        f"{n} {s.value.lower().replace('_', ' ')}" for s, n in merchants.items() if n
    )
    return "\n".join(
        [
            f"Loaded the Huai'an demo in {seconds:.0f} s:",
            f"  merchants  {sum(merchants.values())} ({by_status})",
            f"  stores     {await Store.all().count()}, "
            f"selling {await CardProduct.all().count()} card products",
            f"  consumers  {await User.filter(role=Role.CONSUMER).count()}, "
            f"holding {await Card.all().count()} cards",
            f"  transfers  {await Transfer.all().count()}: "
            f"{kinds[TransferKind.PURCHASE]} purchases, {kinds[TransferKind.TOP_UP]} top-ups, "
            f"{kinds[TransferKind.REDEMPTION]} redemptions, {kinds[TransferKind.REFUND]} refunds",
            f"  also       {await Complaint.all().count()} complaints, "
            f"{refunds_pending} refund requests pending, "
            f"{await RiskAlert.all().count()} risk alerts, "
            f"{await CreditScore.all().count()} credit scores",
            statements,
            f"Log in with password {DEMO_PASSWORD}: consumer {ZHANG.phone}, "
            f"merchant owner {CHEN.phone},",
            f"store staff {ZHOU.phone}, regulator {WANG.phone} (README.md, Demo accounts).",
        ]
    )
