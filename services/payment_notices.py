"""The channel's notifications, verified by the channel adapter, applied exactly once.

A payment notification issues the card or adds the value, the money entering through
`channel_clearing:<channel>`. Notifications are retried and may come twice, late or in
parallel: the order row is locked and its status decides, so the second one changes
nothing. A paid order that can no longer be fulfilled (the merchant was suspended, a cap
was reached since, the order had closed) is refunded through the channel at once, the
reason written on the order. Refund notifications go to services/channel_refunds.py.
"""

from __future__ import annotations

import logging
from datetime import UTC

from tortoise.transactions import in_transaction

from channel.interface import ChannelPayment, Notification
from core import clock, public_cache
from core.errors import DomainError, NotFound
from models import Card, CardProduct, ChannelRefund, PaymentOrder, Transfer
from models.enums import PaymentOrderKind, PaymentOrderStatus
from services import cards, channel_refunds, events, ledger, risk
from services.payment_orders import UnknownPayment

log = logging.getLogger("anfu.payments")
_SETTLED = (PaymentOrderStatus.PAID, PaymentOrderStatus.REFUNDED)


async def apply(notification: Notification) -> None:
    """Apply one verified notification; unknown event types are acknowledged and ignored."""
    if notification.payment is not None and notification.event_type == "TRANSACTION.SUCCESS":
        await apply_payment(notification.payment)
    elif notification.refund is not None and notification.event_type.startswith("REFUND."):
        await channel_refunds.apply_refund_notice(notification.refund)
    else:
        log.info("notification %s: %s ignored", notification.id, notification.event_type)


async def apply_payment(payment: ChannelPayment) -> PaymentOrder:
    """Issue the card or top it up for a paid order, once; or send the money back."""
    order = await PaymentOrder.get_or_none(out_trade_no=payment.out_trade_no)
    if order is None:
        raise UnknownPayment(f"No payment order {payment.out_trade_no}")
    if not payment.paid or order.status in _SETTLED:
        return order
    transfer: Transfer | None = None
    returned: ChannelRefund | None = None
    async with in_transaction():
        locked = await PaymentOrder.filter(id=order.id).select_for_update(no_key=True).first()
        assert locked is not None
        if locked.status in _SETTLED:
            return locked  # a parallel delivery of the same notification got here first
        reason = _cannot_take(locked, payment)
        if reason is None:
            try:
                transfer = await _fulfil(locked)
            except DomainError as refusal:
                # Every rule is checked before anything is written (services/cards.py).
                reason = f"Could not be fulfilled when paid: {refusal.message}"
        paid = {
            # Stored in UTC: the channel writes +08:00, and SQLite compares the text.
            "paid_at": (payment.success_time or clock.now()).astimezone(UTC),
            "channel_transaction_id": payment.transaction_id,
        }
        if transfer is not None:
            await PaymentOrder.filter(id=locked.id).update(
                status=PaymentOrderStatus.PAID,
                transfer_id=transfer.id,
                card_id=transfer.card_id,
                **paid,
            )
        else:
            await PaymentOrder.filter(id=locked.id).update(
                status=PaymentOrderStatus.REFUNDED, status_reason=reason, **paid
            )
            locked.status = PaymentOrderStatus.REFUNDED
            returned = await channel_refunds.return_payment(locked, reason or "")
    if transfer is not None:
        await _announce(transfer, order)
    if returned is not None:
        await channel_refunds.send_pending([returned.id])
    return await PaymentOrder.get(id=order.id)


def _cannot_take(order: PaymentOrder, payment: ChannelPayment) -> str | None:
    if payment.amount_fen != order.amount_fen:
        return (
            f"The channel reported {payment.amount_fen} fen paid for an order of "
            f"{order.amount_fen} fen"
        )
    if order.status is PaymentOrderStatus.CLOSED:
        return "The order had closed before the payment arrived"
    return None


async def _fulfil(order: PaymentOrder) -> Transfer:
    source = ledger.channel_clearing_account(order.channel)
    product = await CardProduct.get(id=order.product_id)
    if order.kind is PaymentOrderKind.PURCHASE:
        return await cards.issue_card(user_id=order.user_id, product=product, source=source)
    card = await Card.get_or_none(id=order.card_id, owner_id=order.user_id)
    if card is None:
        raise NotFound("The card to top up is gone")
    return await cards.add_value(
        user_id=order.user_id, card=card, product=product, pay_fen=order.amount_fen, source=source
    )


async def _announce(transfer: Transfer, order: PaymentOrder) -> None:
    """What a one-step purchase announces (services/card_transactions.py), after commit."""
    await events.card_transaction(transfer, owner_id=order.user_id)
    risk.check_after_transfer(transfer)
    await public_cache.changed(public_cache.product_family(order.product_id))
