"""channel/bill.py: the trade bill renders and parses back exactly, by header name, in fen;
anything malformed is a BillFormatError rather than a wrong reconciliation."""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel.bill import (
    HEADER,
    BillFormatError,
    BillRow,
    fee_fen,
    parse_trade_bill,
    render_trade_bill,
)
from channel.crypto import SHANGHAI

# A bill as WeChat Pay's documentation shows one (one payment, one refund of it).
SAMPLE = (
    "\ufeff交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,"
    "退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n"
    "`2026-11-28 10:49:06,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202611281234567890,"
    "`PO-7,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`700.00,`0.00,`0,`0,`0.00,"
    "`0.00,`,`,`安福健身 年卡,`card:1,`4.20000,`0.60%,`700.00,`0.00,`\r\n"
    "`2026-11-28 18:02:11,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202611281234567890,"
    "`PO-7,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,"
    "`50300000012026112812345678901,`RF-3,`300.00,`0.00,`ORIGINAL,`SUCCESS,`安福健身 年卡,`card:1,"
    "`-1.80000,`0.60%,`0.00,`300.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
    "`2,`700.00,`300.00,`0.00,`2.40000,`700.00,`300.00\r\n"
)


def test_a_documented_bill_parses_into_fen():
    bill = parse_trade_bill(SAMPLE.encode())
    assert (bill.count, bill.settled_total_fen, bill.refund_total_fen) == (2, 70000, 30000)
    paid, refunded = bill.rows
    assert paid.trade_time == datetime(2026, 11, 28, 10, 49, 6, tzinfo=SHANGHAI)
    assert (paid.trade_state, paid.out_trade_no, paid.amount_fen, paid.fee_fen) == (
        "SUCCESS",
        "PO-7",
        70000,
        420,
    )
    assert (paid.out_refund_no, paid.refund_id, paid.attach) == ("", "", "card:1")
    assert (refunded.trade_state, refunded.out_refund_no, refunded.refund_fen) == (
        "REFUND",
        "RF-3",
        30000,
    )
    assert (refunded.refund_status, refunded.fee_fen, refunded.amount_fen) == ("SUCCESS", -180, 0)


def test_fees_are_six_permille_rounded_half_up():
    assert [fee_fen(n) for n in (70000, 1, 83, 84, 250, -250)] == [420, 0, 0, 1, 2, -2]


def _rows() -> st.SearchStrategy[BillRow]:
    text = st.text(
        st.characters(blacklist_categories=("Cs", "Cc")),  # no surrogates or control characters
        max_size=12,
    )
    ids = st.text("0123456789ABCDEFabcdef-_", min_size=1, max_size=32)
    moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)).map(
        lambda m: m.replace(microsecond=0, tzinfo=SHANGHAI)
    )
    amounts = st.integers(min_value=1, max_value=10**10)

    def payment(moment, transaction_id, out_trade_no, amount, attach, description):
        return BillRow(
            moment, transaction_id, out_trade_no, "SUCCESS", amount, "", "", 0, "",
            attach, fee_fen(amount), amount, "wx1", "1900000109", "o-1", description,
        )  # fmt: skip

    def refund(moment, transaction_id, out_trade_no, amount, attach, description, refund_no):
        return BillRow(
            moment, transaction_id, out_trade_no, "REFUND", 0, "50" + refund_no, refund_no,
            amount, "SUCCESS", attach, -fee_fen(amount), 0, "wx1", "1900000109", "o-1",
            description,
        )  # fmt: skip

    common = (moments, ids, ids, amounts, text, text)
    return st.one_of(st.builds(payment, *common), st.builds(refund, *common, ids))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_rows(), max_size=8), seed=st.integers(0, 2**32))
def test_render_then_parse_gives_the_rows_back_in_any_column_order(rows, seed):
    bill = parse_trade_bill(render_trade_bill(rows))
    assert list(bill.rows) == rows
    assert bill.count == len(rows)
    assert bill.settled_total_fen == sum(row.amount_fen for row in rows)
    assert bill.refund_total_fen == sum(row.refund_fen for row in rows)
    shuffled = list(HEADER)
    random.Random(seed).shuffle(shuffled)
    assert parse_trade_bill(render_trade_bill(rows, header=shuffled)) == bill


def _one_payment() -> bytes:
    row = BillRow(
        datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI), "4200", "PO-1", "SUCCESS", 12345, "", "",
        0, "", "", fee_fen(12345), 12345,
    )  # fmt: skip
    return render_trade_bill([row])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.replace(b"`123.45", b"`123.456", 1), "whole number of fen"),
        (lambda b: b.replace(b"`123.45", b"`1e9999", 1), "not an amount"),
        (lambda b: b.replace(b"`123.45", b"`NaN", 1), "not an amount"),
        (lambda b: b.replace(b"`123.45", b"`abc", 1), "not an amount"),
        (lambda b: b.replace(b"`123.45", b"`123.40", 1), "应结订单总金额"),
        (lambda b: b.replace(b"\n`1,", b"\n`2,"), "counts 2"),
        (lambda b: b.replace("商户订单号".encode(), "订单号".encode(), 1), "columns missing"),
        (lambda b: b.replace(b"`PO-1", b"PO-1"), "backtick"),
        (lambda b: b.replace("总交易单数".encode(), "合计".encode()), "summary"),
        (lambda b: b.replace(b"`SUCCESS", b"`PAID"), "交易状态"),
        (lambda b: b.replace(b"`2026-11-28 09:00:00", b"`2026-13-28 09:00:00"), "交易时间"),
        (lambda b: b.replace(b"`1,", b"`\xff,"), "UTF-8"),
        (lambda b: b"", "a header"),
        (lambda b: b.replace(b"`0.74", b"`0.75", 1), "手续费总金额"),
    ],
)
def test_a_malformed_bill_is_refused(change, message):
    data = change(_one_payment())
    with pytest.raises(BillFormatError, match=message):
        parse_trade_bill(data)


def test_times_are_written_in_beijing_time():
    from datetime import UTC

    moment = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
    row = BillRow(
        moment, "4200", "PO-1", "SUCCESS", 100, "", "", 0, "", "", fee_fen(100), 100,
    )  # fmt: skip
    data = render_trade_bill([row])
    assert b"`2026-11-28 23:30:00" in data
    [parsed] = parse_trade_bill(data).rows
    assert parsed.trade_time == moment and parsed.trade_time.tzinfo == SHANGHAI
