"""Payment orders: the first of a two-step purchase or top-up through a payment channel.

`create_order` checks the same rules as the one-step mutations, records the order under
the caller's idempotency key, asks the channel for a prepay id and signs the parameters
for `wx.requestPayment`. Nothing is issued yet: the card comes with the channel's
notification (services/payment_notices.py). An order nobody paid is asked about once
and closed after PAYMENT_ORDER_MINUTES (`close_expired`, from the maintenance sweep).

The network is never called inside a database transaction: the order row is committed
first (so a retried request finds it), the channel is called, then the prepay id saved.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.exceptions import IntegrityError

from channel.interface import ChannelError, OrderNotFound, PaymentChannel, PaymentRequest
from core import clock
from core.errors import BadInput, DomainError, ErrorCode, InvalidState, NotFound
from core.principal import Principal
from models import CardProduct, PaymentOrder
from models.enums import PaymentOrderKind, PaymentOrderStatus
from services import cards, idempotency, payments
from services.idempotency import IdempotencyConflict, request_fingerprint
from settings import get_settings

log = logging.getLogger("anfu.payments")
MAX_OPENID_LENGTH = 128


class ChannelUnavailable(DomainError):
    """The channel did not answer; the order is kept and the same key may be tried again."""

    code = ErrorCode.INVALID_STATE


class UnknownPayment(NotFound):
    """A notification about an order or refund this platform never made."""


@dataclass(frozen=True)
class OrderStart:
    """An order and, while it waits to be paid, what the mini-program passes to the channel."""

    order: PaymentOrder
    payment: PaymentRequest | None


def two_step_channel() -> PaymentChannel:
    channel = payments.channel()
    if channel is None:
        raise InvalidState(
            "Payments here are confirmed at once: use purchaseCard or topUpCard instead"
        )
    return channel


_MERCHANT_TAG = "merchant:"


def merchant_tag(merchant_id: int) -> str:
    """What the order carries at the channel (its `attach`): whose sale the bill line is."""
    return f"{_MERCHANT_TAG}{merchant_id}"


def merchant_of_tag(attach: str) -> int | None:
    """The merchant a bill line's `attach` names, when it is a tag of ours."""
    value = (attach or "").strip()
    if not value.startswith(_MERCHANT_TAG):
        return None
    digits = value.removeprefix(_MERCHANT_TAG)
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 10 else None


def _new_out_trade_no() -> str:
    # 22 characters of [0-9A-Z]: the day for people reading bills, then 64 random bits.
    return f"AF{clock.now():%Y%m%d}{secrets.token_hex(6).upper()}"


def _openid(user_id: int, payer_openid: str | None) -> str:
    """The payer at the channel. The mini-program knows its user's openid (wx.login); without
    one the platform uses a stable pseudonym for the user (the simulator takes any)."""
    if payer_openid is None:
        return f"anfu-user-{user_id}"
    if not payer_openid.strip() or len(payer_openid) > MAX_OPENID_LENGTH:
        raise BadInput(f"A payer openid has 1 to {MAX_OPENID_LENGTH} characters")
    return payer_openid


async def create_order(
    *,
    principal: Principal,
    idempotency_key: str,
    product_id: int | None = None,
    card_id: int | None = None,
    pay_fen: int | None = None,
    payer_openid: str | None = None,
) -> OrderStart:
    """A purchase (a product) or a top-up (a card and an amount) to be paid at the channel."""
    user_id = principal.require_user()
    idempotency.check_key(idempotency_key)
    channel = two_step_channel()
    if (product_id is None) == (card_id is None):
        raise BadInput("Give productId for a purchase, or cardId and payAmount for a top-up")
    if product_id is not None and pay_fen is not None:
        raise BadInput("A purchase pays the product's price: leave payAmount out")
    if card_id is not None and pay_fen is None:
        raise BadInput("A top-up needs payAmount")
    openid = _openid(user_id, payer_openid)
    arguments = {"product": product_id, "card": card_id, "pay": pay_fen, "payer": openid}
    fingerprint = request_fingerprint("createPaymentOrder", arguments)
    known = await _known_order(user_id, idempotency_key, fingerprint)
    if known is not None:
        return await _resume(channel, known)

    if product_id is not None:
        product = await cards.check_purchase(user_id, product_id)
        kind, amount, card_row_id = PaymentOrderKind.PURCHASE, product.price_fen, None
        description = _description(product.merchant.name, product.name)
    else:
        assert card_id is not None and pay_fen is not None
        card = await cards.check_top_up(principal, card_id, pay_fen)
        product = card.product
        kind, amount, card_row_id = PaymentOrderKind.TOP_UP, pay_fen, card.id
        description = _description(card.merchant.name, f"{product.name} top-up")
    now = clock.now()
    try:
        order = await PaymentOrder.create(
            out_trade_no=_new_out_trade_no(),
            channel=channel.name,
            kind=kind,
            user_id=user_id,
            merchant_id=product.merchant_id,
            product_id=product.id,
            card_id=card_row_id,
            amount_fen=amount,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            payer_openid=openid,
            created_at=now,
            expires_at=now + timedelta(minutes=get_settings().payment_order_minutes),
        )
    except IntegrityError:
        # The same key raced in from another request: answer as it did.
        known = await _known_order(user_id, idempotency_key, fingerprint)
        if known is None:
            raise
        return await _resume(channel, known)
    return await _resume(channel, order, description=description)


async def _known_order(user_id: int, key: str, fingerprint: str) -> PaymentOrder | None:
    order = await PaymentOrder.get_or_none(user_id=user_id, idempotency_key=key)
    if order is not None and order.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This idempotency key was already used with other arguments; use a new key"
        )
    return order


async def _resume(
    channel: PaymentChannel, order: PaymentOrder, *, description: str | None = None
) -> OrderStart:
    """The order as it stands; one still waiting gets its prepay id (asked again if a first
    attempt failed: the channel is idempotent on out_trade_no)."""
    if order.status is not PaymentOrderStatus.CREATED:
        return OrderStart(order, None)
    if order.prepay_id is None:
        if description is None:
            product = await CardProduct.get(id=order.product_id).prefetch_related("merchant")
            description = _description(product.merchant.name, product.name)
        try:
            prepay_id = await channel.create_order(
                out_trade_no=order.out_trade_no,
                description=description,
                amount_fen=order.amount_fen,
                payer_openid=order.payer_openid,
                attach=merchant_tag(order.merchant_id),
                expires_at=order.expires_at,
            )
        except ChannelError as error:
            log.warning("order %s: the channel did not open it: %s", order.out_trade_no, error)
            raise ChannelUnavailable(
                "The payment channel did not answer; try again with the same idempotency key"
            ) from None
        await PaymentOrder.filter(id=order.id, prepay_id__isnull=True).update(prepay_id=prepay_id)
        order.prepay_id = prepay_id
    return OrderStart(order, channel.payment_request(order.prepay_id))


def _description(merchant_name: str, item: str) -> str:
    # WeChat allows 127 characters; the payer sees it in the payment sheet and the bill.
    return f"{merchant_name} {item}"[:127]


async def close_expired(limit: int = 200) -> int:
    """Ask the channel once about each order past its time, apply a payment that came without a
    notification, and close the rest at the channel and here; returns how many closed."""
    channel = payments.channel()
    if channel is None:
        return 0
    from services import payment_notices  # the notices apply payments; orders only start them

    expired = await PaymentOrder.filter(
        status=PaymentOrderStatus.CREATED, expires_at__lte=clock.now()
    ).limit(limit)
    closed = 0
    for order in expired:
        try:
            seen = await channel.query_order(order.out_trade_no)
            if seen.paid:
                await payment_notices.apply_payment(seen)
                continue
            if seen.trade_state != "CLOSED":
                await channel.close_order(order.out_trade_no)
        except OrderNotFound:
            pass  # never opened at the channel (it did not answer then): nothing to close there
        except ChannelError as error:
            log.warning("order %s: not closed yet: %s", order.out_trade_no, error)
            continue
        closed += await PaymentOrder.filter(id=order.id, status=PaymentOrderStatus.CREATED).update(
            status=PaymentOrderStatus.CLOSED,
            closed_at=clock.now(),
            status_reason="Not paid in time: closed at the channel",
        )
    return closed
