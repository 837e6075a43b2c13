"""Payment orders: a purchase or top-up paid in the mini-program through the channel.

`createPaymentOrder` returns the order and the signed parameters for `wx.requestPayment`;
the card is issued or topped up when the channel's notification arrives
(/payments/wechat/notify, services/payment_notices.py). The rules are
services/payment_orders.py's.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import PaymentOrder as PaymentOrderRow
from models.enums import PaymentOrderKind, PaymentOrderStatus, Role
from resolvers import payments
from schema.cards import Card, Transaction, load_card
from schema.context import Info
from schema.ids import decode_id, encode_id
from schema.merchants import Merchant, load_merchant
from schema.node import Node
from schema.pagination import Connection, to_connection
from schema.payouts import ChannelRefund
from schema.permissions import allow
from schema.scalars import Money
from services.payment_orders import OrderStart

if TYPE_CHECKING:
    from schema.merchants import CardProduct


@strawberry.type(description="A purchase or top-up to be paid, or paid, through the channel.")
class PaymentOrder(Node):
    row: strawberry.Private[PaymentOrderRow]

    @classmethod
    def of(cls, row: PaymentOrderRow) -> PaymentOrder:
        return cls(id=strawberry.ID(encode_id("PaymentOrder", row.id)), row=row)

    @strawberry.field
    def kind(self) -> PaymentOrderKind:
        return self.row.kind

    @strawberry.field
    def status(self) -> PaymentOrderStatus:
        return self.row.status

    @strawberry.field(description="What the payer pays.")
    def amount(self) -> Money:
        return Money(self.row.amount_fen)

    @strawberry.field(description="The payment channel, e.g. wechat.")
    def channel(self) -> str:
        return self.row.channel

    @strawberry.field(description="The order's number at the channel (out_trade_no).")
    def out_trade_no(self) -> str:
        return self.row.out_trade_no

    @strawberry.field(description="The channel's number for the payment, once paid.")
    def channel_transaction_id(self) -> str | None:
        return self.row.channel_transaction_id

    @strawberry.field
    async def product(
        self, info: Info
    ) -> Annotated[CardProduct, strawberry.lazy("schema.merchants")]:
        from schema.merchants import CardProduct

        row = await info.context.loaders.card_product.load(self.row.product_id)
        assert row is not None
        return CardProduct.of(row)

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return await load_merchant(info, self.row.merchant_id)

    @strawberry.field(description="The card topped up, or the card the purchase issued once paid.")
    async def card(self, info: Info) -> Card | None:
        if self.row.card_id is None:
            return None
        return await load_card(info, self.row.card_id)

    @strawberry.field(description="The card transaction the payment made, once paid.")
    async def transaction(self, info: Info) -> Transaction | None:
        if self.row.transfer_id is None:
            return None
        transfer = await info.context.loaders.transfer.load(self.row.transfer_id)
        return Transaction.of(transfer) if transfer else None

    @strawberry.field(
        description="Cash sent back against this payment: a refund of the card, or the whole "
        "payment when the order could not be fulfilled."
    )
    async def refunds(self, info: Info) -> list[ChannelRefund]:
        rows = await info.context.loaders.channel_refunds_by_order.load(self.row.id)
        return [ChannelRefund.of(row) for row in rows]

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row.created_at

    @strawberry.field(description="An unpaid order closes at this time.")
    def expires_at(self) -> dt.datetime:
        return self.row.expires_at

    @strawberry.field
    def paid_at(self) -> dt.datetime | None:
        return self.row.paid_at

    @strawberry.field
    def closed_at(self) -> dt.datetime | None:
        return self.row.closed_at

    @strawberry.field(
        description="Why a paid order was refunded instead of fulfilled, or why it closed."
    )
    def status_reason(self) -> str | None:
        return self.row.status_reason


@strawberry.type(description="What the mini-program passes to wx.requestPayment, signed.")
class WxPaymentParams:
    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str


@strawberry.type
class PaymentOrderPayload:
    order: PaymentOrder
    payment: WxPaymentParams | None = strawberry.field(
        description="While the order waits to be paid; null once it is paid or closed."
    )

    @classmethod
    def of(cls, started: OrderStart) -> PaymentOrderPayload:
        request = started.payment
        params = (
            WxPaymentParams(
                app_id=request.app_id,
                time_stamp=request.time_stamp,
                nonce_str=request.nonce_str,
                package=request.package,
                sign_type=request.sign_type,
                pay_sign=request.pay_sign,
            )
            if request is not None
            else None
        )
        return cls(order=PaymentOrder.of(started.order), payment=params)


@strawberry.type
class PaymentsQuery:
    @strawberry.field(
        description="A payment order the caller may read: its own, its merchant's, or any for "
        "regulators.",
        extensions=[allow(Role.CONSUMER, Role.MERCHANT, Role.REGULATOR)],
    )
    async def payment_order(self, info: Info, id: strawberry.ID) -> PaymentOrder | None:
        row = await payments.payment_order(info.context.principal, decode_id(id, "PaymentOrder"))
        return PaymentOrder.of(row) if row is not None else None

    @strawberry.field(
        description="Payment orders, newest first.",
        extensions=[allow(Role.CONSUMER, Role.MERCHANT, Role.REGULATOR)],
    )
    async def payment_orders(
        self,
        info: Info,
        status: PaymentOrderStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PaymentOrder]:
        page = await payments.payment_orders_page(info.context.principal, status, first, after)
        return to_connection(page, PaymentOrder.of)


@strawberry.type
class PaymentsMutation:
    @strawberry.mutation(
        description="Start a purchase (productId) or a top-up (cardId and payAmount) paid through "
        "the channel. The card is issued or topped up when the channel confirms the payment.",
        extensions=[allow(Role.CONSUMER)],
    )
    async def create_payment_order(
        self,
        info: Info,
        idempotency_key: str,
        product_id: strawberry.ID | None = None,
        card_id: strawberry.ID | None = None,
        pay_amount: Money | None = None,
        payer_open_id: str | None = None,
    ) -> PaymentOrderPayload:
        started = await payments.create_payment_order(
            info.context.principal,
            idempotency_key=idempotency_key,
            product_id=decode_id(product_id, "CardProduct") if product_id is not None else None,
            card_id=decode_id(card_id, "Card") if card_id is not None else None,
            pay_fen=pay_amount,
            payer_openid=payer_open_id,
        )
        return PaymentOrderPayload.of(started)
