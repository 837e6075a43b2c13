"""What the simulated WeChat Pay remembers: orders and refunds as the real API shows them
(plain JSON dicts), in memory and, when configured, in a JSON state file that survives
restarts of `anfu payments simulator` and that the demo fills with a week of history."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from channel.crypto import SHANGHAI, rfc3339

Record = dict[str, Any]


def new_prepay_id(moment: datetime) -> str:
    return "wx" + moment.astimezone(SHANGHAI).strftime("%d%H%M%S") + secrets.token_hex(13)


def new_transaction_id(moment: datetime) -> str:
    digits = f"{secrets.randbelow(10**10):010d}"
    return "4200" + "00" + moment.astimezone(SHANGHAI).strftime("%Y%m%d") + digits


def new_refund_id() -> str:
    return "50" + f"{secrets.randbelow(10**27):027d}"


class Store:
    """Orders by out_trade_no, refunds by out_refund_no, prepay ids to orders."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.state_file = state_file
        self.orders: dict[str, Record] = {}
        self.refunds: dict[str, Record] = {}
        self.prepay: dict[str, str] = {}
        if state_file is not None and state_file.exists():
            data = json.loads(state_file.read_text(encoding="utf-8"))
            self.orders = data.get("orders", {})
            self.refunds = data.get("refunds", {})
            self.prepay = {
                o["prepay_id"]: no for no, o in self.orders.items() if o.get("prepay_id")
            }

    def save(self) -> None:
        if self.state_file is None:
            return
        _write_json(self.state_file, {"orders": self.orders, "refunds": self.refunds})

    def refunded_fen(self, out_trade_no: str) -> int:
        return sum(
            r["amount"]["refund"]
            for r in self.refunds.values()
            if r["out_trade_no"] == out_trade_no and r["status"] in ("SUCCESS", "PROCESSING")
        )


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(data, file, ensure_ascii=False, indent=1)
    os.replace(temporary, path)


@dataclass(frozen=True)
class HistoryPayment:
    """A payment the channel made in the past (demo history)."""

    out_trade_no: str
    amount_fen: int
    paid_at: datetime
    description: str = "预付卡"
    attach: str = ""
    openid: str = "o-demo-payer"
    transaction_id: str | None = None


@dataclass(frozen=True)
class HistoryRefund:
    """A refund the channel made in the past, against a HistoryPayment's order."""

    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    refunded_at: datetime
    refund_id: str | None = None


def record_history(
    state_file: Path,
    payments: Iterable[HistoryPayment],
    refunds: Iterable[HistoryRefund] = (),
    *,
    mchid: str,
    appid: str,
) -> None:
    """Write past payments and refunds into a simulator state file (created if missing, merged
    by out_trade_no / out_refund_no otherwise), so its trade bills list them. Start the
    simulator on the file afterwards: a running one does not read it again."""
    store = Store(state_file)
    for payment in payments:
        store.orders[payment.out_trade_no] = paid_order(
            out_trade_no=payment.out_trade_no,
            amount_fen=payment.amount_fen,
            paid_at=payment.paid_at,
            description=payment.description,
            attach=payment.attach,
            openid=payment.openid,
            transaction_id=payment.transaction_id or new_transaction_id(payment.paid_at),
            mchid=mchid,
            appid=appid,
        )
    for refund in refunds:
        order = store.orders[refund.out_trade_no]
        order["trade_state"] = "REFUND"
        store.refunds[refund.out_refund_no] = refund_record(
            order,
            out_refund_no=refund.out_refund_no,
            amount_fen=refund.amount_fen,
            reason="",
            notify_url="",
            created_at=refund.refunded_at,
            refund_id=refund.refund_id or new_refund_id(),
        ) | {"status": "SUCCESS", "success_time": rfc3339(refund.refunded_at)}
    store.state_file = state_file
    store.save()


def paid_order(
    *,
    out_trade_no: str,
    amount_fen: int,
    paid_at: datetime,
    description: str,
    attach: str,
    openid: str,
    transaction_id: str,
    mchid: str,
    appid: str,
) -> Record:
    return {
        "appid": appid,
        "mchid": mchid,
        "description": description,
        "out_trade_no": out_trade_no,
        "time_expire": rfc3339(paid_at),
        "attach": attach,
        "notify_url": "",
        "amount": {"total": amount_fen, "currency": "CNY"},
        "payer": {"openid": openid},
        "prepay_id": "",
        "trade_state": "SUCCESS",
        "transaction_id": transaction_id,
        "success_time": rfc3339(paid_at),
    }


def refund_record(
    order: Record,
    *,
    out_refund_no: str,
    amount_fen: int,
    reason: str,
    notify_url: str,
    created_at: datetime,
    refund_id: str,
) -> Record:
    total = order["amount"]["total"]
    return {
        "refund_id": refund_id,
        "out_refund_no": out_refund_no,
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(created_at),
        "success_time": None,
        "status": "PROCESSING",
        "funds_account": "AVAILABLE",
        "reason": reason,
        "notify_url": notify_url,
        "amount": {
            "total": total,
            "refund": amount_fen,
            "payer_total": total,
            "payer_refund": amount_fen,
            "settlement_total": total,
            "settlement_refund": amount_fen,
            "discount_refund": 0,
            "currency": "CNY",
        },
    }


def transaction_view(order: Record) -> Record:
    """An order as the query API and TRANSACTION.SUCCESS show it."""
    view: Record = {
        "appid": order["appid"],
        "mchid": order["mchid"],
        "out_trade_no": order["out_trade_no"],
        "trade_type": "JSAPI",
        "trade_state": order["trade_state"],
        "trade_state_desc": _STATE_DESC.get(order["trade_state"], ""),
        "attach": order["attach"],
        "amount": {"total": order["amount"]["total"], "currency": "CNY"},
    }
    if order.get("transaction_id"):
        view |= {
            "transaction_id": order["transaction_id"],
            "bank_type": "OTHERS",
            "success_time": order["success_time"],
            "payer": order["payer"],
        }
        view["amount"] |= {"payer_total": order["amount"]["total"], "payer_currency": "CNY"}
    return view


_STATE_DESC = {
    "SUCCESS": "支付成功",
    "NOTPAY": "未支付",
    "CLOSED": "已关闭",
    "REFUND": "转入退款",
}
