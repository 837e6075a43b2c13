"""Custody ratios: a change re-balances every live card of the merchant.

A regulator sets a ratio (`set_custody_ratio`, with an audit entry); the
platform forces 100 % when a merchant's credit grade falls to D
(services/credit_scores.py calls `apply_ratio` with no user: the ledger
transfer, initiated by nobody, and the stored score record it, since the audit
trail records users' actions). Either way the difference moves between the
merchant's settlement and custody accounts in one ledger transfer, so each live
card keeps escrowHeld = ceil(ratio * cashValue) and custody still equals its
cards' shares.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock, public_cache, text
from core.errors import BadInput, InvalidState, NotFound
from core.principal import Principal
from models import Card, Merchant
from models.enums import LIVE_CARD_STATUSES, CreditGrade, RiskAlertKind, TransferKind
from services import audit, ledger, risk
from services.custody import FULL_CUSTODY_BP, MIN_CUSTODY_BP, custody_share, ratio_to_bp
from services.ledger import credit, debit


def check_ratio(ratio: float) -> int:
    """The ratio in basis points, or BadInput outside 0.4 to 1.0 (at most 4 decimals)."""
    if not MIN_CUSTODY_BP / FULL_CUSTODY_BP <= ratio <= 1.0:
        raise BadInput("A custody ratio is between 0.4 and 1.0")
    ratio_bp = ratio_to_bp(ratio)
    if abs(ratio_bp / FULL_CUSTODY_BP - ratio) > 1e-9:
        raise BadInput("A custody ratio has at most four decimals, e.g. 0.85")
    return ratio_bp


async def set_custody_ratio(
    *, principal: Principal, merchant_id: int, ratio: float, reason: str
) -> Merchant:
    """A regulator's change of a merchant's custody ratio, with its reason in the audit trail."""
    regulator_id = principal.require_user()
    ratio_bp = check_ratio(ratio)
    reason = text.required_reason(reason)
    merchant = await scoping.custody_merchants(principal).get_or_none(id=merchant_id)
    if merchant is None:
        raise NotFound("No such merchant")
    _check_grade_allows(merchant, ratio_bp)
    async with in_transaction():
        # Checked again on the locked row: a score that fell to D meanwhile keeps 100 %.
        merchant = await Merchant.filter(id=merchant.id).select_for_update(no_key=True).get()
        _check_grade_allows(merchant, ratio_bp)
        previous_bp = merchant.custody_ratio_bp
        await apply_ratio(merchant.id, ratio_bp, initiated_by_id=regulator_id)
        await audit.record(
            actor_id=regulator_id,
            action="CUSTODY_RATIO_SET",
            subject_type="Merchant",
            subject_id=merchant.id,
            merchant_id=merchant.id,
            reason=reason,
            details={"from": previous_bp / FULL_CUSTODY_BP, "to": ratio_bp / FULL_CUSTODY_BP},
        )
    await public_cache.changed(public_cache.MERCHANTS)
    risk.check_soon(merchant.id, RiskAlertKind.ESCROW_SHORTFALL)
    return await Merchant.get(id=merchant.id)


def _check_grade_allows(merchant: Merchant, ratio_bp: int) -> None:
    if merchant.credit_grade is CreditGrade.D and ratio_bp < FULL_CUSTODY_BP:
        raise InvalidState("A merchant with credit grade D keeps 100 % of prepaid cash in custody")


async def apply_ratio(merchant_id: int, ratio_bp: int, *, initiated_by_id: int | None) -> int:
    """Set the merchant's ratio and give each live card its share at it, moving the difference
    through the ledger. Call inside a transaction; returns fen moved into custody (out, < 0)."""
    await Merchant.filter(id=merchant_id).update(custody_ratio_bp=ratio_bp)
    moved = await _recustody_cards(merchant_id, ratio_bp)
    await _record_adjustment(merchant_id, moved, initiated_by_id)
    return moved


async def _recustody_cards(merchant_id: int, ratio_bp: int) -> int:
    """Give each live card its share at the new ratio; returns fen moved into custody (or out, < 0)."""
    cards = (
        await Card.filter(merchant_id=merchant_id, status__in=LIVE_CARD_STATUSES)
        .order_by("id")
        .select_for_update(no_key=True)
    )
    moved = 0
    for card in cards:
        share = custody_share(ratio_bp, card.cash_value_fen)
        updated = await Card.filter(id=card.id, escrow_held_fen=card.escrow_held_fen).update(
            escrow_held_fen=share, custody_ratio_bp=ratio_bp
        )
        if updated != 1:
            raise InvalidState("A card changed while custody was being adjusted; try again")
        moved += share - card.escrow_held_fen
    return moved


async def _record_adjustment(merchant_id: int, moved: int, initiated_by_id: int | None) -> None:
    if moved == 0:
        return
    escrow, settlement = ledger.escrow_account(merchant_id), ledger.settlement_account(merchant_id)
    legs = (
        [debit(settlement, moved), credit(escrow, moved)]
        if moved > 0
        else [debit(escrow, -moved), credit(settlement, -moved)]
    )
    await ledger.record_transfer(
        kind=TransferKind.CUSTODY_ADJUSTMENT,
        merchant_id=merchant_id,
        initiated_by_id=initiated_by_id,
        cash_amount_fen=abs(moved),
        legs=legs,
        created_at=clock.now(),
    )
