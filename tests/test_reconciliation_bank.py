"""Reconciling the custody bank's statement with the custody ledger's movements of a day, in
the service and as `anfu reconcile bank` runs it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from models import ReconciliationDifference, ReconciliationReport, RiskAlert
from models.enums import DifferenceKind, RiskAlertKind, RiskLevel
from services.bank_statements import BankLine, custody_reference, render_csv, render_mt940
from services.reconcile_bank import custody_movements, reconcile_bank
from services.reconciliation import StatementRejected
from tests.cli_support import run
from tests.reconciliation_support import at, fresh_day
from tests.support import assert_ledger_clean, buy_card, make_merchant, make_user, redeem_fen

pytestmark = pytest.mark.usefixtures("database")


async def a_day_of_custody(frozen_clock: Any) -> tuple[dt.date, list[BankLine], int]:
    """Two merchants' sales and a redemption on a day of their own; the bank's lines for it."""
    day = fresh_day()
    frozen_clock.current = at(day, 10).astimezone(dt.UTC)
    full = await make_merchant()
    partial = await make_merchant(custody_ratio_bp=6_000)
    consumer = await make_user()
    card = (await buy_card(consumer, full)).card
    await buy_card(consumer, partial)
    frozen_clock.current = at(day, 15).astimezone(dt.UTC)
    await redeem_fen(full, card.id, consumer, 10_000)
    moved = await custody_movements(day)
    lines = [
        BankLine(day, reference, merchant_id, fen)
        for (reference, merchant_id), fen in sorted(moved.items())
    ]
    return day, lines, partial.merchant.id


async def differences_of(report: ReconciliationReport) -> list[ReconciliationDifference]:
    return await ReconciliationDifference.filter(report_id=report.id).order_by("id")


async def test_the_ledger_side_is_each_transfers_net_custody_movement(frozen_clock: Any) -> None:
    _, lines, partial_id = await a_day_of_custody(frozen_clock)
    # A purchase into custody, the partial merchant's 60 % share, a redemption out of it.
    assert sorted(line.amount_fen for line in lines) == [-7_000, 42_000, 70_000]
    assert all(line.reference.startswith("AF") for line in lines)
    assert partial_id in {line.merchant_id for line in lines}


@pytest.mark.parametrize("statement_format", ["mt940", "csv"])
async def test_a_clean_statement_has_no_difference(
    frozen_clock: Any, statement_format: str
) -> None:
    day, lines, _ = await a_day_of_custody(frozen_clock)
    data = render_mt940(lines, day) if statement_format == "mt940" else render_csv(lines)

    report = await reconcile_bank(data, name="bank", statement_format=statement_format)  # type: ignore[arg-type]

    assert report.statement_date == day
    assert await differences_of(report) == []
    assert (report.statement_count, report.ledger_count, report.matched_count) == (3, 3, 3)
    assert report.statement_fen == report.ledger_fen == report.matched_fen == 105_000
    await assert_ledger_clean()


async def test_a_line_missing_at_the_bank_is_the_one_difference(frozen_clock: Any) -> None:
    day, lines, partial_id = await a_day_of_custody(frozen_clock)
    dropped = next(line for line in lines if line.merchant_id == partial_id)
    kept = [line for line in lines if line is not dropped]

    report = await reconcile_bank(render_mt940(kept, day), name="bank", statement_format="mt940")

    (difference,) = await differences_of(report)
    assert (difference.kind, difference.reference, difference.merchant_id) == (
        DifferenceKind.MISSING_AT_SOURCE,
        dropped.reference,
        partial_id,
    )
    assert (difference.ledger_amount_fen, difference.statement_amount_fen) == (42_000, None)
    (alert,) = await RiskAlert.filter(
        merchant_id=partial_id, kind=RiskAlertKind.RECONCILIATION_MISMATCH
    )
    assert alert.severity is RiskLevel.MEDIUM
    assert difference.alert_id == alert.id
    await assert_ledger_clean()


async def test_an_amount_or_direction_that_differs_and_a_stranger_line(frozen_clock: Any) -> None:
    day, lines, _ = await a_day_of_custody(frozen_clock)
    out = next(line for line in lines if line.amount_fen < 0)
    flipped = BankLine(day, out.reference, out.merchant_id, -out.amount_fen)
    stranger = BankLine(day, custody_reference(2_000_000_000), out.merchant_id, 100)
    changed = [flipped if line is out else line for line in lines] + [stranger]

    report = await reconcile_bank(render_csv(changed), name="bank.csv", statement_format="csv")

    found = {(d.kind, d.reference) for d in await differences_of(report)}
    assert found == {
        (DifferenceKind.AMOUNT_DIFFERS, out.reference),
        (DifferenceKind.MISSING_IN_LEDGER, stranger.reference),
    }
    (alert,) = await RiskAlert.filter(
        merchant_id=out.merchant_id, kind=RiskAlertKind.RECONCILIATION_MISMATCH
    )
    assert alert.severity is RiskLevel.HIGH


async def test_a_statement_of_another_day_or_tampered_with_is_refused_and_nothing_stored(
    frozen_clock: Any,
) -> None:
    day, lines, _ = await a_day_of_custody(frozen_clock)
    before = await ReconciliationReport.all().count()
    statement = render_mt940(lines, day)
    tampered = statement.replace(b"C700,00NTRF", b"C710,00NTRF")

    with pytest.raises(StatementRejected, match="balances do not add up"):
        await reconcile_bank(tampered, name="bank", statement_format="mt940")
    with pytest.raises(StatementRejected, match="not " + (day + dt.timedelta(days=1)).isoformat()):
        await reconcile_bank(
            statement, name="bank", statement_format="mt940", day=day + dt.timedelta(days=1)
        )
    assert await ReconciliationReport.all().count() == before


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("reconcile-cli") / "anfu.sqlite3"
    result = run(database, "migrate")
    assert result.returncode == 0, result.stderr
    return database


def test_the_command_prints_the_report_and_exits_by_what_it_found(
    migrated: Path, tmp_path: Path
) -> None:
    day = dt.date(2026, 12, 1)
    clean = tmp_path / "clean.sta"
    clean.write_bytes(render_mt940([], day))
    stranger = tmp_path / "stranger.csv"
    stranger.write_bytes(render_csv([BankLine(day, custody_reference(7), None, 500)]))
    tampered = tmp_path / "tampered.sta"
    tampered.write_bytes(
        render_mt940([BankLine(day, "AF0000000007", 1, 5)], day).replace(b"C0,05N", b"C0,06N")
    )

    ok = run(migrated, "reconcile", "bank", str(clean))
    assert ok.returncode == 0, ok.stderr
    assert "BANK reconciliation of 2026-12-01" in ok.stdout
    assert "0 difference(s), 0 unexplained" in ok.stdout

    found = run(migrated, "reconcile", "bank", str(stranger), "--date", "2026-12-01")
    assert found.returncode == 1, found.stderr
    assert "MISSING_IN_LEDGER" in found.stdout and "AF0000000007" in found.stdout

    refused = run(migrated, "reconcile", "bank", str(tampered))
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.startswith("error: The statement cannot be read: the balances")
    assert "Traceback" not in refused.stderr
    listed = run(migrated, "reconcile", "channel", "--date", "2026-12-01")
    assert listed.returncode == 2 and "give --file" in listed.stderr
