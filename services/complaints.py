"""Complaints: a consumer complains, the merchant answers, a regulator mediates and resolves.

SUBMITTED -> MERCHANT_RESPONDED (the merchant answers within 72 hours) or
UNDER_MEDIATION (the consumer escalates, or nobody answered in time: the sweep);
the consumer may withdraw while the complaint is open; a regulator resolves an
answered or mediated complaint, and an UPHELD outcome can refund the card.
Every step is an event with its time, the actor's role (SYSTEM for the sweep) and a message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock
from core.errors import BadInput, Forbidden, InvalidState, NotFound
from core.principal import Principal
from models import Card, Complaint, ComplaintEvent, Merchant, RefundRequest, Transfer
from models.enums import (
    CardStatus,
    ComplaintCategory,
    ComplaintOutcome,
    ComplaintStatus,
    MerchantStatus,
    RefundStatus,
    RiskAlertKind,
    Role,
)
from services import audit, channel_refunds, credit_scores, events, risk
from services.refunds import refund_card
from settings import get_settings

MAX_TEXT = 2000
OPEN_STATUSES = (
    ComplaintStatus.SUBMITTED,
    ComplaintStatus.MERCHANT_RESPONDED,
    ComplaintStatus.UNDER_MEDIATION,
)
RESOLVABLE = (ComplaintStatus.MERCHANT_RESPONDED, ComplaintStatus.UNDER_MEDIATION)


def _text(value: str | None, what: str, *, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise BadInput(f"The {what} must not be empty")
        return None
    if len(value) > MAX_TEXT:
        raise BadInput(f"The {what} has at most {MAX_TEXT} characters")
    return value


async def _event(
    complaint: Complaint, role: Role, actor_id: int | None, action: str, message: str | None
) -> None:
    await ComplaintEvent.create(
        complaint_id=complaint.id,
        at=clock.now(),
        actor_role=role,
        actor_id=actor_id,
        action=action,
        message=message,
    )


# How a message names a complaint in each status (GraphQL enum values read badly in a sentence).
_DESCRIBED = {
    ComplaintStatus.SUBMITTED: "A complaint still awaiting the merchant's answer",
    ComplaintStatus.MERCHANT_RESPONDED: "An answered complaint",
    ComplaintStatus.UNDER_MEDIATION: "A complaint under mediation",
    ComplaintStatus.RESOLVED: "A resolved complaint",
    ComplaintStatus.REJECTED: "A rejected complaint",
    ComplaintStatus.WITHDRAWN: "A withdrawn complaint",
}
_RULED = {
    ComplaintOutcome.UPHELD: "upheld",
    ComplaintOutcome.PARTIALLY_UPHELD: "partly upheld",
    ComplaintOutcome.DISMISSED: "dismissed",
}


def _refusal(status: ComplaintStatus, to: ComplaintStatus, tried: str) -> str:
    """Why a complaint in `status` cannot be `tried` (e.g. "dismissed"), in the caller's words."""
    described = _DESCRIBED[status]
    if status is to:
        return f"{described} cannot be {tried} again"
    if status not in OPEN_STATUSES:
        return f"{described} cannot be {tried} any more"
    if status is ComplaintStatus.SUBMITTED and to in (
        ComplaintStatus.RESOLVED,
        ComplaintStatus.REJECTED,
    ):
        return f"{described} cannot be {tried} yet; it must be answered or escalate first"
    return f"{described} cannot be {tried}"


async def _move(
    complaint: Complaint,
    allowed_from: tuple[ComplaintStatus, ...],
    to: ComplaintStatus,
    tried: str,
    **fields: object,
) -> None:
    """Claim the transition with an UPDATE matching the expected state (checked rows affected).
    `tried` is what the caller asked for, as in "cannot be <tried>"."""
    if complaint.status not in allowed_from:
        raise InvalidState(_refusal(complaint.status, to, tried))
    changed = await Complaint.filter(id=complaint.id, status=complaint.status).update(
        status=to, **fields
    )
    if changed != 1:
        raise InvalidState("The complaint changed meanwhile; try again")
    complaint.status = to


async def file_complaint(
    *,
    consumer_id: int,
    merchant_id: int,
    card_id: int | None,
    category: ComplaintCategory,
    description: str,
) -> Complaint:
    """Only a consumer who holds or held a card with the merchant may complain about it."""
    text = _text(description, "description")
    merchant = await Merchant.get_or_none(id=merchant_id)
    if merchant is None:
        raise NotFound("No such merchant")
    if card_id is not None:
        if not await Card.exists(id=card_id, owner_id=consumer_id, merchant_id=merchant_id):
            raise NotFound("No such card of yours with this merchant")
    elif not await Card.exists(owner_id=consumer_id, merchant_id=merchant_id):
        if merchant.status is not MerchantStatus.ACTIVE:
            # Consumers see ACTIVE merchants only: FORBIDDEN would reveal that this one exists.
            raise NotFound("No such merchant")
        raise Forbidden("Only a consumer who holds or held a card with the merchant may complain")
    now = clock.now()
    async with in_transaction():
        complaint = await Complaint.create(
            complainant_id=consumer_id,
            merchant_id=merchant_id,
            card_id=card_id,
            category=category,
            description=text,
            respond_by=now + timedelta(hours=get_settings().complaint_response_hours),
            created_at=now,
        )
        await _event(complaint, Role.CONSUMER, consumer_id, "SUBMITTED", text)
    risk.check_soon(merchant_id, RiskAlertKind.COMPLAINT_SURGE)
    return complaint


async def _writable(principal: Principal, complaint_id: int) -> Complaint:
    """The complaint if the caller may act on it; NOT_FOUND otherwise (existence is not revealed)."""
    complaint = await scoping.writable_complaints(principal).get_or_none(id=complaint_id)
    if complaint is None:
        raise NotFound("No such complaint")
    return complaint


async def respond(*, principal: Principal, complaint_id: int, message: str) -> Complaint:
    complaint = await _writable(principal, complaint_id)
    text = _text(message, "response")
    async with in_transaction():
        await _move(
            complaint, (ComplaintStatus.SUBMITTED,), ComplaintStatus.MERCHANT_RESPONDED, "answered"
        )
        await _event(complaint, Role.MERCHANT, principal.user_id, "RESPONDED", text)
    return await Complaint.get(id=complaint.id)


async def escalate(*, principal: Principal, complaint_id: int, message: str | None) -> Complaint:
    complaint = await _writable(principal, complaint_id)
    text = _text(message, "message", required=False)
    async with in_transaction():
        await _move(
            complaint,
            (ComplaintStatus.SUBMITTED, ComplaintStatus.MERCHANT_RESPONDED),
            ComplaintStatus.UNDER_MEDIATION,
            "escalated",
        )
        await _event(complaint, Role.CONSUMER, principal.user_id, "ESCALATED", text)
    return await Complaint.get(id=complaint.id)


async def withdraw(*, principal: Principal, complaint_id: int) -> Complaint:
    complaint = await _writable(principal, complaint_id)
    async with in_transaction():
        await _move(
            complaint,
            OPEN_STATUSES,
            ComplaintStatus.WITHDRAWN,
            "withdrawn",
            resolved_at=clock.now(),
        )
        await _event(complaint, Role.CONSUMER, principal.user_id, "WITHDRAWN", None)
    return await Complaint.get(id=complaint.id)


async def resolve(
    *,
    principal: Principal,
    complaint_id: int,
    outcome: ComplaintOutcome,
    resolution: str,
    refund_card_too: bool,
) -> Complaint:
    """A regulator's ruling; UPHELD with `refund_card_too` refunds the card through the ledger."""
    regulator_id = principal.require_user()
    complaint = await _writable(principal, complaint_id)
    text = _text(resolution, "resolution")
    if refund_card_too and outcome is not ComplaintOutcome.UPHELD:
        raise BadInput("Only an UPHELD complaint orders a refund")
    if refund_card_too and complaint.card_id is None:
        raise BadInput("The complaint names no card to refund")
    status = (
        ComplaintStatus.REJECTED
        if outcome is ComplaintOutcome.DISMISSED
        else ComplaintStatus.RESOLVED
    )
    now = clock.now()
    refund_transfer = None
    owner_id = complaint.complainant_id
    async with in_transaction():
        await _move(
            complaint,
            RESOLVABLE,
            status,
            _RULED[outcome],
            outcome=outcome,
            resolution=text,
            resolved_at=now,
        )
        if refund_card_too:
            assert complaint.card_id is not None
            request, refund_transfer = await _refund_ordered(
                complaint.card_id, complaint.merchant_id, owner_id, regulator_id, text or "", now
            )
            await Complaint.filter(id=complaint.id).update(refund_id=request.id)
        await _event(
            complaint, Role.REGULATOR, regulator_id, "RESOLVED", f"{outcome.value}: {text}"
        )
        await audit.record(
            actor_id=regulator_id,
            action="COMPLAINT_RESOLVED",
            subject_type="Complaint",
            subject_id=complaint.id,
            merchant_id=complaint.merchant_id,
            reason=text,
            details={"outcome": outcome.value, "refund": refund_transfer is not None},
        )
    if refund_transfer is not None:
        await channel_refunds.send_for_transfers([refund_transfer.id])
        await events.card_transaction(refund_transfer, owner_id=owner_id)
    credit_scores.schedule_recompute(complaint.merchant_id)
    return await Complaint.get(id=complaint.id)


async def _refund_ordered(
    card_id: int, merchant_id: int, owner_id: int, regulator_id: int, ruling: str, now: datetime
) -> tuple[RefundRequest, Transfer]:
    """Refund the card; a pending request for it is the one approved, else a new one records it."""
    card = await Card.get(id=card_id)
    if card.status is CardStatus.REFUNDED:
        raise InvalidState("The card is already refunded")
    _card, transfer = await refund_card(
        card_id, initiated_by_id=regulator_id, reason="Complaint upheld", now=now
    )
    decision = {
        "status": RefundStatus.APPROVED,
        "decided_at": now,
        "decided_by_id": regulator_id,
        "decision_note": "Refunded by a regulator's ruling on a complaint",
        "transfer_id": transfer.id,
        "amount_fen": transfer.cash_amount_fen,
    }
    pending = await RefundRequest.filter(card_id=card_id, status=RefundStatus.PENDING).first()
    if pending is not None:
        await RefundRequest.filter(id=pending.id).update(**decision)
        return await RefundRequest.get(id=pending.id), transfer
    request = await RefundRequest.create(
        card_id=card_id,
        merchant_id=merchant_id,
        requested_by_id=owner_id,
        reason=f"Complaint upheld: {ruling}"[:MAX_TEXT],
        requested_at=now,
        **decision,
    )
    return request, transfer


async def sweep_unanswered(now: datetime | None = None) -> int:
    """Escalate complaints the merchant left unanswered past their deadline; returns how many."""
    now = now or clock.now()
    overdue = await Complaint.filter(status=ComplaintStatus.SUBMITTED, respond_by__lte=now)
    escalated = 0
    for complaint in overdue:
        async with in_transaction():
            changed = await Complaint.filter(
                id=complaint.id, status=ComplaintStatus.SUBMITTED
            ).update(status=ComplaintStatus.UNDER_MEDIATION)
            if changed != 1:
                continue  # answered or withdrawn meanwhile
            await ComplaintEvent.create(
                complaint_id=complaint.id,
                at=now,
                actor_role=Role.SYSTEM,
                action="AUTO_ESCALATED",
                message="The merchant did not respond in time: moved to mediation by the platform",
            )
        escalated += 1
    return escalated
