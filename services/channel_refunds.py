"""Refunds sent back through the payment channel, against the payments that brought the cash in.

A card's refund (services/refunds.refund_card) asks `allocate` how its cash splits over the
card's paid channel orders, newest first; `record` writes one PENDING ChannelRefund per order
used, in the caller's transaction. After the caller commits, `send_pending` (or
`send_for_transfers`) asks the channel for each: PROCESSING or SUCCESS, or MANUAL with a manual
payout when the channel refuses (services/payouts.py). A channel that cannot be reached leaves
the refund PENDING for `sweep`, which also asks after refunds the channel left PROCESSING.
The channel's refund notifications end here too (`apply_refund_notice`), exactly once each.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from channel.interface import ChannelError, ChannelRefundResult, RefundRefused
from core import clock
from models import PaymentOrder
from models.enums import ChannelRefundStatus, PaymentOrderStatus
from models.payments import ChannelRefund
from services import payments, payouts
from services.payment_orders import UnknownPayment

log = logging.getLogger("anfu.channel_refunds")

# Refunds sent at once (a closure refunds many cards): enough to be quick, few enough that the
# channel's rate limit and the database pool are not swamped.
SEND_CONCURRENCY = 8
# The sweep leaves a refund alone this long after it was recorded or sent: its own request or
# the channel's notification is probably still on its way.
RETRY_AFTER = timedelta(minutes=1)
QUERY_AFTER = timedelta(minutes=10)
_OPEN = (ChannelRefundStatus.PENDING, ChannelRefundStatus.PROCESSING)


class UnknownRefund(UnknownPayment):
    """A refund notification for a refund this platform never asked for (the notify endpoint
    answers it 404, as an unknown payment)."""


@dataclass(frozen=True)
class Allocation:
    """Part of a card's refund sent back against one paid order."""

    order_id: int
    channel: str
    amount_fen: int


@dataclass(frozen=True)
class RefundPlan:
    """How a card's refunded cash splits: against channel payments, and what is left."""

    allocations: tuple[Allocation, ...]
    cash_fen: int

    @property
    def through_channels_fen(self) -> int:
        return sum(part.amount_fen for part in self.allocations)

    @property
    def elsewhere_fen(self) -> int:
        """Cash paid some other way (the sandbox): back to consumer_funds as before."""
        return self.cash_fen - self.through_channels_fen

    def by_channel(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for part in self.allocations:
            totals[part.channel] += part.amount_fen
        return dict(sorted(totals.items()))


def split(cash_fen: int, payments_left: list[tuple[int, str, int]]) -> RefundPlan:
    """Allocate `cash_fen` over (order id, channel, refundable fen), newest payment first."""
    parts: list[Allocation] = []
    remaining = cash_fen
    for order_id, channel_name, refundable in payments_left:
        if remaining <= 0:
            break
        amount = min(remaining, refundable)
        if amount > 0:
            parts.append(Allocation(order_id, channel_name, amount))
            remaining -= amount
    return RefundPlan(tuple(parts), cash_fen)


async def allocate(card_id: int, cash_fen: int) -> RefundPlan:
    """The card's cash over its paid channel orders. Call inside the refund's transaction, the
    card locked (refund_card's conditional update keeps two refunds of one card from both
    passing)."""
    orders = (
        await PaymentOrder.filter(card_id=card_id, status=PaymentOrderStatus.PAID)
        .order_by("-paid_at", "-id")
        .values_list("id", "channel", "amount_fen")
    )
    if not orders:
        return RefundPlan((), cash_fen)
    refunded = dict(
        await ChannelRefund.filter(order_id__in=[row[0] for row in orders])
        .group_by("order_id")
        .annotate(total=Sum("amount_fen"))
        .values_list("order_id", "total")
    )
    left = [
        (order_id, name, amount - int(refunded.get(order_id) or 0))
        for order_id, name, amount in orders
    ]
    return split(cash_fen, left)


async def record(
    plan: RefundPlan, *, card_id: int, transfer_id: int, reason: str, now: datetime
) -> list[ChannelRefund]:
    """One PENDING refund per order the plan uses; in the caller's transaction."""
    return [
        await ChannelRefund.create(
            out_refund_no=f"R{transfer_id}O{part.order_id}",
            order_id=part.order_id,
            card_id=card_id,
            transfer_id=transfer_id,
            amount_fen=part.amount_fen,
            reason=reason,
            created_at=now,
        )
        for part in plan.allocations
    ]


async def return_payment(order: PaymentOrder, reason: str) -> ChannelRefund:
    """Send a paid order's whole amount back (it could not be fulfilled). In the caller's
    transaction; no ledger transfer unless the channel refuses. Send it after commit with
    `send_pending`."""
    return await ChannelRefund.create(
        out_refund_no=f"RT{order.id}",
        order_id=order.id,
        card_id=None,
        transfer_id=None,
        amount_fen=order.amount_fen,
        reason=reason,
        created_at=clock.now(),
    )


# ---------------------------------------------------------------- to the channel


async def send_for_transfers(transfer_ids: list[int]) -> None:
    """Send the PENDING refunds that these card refunds recorded. After the commit."""
    if not transfer_ids:
        return
    rows = await ChannelRefund.filter(
        transfer_id__in=transfer_ids, status=ChannelRefundStatus.PENDING
    ).values("id")
    await send_pending([row["id"] for row in rows])


async def send_pending(refund_ids: list[int]) -> None:
    """Ask the channel for each PENDING refund, a few at a time. Never inside a transaction:
    each one waits on the network, then writes in a short transaction of its own."""
    if not refund_ids:
        return
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(refund_id: int) -> None:
        async with gate:
            try:
                await _send(refund_id)
            except Exception:
                # One refund's fault never stops the others; it stays PENDING for the sweep.
                log.exception("sending channel refund %s failed", refund_id)

    await asyncio.gather(*(one(refund_id) for refund_id in refund_ids))


async def _send(refund_id: int) -> None:
    refund = await ChannelRefund.get_or_none(id=refund_id, status=ChannelRefundStatus.PENDING)
    if refund is None:
        return
    order = await PaymentOrder.get(id=refund.order_id)
    installed = payments.channel()
    if installed is None or installed.name != order.channel:
        log.warning("no channel %r installed: refund %s waits", order.channel, refund_id)
        return
    try:
        result = await installed.refund(
            out_refund_no=refund.out_refund_no,
            out_trade_no=order.out_trade_no,
            amount_fen=refund.amount_fen,
            total_fen=order.amount_fen,
            reason=refund.reason,
        )
    except RefundRefused as refused:
        await _to_manual(refund.id, f"refused: {refused}")
        return
    except ChannelError as error:
        log.warning("channel refund %s not sent (%s): retried later", refund_id, error)
        await ChannelRefund.filter(id=refund.id, status=ChannelRefundStatus.PENDING).update(
            failure=f"not sent yet: {error}"[:500]
        )
        return
    await _apply(refund, result)


async def _apply(refund: ChannelRefund, result: ChannelRefundResult) -> bool:
    """Move the refund to what the channel says; True when this call changed it."""
    now = clock.now()
    if result.status == "SUCCESS":
        changed = await ChannelRefund.filter(id=refund.id, status__in=_OPEN).update(
            status=ChannelRefundStatus.SUCCESS,
            succeeded_at=(result.success_time or now).astimezone(UTC),  # as paid_at
            channel_refund_id=result.refund_id,
            failure=None,
        )
    elif result.status == "PROCESSING":
        changed = await ChannelRefund.filter(
            id=refund.id, status=ChannelRefundStatus.PENDING
        ).update(
            status=ChannelRefundStatus.PROCESSING,
            channel_refund_id=result.refund_id,
            failure=None,
        )
    elif result.status in ("ABNORMAL", "CLOSED"):
        return await _to_manual(refund.id, f"the channel says {result.status}", result.refund_id)
    else:
        log.warning("refund %s: unknown channel status %r", refund.out_refund_no, result.status)
        return False
    if changed:
        # Sent now, or earlier by a request whose answer this one overtook.
        await ChannelRefund.filter(id=refund.id, submitted_at__isnull=True).update(submitted_at=now)
    return bool(changed)


async def _to_manual(refund_id: int, failure: str, channel_refund_id: str | None = None) -> bool:
    """The channel will not pay it: MANUAL, and a payout owed to the payer instead."""
    async with in_transaction():
        # Claimed by the status it had: a duplicate or parallel notice finds it MANUAL already.
        claimed = await ChannelRefund.filter(id=refund_id, status__in=_OPEN).update(
            status=ChannelRefundStatus.MANUAL, failure=failure[:500]
        )
        if claimed != 1:
            return False
        if channel_refund_id:
            await ChannelRefund.filter(id=refund_id).update(channel_refund_id=channel_refund_id)
        refund = await ChannelRefund.get(id=refund_id)
        await ChannelRefund.filter(id=refund_id, submitted_at__isnull=True).update(
            submitted_at=clock.now()
        )
        await payouts.open_payout(refund, failure)
    return True


async def apply_refund_notice(result: ChannelRefundResult) -> None:
    """The channel's refund notification (REFUND.SUCCESS / ABNORMAL / CLOSED), applied once:
    duplicates and parallel deliveries find the refund moved already and change nothing.
    UnknownRefund (NOT_FOUND) for a refund that is not ours."""
    refund = await ChannelRefund.get_or_none(out_refund_no=result.out_refund_no)
    if refund is None:
        raise UnknownRefund(f"No refund {result.out_refund_no!r}")
    order = await PaymentOrder.get(id=refund.order_id)
    if order.out_trade_no != result.out_trade_no:
        raise UnknownRefund(f"Refund {result.out_refund_no!r} is not against that order")
    if result.amount_fen != refund.amount_fen:
        log.error(
            "refund %s: the channel says %d fen, we asked %d",
            refund.out_refund_no,
            result.amount_fen,
            refund.amount_fen,
        )
    if not await _apply(refund, result) and refund.status not in _OPEN:
        log.info("refund %s: notice for a refund already %s", refund.out_refund_no, refund.status)


# ---------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    sent: int = 0
    queried: int = 0


async def sweep(now: datetime | None = None) -> SweepReport:
    """Send again what the channel could not take, and ask after refunds it left PROCESSING.
    Safe to run from several servers at once: the same out_refund_no is the same refund, and
    every change is a conditional update."""
    now = now or clock.now()
    report = SweepReport()
    pending = await ChannelRefund.filter(
        status=ChannelRefundStatus.PENDING, created_at__lte=now - RETRY_AFTER
    ).values("id")
    await send_pending([row["id"] for row in pending])
    report.sent = len(pending)
    waiting = await ChannelRefund.filter(
        status=ChannelRefundStatus.PROCESSING, submitted_at__lte=now - QUERY_AFTER
    ).select_related("order")
    installed = payments.channel()
    for refund in waiting:
        if installed is None or installed.name != refund.order.channel:
            continue
        try:
            result = await installed.query_refund(refund.out_refund_no)
            await _apply(refund, result)
        except Exception:
            # One refund's fault never stops the round; it is asked after again next time.
            log.exception("refund %s: asking the channel failed", refund.out_refund_no)
            continue
        report.queried += 1
    return report
