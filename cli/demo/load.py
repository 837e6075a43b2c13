"""`load_demo`: plan the world, check that none of it is in the database yet, then write it
in one transaction (reference rows, the history replayed step by step with the clock set
back, then credit, alerts and financing) and say what the database now holds.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from auth.passwords import hash_password
from cli.demo.accounts import (
    CHEN,
    DEMO_ACCOUNTS,
    DEMO_CHAIN_CREDIT_CODE,
    DEMO_CHAIN_NAME,
    DEMO_PASSWORD,
    LI,
    WANG,
    ZHANG,
    ZHOU,
)
from cli.demo.alerts import write_alerts
from cli.demo.credit import write_credit
from cli.demo.financing import write_financing
from cli.demo.planner import plan_world
from cli.demo.reference_rows import write_merchants, write_users
from cli.demo.world import World, fixed_clock
from models import (
    Announcement,
    Card,
    CardProduct,
    Complaint,
    CreditFactor,
    CreditScore,
    FinancingApplication,
    Merchant,
    RefundRequest,
    RegistryRecord,
    RiskAlert,
    Store,
    Transfer,
    User,
)
from models.enums import (
    ComplaintStatus,
    CreditGrade,
    MerchantStatus,
    RefundStatus,
    Role,
    TransferKind,
)
from services import clock

ALREADY_LOADED = "demo data already loaded"


async def load_demo(force: bool = False) -> str:
    """Load the demo data once into this database; returns a paragraph saying what it loaded.

    Without `force` nothing happens when the demo laundry chain is already here. Either
    way nothing is written when any of the demo's phone numbers or credit codes (which
    are unique) already exist, and the answer says so; a load that fails rolls back whole.
    """
    if not force and await Merchant.exists(credit_code=DEMO_CHAIN_CREDIT_CODE):
        return ALREADY_LOADED
    world = plan_world()
    taken = await _taken(world)
    if taken:
        shown = ", ".join(taken[:5]) + (" …" if len(taken) > 5 else "")
        return (
            "demo data not loaded: nothing changed, because "
            f"{len(taken)} of its phone numbers or credit codes already exist here ({shown}); "
            "load it into a freshly migrated database"
        )
    password_hash = hash_password(DEMO_PASSWORD)
    try:
        async with in_transaction():
            await write_merchants(world)
            await write_users(world, password_hash)
            await _run_steps(world)
            await write_credit(world)
            await write_alerts(world)
            await write_financing(world)
    finally:
        clock.set_clock(None)
    return await _summary()


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


async def _run_steps(world: World) -> None:
    """Replay the history in time order, each step with the clock set to its moment."""
    for step in sorted(world.steps):
        clock.set_clock(fixed_clock(step.at))
        await step.run()


async def _summary() -> str:
    """What the database holds after the load (all of it the demo's, on a fresh database)."""
    merchants = {s: await Merchant.filter(status=s).count() for s in MerchantStatus}
    kinds = {k: await Transfer.filter(kind=k, card_id__isnull=False).count() for k in TransferKind}
    refunds_pending = await RefundRequest.filter(status=RefundStatus.PENDING).count()
    statuses = {s: await Complaint.filter(status=s).count() for s in ComplaintStatus}
    grades = {g: await Merchant.filter(credit_grade=g).count() for g in CreditGrade}
    consumers = await User.filter(role=Role.CONSUMER).count()
    return (
        f"Loaded the Huai'an demo: {sum(merchants.values())} merchants ("
        + ", ".join(f"{n} {s.value.lower().replace('_', ' ')}" for s, n in merchants.items())
        + f") with {await Store.all().count()} stores and {await CardProduct.all().count()} card "
        f"products, led by {DEMO_CHAIN_NAME} (20 stores, credit code {DEMO_CHAIN_CREDIT_CODE}); "
        f"{await RegistryRecord.all().count()} registry records; {consumers} consumers; "
        f"{await Card.all().count()} cards with {kinds[TransferKind.PURCHASE]} purchases, "
        f"{kinds[TransferKind.TOP_UP]} top-ups, {kinds[TransferKind.REDEMPTION]} redemptions and "
        f"{kinds[TransferKind.REFUND]} refunds ({refunds_pending} refund requests pending); "
        f"{sum(statuses.values())} complaints ("
        + ", ".join(f"{n} {s.value.lower().replace('_', ' ')}" for s, n in statuses.items())
        + f"); {await CreditScore.all().count()} credit scores with "
        f"{await CreditFactor.all().count()} factors (grades "
        + ", ".join(f"{g.value} {n}" for g, n in grades.items())
        + f"); {await RiskAlert.all().count()} risk alerts; "
        f"{await Announcement.all().count()} announcements; "
        f"{await FinancingApplication.all().count()} financing applications. Demo accounts "
        f"(password {DEMO_PASSWORD}): consumers {ZHANG.name} {ZHANG.phone} and {LI.name} "
        f"{LI.phone}, merchant owner {CHEN.name} {CHEN.phone}, store staff {ZHOU.name} "
        f"{ZHOU.phone}, regulator {WANG.name} {WANG.phone}."
    )
