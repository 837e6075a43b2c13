"""The channel's trade bill of a day against our payment orders and channel refunds.

Our side of day D (the platform's time zone): orders PAID, or REFUNDED (paid, then returned),
whose paid_at falls on D, and channel refunds that succeeded on D. The bill's SUCCESS rows
are matched by out_trade_no, its REFUND rows by out_refund_no; a payment is compared on the
bill's settled amount (应结订单金额), a refund on its refund amount. A difference names the
merchant of our order, or for a row we lack, the merchant of the bill's attach
("merchant:<id>", which our orders set). A payment or refund made within
RECONCILIATION_CUTOFF_SECONDS of midnight that one side books on the adjacent day is a timing
case: the difference is stored with the explanation written, and raises no alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from channel.bill import BillFormatError, BillRow, parse_trade_bill
from channel.interface import BillUnavailable, ChannelError
from models import ChannelRefund, PaymentOrder
from models.enums import ChannelRefundStatus, DifferenceKind, PaymentOrderStatus
from models.enums import ReconciliationSource as Source
from models.reconciliation import ReconciliationReport
from services import payments
from services.payment_orders import merchant_of_tag
from services.reconciliation import (
    Comparison,
    Draft,
    StatementRejected,
    day_bounds,
    describe,
    local_day,
    local_time,
    near_midnight,
    store,
)
from settings import get_settings

PAID_STATUSES = (PaymentOrderStatus.PAID, PaymentOrderStatus.REFUNDED)


def _clock(moment: datetime | None) -> str:
    return "-" if moment is None else local_time(moment).strftime("%Y-%m-%d %H:%M:%S")


def _timing(ours: datetime | None, theirs: datetime | None, day: date) -> str | None:
    """The explanation of a timing case, or None when it is not one."""
    if ours is None or not near_midnight(ours):
        return None
    if theirs is not None and not near_midnight(theirs):
        return None
    if abs((local_day(ours) - day).days) > 1:
        return None
    seconds = get_settings().reconciliation_cutoff_seconds
    if theirs is None:
        return (
            f"Timing: booked at {_clock(ours)}, within {seconds} s of midnight; the channel "
            "lists it on the adjacent day's bill."
        )
    return (
        f"Timing: the channel has {_clock(theirs)}, our ledger {_clock(ours)}: within "
        f"{seconds} s of midnight, on the adjacent day."
    )


async def compare_bill(day: date, rows: Sequence[BillRow]) -> Comparison:
    """Match the bill's rows with our orders and refunds of `day`."""
    start, end = day_bounds(day)
    orders = {
        order.out_trade_no: order
        for order in await PaymentOrder.filter(
            status__in=PAID_STATUSES, paid_at__gte=start, paid_at__lt=end
        )
    }
    refunds = {
        refund.out_refund_no: refund
        for refund in await ChannelRefund.filter(
            status=ChannelRefundStatus.SUCCESS, succeeded_at__gte=start, succeeded_at__lt=end
        ).select_related("order")
    }
    result = Comparison(
        statement_count=len(rows),
        ledger_count=len(orders) + len(refunds),
        ledger_fen=sum(o.amount_fen for o in orders.values())
        - sum(r.amount_fen for r in refunds.values()),
    )
    payment_rows = [row for row in rows if row.trade_state != "REFUND"]
    refund_rows = [row for row in rows if row.trade_state == "REFUND"]
    result.statement_fen = sum(r.amount_fen for r in payment_rows) - sum(
        r.refund_fen for r in refund_rows
    )
    await _payments(day, payment_rows, orders, result)
    await _refunds(day, refund_rows, refunds, result)
    return result


async def _payments(
    day: date, rows: list[BillRow], orders: dict[str, PaymentOrder], result: Comparison
) -> None:
    others = {
        order.out_trade_no: order
        for order in await PaymentOrder.filter(
            out_trade_no__in=[row.out_trade_no for row in rows if row.out_trade_no not in orders]
        )
    }
    seen: set[str] = set()
    for row in rows:
        key = row.out_trade_no
        order = orders.get(key) if key not in seen else None
        seen.add(key)
        if order is not None:
            if row.trade_state != "SUCCESS":
                result.differences.append(_status(order, row))
            elif row.amount_fen != order.amount_fen:
                result.differences.append(
                    Draft(
                        DifferenceKind.AMOUNT_DIFFERS,
                        key,
                        order.merchant_id,
                        order.amount_fen,
                        row.amount_fen,
                        order.status.value,
                        row.trade_state,
                        f"Payment {key}: the bill settles {describe(row.amount_fen)}, "
                        f"our order is of {describe(order.amount_fen)}.",
                    )
                )
            else:
                result.matched_count += 1
                result.matched_fen += row.amount_fen
            continue
        other = others.get(key)
        if other is not None and other.status not in PAID_STATUSES:
            result.differences.append(_status(other, row))
            continue
        detail = f"Payment {key} of {describe(row.amount_fen)} ({row.transaction_id}, {_clock(row.trade_time)})"
        if other is None:
            detail += ": we have no such order."
        else:
            detail += f": our order was paid at {_clock(other.paid_at)}."
        result.differences.append(
            Draft(
                DifferenceKind.MISSING_IN_LEDGER,
                key,
                other.merchant_id if other else merchant_of_tag(row.attach),
                other.amount_fen if other else None,
                row.amount_fen,
                other.status.value if other else None,
                row.trade_state,
                detail,
                explanation=_timing(other.paid_at, row.trade_time, day)
                if other and other.amount_fen == row.amount_fen
                else None,
            )
        )
    for key in sorted(set(orders) - seen):
        order = orders[key]
        result.differences.append(
            Draft(
                DifferenceKind.MISSING_AT_SOURCE,
                key,
                order.merchant_id,
                order.amount_fen,
                None,
                order.status.value,
                None,
                f"Payment {key} of {describe(order.amount_fen)}, paid at {_clock(order.paid_at)}: "
                "not in the bill.",
                explanation=_timing(order.paid_at, None, day),
            )
        )


def _status(order: PaymentOrder, row: BillRow) -> Draft:
    return Draft(
        DifferenceKind.STATUS_DIFFERS,
        order.out_trade_no,
        order.merchant_id,
        order.amount_fen,
        row.amount_fen,
        order.status.value,
        row.trade_state,
        f"Payment {order.out_trade_no}: the bill says {row.trade_state} "
        f"({row.transaction_id}), our order is {order.status.value}.",
    )


async def _refunds(
    day: date, rows: list[BillRow], refunds: dict[str, ChannelRefund], result: Comparison
) -> None:
    others = {
        refund.out_refund_no: refund
        for refund in await ChannelRefund.filter(
            out_refund_no__in=[
                row.out_refund_no for row in rows if row.out_refund_no not in refunds
            ]
        ).select_related("order")
    }
    orders_named = {
        order.out_trade_no: order.merchant_id
        for order in await PaymentOrder.filter(out_trade_no__in=[row.out_trade_no for row in rows])
    }
    seen: set[str] = set()
    for row in rows:
        key = row.out_refund_no
        refund = refunds.get(key) if key not in seen else None
        seen.add(key)
        state = row.refund_status or "SUCCESS"
        if refund is not None:
            merchant_id = refund.order.merchant_id
            if state != "SUCCESS":
                result.differences.append(
                    _refund_draft(
                        DifferenceKind.STATUS_DIFFERS,
                        key,
                        merchant_id,
                        refund,
                        row,
                        "the bill says " + state,
                    )
                )
            elif row.refund_fen != refund.amount_fen:
                result.differences.append(
                    _refund_draft(
                        DifferenceKind.AMOUNT_DIFFERS,
                        key,
                        merchant_id,
                        refund,
                        row,
                        "the amounts differ",
                    )
                )
            else:
                result.matched_count += 1
                result.matched_fen -= row.refund_fen
            continue
        other = others.get(key)
        named: int | None = (
            other.order.merchant_id
            if other
            else orders_named.get(row.out_trade_no) or merchant_of_tag(row.attach)
        )
        if other is not None and other.status is not ChannelRefundStatus.SUCCESS:
            why = f"our refund is {other.status.value}"
            result.differences.append(
                _refund_draft(DifferenceKind.STATUS_DIFFERS, key, named, other, row, why)
            )
            continue
        why = (
            "we have no such refund"
            if other is None
            else f"our refund succeeded at {_clock(other.succeeded_at)}"
        )
        draft = _refund_draft(DifferenceKind.MISSING_IN_LEDGER, key, named, other, row, why)
        if other is not None and other.amount_fen == row.refund_fen:
            draft = _explained(draft, _timing(other.succeeded_at, row.trade_time, day))
        result.differences.append(draft)
    for key in sorted(set(refunds) - seen):
        refund = refunds[key]
        draft = _refund_draft(
            DifferenceKind.MISSING_AT_SOURCE,
            key,
            refund.order.merchant_id,
            refund,
            None,
            f"succeeded at {_clock(refund.succeeded_at)}, not in the bill",
        )
        result.differences.append(_explained(draft, _timing(refund.succeeded_at, None, day)))


def _refund_draft(
    kind: DifferenceKind,
    key: str,
    merchant_id: int | None,
    refund: ChannelRefund | None,
    row: BillRow | None,
    why: str,
) -> Draft:
    # Money out: negative, like a refund's share of the report's net amounts.
    ours = -refund.amount_fen if refund else None
    theirs = -row.refund_fen if row else None
    return Draft(
        kind,
        key,
        merchant_id,
        ours,
        theirs,
        refund.status.value if refund else None,
        (row.refund_status or "SUCCESS") if row else None,
        f"Refund {key} (bill {describe(theirs)}, ours {describe(ours)}): {why}.",
    )


def _explained(draft: Draft, explanation: str | None) -> Draft:
    return draft if explanation is None else replace(draft, explanation=explanation)


async def reconcile_channel(
    day: date, *, data: bytes | None = None, name: str | None = None
) -> ReconciliationReport:
    """Reconcile the day's trade bill: downloaded through the channel, or the file's `data`."""
    if data is None:
        channel = payments.channel()
        if channel is None:
            raise StatementRejected("No payment channel is configured: give the bill's file")
        try:
            data = await channel.trade_bill(day)
        except BillUnavailable as error:
            raise StatementRejected(f"No trade bill of {day.isoformat()}: {error}") from None
        except ChannelError as error:
            raise StatementRejected(
                f"The channel could not be asked for the bill: {error}"
            ) from None
        name = name or f"{channel.name} trade bill {day.isoformat()}"
    try:
        bill = parse_trade_bill(data)
    except BillFormatError as error:
        raise StatementRejected(f"The trade bill cannot be read: {error}") from None
    other_days = sorted({local_day(row.trade_time) for row in bill.rows} - {day})
    if other_days:
        listed = ", ".join(d.isoformat() for d in other_days)
        raise StatementRejected(f"The bill lists trades of {listed}, not only {day.isoformat()}")
    comparison = await compare_bill(day, bill.rows)
    sha256 = hashlib.sha256(data).hexdigest()
    return await store(Source.CHANNEL, day, name or "trade bill", sha256, comparison)
