"""Financing: a well-run merchant asks the partner bank for credit, a regulator decides.

A merchant's owner may apply while the merchant is ACTIVE, has credit grade A or
B, no open HIGH risk alert and no complaint left unresolved for more than 15
days, and has no other application waiting (DESIGN.md "Complaints, refunds,
financing"); otherwise INVALID_STATE names the condition that failed. A
regulator approves or rejects a SUBMITTED application once. Both steps are
recorded in the audit trail.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock
from core.errors import BadInput, Forbidden, InvalidState, NotFound
from core.principal import Principal
from models import Complaint, FinancingApplication, Merchant
from models.enums import CreditGrade, FinancingStatus, MerchantStatus, RiskLevel
from services import audit, risk
from services.complaints import OPEN_STATUSES as OPEN_COMPLAINT_STATUSES
from services.money import format_money, require_positive

QUALIFYING_GRADES = (CreditGrade.A, CreditGrade.B)
COMPLAINT_DEADLINE = timedelta(days=15)
MAX_TERM_MONTHS = 120
MAX_PURPOSE_LENGTH = 2000


def _text(value: str, what: str, max_length: int) -> str:
    """Trimmed, 1 to `max_length` characters. NUL characters and unpaired surrogates never
    get this far: schema/text.py refuses them in any request."""
    value = value.strip()
    if not value or len(value) > max_length:
        raise BadInput(f"The {what} has 1 to {max_length} characters")
    return value


async def _check_qualifies(merchant: Merchant) -> None:
    """INVALID_STATE naming the first condition the merchant does not meet."""
    if merchant.status is not MerchantStatus.ACTIVE:
        raise InvalidState(
            f"Financing needs an active merchant; {merchant.name} is "
            f"{merchant.status.value.lower()}"
        )
    if merchant.credit_grade not in QUALIFYING_GRADES:
        grade = (
            f"grade {merchant.credit_grade.value}"
            if merchant.credit_grade is not None
            else "no credit grade yet"
        )
        raise InvalidState(f"Financing needs credit grade A or B; {merchant.name} has {grade}")
    high = await risk.open_alerts(merchant.id, RiskLevel.HIGH)
    if high:
        kinds = ", ".join(sorted({alert.kind.value for alert in high}))
        raise InvalidState(
            f"Financing needs no open HIGH risk alert; {merchant.name} has {len(high)} ({kinds})"
        )
    overdue = await Complaint.filter(
        merchant_id=merchant.id,
        status__in=OPEN_COMPLAINT_STATUSES,
        created_at__lte=clock.now() - COMPLAINT_DEADLINE,
    ).count()
    if overdue:
        raise InvalidState(
            f"Financing needs every complaint resolved within {COMPLAINT_DEADLINE.days} days; "
            f"{merchant.name} has {overdue} complaint(s) unresolved for longer"
        )
    if await FinancingApplication.exists(merchant_id=merchant.id, status=FinancingStatus.SUBMITTED):
        raise InvalidState(f"{merchant.name} already has an application waiting for a decision")


async def apply(
    principal: Principal, *, amount_fen: int, term_months: int, purpose: str
) -> FinancingApplication:
    """The merchant's owner applies; the grade it has now is kept on the application."""
    owner_id = principal.require_user()
    # Staff pass the field's rule (MERCHANT) but only the owner applies: FORBIDDEN rather
    # than NOT_FOUND, since the caller names no object (the applicant is its own merchant).
    applicant = await scoping.financing_applicants(principal).first()
    if applicant is None:
        raise Forbidden("Only the merchant's owner applies for financing")
    merchant_id = applicant.id
    require_positive(amount_fen)
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        raise BadInput(f"The term is 1 to {MAX_TERM_MONTHS} months")
    purpose = _text(purpose, "purpose", MAX_PURPOSE_LENGTH)
    await _check_qualifies(applicant)
    async with in_transaction():
        # Checked again on the locked merchant (PostgreSQL; SQLite runs one transaction at a
        # time): two applications sent at once make one application.
        merchant = await Merchant.filter(id=merchant_id).select_for_update(no_key=True).first()
        if merchant is None:
            raise NotFound("No such merchant")
        await _check_qualifies(merchant)
        assert merchant.credit_grade is not None
        application = await FinancingApplication.create(
            merchant_id=merchant_id,
            amount_fen=amount_fen,
            term_months=term_months,
            purpose=purpose,
            status=FinancingStatus.SUBMITTED,
            grade_at_application=merchant.credit_grade,
            created_at=clock.now(),
        )
        await audit.record(
            actor_id=owner_id,
            action="FINANCING_APPLIED",
            subject_type="FinancingApplication",
            subject_id=application.id,
            merchant_id=merchant_id,
            reason=purpose,
            details={
                "amount": format_money(application.amount_fen),
                "termMonths": term_months,
                "grade": merchant.credit_grade.value,
            },
        )
    return application


async def decide(
    principal: Principal, application_id: int, *, approve: bool, note: str | None
) -> FinancingApplication:
    """A regulator approves or rejects a SUBMITTED application (a rejection says why)."""
    regulator_id = principal.require_user()
    note = _text(note, "note", MAX_PURPOSE_LENGTH) if note and note.strip() else None
    application = await scoping.writable_financing(principal).get_or_none(id=application_id)
    if application is None:
        raise NotFound("No such financing application")
    if application.status is not FinancingStatus.SUBMITTED:
        raise InvalidState(
            f"The application was already {application.status.value.lower()}; "
            "it cannot be decided again"
        )
    if not approve and note is None:
        raise BadInput("Give a note saying why the application is rejected")
    status = FinancingStatus.APPROVED if approve else FinancingStatus.REJECTED
    async with in_transaction():
        # Claimed with an UPDATE that matches SUBMITTED: of two decisions at once, one counts
        # and the other is told the application was decided.
        claimed = await FinancingApplication.filter(
            id=application.id, status=FinancingStatus.SUBMITTED
        ).update(status=status, decided_at=clock.now(), decision_note=note)
        if claimed != 1:
            raise InvalidState("The application was decided meanwhile")
        await audit.record(
            actor_id=regulator_id,
            action=f"FINANCING_{status.value}",
            subject_type="FinancingApplication",
            subject_id=application.id,
            merchant_id=application.merchant_id,
            reason=note,
            details={
                "amount": format_money(application.amount_fen),
                "termMonths": application.term_months,
            },
        )
    return await FinancingApplication.get(id=application.id)
