"""Payment orders for the API: the caller has passed the field's rule (schema/payments.py)."""

from __future__ import annotations

from auth import scoping
from core.principal import Principal
from models import PaymentOrder
from models.enums import PaymentOrderStatus
from services import payment_orders
from services.pagination import Page, newest_first, page_of
from services.payment_orders import OrderStart


async def create_payment_order(
    principal: Principal,
    *,
    idempotency_key: str,
    product_id: int | None,
    card_id: int | None,
    pay_fen: int | None,
    payer_openid: str | None,
) -> OrderStart:
    return await payment_orders.create_order(
        principal=principal,
        idempotency_key=idempotency_key,
        product_id=product_id,
        card_id=card_id,
        pay_fen=pay_fen,
        payer_openid=payer_openid,
    )


async def payment_order(principal: Principal, order_id: int) -> PaymentOrder | None:
    return await scoping.readable_payment_orders(principal).get_or_none(id=order_id)


async def payment_orders_page(
    principal: Principal,
    status: PaymentOrderStatus | None,
    first: int | None,
    after: str | None,
) -> Page[PaymentOrder]:
    return await page_of(
        scoping.readable_payment_orders(principal),
        newest_first("created_at"),
        first,
        after,
        {"status": status},
    )
