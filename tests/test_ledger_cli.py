"""`anfu ledger verify` as an operator runs it: a subprocess against its own SQLite database."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_support import PROJECT, environment, run

# Runs in a subprocess on the temporary database: real activity through the services.
POPULATE = textwrap.dedent(
    """
    import asyncio

    from tortoise import Tortoise

    from settings import get_settings
    from tests.support import buy_card, make_merchant, make_user, redeem_fen


    async def main() -> None:
        await Tortoise.init(config=get_settings().tortoise_config(), _enable_global_fallback=True)
        try:
            world = await make_merchant(custody_ratio_bp=6_000)
            consumer = await make_user()
            card = (await buy_card(consumer, world)).card
            await redeem_fen(world, card.id, consumer, 10_000)
            print(world.merchant.id, card.id)
        finally:
            await Tortoise.close_connections()


    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("ledger-cli") / "empty.sqlite3"
    result = run(database, "migrate")
    assert result.returncode == 0, result.stderr
    return database


@pytest.fixture(scope="module")
def populated(migrated: Path) -> tuple[Path, int, int]:
    """A copy of the migrated database with one merchant, one card bought and redeemed."""
    database = migrated.with_name("populated.sqlite3")
    shutil.copy(migrated, database)
    result = subprocess.run(
        [sys.executable, "-c", POPULATE],
        env=environment(database),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    merchant_id, card_id = (int(part) for part in result.stdout.split())
    return database, merchant_id, card_id


@pytest.fixture
def broken(populated: tuple[Path, int, int], tmp_path: Path) -> tuple[Path, int, int]:
    """A copy of the populated database for this test to corrupt."""
    source, merchant_id, card_id = populated
    database = tmp_path / "broken.sqlite3"
    shutil.copy(source, database)
    return database, merchant_id, card_id


def write(database: Path, sql: str, *parameters: object) -> int:
    with sqlite3.connect(database) as connection:
        cursor = connection.execute(sql, parameters)
        return cursor.lastrowid or 0


def test_a_fresh_database_verifies(migrated):
    result = run(migrated, "ledger", "verify")

    assert result.returncode == 0, result.stderr
    assert "checked 0 transfers, 0 postings, 0 accounts, 0 cards" in result.stdout
    assert "ledger OK" in result.stdout


def test_real_activity_verifies(populated):
    database, _merchant_id, _card_id = populated

    result = run(database, "ledger", "verify")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 2 transfers, 5 postings, 2 accounts, 1 cards" in result.stdout
    assert "ledger OK" in result.stdout


def test_an_unbalanced_transfer_is_named(broken):
    # Given a transfer written behind the ledger's back with a single posting
    database, merchant_id, _card_id = broken
    transfer_id = write(
        database,
        "INSERT INTO ledger_transfers (kind, merchant_id, amount_fen, cash_amount_fen, "
        "balance_after_fen, cash_value_after_fen, escrow_held_after_fen, created_at) "
        "VALUES ('CUSTODY_ADJUSTMENT', ?, 0, 500, 0, 0, 0, '2026-01-01 00:00:00+00:00')",
        merchant_id,
    )
    write(
        database,
        "INSERT INTO ledger_postings (transfer_id, account, side, amount_fen) "
        "VALUES (?, 'consumer_funds', 'DEBIT', 500)",
        transfer_id,
    )

    # When the operator verifies the ledger
    result = run(database, "ledger", "verify")

    # Then it exits 1 and names the transfer
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"transfer {transfer_id}: 1 posting(s), needs two or more" in output
    assert f"transfer {transfer_id}: debits 500 fen != credits 0 fen" in output
    assert "ledger OK" not in output
    assert "problem(s) found" in output


def test_a_card_balance_changed_in_the_database_is_named(broken):
    database, _merchant_id, card_id = broken
    write(database, "UPDATE cards SET balance_fen = balance_fen + 1 WHERE id = ?", card_id)

    result = run(database, "ledger", "verify")

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"card {card_id}: holds 90001/63000 fen" in output


def test_an_edited_posting_is_found(broken):
    database, merchant_id, _card_id = broken
    write(
        database,
        "UPDATE ledger_postings SET amount_fen = amount_fen + 1 "
        "WHERE id = (SELECT MIN(id) FROM ledger_postings WHERE account = ?)",
        f"escrow:merchant:{merchant_id}",
    )

    result = run(database, "ledger", "verify")

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "debits" in output and "!= credits" in output
    assert f"account escrow:merchant:{merchant_id}: totals" in output


def test_custody_out_of_step_with_the_cards_is_named(broken):
    database, merchant_id, card_id = broken
    write(database, "UPDATE cards SET escrow_held_fen = escrow_held_fen - 1 WHERE id = ?", card_id)

    result = run(database, "ledger", "verify")

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"card {card_id}: custody share 37799 fen, expected 37800 fen" in output
    assert (
        f"merchant {merchant_id}: custody account holds 37800 fen, its live cards 37799" in output
    )
