"""The custody bank's statement formats: MT940 and CSV read the same lines; what does not add
up or does not parse is refused with a clear message."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bank_statements import (
    DEFAULT_CSV_COLUMNS,
    BankLine,
    StatementFormatError,
    csv_columns,
    custody_reference,
    guess_format,
    parse_csv,
    parse_mt940,
    render_csv,
    render_mt940,
)

DAY = date(2026, 12, 1)
LINES = (
    BankLine(DAY, custody_reference(12), 42, 70_000),
    BankLine(DAY, custody_reference(13), 7, -30_050),
    BankLine(DAY, custody_reference(14), 42, 1),
)
lines_strategy = st.lists(
    st.builds(
        BankLine,
        value_date=st.just(DAY),
        reference=st.integers(1, 10**10 - 1).map(custody_reference),
        merchant_id=st.integers(1, 10**6),
        amount_fen=st.integers(-(10**11), 10**11).filter(bool),
    ),
    max_size=20,
).map(tuple)


def test_the_reference_of_a_transfer_is_af_and_ten_digits() -> None:
    assert custody_reference(12) == "AF0000000012"


def test_mt940_and_csv_read_the_same_statement_to_the_same_lines() -> None:
    mt940 = parse_mt940(render_mt940(LINES, DAY, opening_fen=100_000))
    csv = parse_csv(render_csv(LINES))
    assert mt940.lines == csv.lines == LINES
    assert (mt940.opening_fen, mt940.closing_fen) == (100_000, 100_000 + 70_000 - 30_050 + 1)
    assert mt940.statement_date() == csv.statement_date() == DAY


@given(lines_strategy)
def test_any_statement_round_trips_through_both_formats(lines: tuple[BankLine, ...]) -> None:
    assert parse_mt940(render_mt940(lines, DAY)).lines == lines
    assert parse_csv(render_csv(lines)).lines == lines
    signed = "date=日期,amount=金额,reference=参考号,account=账户"
    assert parse_csv(render_csv(lines, signed), signed).lines == lines


def test_an_mt940_line_changed_after_the_bank_wrote_it_does_not_add_up() -> None:
    statement = render_mt940(LINES, DAY).decode()
    tampered = statement.replace("C700,00NTRF", "C800,00NTRF").encode()
    with pytest.raises(StatementFormatError, match="balances do not add up"):
        parse_mt940(tampered)


def test_mt940_takes_the_reference_from_the_details_when_the_customer_reference_is_nonref() -> None:
    text = (
        ":20:X\r\n:25:ANFU\r\n:28C:1/1\r\n:60F:C261201CNY0,00\r\n"
        ":61:2612011201C5,00NTRFNONREF//BANK1\r\n:86:存管指令 AF0000000099 escrow:merchant:3\r\n"
        ":62F:C261201CNY5,00\r\n"
    )
    (line,) = parse_mt940(text.encode()).lines
    assert line == BankLine(DAY, "AF0000000099", 3, 500)


def test_what_is_not_mt940_is_refused() -> None:
    with pytest.raises(StatementFormatError):
        parse_mt940(b"hello, world\n")


def test_the_csv_columns_are_found_by_their_headers_in_any_order() -> None:
    data = (
        "子账户,发生额,备注,交易参考号,借贷标志,交易日期\r\n"
        'escrow:merchant:42,"1,700.00",x,AF0000000012,贷,20261201\r\n'
        "7,0.50,y,AF0000000013,借,2026-12-01\r\n"
    ).encode("utf-8-sig")
    statement = parse_csv(data)
    assert statement.lines == (
        BankLine(DAY, "AF0000000012", 42, 170_000),
        BankLine(DAY, "AF0000000013", 7, -50),
    )


@pytest.mark.parametrize(
    ("amount", "direction", "message"),
    [
        ("1.234", "贷", "not an amount"),
        ("1e3", "贷", "not an amount"),
        ("-5.00", "贷", "signed amount"),
        ("5.00", "转", "neither"),
    ],
)
def test_a_bad_csv_amount_names_its_line(amount: str, direction: str, message: str) -> None:
    data = f"交易日期,交易参考号,发生额,借贷标志,子账户\n2026-12-01,AF1,{amount},{direction},1\n"
    with pytest.raises(StatementFormatError, match=message) as raised:
        parse_csv(data.encode())
    assert "CSV line 2" in str(raised.value)


def test_a_csv_without_a_mapped_column_is_refused() -> None:
    with pytest.raises(StatementFormatError, match="no column 借贷标志"):
        parse_csv("交易日期,交易参考号,发生额,子账户\n".encode())


def test_the_column_mapping_is_checked() -> None:
    assert csv_columns(DEFAULT_CSV_COLUMNS)["amount"] == "发生额"
    with pytest.raises(ValueError, match="reference"):
        csv_columns("date=a,amount=b")
    with pytest.raises(ValueError, match="not field=header"):
        csv_columns("date=a,reference=b,amount=c,colour=d")


def test_a_statement_of_several_days_has_no_one_date() -> None:
    lines = (*LINES, BankLine(date(2026, 12, 2), "AF0000000001", 1, 5))
    with pytest.raises(StatementFormatError, match="several days"):
        parse_csv(render_csv(lines)).statement_date()


def test_the_format_follows_the_extension() -> None:
    assert guess_format("bank-2026-12-01.CSV") == "csv"
    assert guess_format("bank-2026-12-01.sta") == "mt940"
