"""WeChat Pay's trade bill (交易账单, bill_type=ALL): render and parse.

UTF-8 CSV (a BOM is allowed): a header line, one line per trade (SUCCESS) or refund (REFUND),
every field prefixed with a backtick, amounts in yuan with two decimals; then a summary header
and one line of totals. Parsing goes by header name (WeChat may reorder or add columns), turns
yuan into fen exactly and checks the totals against the rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from channel.crypto import SHANGHAI

# Plain decimals only: no exponent, no NaN, no digits outside ASCII.
_AMOUNT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,8})?")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FEE_RATE = "0.60%"
HEADER = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
SUMMARY_HEADER = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
]


class BillFormatError(ValueError):
    """The bill is not a trade bill this parser can trust."""


@dataclass(frozen=True)
class BillRow:
    """One line of the bill: a payment (trade_state SUCCESS) or a refund (REFUND)."""

    trade_time: datetime  # aware, Asia/Shanghai; the refund's time on a refund line
    transaction_id: str
    out_trade_no: str
    trade_state: str
    amount_fen: int  # 应结订单金额 (0 on a refund line)
    refund_id: str
    out_refund_no: str
    refund_fen: int
    refund_status: str
    attach: str
    fee_fen: int  # negative on a refund line: the fee given back
    order_fen: int  # 订单金额
    app_id: str = ""
    mch_id: str = ""
    openid: str = ""
    description: str = ""


@dataclass(frozen=True)
class TradeBill:
    rows: tuple[BillRow, ...]
    count: int
    settled_total_fen: int
    refund_total_fen: int


def fee_fen(amount_fen: int) -> int:
    """The channel's fee, 0.6% rounded half up to the fen (on the magnitude)."""
    magnitude = (abs(amount_fen) * 6 + 500) // 1000
    return magnitude if amount_fen >= 0 else -magnitude


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _row_fields(row: BillRow) -> dict[str, str]:
    return {
        "交易时间": row.trade_time.astimezone(SHANGHAI).strftime(TIME_FORMAT),
        "公众账号ID": row.app_id,
        "商户号": row.mch_id,
        "特约商户号": "0",
        "设备号": "",
        "微信订单号": row.transaction_id,
        "商户订单号": row.out_trade_no,
        "用户标识": row.openid,
        "交易类型": "JSAPI",
        "交易状态": row.trade_state,
        "付款银行": "OTHERS",
        "货币种类": "CNY",
        "应结订单金额": yuan(row.amount_fen),
        "代金券金额": "0.00",
        "微信退款单号": row.refund_id,
        "商户退款单号": row.out_refund_no,
        "退款金额": yuan(row.refund_fen),
        "充值券退款金额": "0.00",
        "退款类型": "ORIGINAL" if row.out_refund_no else "",
        "退款状态": row.refund_status,
        "商品名称": row.description,
        "商户数据包": row.attach,
        "手续费": yuan(row.fee_fen),
        "费率": FEE_RATE,
        "订单金额": yuan(row.order_fen),
        "申请退款金额": yuan(row.refund_fen),
        "费率备注": "",
    }


def render_trade_bill(rows: Sequence[BillRow], *, header: Sequence[str] = HEADER) -> bytes:
    """The bill's bytes; `header` reorders the columns (tests of parsing by name)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        fields = _row_fields(row)
        writer.writerow(["`" + fields[name] for name in header])
    writer.writerow(SUMMARY_HEADER)
    totals = [
        str(len(rows)),
        yuan(sum(row.amount_fen for row in rows)),
        yuan(sum(row.refund_fen for row in rows)),
        "0.00",
        yuan(sum(row.fee_fen for row in rows)),
        yuan(sum(row.order_fen for row in rows)),
        yuan(sum(row.refund_fen for row in rows)),
    ]
    writer.writerow(["`" + value for value in totals])
    return out.getvalue().encode()


def parse_trade_bill(data: bytes) -> TradeBill:
    try:
        text = data.decode("utf-8-sig")
        lines = [line for line in csv.reader(io.StringIO(text, newline="")) if line]
    except (UnicodeDecodeError, csv.Error) as error:
        raise BillFormatError(f"not a UTF-8 CSV bill: {error}") from None
    if len(lines) < 3:
        raise BillFormatError("a bill has a header, a summary header and a summary line")
    header = [name.strip() for name in lines[0]]
    missing = set(HEADER) - set(header)
    if missing:
        raise BillFormatError(f"columns missing: {', '.join(sorted(missing))}")
    if len(set(header)) != len(header):
        raise BillFormatError("a column name appears twice")
    summary_at = next(
        (i for i, line in enumerate(lines) if [v.strip() for v in line] == SUMMARY_HEADER), None
    )
    if summary_at is None or summary_at != len(lines) - 2:
        raise BillFormatError("the summary block is missing or not at the end")
    rows = tuple(_parse_row(header, line, n) for n, line in enumerate(lines[1:summary_at], 2))
    summary = dict(zip(SUMMARY_HEADER, _values(lines[-1], SUMMARY_HEADER, len(lines)), strict=True))
    bill = TradeBill(
        rows=rows,
        count=_count(summary["总交易单数"]),
        settled_total_fen=_fen(summary["应结订单总金额"], "应结订单总金额"),
        refund_total_fen=_fen(summary["退款总金额"], "退款总金额"),
    )
    _check_totals(bill, summary, lines[1:summary_at], header)
    return bill


def _check_totals(
    bill: TradeBill, summary: Mapping[str, str], raw: list[list[str]], header: list[str]
) -> None:
    if bill.count != len(bill.rows):
        raise BillFormatError(
            f"the summary counts {bill.count} trades, the bill has {len(bill.rows)}"
        )
    checks = (
        ("应结订单总金额", bill.settled_total_fen, sum(r.amount_fen for r in bill.rows)),
        ("退款总金额", bill.refund_total_fen, sum(r.refund_fen for r in bill.rows)),
        (
            "订单总金额",
            _fen(summary["订单总金额"], "订单总金额"),
            sum(r.order_fen for r in bill.rows),
        ),
    )
    for name, stated, counted in checks:
        if stated != counted:
            raise BillFormatError(f"{name} says {yuan(stated)}, the rows add up to {yuan(counted)}")
    fee_column = header.index("手续费")
    fees = sum((_decimal(line[fee_column].lstrip("`"), "手续费") for line in raw), Decimal(0))
    if fees != _decimal(summary["手续费总金额"], "手续费总金额"):
        raise BillFormatError(
            f"手续费总金额 says {summary['手续费总金额']}, the rows add up to {fees}"
        )


def _values(line: list[str], header: Sequence[str], number: int) -> Iterator[str]:
    if len(line) != len(header):
        raise BillFormatError(f"line {number}: {len(line)} fields, the header has {len(header)}")
    for value in line:
        if not value.startswith("`"):
            raise BillFormatError(f"line {number}: a field without its backtick: {value!r}")
        yield value[1:]


def _parse_row(header: list[str], line: list[str], number: int) -> BillRow:
    fields = dict(zip(header, _values(line, header, number), strict=True))
    try:
        trade_time = datetime.strptime(fields["交易时间"], TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        raise BillFormatError(f"line {number}: bad 交易时间 {fields['交易时间']!r}") from None
    state = fields["交易状态"]
    if state not in ("SUCCESS", "REFUND"):
        raise BillFormatError(f"line {number}: unknown 交易状态 {state!r}")
    return BillRow(
        trade_time=trade_time,
        transaction_id=fields["微信订单号"],
        out_trade_no=fields["商户订单号"],
        trade_state=state,
        amount_fen=_fen(fields["应结订单金额"], f"line {number} 应结订单金额"),
        refund_id=_no_refund(fields["微信退款单号"], state),
        out_refund_no=_no_refund(fields["商户退款单号"], state),
        refund_fen=_fen(fields["退款金额"], f"line {number} 退款金额"),
        refund_status=fields["退款状态"],
        attach=fields["商户数据包"],
        fee_fen=_to_fen(_decimal(fields["手续费"], f"line {number} 手续费")),
        order_fen=_fen(fields["订单金额"], f"line {number} 订单金额"),
        app_id=fields["公众账号ID"],
        mch_id=fields["商户号"],
        openid=fields["用户标识"],
        description=fields["商品名称"],
    )


def _no_refund(text: str, state: str) -> str:
    # Payment lines of real bills say `0 where a refund line has its refund numbers.
    return "" if state == "SUCCESS" and text == "0" else text


def _decimal(text: str, where: str) -> Decimal:
    if not _AMOUNT.fullmatch(text):
        raise BillFormatError(f"{where}: not an amount: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover (the pattern admits only decimals)
        raise BillFormatError(f"{where}: not an amount: {text!r}") from None


def _fen(text: str, where: str) -> int:
    """Yuan to fen, exactly: an amount with part of a fen is an error, not a rounding."""
    fen = _decimal(text, where) * 100
    if fen != fen.to_integral_value():
        raise BillFormatError(f"{where}: {text!r} is not a whole number of fen")
    return int(fen)


def _to_fen(value: Decimal) -> int:
    # Fees may come with more decimals than a fen (some bills show five): half up to the fen.
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise BillFormatError(f"总交易单数 is not a count: {text!r}")
    return int(text)
