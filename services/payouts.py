"""Manual payouts: refunds the payment channel refused, paid to the consumer by hand.

When the channel will not make a refund (services/channel_refunds.py), the cash it still holds
for the platform becomes a debt to the payer: a PAYOUT_DUE transfer from
`channel_clearing:<channel>` to `manual_payouts`, and a DUE payout regulators list. A regulator
pays it outside the platform (a bank transfer) and marks it paid with the transfer's reference:
PAYOUT_PAID moves the cash from `manual_payouts` to `consumer_funds`, exactly once.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from auth import scoping
from core import clock, text
from core.errors import InvalidState, NotFound
from core.principal import Principal
from models import PaymentOrder, Transfer
from models.enums import PayoutStatus, TransferKind
from models.payments import ChannelRefund, ManualPayout
from services import audit, idempotency, ledger
from services.ledger import credit, debit
from services.money import format_money

MAX_REFERENCE_LENGTH = 128


async def open_payout(refund: ChannelRefund, failure: str) -> ManualPayout:
    """The payout standing in for a refused refund. Call inside the transaction that marked the
    refund MANUAL (once per refund: the payout is one-to-one with it)."""
    order = await PaymentOrder.get(id=refund.order_id)
    transfer = await ledger.record_transfer(
        kind=TransferKind.PAYOUT_DUE,
        merchant_id=order.merchant_id,
        amount_fen=refund.amount_fen,
        cash_amount_fen=refund.amount_fen,
        legs=[
            # The channel kept the cash (the refund credited its clearing account, or, for a
            # returned payment, it never entered the ledger): the platform owes it instead.
            debit(ledger.channel_clearing_account(order.channel), refund.amount_fen),
            credit(ledger.MANUAL_PAYOUTS, refund.amount_fen),
        ],
    )
    return await ManualPayout.create(
        channel_refund_id=refund.id,
        payee_id=order.user_id,
        merchant_id=order.merchant_id,
        amount_fen=refund.amount_fen,
        reason=f"{refund.reason} (the channel: {failure})"[: text.MAX_REASON_LENGTH],
        due_transfer_id=transfer.id,
        created_at=clock.now(),
    )


async def mark_paid(
    *,
    principal: Principal,
    payout_id: int,
    payment_reference: str,
    idempotency_key: str | None = None,
) -> ManualPayout:
    """A regulator records that the payout was paid. Once: a second call is INVALID_STATE, or the
    first result again under the same idempotency key."""
    regulator_id = principal.require_user()
    reference = text.bounded(payment_reference, "payment reference", MAX_REFERENCE_LENGTH)
    payout = await scoping.readable_payouts(principal).get_or_none(id=payout_id)
    if payout is None:
        raise NotFound("No such payout")
    amount = payout.amount_fen

    async def pay() -> Transfer:
        now = clock.now()
        # Claimed by its status: two regulators (or a retry) marking it at once pay it once.
        claimed = await ManualPayout.filter(id=payout.id, status=PayoutStatus.DUE).update(
            status=PayoutStatus.PAID,
            paid_at=now,
            paid_by_id=regulator_id,
            payment_reference=reference,
        )
        if claimed != 1:
            raise InvalidState("The payout is already marked paid")
        transfer = await ledger.record_transfer(
            kind=TransferKind.PAYOUT_PAID,
            merchant_id=payout.merchant_id,
            initiated_by_id=regulator_id,
            amount_fen=amount,
            cash_amount_fen=amount,
            legs=[debit(ledger.MANUAL_PAYOUTS, amount), credit(ledger.CONSUMER_FUNDS, amount)],
            created_at=now,
        )
        await ManualPayout.filter(id=payout.id).update(paid_transfer_id=transfer.id)
        await audit.record(
            actor_id=regulator_id,
            action="PAYOUT_PAID",
            subject_type="ManualPayout",
            subject_id=payout.id,
            merchant_id=payout.merchant_id,
            details={"amount": format_money(amount), "paymentReference": reference},
        )
        return transfer

    if idempotency_key is None:
        async with in_transaction():
            await pay()
    else:
        await idempotency.run_once(
            user_id=regulator_id,
            key=idempotency_key,
            operation="markPayoutPaid",
            arguments={"payout": payout.id, "reference": reference},
            action=pay,
        )
    return await ManualPayout.get(id=payout.id)
