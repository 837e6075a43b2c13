"""The custody bank's statement of a day against the custody ledger's movements.

Our side of day D (the platform's time zone): every transfer made on D with postings on a
merchant's escrow account, as the net movement of that account (credits - debits; a transfer
that nets to zero there moved nothing at the bank). The bank's side: the statement's lines,
each naming the custody instruction's reference (services/bank_statements.custody_reference)
and the merchant's sub-account. Matched by reference and merchant; a line without a
sub-account takes the merchant of the one movement with its reference. Amounts are compared
with their sign: money in custody the wrong way round is AMOUNT_DIFFERS.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date

from models.enums import DifferenceKind
from models.enums import ReconciliationSource as Source
from models.reconciliation import ReconciliationReport
from services import ledger
from services.bank_statements import (
    BankLine,
    StatementFormat,
    StatementFormatError,
    custody_reference,
    parse_statement,
)
from services.reconciliation import (
    Comparison,
    Draft,
    StatementRejected,
    day_bounds,
    describe,
    store,
)
from settings import get_settings


async def custody_movements(day: date) -> dict[tuple[str, int], int]:
    """{(reference, merchant id): signed fen} of the custody ledger on `day`."""
    start, end = day_bounds(day)
    moved = await ledger.custody_movements(start, end)
    return {
        (custody_reference(transfer_id), merchant_id): fen
        for (transfer_id, merchant_id), fen in moved.items()
    }


def _keyed(
    lines: tuple[BankLine, ...], ours: dict[tuple[str, int], int]
) -> dict[tuple[str, int | None], int]:
    merchants_of: dict[str, list[int]] = defaultdict(list)
    for reference, ours_merchant in ours:
        merchants_of[reference].append(ours_merchant)
    keyed: dict[tuple[str, int | None], int] = defaultdict(int)
    for line in lines:
        merchant_id: int | None = line.merchant_id
        if merchant_id is None and len(merchants_of.get(line.reference, ())) == 1:
            merchant_id = merchants_of[line.reference][0]
        # A reference listed twice sums up: it shows as an amount that differs.
        keyed[(line.reference, merchant_id)] += line.amount_fen
    return keyed


def compare_statement(lines: tuple[BankLine, ...], ours: dict[tuple[str, int], int]) -> Comparison:
    theirs = _keyed(lines, ours)
    result = Comparison(
        statement_count=len(lines),
        statement_fen=sum(line.amount_fen for line in lines),
        ledger_count=len(ours),
        ledger_fen=sum(ours.values()),
    )
    for (reference, merchant_id), fen in sorted(theirs.items(), key=lambda item: str(item[0])):
        account = f"escrow:merchant:{merchant_id}" if merchant_id is not None else "no sub-account"
        if merchant_id is not None and (reference, merchant_id) in ours:
            ledger_fen = ours[(reference, merchant_id)]
            if ledger_fen == fen:
                result.matched_count += 1
                result.matched_fen += fen
                continue
            result.differences.append(
                Draft(
                    DifferenceKind.AMOUNT_DIFFERS,
                    reference,
                    merchant_id,
                    ledger_fen,
                    fen,
                    None,
                    None,
                    f"Custody movement {reference} on {account}: the bank has {describe(fen)}, "
                    f"the ledger {describe(ledger_fen)}.",
                )
            )
            continue
        result.differences.append(
            Draft(
                DifferenceKind.MISSING_IN_LEDGER,
                reference or "(none)",
                merchant_id,
                None,
                fen,
                None,
                None,
                f"The bank moved {describe(fen)} on {account} under {reference or 'no reference'}"
                ": the ledger has no such custody movement that day.",
            )
        )
    for (reference, merchant_id), fen in sorted(ours.items()):
        if (reference, merchant_id) in theirs:
            continue
        result.differences.append(
            Draft(
                DifferenceKind.MISSING_AT_SOURCE,
                reference,
                merchant_id,
                fen,
                None,
                None,
                None,
                f"The ledger moved {describe(fen)} on escrow:merchant:{merchant_id} "
                f"({reference}): not in the bank's statement.",
            )
        )
    return result


async def reconcile_bank(
    data: bytes,
    *,
    name: str,
    statement_format: StatementFormat,
    day: date | None = None,
) -> ReconciliationReport:
    """Reconcile a statement file of the custody bank; its date is `day` or its own."""
    try:
        statement = parse_statement(data, statement_format, get_settings().bank_csv_columns)
        stated = statement.statement_date()
    except (StatementFormatError, ValueError) as error:
        raise StatementRejected(f"The statement cannot be read: {error}") from None
    day = day or stated
    if day is None:
        raise StatementRejected("The statement has no lines and no date: give its date")
    if stated is not None and stated != day:
        raise StatementRejected(f"The statement is of {stated.isoformat()}, not {day.isoformat()}")
    comparison = compare_statement(statement.lines, await custody_movements(day))
    sha256 = hashlib.sha256(data).hexdigest()
    return await store(Source.BANK, day, name, sha256, comparison)
