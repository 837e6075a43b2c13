"""The custody bank's statements: MT940 and the bank's CSV export, read and written.

The platform instructs the custody bank for every custody movement (存管指令) under the
reference of one ledger transfer (`custody_reference`), on one merchant's sub-account
(`escrow:merchant:<id>`). The bank's statement of a day lists those movements, each naming
both; services/reconcile_bank.py compares them with the custody ledger.

MT940 (through the `mt-940` package): the reference is the :61: customer reference (where a
bank echoes the reference of the customer's instruction); when that is empty or NONREF, the
first `AF` + ten digits in the :86: text. The sub-account is `escrow:merchant:<id>` in the
:86: text. Amounts carry their D/C mark; an opening and a closing balance, when both are
given, must differ by the sum of the lines.

CSV: columns named by the BANK_CSV_COLUMNS setting (date, reference, amount, and optionally
direction and account); amounts in yuan with at most two decimals, read exactly. Without a
direction column the amount is signed; with one, 贷/C is money in and 借/D money out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

import mt940

from services.money import format_money
from settings import Settings

StatementFormat = Literal["mt940", "csv"]
CUSTODY_ACCOUNT = "ANFU-CUSTODY"
_REFERENCE = re.compile(r"AF\d{10}")
_SUB_ACCOUNT = re.compile(r"escrow:merchant:(\d+)")
_CSV_FIELDS = ("date", "reference", "amount", "direction", "account")
_REQUIRED_CSV_FIELDS = ("date", "reference", "amount")
_CREDIT_MARKS = {"贷", "C", "CR", "CREDIT", "收", "收入"}
_DEBIT_MARKS = {"借", "D", "DR", "DEBIT", "付", "支出"}
_AMOUNT = re.compile(r"[+-]?\d{1,3}(,?\d{3})*(\.\d{1,2})?")


class StatementFormatError(ValueError):
    """The file is not a statement this module can read, or it does not add up."""


def custody_reference(transfer_id: int) -> str:
    """The reference of the custody instruction for one ledger transfer: AF + 10 digits."""
    return f"AF{transfer_id:010d}"


def sub_account(merchant_id: int) -> str:
    """A merchant's sub-account at the custody bank: its custody account's name."""
    return f"escrow:merchant:{merchant_id}"


@dataclass(frozen=True)
class BankLine:
    """One movement on a merchant's sub-account; `amount_fen` is signed (+ in, - out)."""

    value_date: date
    reference: str
    merchant_id: int | None
    amount_fen: int


@dataclass(frozen=True)
class BankStatement:
    """A day's lines, with the custody account's balances when the statement gives them."""

    lines: tuple[BankLine, ...]
    opening_fen: int | None = None
    closing_fen: int | None = None
    # The date of the closing balance (MT940), which dates a statement without lines.
    balance_date: date | None = None

    def statement_date(self) -> date | None:
        """The one date of the lines (or of the closing balance), None when it has neither."""
        dates = {line.value_date for line in self.lines}
        if not dates and self.balance_date is not None:
            return self.balance_date
        if len(dates) > 1:
            listed = ", ".join(sorted(d.isoformat() for d in dates))
            raise StatementFormatError(f"the statement covers several days ({listed})")
        return next(iter(dates), None)


def _merchant_in(text: str) -> int | None:
    match = _SUB_ACCOUNT.search(text)
    if match:
        return int(match.group(1))
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _fen(amount: Decimal, where: str) -> int:
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise StatementFormatError(f"{where}: {amount} has more than two decimals")
    return int(fen)


# ---------------------------------------------------------------- MT940


def parse_mt940(data: bytes) -> BankStatement:
    """The lines and balances of an MT940 statement (UTF-8, a BOM allowed)."""
    try:
        parsed = mt940.parse(data, encoding="utf-8", options=mt940.Options.all())
    except Exception as error:  # the package raises bare RuntimeErrors on bad tags
        raise StatementFormatError(f"not a readable MT940 statement: {error}") from None
    head = parsed.data
    if "transaction_reference" not in head and not len(parsed):
        raise StatementFormatError("not an MT940 statement (no :20: and no :61: lines)")
    lines = []
    for number, transaction in enumerate(parsed, start=1):
        item = transaction.data
        details = str(item.get("transaction_details") or "")
        reference = str(item.get("customer_reference") or "").strip()
        if not reference or reference.upper() == "NONREF":
            found = _REFERENCE.search(details)
            reference = found.group(0) if found else str(item.get("bank_reference") or "")
        value_date = item["date"]
        lines.append(
            BankLine(
                value_date=date(value_date.year, value_date.month, value_date.day),
                reference=reference,
                merchant_id=_merchant_in(details),
                amount_fen=_fen(item["amount"].amount, f":61: line {number}"),
            )
        )
    opening = head.get("final_opening_balance") or head.get("opening_balance")
    closing = head.get("final_closing_balance") or head.get("closing_balance")
    statement = BankStatement(
        lines=tuple(lines),
        opening_fen=_fen(opening.amount.amount, ":60F:") if opening is not None else None,
        closing_fen=_fen(closing.amount.amount, ":62F:") if closing is not None else None,
        balance_date=date(closing.date.year, closing.date.month, closing.date.day)
        if closing is not None
        else None,
    )
    _check_balances(statement)
    return statement


def _check_balances(statement: BankStatement) -> None:
    if statement.opening_fen is None or statement.closing_fen is None:
        return
    moved = sum(line.amount_fen for line in statement.lines)
    if statement.opening_fen + moved != statement.closing_fen:
        raise StatementFormatError(
            f"the balances do not add up: opening {format_money(statement.opening_fen)} "
            f"+ lines {format_money(moved)} != closing {format_money(statement.closing_fen)}"
        )


def _mt940_amount(fen: int) -> str:
    return format_money(abs(fen)).replace(".", ",")


def _mark(fen: int) -> str:
    return "D" if fen < 0 else "C"


def render_mt940(
    lines: Sequence[BankLine],
    statement_date: date,
    *,
    opening_fen: int = 0,
    account: str = CUSTODY_ACCOUNT,
) -> bytes:
    """An MT940 statement of one day, as the custody bank would send it."""
    day = statement_date.strftime("%y%m%d")
    closing = opening_fen + sum(line.amount_fen for line in lines)
    out = [
        f":20:ANFU{statement_date:%Y%m%d}",
        f":25:{account}",
        ":28C:1/1",
        f":60F:{_mark(opening_fen)}{day}CNY{_mt940_amount(opening_fen)}",
    ]
    for line in lines:
        value = line.value_date.strftime("%y%m%d")
        out.append(
            f":61:{value}{line.value_date:%m%d}{_mark(line.amount_fen)}"
            f"{_mt940_amount(line.amount_fen)}NTRF{line.reference}"
        )
        account_text = sub_account(line.merchant_id) if line.merchant_id is not None else ""
        out.append(f":86:SUBACC {account_text} REF {line.reference}".replace("  ", " "))
    out.append(f":62F:{_mark(closing)}{day}CNY{_mt940_amount(closing)}")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


# ---------------------------------------------------------------- CSV

DEFAULT_CSV_COLUMNS: str = Settings.model_fields["bank_csv_columns"].default


def csv_columns(mapping: str) -> dict[str, str]:
    """BANK_CSV_COLUMNS read: our field -> the bank's column header."""
    columns: dict[str, str] = {}
    for item in mapping.split(","):
        field_name, sep, header = item.partition("=")
        field_name, header = field_name.strip(), header.strip()
        if not sep or field_name not in _CSV_FIELDS or not header:
            raise ValueError(
                f"BANK_CSV_COLUMNS: {item.strip()!r} is not field=header "
                f"(fields: {', '.join(_CSV_FIELDS)})"
            )
        columns[field_name] = header
    missing = [name for name in _REQUIRED_CSV_FIELDS if name not in columns]
    if missing:
        raise ValueError(f"BANK_CSV_COLUMNS names no column for {', '.join(missing)}")
    return columns


def _csv_date(text: str, where: str) -> date:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise StatementFormatError(f"{where}: {text!r} is not a date like 2026-12-01")


def _csv_amount(text: str, direction: str | None, where: str) -> int:
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        raise StatementFormatError(f"{where}: {text!r} is not an amount in yuan like 700.00")
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise StatementFormatError(f"{where}: {text!r} is not an amount") from None
    fen = _fen(amount, where)
    if direction is None:
        return fen
    mark = direction.strip().upper()
    if fen < 0 or text.startswith("+"):
        raise StatementFormatError(f"{where}: a signed amount beside a direction column")
    if mark in _CREDIT_MARKS:
        return fen
    if mark in _DEBIT_MARKS:
        return -fen
    raise StatementFormatError(f"{where}: {direction!r} is neither 借 (debit) nor 贷 (credit)")


def parse_csv(data: bytes, mapping: str = DEFAULT_CSV_COLUMNS) -> BankStatement:
    """The lines of a bank's CSV export (UTF-8, a BOM allowed), by the column mapping."""
    columns = csv_columns(mapping)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatementFormatError("the CSV file is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    headers = reader.fieldnames or []
    absent = [header for header in columns.values() if header not in headers]
    if absent:
        raise StatementFormatError(f"the CSV file has no column {', '.join(absent)}")
    lines = []
    for row in reader:
        where = f"CSV line {reader.line_num}"
        if None in row or any(value is None for value in row.values()):
            raise StatementFormatError(f"{where}: wrong number of fields")
        if not any((value or "").strip() for value in row.values()):
            continue
        account = row[columns["account"]] if "account" in columns else ""
        direction = row[columns["direction"]] if "direction" in columns else None
        lines.append(
            BankLine(
                value_date=_csv_date(row[columns["date"]], where),
                reference=row[columns["reference"]].strip().lstrip("`"),
                merchant_id=_merchant_in(account),
                amount_fen=_csv_amount(row[columns["amount"]], direction, where),
            )
        )
    return BankStatement(lines=tuple(lines))


def render_csv(lines: Iterable[BankLine], mapping: str = DEFAULT_CSV_COLUMNS) -> bytes:
    """A bank's CSV export of the lines, in the columns of the mapping."""
    columns = csv_columns(mapping)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    fields = [name for name in _CSV_FIELDS if name in columns]
    writer.writerow([columns[name] for name in fields])
    signed = "direction" not in columns
    for line in lines:
        values: Mapping[str, str] = {
            "date": line.value_date.isoformat(),
            "reference": line.reference,
            "amount": format_money(line.amount_fen if signed else abs(line.amount_fen)),
            "direction": "借" if line.amount_fen < 0 else "贷",
            "account": sub_account(line.merchant_id) if line.merchant_id is not None else "",
        }
        writer.writerow([values[name] for name in fields])
    return out.getvalue().encode("utf-8")


def parse_statement(
    data: bytes, statement_format: StatementFormat, mapping: str = DEFAULT_CSV_COLUMNS
) -> BankStatement:
    if statement_format == "mt940":
        return parse_mt940(data)
    return parse_csv(data, mapping)


def guess_format(name: str) -> StatementFormat:
    """By the file's extension: .csv is CSV, anything else MT940 (.sta, .mt940, .txt)."""
    return "csv" if name.lower().endswith(".csv") else "mt940"
