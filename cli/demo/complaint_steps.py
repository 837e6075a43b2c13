"""One complaint's steps, planned in the World and replayed through the complaint service:
filing, the merchant's response, escalation or the overdue sweep, withdrawal, the ruling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from cli.demo.plan import CardPlan, ComplaintPlan
from cli.demo.texts import COMPLAINT_TEXTS, ESCALATION_MESSAGES, RESOLUTIONS
from cli.demo.world import World, hours
from models.enums import ComplaintCategory, ComplaintOutcome, ComplaintStatus, MerchantStatus
from services import complaints
from settings import get_settings


def plan_complaint(
    world: World,
    card: CardPlan,
    status: ComplaintStatus,
    *,
    earliest: datetime | None = None,
    latest: datetime | None = None,
    created: datetime | None = None,
    responded: bool = True,
    escalated: bool = False,
    swept: bool = False,
    category: ComplaintCategory | None = None,
    outcome: ComplaintOutcome | None = None,
    refund: bool = False,
    resolve_at: datetime | None = None,
) -> ComplaintPlan | None:
    """Schedule one complaint's steps through the complaint service; None when it does not fit."""
    rng = world.rng
    category = category or rng.choice(list(ComplaintCategory))
    descriptions, responses = COMPLAINT_TEXTS[category.value]
    actions: list[tuple[timedelta, str]] = []
    offset = timedelta(0)
    if status is not ComplaintStatus.SUBMITTED and responded and not swept:
        offset += hours(rng, 2, 60)
        actions.append((offset, "respond"))
    if swept:
        offset = timedelta(hours=get_settings().complaint_response_hours, minutes=20)
        actions.append((offset, "sweep"))
    elif escalated:
        offset += hours(rng, 24, 72)
        actions.append((offset, "escalate"))
    if status in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED):
        offset += hours(rng, 72, 216)
        actions.append((offset, "resolve"))
    elif status is ComplaintStatus.WITHDRAWN:
        offset += hours(rng, 24, 72)
        actions.append((offset, "withdraw"))
    if created is None:
        lo = max(earliest or card.bought_at, card.bought_at + timedelta(days=1))
        hi = min(latest or world.end, world.end - offset - timedelta(hours=1))
        if hi - lo < timedelta(minutes=2):
            return None
        created = lo + timedelta(minutes=rng.randrange(1, int((hi - lo).total_seconds() // 60)))
    if resolve_at is not None:
        actions[-1] = (resolve_at - created, actions[-1][1])
    last = actions[-1][0] if actions else timedelta(0)
    if created <= card.bought_at or created + last >= world.end:
        return None
    plan = ComplaintPlan(card, created, status)
    if status in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED, ComplaintStatus.WITHDRAWN):
        plan.closed_at = created + actions[-1][0]
    card.merchant.complaints.append(plan)
    world.complaints.append(plan)
    description = rng.choice(descriptions)

    async def file() -> None:
        done = await complaints.file_complaint(
            consumer_id=world.user(card.owner),
            merchant_id=card.merchant.id,
            card_id=card.id,
            category=category,
            description=description,
        )
        plan.id = done.id

    world.step(created, file)
    for after, action in actions:
        world.step(
            created + after, _complaint_action(world, plan, action, responses, outcome, refund)
        )
    if refund:
        card.refunded_at = plan.closed_at
    return plan


def _complaint_action(
    world: World,
    plan: ComplaintPlan,
    action: str,
    responses: tuple[str, ...],
    outcome: ComplaintOutcome | None,
    refund: bool,
) -> Callable[[], Awaitable[Any]]:
    card, rng = plan.card, world.rng
    response = rng.choice(responses)
    escalation = rng.choice(ESCALATION_MESSAGES)
    chosen = outcome or ComplaintOutcome.DISMISSED
    if card.merchant.status is MerchantStatus.CLOSED:
        resolution = RESOLUTIONS["CLOSED_MERCHANT"]
    else:
        resolution = RESOLUTIONS[chosen.value]

    async def run() -> None:
        if action == "respond":
            await complaints.respond(
                principal=world.owner(card.merchant), complaint_id=plan.id, message=response
            )
        elif action == "escalate":
            await complaints.escalate(
                principal=world.consumer(card.owner), complaint_id=plan.id, message=escalation
            )
        elif action == "sweep":
            await complaints.sweep_unanswered()
        elif action == "withdraw":
            await complaints.withdraw(principal=world.consumer(card.owner), complaint_id=plan.id)
        else:
            await complaints.resolve(
                principal=world.regulator(),
                complaint_id=plan.id,
                outcome=chosen,
                resolution=resolution,
                refund_card_too=refund,
            )

    return run
