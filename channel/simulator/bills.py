"""The simulator's trade bills: made from its own records for one Beijing day."""

from __future__ import annotations

from datetime import date, datetime

from channel.bill import BillRow, fee_fen, render_trade_bill
from channel.crypto import SHANGHAI, parse_rfc3339
from channel.simulator.state import Store


def _day(text: str | None) -> date | None:
    return parse_rfc3339(text).astimezone(SHANGHAI).date() if text else None


def bill_rows(store: Store, bill_date: date) -> list[BillRow]:
    """Payments that succeeded and refunds that succeeded on the day, by time."""
    rows: list[BillRow] = []
    for order in store.orders.values():
        if order.get("transaction_id") and _day(order.get("success_time")) == bill_date:
            total = order["amount"]["total"]
            rows.append(
                BillRow(
                    trade_time=_time(order["success_time"]),
                    transaction_id=order["transaction_id"],
                    out_trade_no=order["out_trade_no"],
                    trade_state="SUCCESS",
                    amount_fen=total,
                    refund_id="",
                    out_refund_no="",
                    refund_fen=0,
                    refund_status="",
                    attach=order["attach"],
                    fee_fen=fee_fen(total),
                    order_fen=total,
                    app_id=order["appid"],
                    mch_id=order["mchid"],
                    openid=order["payer"]["openid"],
                    description=order["description"],
                )
            )
    for refund in store.refunds.values():
        if refund["status"] != "SUCCESS" or _day(refund.get("success_time")) != bill_date:
            continue
        order = store.orders[refund["out_trade_no"]]
        amount = refund["amount"]["refund"]
        rows.append(
            BillRow(
                trade_time=_time(refund["success_time"]),
                transaction_id=refund["transaction_id"],
                out_trade_no=refund["out_trade_no"],
                trade_state="REFUND",
                amount_fen=0,
                refund_id=refund["refund_id"],
                out_refund_no=refund["out_refund_no"],
                refund_fen=amount,
                refund_status="SUCCESS",
                attach=order["attach"],
                fee_fen=-fee_fen(amount),
                order_fen=0,
                app_id=order["appid"],
                mch_id=order["mchid"],
                openid=order["payer"]["openid"],
                description=order["description"],
            )
        )
    rows.sort(key=lambda row: (row.trade_time, row.out_trade_no, row.out_refund_no))
    return rows


def _time(text: str) -> datetime:
    return parse_rfc3339(text).astimezone(SHANGHAI)


def trade_bill(store: Store, bill_date: date) -> bytes | None:
    """The day's bill, or None when the day had no trade (NO_STATEMENT_EXIST)."""
    rows = bill_rows(store, bill_date)
    return render_trade_bill(rows) if rows else None
